// Package build_test checks the build scripts against the code they stand
// in for: build/precheck.sh, which "make demo" runs before the build,
// must look for a model where internal/hub keeps it and fail at once, on
// loopback servers only.
package build_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/deptest"
	"github.com/cogenesis/cogenesis/internal/hub"
)

// precheck runs build/precheck.sh with args and returns its output and
// whether it succeeded.
func precheck(t *testing.T, args ...string) (string, bool) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command("bash", append([]string{"precheck.sh"}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if _, ok := errors.AsType[*exec.ExitError](err); err != nil && !ok {
		t.Fatalf("run precheck.sh: %v", err)
	}
	return out.String(), err == nil
}

// isolate points the cache, the hub and the proxies away from the real
// ones.
func isolate(t *testing.T) {
	t.Helper()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HF_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("CLOUD", "")
	t.Setenv("no_proxy", "*")
	t.Setenv("NO_PROXY", "*")
}

func TestCachePathMatchesHub(t *testing.T) {
	refs := []string{
		"hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q8_0.gguf",
		"hf://owner/repo.x/sub/dir/model.gguf@v1.0",
		"hf://owner/repo/model.gguf@refs/pr/1",
		"hf://owner/repo/model.gguf@a b,c;d=e+f&g$h:i~j%k",
	}
	for _, xdg := range []bool{true, false} {
		for _, ref := range refs {
			name := "HOME/" + ref
			if xdg {
				name = "XDG_CACHE_HOME/" + ref
			}
			t.Run(name, func(t *testing.T) {
				isolate(t)
				if !xdg {
					t.Setenv("XDG_CACHE_HOME", "")
				}
				out, ok := precheck(t, "--cache-path", ref)
				if !ok {
					t.Fatalf("precheck.sh --cache-path %s failed:\n%s", ref, out)
				}
				path := strings.TrimSuffix(out, "\n")
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("GGUF"), 0o644); err != nil {
					t.Fatal(err)
				}
				// A cache hit needs no HTTP client; a miss fails.
				got, err := hub.Resolve(t.Context(), ref, hub.Options{})
				if err != nil {
					t.Fatalf("hub does not find the model where precheck.sh looks (%s): %v", path, err)
				}
				if got != path {
					t.Errorf("hub.Resolve = %s, precheck.sh looks at %s", got, path)
				}
			})
		}
	}
}

func TestPrecheck(t *testing.T) {
	const ref = "hf://owner/repo/model.gguf"
	// status serves every request with code.
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	model := filepath.Join(dir, "model.gguf")
	if err := os.WriteFile(model, []byte("GGUF"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		model    string
		endpoint string // HF_ENDPOINT
		token    string // HF_TOKEN
		cloud    string // CLOUD
		cached   bool   // the model is in the cache
		curl     bool   // needs curl (HTTP statuses)
		wantOK   bool
		want     string // in the output
	}{
		{name: "file", model: model, wantOK: true},
		{name: "missing file", model: filepath.Join(dir, "none.gguf"), want: "MODEL " + filepath.Join(dir, "none.gguf") + ": no such file"},
		{name: "directory", model: dir, want: "not a regular file"},
		{name: "empty", model: "", want: "no MODEL given"},
		{name: "bad reference", model: "hf://owner/model.gguf", want: "not a model reference"},
		{name: "cached", model: ref, endpoint: closed, cached: true, wantOK: true, want: "is cached"},
		{name: "unreachable", model: ref, endpoint: closed, want: "cannot be reached"},
		{name: "not on the hub", model: ref, endpoint: status(http.StatusNotFound), curl: true, want: "HTTP 404"},
		{name: "gated", model: ref, endpoint: status(http.StatusUnauthorized), curl: true, want: "set HF_TOKEN"},
		{name: "gated with token", model: ref, endpoint: status(http.StatusUnauthorized), token: "x", curl: true, wantOK: true, want: "will be downloaded"},
		{name: "on the hub", model: ref, endpoint: status(http.StatusFound), wantOK: true, want: "will be downloaded"},
		{name: "cloud missing", model: model, cloud: "local:" + filepath.Join(dir, "none.gguf"), want: "CLOUD " + filepath.Join(dir, "none.gguf")},
		{name: "cloud URL", model: model, cloud: "http://127.0.0.1:1/v1", wantOK: true},
	}
	_, lookErr := exec.LookPath("curl")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.curl && lookErr != nil {
				deptest.Missing(t, "curl is not installed (precheck.sh then only tests the connection): apt-get install curl")
			}
			isolate(t)
			t.Setenv("HF_ENDPOINT", tt.endpoint)
			t.Setenv("HF_TOKEN", tt.token)
			t.Setenv("CLOUD", tt.cloud)
			if tt.cached {
				out, ok := precheck(t, "--cache-path", tt.model)
				if !ok {
					t.Fatalf("--cache-path: %s", out)
				}
				path := strings.TrimSuffix(out, "\n")
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte("GGUF"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			out, ok := precheck(t, tt.model)
			if ok != tt.wantOK || !strings.Contains(out, tt.want) {
				t.Errorf("precheck.sh %q: ok %v, want %v, with %q in:\n%s", tt.model, ok, tt.wantOK, tt.want, out)
			}
			if !ok && !strings.Contains(out, "make demo") {
				t.Errorf("the failure does not say what to run instead:\n%s", out)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("precheck.sh took %v, want a few seconds at most", d)
			}
		})
	}
}
