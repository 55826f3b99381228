package hub_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/hub"
)

// request is what the fake hub saw of one file request.
type request struct {
	Path  string
	Range string
	Auth  string
	Sent  int // body bytes written
}

// fakeHub serves one file under /OWNER/REPO/resolve/REV/FILE, optionally via
// a redirect to /cdn/blob as Hugging Face does for LFS files.
type fakeHub struct {
	content     []byte
	linkedEtag  string // X-Linked-Etag on the resolve response
	etag        string // ETag on the file response
	redirect    bool
	ignoreRange bool
	status      int // a fixed error status, or 0
	// cut returns how many body bytes to send on the nth file request
	// (0-based) before dropping the connection, or -1 for all.
	cut func(n int) int
	// stall makes the nth request stop sending after cut bytes and wait
	// for the client to give up instead of dropping the connection.
	stall bool
	// block, when set, holds every file request until it is closed;
	// arrived is closed when the first blocked request arrives.
	block      chan struct{}
	arrived    chan struct{}
	arriveOnce sync.Once

	mu   sync.Mutex
	reqs []request
}

func (h *fakeHub) requests() []request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]request(nil), h.reqs...)
}

func (h *fakeHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.redirect && strings.Contains(r.URL.Path, "/resolve/") {
		if h.linkedEtag != "" {
			w.Header().Set("X-Linked-Etag", h.linkedEtag)
		}
		http.Redirect(w, r, "/cdn/blob", http.StatusFound)
		return
	}
	if h.block != nil {
		h.arriveOnce.Do(func() { close(h.arrived) })
		<-h.block
	}
	h.mu.Lock()
	n := len(h.reqs)
	h.reqs = append(h.reqs, request{Path: r.URL.Path, Range: r.Header.Get("Range"), Auth: r.Header.Get("Authorization")})
	h.mu.Unlock()
	sent := func(k int) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.reqs[n].Sent += k
	}

	if h.status != 0 {
		http.Error(w, http.StatusText(h.status), h.status)
		return
	}
	if !h.redirect && h.linkedEtag != "" {
		w.Header().Set("X-Linked-Etag", h.linkedEtag)
	}
	if h.etag != "" {
		w.Header().Set("ETag", h.etag)
	}
	start, end := 0, len(h.content)
	status := http.StatusOK
	if rg := r.Header.Get("Range"); rg != "" && !h.ignoreRange {
		if _, err := fmt.Sscanf(rg, "bytes=%d-", &start); err != nil {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if start >= len(h.content) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(h.content)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(h.content)))
		status = http.StatusPartialContent
	}
	body := h.content[start:end]
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(status)
	limit := -1
	if h.cut != nil {
		limit = h.cut(n)
	}
	if limit < 0 || limit >= len(body) {
		k, _ := w.Write(body)
		sent(k)
		return
	}
	k, _ := w.Write(body[:limit])
	sent(k)
	http.NewResponseController(w).Flush()
	if h.stall {
		<-r.Context().Done()
		return
	}
	panic(http.ErrAbortHandler) // drop the connection mid-body
}

// testContent returns size deterministic bytes and their sha256.
func testContent(size int) ([]byte, string) {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	s := sha256.Sum256(b)
	return b, hex.EncodeToString(s[:])
}

// firstCut cuts the first response after k bytes and sends later ones whole.
func firstCut(k int) func(int) int {
	return func(n int) int {
		if n == 0 {
			return k
		}
		return -1
	}
}

func quoted(s string) string { return `"` + s + `"` }

// readFile returns the contents of path or "" if it does not exist.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func TestResolveDownload(t *testing.T) {
	content, sum := testContent(300_000)
	tests := []struct {
		name     string
		ref      string
		hub      *fakeHub
		token    string
		wantPath string // relative to the cache directory
		wantURL  string // path of the file request
		wantSum  bool   // a sha256 sidecar is written
		wantAuth string
	}{
		{
			name:     "lfs redirect with X-Linked-Etag",
			ref:      "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf",
			hub:      &fakeHub{content: content, redirect: true, linkedEtag: quoted(sum), etag: quoted("0123")},
			wantPath: "Qwen/Qwen2.5-0.5B-Instruct-GGUF/main/qwen2.5-0.5b-instruct-q4_k_m.gguf",
			wantURL:  "/cdn/blob",
			wantSum:  true,
		},
		{
			name:     "etag holds the sha256",
			ref:      "hf://o/r/m.gguf",
			hub:      &fakeHub{content: content, etag: quoted(strings.ToUpper(sum))},
			wantPath: "o/r/main/m.gguf",
			wantURL:  "/o/r/resolve/main/m.gguf",
			wantSum:  true,
		},
		{
			name:     "revision and nested file with token",
			ref:      "hf://o/r/sub/dir/m.gguf@v1.0",
			hub:      &fakeHub{content: content, linkedEtag: quoted(sum)},
			token:    "hf_test_token",
			wantPath: "o/r/v1.0/sub/dir/m.gguf",
			wantURL:  "/o/r/resolve/v1.0/sub/dir/m.gguf",
			wantSum:  true,
			wantAuth: "Bearer hf_test_token",
		},
		{
			name:     "no checksum header",
			ref:      "hf://o/r/m.gguf",
			hub:      &fakeHub{content: content, etag: `W/"` + sum + `"`},
			wantPath: "o/r/main/m.gguf",
			wantURL:  "/o/r/resolve/main/m.gguf",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.hub)
			defer srv.Close()
			cache := t.TempDir()
			var out bytes.Buffer
			got, err := resolve(t, tt.ref, hub.Options{
				CacheDir: cache, BaseURL: srv.URL, Token: tt.token, Progress: &out,
			})
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			want := filepath.Join(cache, filepath.FromSlash(tt.wantPath))
			if got != want {
				t.Errorf("path = %q, want %q", got, want)
			}
			if readFile(t, got) != string(content) {
				t.Errorf("downloaded file differs from the served content")
			}
			wantSidecar := ""
			if tt.wantSum {
				wantSidecar = sum + "  " + filepath.Base(want) + "\n"
			}
			if diff := cmp.Diff(wantSidecar, readFile(t, want+".sha256")); diff != "" {
				t.Errorf("sidecar mismatch (-want +got):\n%s", diff)
			}
			if _, err := os.Stat(want + ".partial"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("partial file left behind: %v", err)
			}
			wantReqs := []request{{Path: tt.wantURL, Auth: tt.wantAuth, Sent: len(content)}}
			if diff := cmp.Diff(wantReqs, tt.hub.requests()); diff != "" {
				t.Errorf("requests mismatch (-want +got):\n%s", diff)
			}
			if !strings.Contains(out.String(), "done") {
				t.Errorf("progress output has no final line: %q", out.String())
			}
			if tt.token != "" && strings.Contains(out.String(), tt.token) {
				t.Errorf("progress output contains the token")
			}
		})
	}
}

func TestResolveResume(t *testing.T) {
	const size, cut = 200_000, 70_000
	content, sum := testContent(size)
	tests := []struct {
		name     string
		hub      *fakeHub
		seed     []byte // partial file from an earlier run
		timeout  time.Duration
		want     []request
		wantFail bool
	}{
		{
			name: "interrupted mid-body resumes with range",
			hub:  &fakeHub{content: content, linkedEtag: quoted(sum), cut: firstCut(cut)},
			want: []request{
				{Path: "/o/r/resolve/main/m.gguf", Sent: cut},
				{Path: "/o/r/resolve/main/m.gguf", Range: fmt.Sprintf("bytes=%d-", cut), Sent: size - cut},
			},
		},
		{
			name:    "stalled transfer resumes with range",
			hub:     &fakeHub{content: content, linkedEtag: quoted(sum), stall: true, cut: firstCut(cut)},
			timeout: 300 * time.Millisecond,
			want: []request{
				{Path: "/o/r/resolve/main/m.gguf", Sent: cut},
				{Path: "/o/r/resolve/main/m.gguf", Range: fmt.Sprintf("bytes=%d-", cut), Sent: size - cut},
			},
		},
		{
			name: "partial from an earlier run resumes",
			hub:  &fakeHub{content: content, linkedEtag: quoted(sum)},
			seed: content[:cut],
			want: []request{
				{Path: "/o/r/resolve/main/m.gguf", Range: fmt.Sprintf("bytes=%d-", cut), Sent: size - cut},
			},
		},
		{
			name: "server ignoring range restarts from zero",
			hub:  &fakeHub{content: content, linkedEtag: quoted(sum), ignoreRange: true},
			seed: bytes.Repeat([]byte{0xff}, cut), // wrong bytes: must be discarded
			want: []request{
				{Path: "/o/r/resolve/main/m.gguf", Range: fmt.Sprintf("bytes=%d-", cut), Sent: size},
			},
		},
		{
			name: "partial longer than file restarts",
			hub:  &fakeHub{content: content, linkedEtag: quoted(sum)},
			seed: append(append([]byte(nil), content...), 1, 2, 3),
			want: []request{
				{Path: "/o/r/resolve/main/m.gguf", Range: fmt.Sprintf("bytes=%d-", size+3)},
				{Path: "/o/r/resolve/main/m.gguf", Sent: size},
			},
		},
		{
			name: "connection dropped on every attempt gives up",
			hub:  &fakeHub{content: content, linkedEtag: quoted(sum), cut: func(int) int { return 1000 }},
			want: []request{
				{Path: "/o/r/resolve/main/m.gguf", Sent: 1000},
				{Path: "/o/r/resolve/main/m.gguf", Range: "bytes=1000-", Sent: 1000},
				{Path: "/o/r/resolve/main/m.gguf", Range: "bytes=2000-", Sent: 1000},
				{Path: "/o/r/resolve/main/m.gguf", Range: "bytes=3000-", Sent: 1000},
				{Path: "/o/r/resolve/main/m.gguf", Range: "bytes=4000-", Sent: 1000},
			},
			wantFail: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.hub)
			defer srv.Close()
			cache := t.TempDir()
			final := filepath.Join(cache, "o", "r", "main", "m.gguf")
			if tt.seed != nil {
				if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
					t.Fatalf("create cache dir: %v", err)
				}
				if err := os.WriteFile(final+".partial", tt.seed, 0o644); err != nil {
					t.Fatalf("seed partial: %v", err)
				}
			}
			got, err := resolve(t, "hf://o/r/m.gguf", hub.Options{
				CacheDir: cache, BaseURL: srv.URL, StallTimeout: tt.timeout,
			})
			if diff := cmp.Diff(tt.want, tt.hub.requests()); diff != "" {
				t.Errorf("requests mismatch (-want +got):\n%s", diff)
			}
			if tt.wantFail {
				if err == nil {
					t.Fatalf("Resolve succeeded, want an error")
				}
				if n := len(readFile(t, final+".partial")); n != 5000 {
					t.Errorf("partial file has %d bytes, want 5000 kept for a later resume", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if got != final {
				t.Errorf("path = %q, want %q", got, final)
			}
			if readFile(t, final) != string(content) {
				t.Errorf("downloaded file differs from the served content")
			}
			if readFile(t, final+".sha256") == "" {
				t.Errorf("no sha256 sidecar after a verified download")
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	content, sum := testContent(10_000)
	_, otherSum := testContent(10_001)
	tests := []struct {
		name      string
		ref       string
		hub       *fakeHub
		wantIs    error
		wantInMsg []string
	}{
		{
			name:      "checksum mismatch",
			ref:       "hf://o/r/m.gguf",
			hub:       &fakeHub{content: content, linkedEtag: quoted(otherSum)},
			wantIs:    hub.ErrChecksum,
			wantInMsg: []string{"hf://o/r/m.gguf", otherSum, sum},
		},
		{
			name:      "not found",
			ref:       "hf://o/r/missing.gguf@dev",
			hub:       &fakeHub{status: http.StatusNotFound},
			wantIs:    hub.ErrNotFound,
			wantInMsg: []string{"download hf://o/r/missing.gguf@dev", "404"},
		},
		{
			name:      "unauthorized",
			ref:       "hf://meta-llama/Llama-3.2-1B/m.gguf",
			hub:       &fakeHub{status: http.StatusUnauthorized},
			wantIs:    hub.ErrUnauthorized,
			wantInMsg: []string{"hf://meta-llama/Llama-3.2-1B/m.gguf", "401", "token"},
		},
		{
			name:      "forbidden",
			ref:       "hf://o/r/m.gguf",
			hub:       &fakeHub{status: http.StatusForbidden},
			wantIs:    hub.ErrUnauthorized,
			wantInMsg: []string{"403", "gated"},
		},
		{
			name:      "server error",
			ref:       "hf://o/r/m.gguf",
			hub:       &fakeHub{status: http.StatusBadGateway},
			wantInMsg: []string{"502"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.hub)
			defer srv.Close()
			cache := t.TempDir()
			const token = "hf_secret_token_value"
			path, err := resolve(t, tt.ref, hub.Options{CacheDir: cache, BaseURL: srv.URL, Token: token})
			if err == nil {
				t.Fatalf("Resolve = %q, want an error", path)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not match %v", err, tt.wantIs)
			}
			for _, s := range tt.wantInMsg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error contains the token")
			}
			var left []string
			_ = filepath.WalkDir(cache, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") {
					left = append(left, p)
				}
				return nil
			})
			if len(left) != 0 {
				t.Errorf("files left in cache after failure: %q", left)
			}
		})
	}
}

func TestResolveCacheHit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "no", http.StatusTeapot)
	}))
	defer srv.Close()
	cache := t.TempDir()
	final := filepath.Join(cache, "o", "r", "main", "m.gguf")
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		t.Fatalf("create cache dir: %v", err)
	}
	if err := os.WriteFile(final, []byte("GGUF"), 0o644); err != nil {
		t.Fatalf("seed cache: %v", err)
	}
	got, err := resolve(t, "hf://o/r/m.gguf", hub.Options{CacheDir: cache, BaseURL: srv.URL})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got != final {
		t.Errorf("path = %q, want %q", got, final)
	}
}

func TestResolveUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	start := time.Now()
	_, err = resolve(t, "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/q.gguf", hub.Options{
		CacheDir: t.TempDir(), BaseURL: "http://" + addr,
	})
	elapsed := time.Since(start)
	if !errors.Is(err, hub.ErrUnreachable) {
		t.Fatalf("error %v does not match ErrUnreachable", err)
	}
	if _, ok := errors.AsType[*hub.UnreachableError](err); !ok {
		t.Errorf("error %v is not an *UnreachableError", err)
	}
	wantPrefix := "download hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/q.gguf: " + addr + " unreachable (no network?)"
	if !strings.HasPrefix(err.Error(), wantPrefix) {
		t.Errorf("error = %q, want prefix %q", err, wantPrefix)
	}
	if elapsed > 3*time.Second {
		t.Errorf("unreachable host took %v to fail, want a fast failure", elapsed)
	}
}

// signalWriter closes seen the first time text containing want is written.
type signalWriter struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func TestResolveConcurrentDownloadsOnce(t *testing.T) {
	content, sum := testContent(50_000)
	h := &fakeHub{content: content, linkedEtag: quoted(sum), block: make(chan struct{}), arrived: make(chan struct{})}
	srv := httptest.NewServer(h)
	defer srv.Close()
	cache := t.TempDir()

	type result struct {
		path string
		err  error
	}
	first := make(chan result, 1)
	go func() {
		p, err := resolve(t, "hf://o/r/m.gguf", hub.Options{CacheDir: cache, BaseURL: srv.URL})
		first <- result{p, err}
	}()
	// The first call holds the lock while its request is blocked. Wait
	// until the second call reports that it waits for the lock; only then
	// let the first download finish.
	waiting := &signalWriter{want: "waiting for another process", seen: make(chan struct{})}
	second := make(chan result, 1)
	go func() {
		// Start only once the first call owns the lock: its request
		// reaching the server proves it.
		<-h.arrived
		p, err := resolve(t, "hf://o/r/m.gguf", hub.Options{CacheDir: cache, BaseURL: srv.URL, Progress: waiting})
		second <- result{p, err}
	}()
	<-waiting.seen
	close(h.block)
	r1, r2 := <-first, <-second
	if r1.err != nil || r2.err != nil {
		t.Fatalf("Resolve errors: first %v, second %v", r1.err, r2.err)
	}
	if r1.path != r2.path {
		t.Errorf("paths differ: %q and %q", r1.path, r2.path)
	}
	if got := len(h.requests()); got != 1 {
		t.Errorf("file requests = %d, want 1", got)
	}
}

func TestResolveLocal(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "m.gguf")
	if err := os.WriteFile(file, []byte("GGUF"), 0o644); err != nil {
		t.Fatalf("write model: %v", err)
	}
	missing := filepath.Join(dir, "missing.gguf")
	tests := []struct {
		name    string
		ref     string
		want    string
		wantIs  error
		wantMsg string
	}{
		{name: "existing file", ref: file, want: file},
		{name: "missing file", ref: missing, wantIs: hub.ErrNotFound, wantMsg: missing},
		{name: "directory", ref: dir, wantMsg: "is a directory"},
		{name: "empty", ref: "", wantIs: hub.ErrInvalidRef},
		{name: "bad hf reference", ref: "hf://owner-only", wantIs: hub.ErrInvalidRef, wantMsg: "hf://owner-only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := resolve(t, tt.ref, hub.Options{CacheDir: t.TempDir(), BaseURL: "http://127.0.0.1:1"})
			if tt.wantIs == nil && tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Resolve: %v", err)
				}
				if got != tt.want {
					t.Errorf("path = %q, want %q", got, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Resolve = %q, want an error", got)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not match %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
		})
	}
}

func TestParseRef(t *testing.T) {
	tests := []struct {
		ref     string
		want    hub.Ref
		wantErr bool
		wantURL string
	}{
		{
			ref:     "hf://Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf",
			want:    hub.Ref{Owner: "Qwen", Repo: "Qwen2.5-0.5B-Instruct-GGUF", File: "qwen2.5-0.5b-instruct-q4_k_m.gguf", Revision: "main"},
			wantURL: "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf",
		},
		{
			ref:     "hf://o/r/dir/f.gguf@abc123",
			want:    hub.Ref{Owner: "o", Repo: "r", File: "dir/f.gguf", Revision: "abc123"},
			wantURL: "https://huggingface.co/o/r/resolve/abc123/dir/f.gguf",
		},
		{
			ref:     "hf://o/r/f.gguf@refs/pr/1",
			want:    hub.Ref{Owner: "o", Repo: "r", File: "f.gguf", Revision: "refs/pr/1"},
			wantURL: "https://huggingface.co/o/r/resolve/refs%2Fpr%2F1/f.gguf",
		},
		{ref: "hf://o/r", wantErr: true},
		{ref: "hf://o/r/", wantErr: true},
		{ref: "hf://o/r/f.gguf@", wantErr: true},
		{ref: "hf://o/../f.gguf", wantErr: true},
		{ref: "hf://o/r/../../etc/passwd", wantErr: true},
		{ref: "hf://o/r/a//b.gguf", wantErr: true},
		{ref: "hf://o w/r/f.gguf", wantErr: true},
		{ref: "/local/f.gguf", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := hub.ParseRef(tt.ref)
			if tt.wantErr {
				if !errors.Is(err, hub.ErrInvalidRef) {
					t.Errorf("ParseRef(%q) error = %v, want ErrInvalidRef", tt.ref, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRef(%q): %v", tt.ref, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ref mismatch (-want +got):\n%s", diff)
			}
			if got := got.URL(hub.DefaultBaseURL); got != tt.wantURL {
				t.Errorf("URL = %q, want %q", got, tt.wantURL)
			}
			back, err := hub.ParseRef(got.String())
			if err != nil || back != got {
				t.Errorf("ParseRef(String()) = %+v, %v; want %+v", back, err, got)
			}
		})
	}
}

// resolve is hub.Resolve with a download client from internal/egress that
// records every request in an audit log in the test's directory; it checks
// that the requests were recorded under the download policy.
func resolve(t *testing.T, ref string, opts hub.Options) (string, error) {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), "downloads.audit.jsonl")
	hc, err := egress.HTTPClient(egress.Config{Policy: egress.Download, LogPath: logPath})
	if err != nil {
		t.Fatal(err)
	}
	opts.HTTPClient = hc
	path, err := hub.Resolve(t.Context(), ref, opts)
	if recs, rerr := audit.Read(logPath); rerr == nil {
		for _, r := range recs {
			if r.Policy != string(egress.Download) || r.Bytes != 0 {
				t.Errorf("download recorded with policy %q and %d body bytes", r.Policy, r.Bytes)
			}
		}
	}
	return path, err
}
