package audit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func writeLog(t *testing.T, n int) (string, [][]byte) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithStrategy(t.Context(), "sketch")
	for i := range n {
		if _, err := l.Append(ctx, Record{Host: "cloud.example", Method: "POST", Path: "/v1/chat/completions", Bytes: i, Verdict: VerdictAllow, Body: `{"n":` + string(rune('0'+i%10)) + `}`}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, bytes.SplitAfter(b, []byte("\n"))[:n]
}

func join(lines [][]byte) []byte { return bytes.Join(lines, nil) }

func TestVerifyDetectsTampering(t *testing.T) {
	_, lines := writeLog(t, 6)
	if n, err := Verify(bytes.NewReader(join(lines))); err != nil || n != 6 {
		t.Fatalf("intact log: %d records, %v", n, err)
	}
	edit := func(i int, from, to string) [][]byte {
		out := append([][]byte(nil), lines...)
		out[i] = bytes.Replace(out[i], []byte(from), []byte(to), 1)
		return out
	}
	tests := []struct {
		name  string
		lines [][]byte
		line  int
	}{
		{"edited body", edit(2, `{\"n\":2}`, `{\"n\":9}`), 3},
		{"edited host", edit(0, "cloud.example", "cloud.exampla"), 1},
		{"edited verdict", edit(4, `"allow"`, `"block"`), 5},
		{"deleted", append(append([][]byte(nil), lines[:3]...), lines[4:]...), 4},
		{"swapped", append(append(append([][]byte(nil), lines[:1]...), lines[2], lines[1]), lines[3:]...), 2},
		{"inserted", append(append(append([][]byte(nil), lines[:2]...), lines[1]), lines[2:]...), 3},
		{"truncated last line", append(append([][]byte(nil), lines[:5]...), lines[5][:20]), 6},
		{"garbage line", append(append([][]byte(nil), lines[:1]...), []byte("{not json}\n")), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(join(tt.lines)))
			ce, ok := errors.AsType[*ChainError](err)
			if !ok || ce.Line != tt.line {
				t.Errorf("err = %v, want a chain error at line %d", err, tt.line)
			}
		})
	}
}

// FuzzVerifyTamper applies one fuzzer-chosen byte edit, deletion or swap
// to a valid log: Verify fails unless the log is unchanged.
func FuzzVerifyTamper(f *testing.F) {
	f.Add(uint8(0), uint16(10), uint8('x'))
	f.Add(uint8(1), uint16(2), uint8(0))
	f.Add(uint8(2), uint16(1), uint8(3))
	f.Fuzz(func(t *testing.T, op uint8, at uint16, val uint8) {
		_, lines := writeLog(t, 5)
		orig := join(lines)
		var mod []byte
		switch op % 3 {
		case 0: // byte edit
			mod = bytes.Clone(orig)
			mod[int(at)%len(mod)] = val
		case 1: // delete a record
			i := int(at) % len(lines)
			mod = join(append(append([][]byte(nil), lines[:i]...), lines[i+1:]...))
			if i == len(lines)-1 {
				// Dropping the last record leaves a valid shorter chain;
				// Summary's LastHash catches it. Check that it changed.
				recs, err := readAll(mod)
				if err != nil {
					return
				}
				full, _ := readAll(orig)
				if Summarize(recs).LastHash == Summarize(full).LastHash {
					t.Fatalf("last hash unchanged after deleting the last record")
				}
				return
			}
		case 2: // swap two records
			i, j := int(at)%len(lines), int(val)%len(lines)
			sw := append([][]byte(nil), lines...)
			sw[i], sw[j] = sw[j], sw[i]
			mod = join(sw)
		}
		if bytes.Equal(mod, orig) {
			return
		}
		if _, err := Verify(bytes.NewReader(mod)); err == nil {
			t.Fatalf("tampered log verified (op %d at %d)", op%3, at)
		}
	})
}

func readAll(b []byte) ([]Record, error) {
	p := filepath.Join(os.TempDir(), "cogen-audit-fuzz.jsonl")
	defer os.Remove(p)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, err
	}
	return Read(p)
}

func TestReopenContinuesChain(t *testing.T) {
	p, _ := writeLog(t, 3)
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	r, err := l.Append(t.Context(), Record{Host: "h", Verdict: VerdictAllow})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	if r.Seq != 4 {
		t.Errorf("seq %d after reopening a 3-record log", r.Seq)
	}
	recs, err := Read(p)
	if err != nil || len(recs) != 4 {
		t.Fatalf("read: %d records, %v", len(recs), err)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	// A broken log is not continued.
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(`"h"`), []byte(`"x"`), 1), 0o600)
	if _, err := Open(p); err == nil {
		t.Errorf("Open continued a broken log")
	}
}

func TestTransport(t *testing.T) {
	var got atomic.Value
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(string(b))
		hits.Add(1)
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	p := filepath.Join(t.TempDir(), "a.jsonl")
	l, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check := func(ctx context.Context, req *http.Request, body []byte) (Verdict, error) {
		switch {
		case bytes.Contains(body, []byte("SECRET")):
			return Verdict{Rules: []string{"fact.shingle"}}, errors.New("leak")
		case bytes.Contains(body, []byte("Name")):
			return Verdict{Verdict: VerdictRedact, Rules: []string{"entity.name"}, Body: bytes.ReplaceAll(body, []byte("Name"), []byte("[NAME]"))}, nil
		}
		return Verdict{}, nil
	}
	c := &http.Client{Transport: &Transport{Log: l, Check: check}}
	post := func(body string) error {
		resp, err := c.Post(srv.URL+"/v1/completions", "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	ctx := WithStrategy(t.Context(), "llm")
	_ = ctx
	if err := post(`{"prompt":"hello"}`); err != nil {
		t.Fatal(err)
	}
	if got.Load() != `{"prompt":"hello"}` {
		t.Errorf("server got %v", got.Load())
	}
	if err := post(`{"prompt":"SECRET plan"}`); err == nil {
		t.Fatalf("blocked request was sent")
	}
	if hits.Load() != 1 {
		t.Errorf("server saw %d requests, want 1", hits.Load())
	}
	if err := post(`{"prompt":"dear Name"}`); err != nil {
		t.Fatal(err)
	}
	if got.Load() != `{"prompt":"dear [NAME]"}` {
		t.Errorf("server got %v, want the redacted body", got.Load())
	}
	recs, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Body != `{"prompt":"hello"}` || recs[1].Verdict != VerdictBlock || recs[1].Body != "" || recs[2].Verdict != VerdictRedact || recs[2].Body != `{"prompt":"dear [NAME]"}` {
		t.Errorf("records %+v", recs)
	}
	if strings.Contains(recs[1].Body, "SECRET") {
		t.Errorf("blocked body recorded")
	}
}
