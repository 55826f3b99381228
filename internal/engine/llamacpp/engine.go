package llamacpp

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
)

// Sentinel errors callers branch on.
var (
	// ErrEngineUnavailable means the binary was built without cgo, so the
	// in-process engine is missing.
	ErrEngineUnavailable = errors.New("llamacpp: engine unavailable (built without cgo)")
	// ErrContextFull means a sequence would grow past its context size.
	// The error is a *ContextFullError with the counts.
	ErrContextFull = errors.New("context full")
	// ErrClosed means the model or sequence was closed.
	ErrClosed = errors.New("llamacpp: closed")
)

// ContextFullError reports a sequence that would exceed its context:
// Have tokens are in it, Adding more were asked for, and Limit fit.
// Nothing is ever truncated silently.
type ContextFullError struct {
	Have, Adding, Limit int
}

func (e *ContextFullError) Error() string {
	return fmt.Sprintf("context full: %d tokens in the sequence + %d new > %d context size", e.Have, e.Adding, e.Limit)
}

// Unwrap makes errors.Is(err, ErrContextFull) hold.
func (e *ContextFullError) Unwrap() error { return ErrContextFull }

// Options configures [Open]. Zero fields take the documented defaults.
type Options struct {
	// ContextSize is the context of each sequence, in tokens (default
	// 4096, rounded up to a multiple of 256 by llama.cpp). It may exceed
	// the model's training context.
	ContextSize int
	// Threads is the number of CPU threads. The default (0) is chosen
	// for the machine and the model: one for a model under 16 MiB of
	// weights, else the physical cores (SMT siblings counted once, the
	// affinity mask and a cgroup quota respected) less those other
	// processes keep busy, shared with the other models open in the
	// process in proportion to their size. It follows the load while the
	// model decodes (re-sampled each second) and the other models as
	// they open and close; [Model.Threads] reports it. Past the free
	// cores llama.cpp's spinning barriers make decoding many times
	// slower, not proportionally slower.
	Threads int
	// BatchSize is the most tokens one llama_decode call takes (default 512).
	BatchSize int
	// Parallel is the number of sequences that can be open at once
	// (default 1). Open sequences are decoded together in one batch.
	Parallel int
	// Precise keeps the KV cache in F32 and turns flash attention off, so
	// batched evaluation equals step-by-step evaluation to float32 rounding
	// (measured on the F32 test model: 2e-6 in log-probability, against
	// about 1e-3 with the default F16 cache and flash attention, which
	// round queries and keys to F16). Speculative decoding and sequence
	// scoring need it; it costs twice the KV memory.
	Precise bool
	// FlashAttention is "auto" (default: llama.cpp decides), "on" or
	// "off". Precise turns it off.
	FlashAttention string
	// LoRA, when set, is a LoRA adapter GGUF applied at LoRAScale (default 1).
	LoRA      string
	LoRAScale float32
	// Logger receives llama.cpp's output at Debug level (default slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.ContextSize <= 0 {
		o.ContextSize = 4096
	}
	if o.Threads < 0 {
		o.Threads = 0
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 512
	}
	if o.Parallel <= 0 {
		o.Parallel = 1
	}
	if o.LoRAScale == 0 {
		o.LoRAScale = 1
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Info describes a loaded model.
type Info struct {
	Path          string `json:"path"`
	Architecture  string `json:"architecture"`
	Description   string `json:"description"`
	Parameters    uint64 `json:"parameters"`
	SizeBytes     uint64 `json:"size_bytes"`
	Quantization  string `json:"quantization"`
	ContextLength int    `json:"context_length"`
	Embedding     int    `json:"embedding"`
	Layers        int    `json:"layers"`
	ChatTemplate  string `json:"chat_template,omitempty"`
	Vocab         Vocab  `json:"vocab"`
}

// Vocab describes a model's tokenizer. Two models share a tokenizer when
// their Fingerprints are equal.
type Vocab struct {
	Size int    `json:"size"`
	Type string `json:"type"`
	BOS  int32  `json:"bos"`
	EOS  int32  `json:"eos"`
	EOT  int32  `json:"eot"`
	PAD  int32  `json:"pad"`
	// AddBOS reports whether tokenizing with special tokens prepends BOS.
	AddBOS bool `json:"add_bos"`
	// Fingerprint is a sha256 (hex) of the token table: every token's text
	// and attributes, the tokenizer type and the special ids.
	Fingerprint string `json:"fingerprint"`
}

// SameTokenizer returns nil when a and b are the same tokenizer, or an error
// naming the first difference (size, special tokens, or token table).
func SameTokenizer(a, b Vocab) error {
	switch {
	case a.Size != b.Size:
		return fmt.Errorf("tokenizers differ: vocabulary size %d vs %d", a.Size, b.Size)
	case a.Type != b.Type:
		return fmt.Errorf("tokenizers differ: type %s vs %s", a.Type, b.Type)
	case a.BOS != b.BOS || a.EOS != b.EOS || a.EOT != b.EOT:
		return fmt.Errorf("tokenizers differ: special tokens bos/eos/eot %d/%d/%d vs %d/%d/%d", a.BOS, a.EOS, a.EOT, b.BOS, b.EOS, b.EOT)
	case a.Fingerprint != b.Fingerprint:
		return fmt.Errorf("tokenizers differ: token table fingerprint %.12s vs %.12s", a.Fingerprint, b.Fingerprint)
	}
	return nil
}

// logprobs returns the log-probability of tok (if tok >= 0), its rank (1
// for the most likely token) and the top k under logits.
func logprobs(logits []float32, tok int32, k int) (lp float64, rank int, top []llm.TopLogprob) {
	z := sample.LogSumExp(logits)
	if tok >= 0 && int(tok) < len(logits) {
		lp = float64(logits[tok]) - z
		rank = 1
		x := logits[tok]
		for i, l := range logits {
			if l > x || (l == x && int32(i) < tok) {
				rank++
			}
		}
	}
	if k <= 0 {
		return lp, rank, nil
	}
	cands := sample.TopK(make([]sample.Candidate, 0, k), logits, k)
	top = make([]llm.TopLogprob, len(cands))
	for i, c := range cands {
		top[i] = llm.TopLogprob{Token: c.Token, Logprob: float64(c.Score) - z}
	}
	return lp, rank, top
}
