// Package cloud is cogen cloud: an OpenAI-compatible server, shaped like
// vLLM's, on the in-process engine. It offers everything the collaboration
// strategies need from a cloud model (DESIGN §6): chat text, next-token
// top-K after a given prefix (completions with a token-id prompt), and
// top-K at every position of a given sequence (echo with logprobs, or
// vLLM's prompt_logprobs). Tests, benchmarks and users who run both roles
// on one workstation use it as the cloud.
package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// Limits of one request.
const (
	// MaxTopLogprobs is the most alternatives a request may ask for per
	// position (vLLM's default --max-logprobs).
	MaxTopLogprobs = 20
	// DefaultMaxRequestBytes bounds a request body.
	DefaultMaxRequestBytes = 4 << 20
	// defaultMaxTokens is vLLM's completions default.
	defaultCompletionMaxTokens = 16
)

// Server serves one model. Its zero value is not usable; fill Model and
// Name. A Server is safe for concurrent use: each request takes one of the
// model's sequences (Options.Parallel of them), waiting for a free one, and
// the engine batches the running sequences together.
type Server struct {
	Model *llamacpp.Model
	// Name is the model id clients name (GET /v1/models lists it). A
	// request naming another model gets 404, as from vLLM; an empty model
	// field is accepted.
	Name string
	// Latency is added before every response, to stand in for a remote
	// cloud in benchmarks.
	Latency time.Duration
	// MaxRequestBytes bounds request bodies (default DefaultMaxRequestBytes).
	MaxRequestBytes int64
	// Logger gets one line per request, without prompt text.
	Logger *slog.Logger
	// Created is reported as the model's creation time.
	Created time.Time
	// MaxModelLen is the longest sequence, prompt and output together, a
	// request may have: vLLM's max_model_len, which GET /v1/models and
	// POST /tokenize report and past which a request gets a 400. Zero, or
	// more than the engine's context, means the engine's context
	// (Model.ContextSize), which may exceed the context the model was
	// trained on; cogen cloud sets it to the smaller of the two, as vLLM
	// does (see [ServedContext]).
	MaxModelLen int
}

// maxModelLen returns the context the server serves: MaxModelLen within
// the engine's context.
func (s *Server) maxModelLen() int {
	if n := s.Model.ContextSize(); s.MaxModelLen <= 0 || s.MaxModelLen > n {
		return n
	}
	return s.MaxModelLen
}

// ServedContext returns the max_model_len to serve a model whose engine
// context is engineCtx and whose training context is trained (0 when the
// model does not say): requested when it is set, else, as vLLM derives
// it, the training context within the engine's. beyond reports whether
// the result exceeds the training context: the model's output past it
// degrades, which vLLM allows only when asked
// (VLLM_ALLOW_LONG_MAX_MODEL_LEN); here, an explicit request is the ask.
func ServedContext(engineCtx, trained, requested int) (n int, beyond bool) {
	n = engineCtx
	switch {
	case requested > 0:
		n = min(requested, engineCtx)
	case trained > 0:
		n = min(trained, engineCtx)
	}
	return n, trained > 0 && n > trained
}

// prefix returns the model's sequence pool: requests that share a
// prefix with an earlier one (per-token fusion, speculative scoring)
// evaluate only the new tokens.
func (s *Server) prefix() *llamacpp.Pool { return s.Model.Pool() }

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/models", s.models)
	// vLLM's shape: {"version": VLLM_VERSION} (vLLM's show_version), here
	// with cogenesis's own version, so that a client probing vLLM's routes
	// (openaiapi.Client.Detect) finds the one vLLM has.
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"version": version()})
	})
	mux.HandleFunc("POST /v1/chat/completions", s.chat)
	mux.HandleFunc("POST /v1/completions", s.completions)
	mux.HandleFunc("POST /tokenize", s.tokenize)
	mux.HandleFunc("POST /detokenize", s.detokenize)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, http.StatusNotFound, "not_found_error", fmt.Sprintf("no route %s %s", r.Method, r.URL.Path))
	})
	return s.logRequests(mux)
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &httpapi.StatusWriter{ResponseWriter: w}
		limit := s.MaxRequestBytes
		if limit <= 0 {
			limit = DefaultMaxRequestBytes
		}
		r.Body = http.MaxBytesReader(sw, r.Body, limit)
		h.ServeHTTP(sw, r)
		s.logger().Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.Status, "duration", time.Since(start))
	})
}

// fail writes err in OpenAI's error shape. Messages never quote the
// request's text.
func (s *Server) fail(w http.ResponseWriter, err error) {
	var ae *httpapi.Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		httpapi.WriteError(w, ae.Status, ae.Type, ae.Message)
	case errors.As(err, &mbe):
		httpapi.WriteError(w, http.StatusRequestEntityTooLarge, "invalid_request_error", fmt.Sprintf("request body larger than %d bytes", mbe.Limit))
	case errors.Is(err, llamacpp.ErrContextFull):
		httpapi.WriteError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		httpapi.WriteError(w, http.StatusServiceUnavailable, "server_error", "request cancelled")
	default:
		s.logger().Warn("request failed", "err", err)
		httpapi.WriteError(w, http.StatusInternalServerError, "server_error", err.Error())
	}
}

func (s *Server) checkModel(name string) error {
	if name != "" && name != s.Name {
		return &httpapi.Error{Status: http.StatusNotFound, Type: "NotFoundError", Message: fmt.Sprintf("the model `%s` does not exist", name)}
	}
	return nil
}

// wait applies the configured latency, as a remote cloud would.
func (s *Server) wait(ctx context.Context) error {
	if s.Latency <= 0 {
		return nil
	}
	t := time.NewTimer(s.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, openaiapi.ModelList{Object: "list", Data: []openaiapi.Model{{
		ID: s.Name, Object: "model", Created: s.Created.Unix(), OwnedBy: "cogenesis",
		Root: s.Model.Path(), MaxModelLen: s.maxModelLen(),
	}}})
}

// version is cogen cloud's answer to GET /version: "cogenesis", and the
// module version when the binary was built from a tagged one.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return "cogenesis " + bi.Main.Version
	}
	return "cogenesis"
}

func (s *Server) tokenize(w http.ResponseWriter, r *http.Request) {
	var req openaiapi.TokenizeRequest
	if err := httpapi.Decode(r, &req); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.checkModel(req.Model); err != nil {
		s.fail(w, err)
		return
	}
	add := req.AddSpecialTokens == nil || *req.AddSpecialTokens
	toks, err := s.Model.Tokenize(req.Prompt, add, true)
	if err != nil {
		s.fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, openaiapi.TokenizeResponse{Tokens: toks, Count: len(toks), MaxModelLen: s.maxModelLen()})
}

func (s *Server) detokenize(w http.ResponseWriter, r *http.Request) {
	var req openaiapi.DetokenizeRequest
	if err := httpapi.Decode(r, &req); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.checkModel(req.Model); err != nil {
		s.fail(w, err)
		return
	}
	if err := s.checkTokens(req.Tokens); err != nil {
		s.fail(w, err)
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, openaiapi.DetokenizeResponse{Prompt: s.Model.Detokenize(req.Tokens)})
}

func (s *Server) checkTokens(toks []int32) error {
	for i, t := range toks {
		if t < 0 || int(t) >= s.Model.VocabSize() {
			return httpapi.BadRequest("token %d at index %d is outside the vocabulary [0, %d)", t, i, s.Model.VocabSize())
		}
	}
	return nil
}
