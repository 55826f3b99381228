//go:build cgo

package interop_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
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
	if err := ollamaCreate(s, "other", other); err != nil {
		t.Fatal(err)
	}
	o := *s
	o.model = "other"
	slm := engineModel(t, enginetest.SharedModel(t), llamacpp.Options{ContextSize: 8192, Threads: 1, Parallel: 2})
	cloud, log := dial(t, &o, slm.Detokenize)
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
