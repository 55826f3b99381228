package audit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/cogenesis/cogenesis/internal/audit"
)

func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "{}")
	}))
	defer srv.Close()
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	log, err := audit.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer log.Close()
	client := &http.Client{Transport: &audit.Transport{
		Base: http.DefaultTransport,
		Log:  log,
		Check: func(ctx context.Context, req *http.Request, body []byte) (audit.Verdict, error) {
			if strings.Contains(string(body), "secret") {
				return audit.Verdict{Rules: []string{"demo:secret"}}, errors.New("private text")
			}
			return audit.Verdict{}, nil
		},
	}}
	ctx := audit.WithStrategy(context.Background(), "sketch")
	for _, body := range []string{`{"prompt":"public"}`, `{"prompt":"secret"}`} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/completions", strings.NewReader(body))
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
		}
	}
	recs, err := audit.Read(log.Path())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range recs {
		fmt.Println(r.Seq, r.Strategy, r.Path, r.Verdict, r.Rules, r.Body)
	}
	// Output:
	// 1 sketch /v1/completions allow [] {"prompt":"public"}
	// 2 sketch /v1/completions block [demo:secret]
}

func ExampleVerifyFile() {
	dir, err := os.MkdirTemp("", "audit-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "audit.jsonl")
	log, err := audit.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	for range 3 {
		if _, err := log.Append(context.Background(), audit.Record{Host: "cloud.example", Body: "{}", Verdict: audit.VerdictAllow}); err != nil {
			fmt.Println(err)
		}
	}
	log.Close()
	st, err := audit.VerifyFile(path)
	fmt.Println(st.Records, st.Head.Seq, err)

	// Remove the last record: the chain is still valid, but the head file
	// says it had 3 records.
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	_ = os.WriteFile(path, []byte(strings.Join(lines[:2], "")), 0o600)
	st, err = audit.VerifyFile(path)
	fmt.Println(st.Records, errors.Is(err, audit.ErrHeadMismatch))
	// Output:
	// 3 3 <nil>
	// 2 true
}
