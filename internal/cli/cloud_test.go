//go:build cgo

package cli_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/httpapi"
)

// cogen cloud has no users of its own: beyond loopback it needs a key, and
// the refusal comes before the model is loaded.
func TestCloudRefusesOpenBindWithoutKey(t *testing.T) {
	t.Setenv("COGEN_CLOUD_API_KEY", "")
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		_, _, err := run(t, "cloud", "--model", "/nonexistent.gguf", "--addr", addr)
		if !errors.Is(err, httpapi.ErrKeyRequired) {
			t.Errorf("--addr %s without a key: err = %v, want ErrKeyRequired", addr, err)
		}
	}
}

func TestCloudAPIKey(t *testing.T) {
	model := enginetest.SharedModel(t)
	t.Setenv("COGEN_CLOUD_API_KEY", "from-the-environment")
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- cli.Run(ctx, []string{"cloud", "--model", model, "--addr", "127.0.0.1:0", "--threads", "1", "--parallel", "1"}, pw, io.Discard)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("cogen cloud: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("cogen cloud's first line: %v", err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	m := regexp.MustCompile(`on (http://\S+/v1) .*bearer token required`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("first line %q names no URL or says no token", line)
	}
	get := func(auth string) int {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", m[1]+"/models", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("no key: status %d, want 401", got)
	}
	if got := get("from-the-environment"); got != http.StatusOK {
		t.Errorf("the key from COGEN_CLOUD_API_KEY: status %d, want 200", got)
	}
}
