package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// recordingServer records every request body it receives.
type recordingServer struct {
	mu     sync.Mutex
	bodies [][]byte
	*httptest.Server
}

func newRecordingServer(t *testing.T) *recordingServer {
	t.Helper()
	s := &recordingServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("server read: %v", err)
		}
		s.mu.Lock()
		s.bodies = append(s.bodies, b)
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *recordingServer) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies
}

func openLog(t *testing.T) *Log {
	t.Helper()
	l, err := Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	l.NoSync = true
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func readLog(t *testing.T, l *Log) []Record {
	t.Helper()
	recs, err := Read(l.Path())
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return recs
}

func post(t *testing.T, tr http.RoundTripper, ctx context.Context, u string, body string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body) // drain for reuse
		_ = resp.Body.Close()                 // nothing to report in a test
	}
	return resp, err
}

func TestTransportRecordsWhatWasSent(t *testing.T) {
	tests := []struct {
		name      string
		check     func(context.Context, *http.Request, []byte) (Verdict, error)
		body      string
		wantSent  string
		wantVerd  string
		wantRules []string
	}{
		{"no guard", nil, `{"prompt":"a"}`, `{"prompt":"a"}`, VerdictNone, []string{}},
		{"allow", func(context.Context, *http.Request, []byte) (Verdict, error) { return Verdict{}, nil },
			`{"prompt":"b"}`, `{"prompt":"b"}`, VerdictAllow, []string{}},
		{"redact", func(_ context.Context, _ *http.Request, b []byte) (Verdict, error) {
			return Verdict{Verdict: VerdictRedact, Rules: []string{"entity:name"}, Body: bytes.ReplaceAll(b, []byte("Ann"), []byte("[NAME]"))}, nil
		}, `{"prompt":"Dear Ann"}`, `{"prompt":"Dear [NAME]"}`, VerdictRedact, []string{"entity:name"}},
		{"private opt-in", func(context.Context, *http.Request, []byte) (Verdict, error) {
			return Verdict{Verdict: VerdictPrivate, Rules: []string{"fact:shingle"}}, nil
		}, `{"prompt":"c"}`, `{"prompt":"c"}`, VerdictPrivate, []string{"fact:shingle"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecordingServer(t)
			l := openLog(t)
			tr := &Transport{Base: http.DefaultTransport, Log: l, Check: tt.check}
			ctx := WithStrategy(t.Context(), "logits")
			if _, err := post(t, tr, ctx, srv.URL+"/v1/completions?api_key=SECRET", tt.body); err != nil {
				t.Fatalf("post: %v", err)
			}
			got := srv.received()
			if len(got) != 1 || string(got[0]) != tt.wantSent {
				t.Fatalf("server received %q, want %q", got, tt.wantSent)
			}
			recs := readLog(t, l)
			u, _ := url.Parse(srv.URL) // httptest URLs always parse
			want := []Record{{
				Seq: 1, Strategy: "logits", Host: u.Host, Method: "POST", Path: "/v1/completions",
				SHA256: hexSum(got[0]), Bytes: len(got[0]), Verdict: tt.wantVerd, Rules: tt.wantRules, Body: string(got[0]),
				Prev: ZeroHash,
			}}
			if diff := cmp.Diff(want, recs, cmpopts.IgnoreFields(Record{}, "Time", "Hash")); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			raw, err := os.ReadFile(l.Path())
			if err != nil {
				t.Fatalf("read log: %v", err)
			}
			if bytes.Contains(raw, []byte("SECRET")) {
				t.Errorf("the query string reached the audit log")
			}
		})
	}
}

func TestTransportBlocksOnCheckError(t *testing.T) {
	errLeak := errors.New("private fact found")
	tests := []struct {
		name  string
		check func(context.Context, *http.Request, []byte) (Verdict, error)
		want  error
	}{
		{"check error", func(context.Context, *http.Request, []byte) (Verdict, error) {
			return Verdict{Rules: []string{"fact:shingle"}}, errLeak
		}, errLeak},
		{"block verdict", func(context.Context, *http.Request, []byte) (Verdict, error) {
			return Verdict{Verdict: VerdictBlock, Rules: []string{"fact:shingle"}}, nil
		}, ErrBlocked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newRecordingServer(t)
			l := openLog(t)
			const body = `{"prompt":"Ann's diagnosis is private"}`
			_, err := post(t, &Transport{Base: http.DefaultTransport, Log: l, Check: tt.check}, t.Context(), srv.URL+"/v1/chat/completions", body)
			if !errors.Is(err, ErrBlocked) || !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want ErrBlocked wrapping %v", err, tt.want)
			}
			if strings.Contains(err.Error(), "diagnosis") {
				t.Errorf("error quotes the body: %v", err)
			}
			if n := len(srv.received()); n != 0 {
				t.Errorf("server saw %d requests, want 0", n)
			}
			recs := readLog(t, l)
			u, _ := url.Parse(srv.URL) // httptest URLs always parse
			want := []Record{{Seq: 1, Host: u.Host, Method: "POST", Path: "/v1/chat/completions",
				SHA256: hexSum([]byte(body)), Bytes: len(body), Verdict: VerdictBlock, Rules: []string{"fact:shingle"}, Prev: ZeroHash}}
			if diff := cmp.Diff(want, recs, cmpopts.IgnoreFields(Record{}, "Time", "Hash")); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
			raw, _ := os.ReadFile(l.Path()) // Read above succeeded
			if bytes.Contains(raw, []byte("diagnosis")) {
				t.Errorf("the blocked body reached the audit log")
			}
		})
	}
}

func TestTransportNotSentWhenUnrecorded(t *testing.T) {
	srv := newRecordingServer(t)
	l := openLog(t)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	_, err := post(t, &Transport{Base: http.DefaultTransport, Log: l}, t.Context(), srv.URL+"/v1/completions", `{}`)
	if !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
	if n := len(srv.received()); n != 0 {
		t.Errorf("server saw %d requests although nothing could be recorded", n)
	}
}

func TestTransportRecordsEveryAttempt(t *testing.T) {
	srv := newRecordingServer(t)
	l := openLog(t)
	tr := &Transport{Base: http.DefaultTransport, Log: l}
	for _, body := range []string{`{"n":1}`, `{"n":2}`, `{"n":3}`} {
		if _, err := post(t, tr, t.Context(), srv.URL+"/v1/completions", body); err != nil {
			t.Fatalf("post: %v", err)
		}
	}
	if _, err := (&http.Client{Transport: tr}).Get(srv.URL + "/v1/models"); err != nil {
		t.Fatalf("get: %v", err)
	}
	recs := readLog(t, l)
	var got []string
	for _, r := range recs {
		got = append(got, r.Method+" "+r.Path+" "+r.Body)
	}
	want := []string{`POST /v1/completions {"n":1}`, `POST /v1/completions {"n":2}`, `POST /v1/completions {"n":3}`, `GET /v1/models `}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(len(recs), len(srv.received())); diff != "" {
		t.Errorf("records and requests differ (-records +requests):\n%s", diff)
	}
}

func TestTransportWithoutBaseSendsNothing(t *testing.T) {
	hit := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	l, err := Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := post(t, &Transport{Log: l}, t.Context(), srv.URL+"/v1/completions", `{}`); err == nil || !strings.Contains(err.Error(), "no base transport") {
		t.Fatalf("err = %v, want no base transport", err)
	}
	if hit {
		t.Fatal("a request reached the server")
	}
}
