//go:build cgo

package serve_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/serve"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// TestSpeculativeWithoutSequenceScoring serves cogen-speculative with a
// cloud that cannot score a sequence in one request (llama.cpp's server,
// here a stand-in answering /completion): without --per-token-fallback a
// request is refused as invalid, naming the capability and the flag,
// before any cloud request; with it, per-token fusion runs and the
// response says so (cogen.ran).
func TestSpeculativeWithoutSequenceScoring(t *testing.T) {
	e := sharedEnv(t)
	var requests atomic.Int32
	stand := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/completion" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"content":"x","tokens":[100],"stop":true,"completion_probabilities":[{"id":100,"token":"x","logprob":-0.5,"top_logprobs":[{"id":100,"token":"x","logprob":-0.5},{"id":101,"token":"y","logprob":-1.5}]}]}`)
	}))
	t.Cleanup(stand.Close)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := audit.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Detokenize: e.slm.Detokenize},
		openaiapi.Config{BaseURL: stand.URL + "/v1", Kind: openaiapi.KindLlamaCpp, Model: "cloud"})
	if err != nil {
		t.Fatal(err)
	}
	cloud := collab.NewCloud(c)
	user := e.small[0].ID
	for _, fallback := range []bool{false, true} {
		f := &fixture{env: e}
		f.s = &serve.Server{
			Store: e.store, SLM: e.slm, Cloud: cloud, AuditPath: auditPath, MaxTokens: 64, CloudMaxTokens: 12,
			PerTokenFallback: fallback, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		f.srv = httptest.NewServer(f.s.Handler())
		code, b := f.do(t, "POST", "/v1/chat/completions", chatReq("speculative", user, "Write a note on my week: keep it short.", false))
		f.srv.Close()
		if !fallback {
			var er openaiapi.ErrorResponse
			if err := json.Unmarshal(b, &er); err != nil {
				t.Fatalf("refusal: %v: %s", err, b)
			}
			if code != http.StatusBadRequest || er.Error.Type != "invalid_request_error" ||
				!strings.Contains(er.Error.Message, string(openaiapi.CapSequenceTopK)) || !strings.Contains(er.Error.Message, "--per-token-fallback") {
				t.Errorf("without --per-token-fallback: status %d: %s; want 400 naming %q and --per-token-fallback", code, b, openaiapi.CapSequenceTopK)
			}
			if n := requests.Load(); n != 0 {
				t.Errorf("the refused request sent %d cloud requests", n)
			}
			continue
		}
		if code != http.StatusOK {
			t.Fatalf("with --per-token-fallback: status %d: %s", code, b)
		}
		var resp serve.ChatResponse
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Cogen == nil || resp.Cogen.Ran != "speculative→logits" || requests.Load() == 0 {
			t.Errorf("with --per-token-fallback: extension %+v, %d cloud requests; want ran speculative→logits", resp.Cogen, requests.Load())
		}
	}
}
