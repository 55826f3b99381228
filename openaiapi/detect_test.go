package openaiapi_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// The answers of real servers, from their own source or documentation
// (testdata/detect/README.md says where each comes from).
const (
	llamaProps      = "llamacpp-props.json"
	ollamaVersion   = "ollama-api-version.json"
	vllmVersion     = "vllm-version.json"
	vllmModels      = "vllm-models.json"
	sglangInfo      = "sglang-get-server-info.json"
	sglangModels    = "sglang-models.json"
	openaiModelList = "openai-models.json"
)

// fakeServer answers GET path with the testdata file routes[path], and
// everything else with 404, as the real servers do for a route they lack.
// It counts the requests per path.
type fakeServer struct {
	*httptest.Server
	mu   sync.Mutex
	hits map[string]int
}

func serve(t *testing.T, routes map[string]string, status map[string]int) *fakeServer {
	t.Helper()
	f := &fakeServer{hits: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.hits[r.URL.Path]++
		f.mu.Unlock()
		if r.Method != http.MethodGet || r.ContentLength > 0 {
			http.Error(w, "detection sends bodiless GETs only", http.StatusBadRequest)
			return
		}
		if code, ok := status[r.URL.Path]; ok {
			http.Error(w, http.StatusText(code), code)
			return
		}
		file, ok := routes[r.URL.Path]
		if !ok {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"detail":"Not Found"}`))
			return
		}
		body, err := os.ReadFile(filepath.Join("testdata", "detect", file))
		if err != nil {
			t.Errorf("read %s: %v", file, err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(f.Close)
	return f
}

// requests returns the number of requests per path so far.
func (f *fakeServer) requests() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.hits)
}

// dialDetect builds a client for url as cogenesis builds every client:
// through the egress choke point, with a guard and an audit log, whose
// path it returns. kind is the client's own kind, which detection ignores.
func dialDetect(t *testing.T, url string, kind openaiapi.Kind) (*openaiapi.Client, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Guard: privacy.NewGuard(nil)},
		openaiapi.Config{BaseURL: url + "/v1", Kind: kind, Model: "m", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c, path
}

func TestDetectKinds(t *testing.T) {
	tests := []struct {
		name   string
		routes map[string]string
		status map[string]int
		want   openaiapi.Detection // URL is filled in
	}{{
		name:   "llamacpp",
		routes: map[string]string{"/props": llamaProps},
		want: openaiapi.Detection{
			Kind: openaiapi.KindLlamaCpp, Conclusive: true,
			Evidence:    "GET /props answered with default_generation_settings",
			Probes:      []string{"GET /props: 200"},
			Version:     "b(build number)-(build commit hash)",
			ContextSize: 1024,
		},
	}, {
		name:   "ollama",
		routes: map[string]string{"/api/version": ollamaVersion},
		want: openaiapi.Detection{
			Kind: openaiapi.KindOllama, Conclusive: true,
			Evidence: "GET /api/version answered with a version",
			Probes:   []string{"GET /props: 404", "GET /api/version: 200"},
			Version:  "0.5.1",
		},
	}, {
		name:   "sglang",
		routes: map[string]string{"/get_server_info": sglangInfo, "/v1/models": sglangModels},
		want: openaiapi.Detection{
			Kind: openaiapi.KindSGLang, Conclusive: true,
			Evidence:    "GET /get_server_info answered with SGLang's server arguments",
			Probes:      []string{"GET /props: 404", "GET /api/version: 404", "GET /get_server_info: 200", "GET /v1/models: 200"},
			Version:     "0.0.0.dev1+ge4b2b5762",
			ContextSize: 32768,
		},
	}, {
		// Behind a proxy that passes only /v1: SGLang still names itself.
		name:   "sglang model list only",
		routes: map[string]string{"/v1/models": sglangModels},
		want: openaiapi.Detection{
			Kind: openaiapi.KindSGLang, Conclusive: true,
			Evidence:    `GET /v1/models lists models owned_by "sglang"`,
			Probes:      []string{"GET /props: 404", "GET /api/version: 404", "GET /get_server_info: 404", "GET /v1/models: 200"},
			ContextSize: 32768,
		},
	}, {
		name:   "vllm",
		routes: map[string]string{"/v1/models": vllmModels, "/version": vllmVersion},
		want: openaiapi.Detection{
			Kind: openaiapi.KindVLLM, Conclusive: true,
			Evidence:    `GET /v1/models lists models owned_by "vllm"`,
			Probes:      []string{"GET /props: 404", "GET /api/version: 404", "GET /get_server_info: 404", "GET /v1/models: 200", "GET /version: 200"},
			Version:     "0.3.3",
			ContextSize: 2048,
		},
	}, {
		// A 5xx is not this kind either, and is not retried.
		name:   "vllm after a failing probe",
		routes: map[string]string{"/v1/models": vllmModels, "/version": vllmVersion},
		status: map[string]int{"/props": http.StatusServiceUnavailable},
		want: openaiapi.Detection{
			Kind: openaiapi.KindVLLM, Conclusive: true,
			Evidence:    `GET /v1/models lists models owned_by "vllm"`,
			Probes:      []string{"GET /props: 503", "GET /api/version: 404", "GET /get_server_info: 404", "GET /v1/models: 200", "GET /version: 200"},
			Version:     "0.3.3",
			ContextSize: 2048,
		},
	}, {
		name:   "openai",
		routes: map[string]string{"/v1/models": openaiModelList},
		want: openaiapi.Detection{
			Kind:     openaiapi.KindOpenAI,
			Evidence: "GET /v1/models lists models, with no owner that names the server software",
			Probes:   []string{"GET /props: 404", "GET /api/version: 404", "GET /get_server_info: 404", "GET /v1/models: 200"},
		},
	}, {
		// vLLM's /version alone, with another owner in /v1/models, is not
		// enough: other servers have a /version of the same shape.
		name:   "version route without vllm's model list",
		routes: map[string]string{"/v1/models": openaiModelList, "/version": vllmVersion},
		want: openaiapi.Detection{
			Kind:     openaiapi.KindOpenAI,
			Evidence: "GET /v1/models lists models, with no owner that names the server software",
			Probes:   []string{"GET /props: 404", "GET /api/version: 404", "GET /get_server_info: 404", "GET /v1/models: 200"},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.routes, tt.status)
			c, auditPath := dialDetect(t, srv.URL, openaiapi.KindOpenAI)
			got, err := c.Detect(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			want.URL = srv.URL
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Detect (-want +got):\n%s", diff)
			}
			for path, n := range srv.requests() {
				if n != 1 {
					t.Errorf("%s asked %d times, want once (no retries)", path, n)
				}
			}
			// Every probe went through the egress choke point.
			recs, err := audit.Read(auditPath)
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != len(got.Probes) {
				t.Errorf("audit log has %d records, want one per probe (%d)", len(recs), len(got.Probes))
			}
			for _, r := range recs {
				if r.Method != http.MethodGet || r.Bytes != 0 || r.Verdict != audit.VerdictAllow {
					t.Errorf("audit record %s %s: %d bytes, verdict %s; want a bodiless GET, allowed", r.Method, r.Path, r.Bytes, r.Verdict)
				}
			}
		})
	}
}

func TestDetectNothingAnswers(t *testing.T) {
	t.Run("404 everywhere", func(t *testing.T) {
		srv := serve(t, nil, nil)
		c, _ := dialDetect(t, srv.URL, openaiapi.KindVLLM)
		d, err := c.Detect(t.Context())
		if err == nil {
			t.Fatalf("Detect = %+v, want an error", d)
		}
		for _, want := range []string{srv.URL, "GET /props: 404", "GET /api/version: 404", "GET /get_server_info: 404", "GET /v1/models: 404"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name %q", err, want)
			}
		}
	})
	t.Run("model list refused", func(t *testing.T) {
		srv := serve(t, nil, map[string]int{"/v1/models": http.StatusUnauthorized})
		c, _ := dialDetect(t, srv.URL, openaiapi.KindVLLM)
		_, err := c.Detect(t.Context())
		if err == nil || !strings.Contains(err.Error(), "GET /v1/models: 401") || !strings.Contains(err.Error(), "API key") {
			t.Fatalf("Detect with /v1/models answering 401: err = %v, want one naming the 401 and the API key", err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		srv := serve(t, nil, nil)
		url := srv.URL
		srv.Close()
		c, _ := dialDetect(t, url, openaiapi.KindVLLM)
		_, err := c.Detect(t.Context())
		if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "GET /props") {
			t.Fatalf("Detect on a closed port: err = %v, want one naming %s and GET /props", err, url)
		}
	})
}

func TestResolveKind(t *testing.T) {
	llama := map[string]string{"/props": llamaProps}
	openai := map[string]string{"/v1/models": openaiModelList}
	tests := []struct {
		name     string
		routes   map[string]string
		given    openaiapi.Kind
		want     openaiapi.Kind
		mismatch bool // want a *KindMismatchError
		fails    bool // want another error
	}{
		{name: "auto takes the detected kind", routes: llama, given: openaiapi.KindAuto, want: openaiapi.KindLlamaCpp},
		{name: "empty is auto", routes: llama, given: "", want: openaiapi.KindLlamaCpp},
		{name: "auto on a generic server is openai", routes: openai, given: openaiapi.KindAuto, want: openaiapi.KindOpenAI},
		{name: "given kind that matches", routes: llama, given: openaiapi.KindLlamaCpp, want: openaiapi.KindLlamaCpp},
		{name: "given kind that the server contradicts", routes: llama, given: openaiapi.KindVLLM, mismatch: true},
		{name: "given kind on an inconclusive server is trusted", routes: openai, given: openaiapi.KindVLLM, want: openaiapi.KindVLLM},
		{name: "given kind when nothing answers is trusted", routes: nil, given: openaiapi.KindSGLang, want: openaiapi.KindSGLang},
		{name: "auto when nothing answers", routes: nil, given: openaiapi.KindAuto, fails: true},
		{name: "unknown kind", routes: llama, given: "tgi", fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, tt.routes, nil)
			c, _ := dialDetect(t, srv.URL, openaiapi.KindOpenAI)
			got, d, err := openaiapi.ResolveKind(t.Context(), c, tt.given)
			me, isMismatch := errors.AsType[*openaiapi.KindMismatchError](err)
			switch {
			case tt.mismatch:
				if !isMismatch {
					t.Fatalf("ResolveKind(%q) = %q, %v; want a *KindMismatchError", tt.given, got, err)
				}
				want := &openaiapi.KindMismatchError{Given: tt.given, Detected: openaiapi.KindLlamaCpp, URL: srv.URL,
					Evidence: "GET /props answered with default_generation_settings"}
				if diff := cmp.Diff(want, me); diff != "" {
					t.Errorf("mismatch (-want +got):\n%s", diff)
				}
				for _, s := range []string{"vllm", "llamacpp", srv.URL, "GET /props"} {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not name %q", err, s)
					}
				}
			case tt.fails:
				if err == nil || isMismatch {
					t.Fatalf("ResolveKind(%q) = %q, %v; want an error", tt.given, got, err)
				}
			default:
				if err != nil || got != tt.want {
					t.Fatalf("ResolveKind(%q) = %q, %v; want %q", tt.given, got, err, tt.want)
				}
				if d.URL != srv.URL {
					t.Errorf("detection URL %q, want %q", d.URL, srv.URL)
				}
			}
		})
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]openaiapi.Kind{"": openaiapi.KindAuto, "auto": openaiapi.KindAuto, "vllm": openaiapi.KindVLLM, "llamacpp": openaiapi.KindLlamaCpp} {
		if got, err := openaiapi.ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := openaiapi.ParseKind("llama.cpp"); err == nil {
		t.Error("ParseKind(llama.cpp): no error")
	}
	if openaiapi.KindAuto.Valid() {
		t.Error("KindAuto.Valid() = true; a client needs a real kind")
	}
}

// ResolveKind with --llm-kind auto against llama.cpp's server: its GET
// /props answer (from llama.cpp's own documentation) identifies it.
func ExampleResolveKind() {
	props, err := os.ReadFile(filepath.Join("testdata", "detect", llamaProps))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/props" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(props)
	}))
	defer srv.Close()
	dir, err := os.MkdirTemp("", "detect")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	log, err := audit.Open(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		panic(err)
	}
	defer log.Close()
	// Every client comes from internal/egress, which checks and records
	// each request (here: one bodiless GET).
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Guard: privacy.NewGuard(nil)},
		openaiapi.Config{BaseURL: srv.URL + "/v1", Kind: openaiapi.KindOpenAI})
	if err != nil {
		panic(err)
	}
	kind, d, err := openaiapi.ResolveKind(context.Background(), c, openaiapi.KindAuto)
	if err != nil {
		panic(err)
	}
	fmt.Println(kind, d.ContextSize)
	fmt.Println(d.Evidence)
	// Output:
	// llamacpp 1024
	// GET /props answered with default_generation_settings
}
