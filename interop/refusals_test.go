//go:build cgo

package interop_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// TestOllamaTokenizerChecked: Ollama has no tokenize endpoint, so logit
// fusion compares its vocabulary (/api/show) with the local model's. A
// cloud model with another tokenizer (the LLaMA SentencePiece 32k
// vocabulary) is refused before any next-token query; the shared one
// passes (TestMatrix).
func TestOllamaTokenizerChecked(t *testing.T) {
	s := startServer(t, "ollama")
	tiny, _ := enginetest.ShapeByName("tiny")
	other := filepath.Join(t.TempDir(), "other.gguf")
	err := enginetest.Write(other, enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32",
		TokenizerFrom: enginetest.SharedPath("models", "ggml-vocab-llama-spm.gguf"), Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if err := ollamaCreate(s, "other", other, cloudContext); err != nil {
		t.Fatal(err)
	}
	o := *s
	o.model = "other"
	slm := engineModel(t, enginetest.SharedModel(t), llamacpp.Options{ContextSize: 8192, Threads: 1, Parallel: 2})
	cloud, log := dial(t, &o, slm.Detokenize, nil)
	rec := devRecord(t)
	r := &collab.Runner{SLM: collab.Engine(slm), Cloud: cloud, Guard: privacy.NewGuard(rec.Vault)}
	_, err = r.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{Strategy: collab.Logits, MaxTokens: 4})
	if err == nil || !strings.Contains(err.Error(), "needs one tokenizer") {
		t.Fatalf("logits against a cloud with another tokenizer: err %v, want a tokenizer mismatch", err)
	}
	t.Log(err)
	for _, a := range readRecords(t, log) {
		if a.Path != "/api/show" {
			t.Errorf("request %s %s sent before the tokenizer check failed", a.Method, a.Path)
		}
	}
}

// TestOllamaContextRefused: a request longer than Ollama's context is an
// error that names the setting to change, on the chat route (llm-context,
// about 6,100 tokens, against a model imported with num_ctx 2048) and on
// the next-token route, never a silent cut of the prompt.
func TestOllamaContextRefused(t *testing.T) {
	s := startServer(t, "ollama")
	small := *s
	small.model = "small"
	if err := ollamaCreate(s, "small", cloudModel(t), 2048); err != nil {
		t.Fatal(err)
	}
	cloud, err := runLLMContext(t, &small)
	if !errors.Is(err, openaiapi.ErrContextExceeded) || !strings.Contains(err.Error(), "num_ctx") {
		t.Fatalf("llm-context beyond num_ctx: err %v, want a context error naming num_ctx", err)
	}
	t.Log(err)
	long := strings.Repeat("hello world ", 1500)
	ctx := egress.WithGuard(t.Context(), privacy.NewGuard(nil))
	_, err = cloud.Client().NextTokenTopKText(ctx, long, 5)
	if !errors.Is(err, openaiapi.ErrContextExceeded) {
		t.Errorf("next-token query beyond num_ctx: err %v, want a context error", err)
	}
}

// TestLlamaServerContextRefused: llama-server with a context smaller than
// llm-context's request (about 6,100 tokens against -c 2048) answers with
// an error that the client turns into one naming both sizes and the flag.
func TestLlamaServerContextRefused(t *testing.T) {
	s, err := startLlamaServer(t, cloudModel(t), "llama-server-2048", 2048)
	if err != nil {
		t.Fatal(err)
	}
	defer s.stop()
	_, err = runLLMContext(t, s)
	var api *openaiapi.APIError
	if !errors.As(err, &api) || !errors.Is(err, openaiapi.ErrContextExceeded) || api.ContextSize != 2048 || api.PromptTokens <= 2048 {
		t.Fatalf("llm-context beyond -c 2048: err %v, want a context error with both sizes", err)
	}
	for _, want := range []string{"2048", fmt.Sprint(api.PromptTokens), "--ctx-size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	t.Log(err)
}

// runLLMContext runs llm-context (the longest request, about 6,100 tokens)
// on a dev record against s and returns its cloud and error.
func runLLMContext(t *testing.T, s *server) (*collab.Cloud, error) {
	t.Helper()
	slm := engineModel(t, enginetest.SharedModel(t), llamacpp.Options{ContextSize: 8192, Threads: 1, Parallel: 2})
	grant := egress.AllowPrivate("test: llm-context")
	cloud, _ := dial(t, s, slm.Detokenize, grant)
	rec := devRecord(t)
	r := &collab.Runner{SLM: collab.Engine(slm), Cloud: cloud, Guard: privacy.NewGuard(rec.Vault), Private: grant}
	_, err := r.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{Strategy: collab.LLMContext, CloudMaxTokens: 4})
	return cloud, err
}
