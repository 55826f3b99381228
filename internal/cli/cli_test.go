//go:build cgo

package cli_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := cli.Run(t.Context(), args, &out, &errb)
	return out.String(), errb.String(), err
}

func TestGenerateDeterministic(t *testing.T) {
	model := enginetest.SharedModel(t)
	a, _, err := run(t, "generate", "--slm", model, "--max-tokens", "24", "--seed", "5", "--temperature", "0.8", "--threads", "2", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := run(t, "generate", "--slm", model, "--max-tokens", "24", "--seed", "5", "--temperature", "0.8", "--threads", "2", "Once upon a time")
	if err != nil {
		t.Fatal(err)
	}
	if a != b || strings.TrimSpace(a) == "" {
		t.Errorf("two runs with seed 5: %q and %q", a, b)
	}
}

func TestModelInfo(t *testing.T) {
	out, _, err := run(t, "model", "info", enginetest.SharedModel(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"architecture", "llama", "512 tokens", "vocab fingerprint", "chat template"} {
		if !strings.Contains(out, want) {
			t.Errorf("model info lacks %q:\n%s", want, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"no command", nil},
		{"unknown command", []string{"frobnicate"}},
		{"generate without text", []string{"generate", "--slm", "x.gguf"}},
		{"bad flag", []string{"generate", "--nope"}},
		{"bad temperature", []string{"generate", "--slm", "x.gguf", "--temperature", "-1", "hi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.args...)
			if _, ok := errors.AsType[*cli.UsageError](err); !ok {
				t.Errorf("err = %v, want a usage error", err)
			}
		})
	}
}

func TestMissingModelNamesFile(t *testing.T) {
	_, _, err := run(t, "generate", "--slm", "/nonexistent/model.gguf", "hi")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/model.gguf") {
		t.Errorf("err = %v, want one naming the file", err)
	}
}

func TestHubUnreachableFailsFast(t *testing.T) {
	// A closed loopback port stands in for an unreachable hub.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("HF_ENDPOINT", "http://"+addr)
	_, _, err = run(t, "model", "info", "--cache-dir", t.TempDir(), "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf")
	if err == nil || !strings.Contains(err.Error(), "MODEL=") {
		t.Errorf("err = %v, want a hint to pass a local model", err)
	}
}

func TestHubDownloadThenGenerate(t *testing.T) {
	data := enginetest.SharedModel(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, data)
	}))
	defer srv.Close()
	t.Setenv("HF_ENDPOINT", srv.URL)
	cache := t.TempDir()
	out, _, err := run(t, "generate", "--cache-dir", cache, "--slm", "hf://owner/repo/tiny.gguf", "--max-tokens", "8", "Hello")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) == "" {
		t.Errorf("no output")
	}
	// The download left through the egress: recorded, under the download
	// policy, with no body.
	recs, err := audit.Read(filepath.Join(cache, cli.DownloadAuditLog))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("the download was not recorded")
	}
	for _, r := range recs {
		if r.Policy != "download" || r.Method != http.MethodGet || r.Bytes != 0 || r.Verdict != audit.VerdictAllow {
			t.Errorf("download record: policy %q, %s, %d body bytes, verdict %q", r.Policy, r.Method, r.Bytes, r.Verdict)
		}
	}
	_ = context.Background
}
