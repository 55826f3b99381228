//go:build cgo

package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/serve"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServeRefusesOpenAddressWithoutToken(t *testing.T) {
	t.Setenv("COGEN_SERVE_TOKEN", "")
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		// The model path does not exist: the refusal comes first.
		_, _, err := run(t, "serve", "--slm", "/nonexistent.gguf", "--addr", addr)
		if _, ok := errors.AsType[*cli.UsageError](err); !ok || !errors.Is(err, serve.ErrTokenRequired) || !strings.Contains(err.Error(), "--token") {
			t.Errorf("serve --addr %s without token: %v, want a usage error naming --token", addr, err)
		}
	}
}

func TestServeAllowOriginFlag(t *testing.T) {
	t.Setenv("COGEN_SERVE_TOKEN", "")
	for _, bad := range []string{"app.example", "https://app.example/path", "https://ok.example,null"} {
		_, _, err := run(t, "serve", "--slm", "/nonexistent.gguf", "--allow-origin", bad)
		if _, ok := errors.AsType[*cli.UsageError](err); !ok || !strings.Contains(err.Error(), "origin") {
			t.Errorf("serve --allow-origin %q: %v, want a usage error about the origin", bad, err)
		}
	}
	// Good origins pass; the missing model is the next error.
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	_, _, err := run(t, "serve", "--slm", "/nonexistent.gguf", "--allow-origin", "https://a.example, http://127.0.0.1:3000", "--allow-origin", "https://b.example")
	if err == nil || strings.Contains(err.Error(), "origin") {
		t.Errorf("serve with good --allow-origin values: %v, want an error about the model only", err)
	}
}

// TestServeEndToEnd starts cogen serve with a local cloud and the default
// per-user vault, imports a user through the API, writes with sketch and
// shuts down on cancellation.
func TestServeEndToEnd(t *testing.T) {
	model := enginetest.SharedModel(t)
	data := devContextFile(t)
	home := t.TempDir()
	t.Setenv("XDG_DATA_HOME", home)
	t.Setenv("COGEN_SERVE_TOKEN", "t0k")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, []string{"serve", "--slm", model, "--llm", "local:" + model, "--addr", "127.0.0.1:0",
			"--threads", "2", "--parallel", "2", "--max-tokens", "32", "--cloud-max-tokens", "8",
			"--allow-origin", "http://127.0.0.1:3000"}, &out, &errb)
	}()
	re := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)/`)
	var base string
	for deadline := time.Now().Add(time.Minute); base == ""; {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			base = "http://" + m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s %s", out.String(), errb.String())
		}
	}
	if !strings.Contains(out.String(), "bearer token required") {
		t.Errorf("startup line does not say the token is required: %s", out.String())
	}
	vaultPath := filepath.Join(home, "cogenesis", "vault.db")
	if fi, err := os.Stat(vaultPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("default vault %s: %v", vaultPath, err)
	}
	call := func(method, path string, body []byte) (int, []byte) {
		req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer t0k")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// A page of the allowed origin may call the API; others may not.
	for origin, want := range map[string]int{"http://127.0.0.1:3000": http.StatusOK, "http://127.0.0.1:3001": http.StatusForbidden} {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/models", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer t0k")
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "same-site")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /v1/models from a page of %s: %d, want %d", origin, resp.StatusCode, want)
		}
	}
	ds, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if code, b := call("POST", "/v1/vault/import?index=0&user=me", ds); code != http.StatusOK {
		t.Fatalf("import: %d %s", code, b)
	}
	chat, _ := json.Marshal(map[string]any{
		"model": "cogen-sketch", "user": "me", "max_tokens": 8, "temperature": 0.8,
		"messages": []map[string]string{{"role": "user", "content": "Write a note: about my week."}},
	})
	code, b := call("POST", "/v1/chat/completions", chat)
	if code != http.StatusOK {
		t.Fatalf("chat: %d %s", code, b)
	}
	code, b = call("GET", "/v1/audit?user=me", nil)
	var page serve.AuditPage
	if err := json.Unmarshal(b, &page); err != nil || code != http.StatusOK || len(page.Data) != 1 || !page.ChainOK {
		t.Errorf("audit: %d %s", code, b)
	}
	if _, err := os.Stat(filepath.Join(home, "cogenesis", "audit.jsonl")); err != nil {
		t.Errorf("audit log beside the vault: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}
