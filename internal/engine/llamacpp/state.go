//go:build cgo

package llamacpp

/*
#include "llama.h"

// The llama.cpp commit compiled in (build-info.cpp of the module).
extern char const *LLAMA_COMMIT;
*/
import "C"

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"unsafe"
)

// SaveState returns the sequence's saved state, which
// [Sequence.RestoreState] reads: the KV cache of all its tokens (from
// llama_state_seq_get_data) and its next-token logits, which llama.cpp's
// sequence state lacks. Keeping the logits costs 4 bytes per vocabulary
// entry (0.6 MB for Qwen2's 151,936 tokens, against 12 KB of F16 KV cache
// per token of Qwen2-0.5B) and makes a restore evaluate nothing; saving
// all tokens but the last instead, and evaluating that one on restore,
// would spend a one-token decode on every restore to save those bytes.
// The tokens themselves are not in the state; the caller keeps them. An
// empty sequence has no state to save.
//
// The state is as private as the tokens it was computed from: keep it on
// the device (package statecache stores it encrypted).
func (s *Sequence) SaveState() ([]byte, error) {
	if s.closed || s.m.closed.Load() {
		return nil, ErrClosed
	}
	if len(s.tokens) == 0 || !s.hasLog {
		return nil, fmt.Errorf("save state: the sequence holds no evaluated tokens")
	}
	m := s.m
	head := stateHeader{tokens: len(s.tokens), vocab: m.nVoc, digest: m.stateDigest()}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := int(C.llama_state_seq_get_size(m.lctx, C.llama_seq_id(s.id)))
	if n == 0 {
		return nil, fmt.Errorf("save state of %d tokens: llama.cpp reports no state: %s", len(s.tokens), orUnknown(takeErrors()))
	}
	off := stateHeaderSize + 4*m.nVoc
	buf := make([]byte, off+n)
	head.put(buf, s.logits)
	got := int(C.llama_state_seq_get_data(m.lctx, (*C.uint8_t)(unsafe.Pointer(&buf[off])), C.size_t(n), C.llama_seq_id(s.id)))
	if got != n {
		return nil, fmt.Errorf("save state of %d tokens: llama.cpp wrote %d of %d bytes: %s", len(s.tokens), got, n, orUnknown(takeErrors()))
	}
	return buf, nil
}

// RestoreState makes the sequence hold tokens, with the KV cache and
// next-token logits of data, a state [Sequence.SaveState] returned for
// exactly those tokens on a model opened from the same file with the same
// [Model.StateSettings]. Whatever the sequence held before is replaced.
// Nothing is evaluated: afterwards Logits is bitwise what the saved
// sequence had, and appending to the sequence gives, bit for bit, what
// appending to the saved sequence would have given.
//
// A state that is malformed, was saved for another number of tokens, or
// does not fit the model (another model, vocabulary, context, KV cache
// type or number of parallel sequences) is an error wrapping
// [ErrStateMismatch], and the sequence is left empty. Its structure is
// checked in Go before llama.cpp reads a byte, so no state can make
// llama.cpp read past it or allocate for counts it does not hold. Neither
// the model file's weights nor the tokens are in the state, so a state of
// the same length saved from other tokens, or from another file with the
// same shape, tokenizer and settings, is not detected: the caller's cache
// key must hold both (package statecache).
//
// On any error but [ErrClosed] and ctx's, the sequence is left empty.
func (s *Sequence) RestoreState(ctx context.Context, data []byte, tokens []int32) (err error) {
	if s.closed || s.m.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m := s.m
	defer func() {
		if err != nil {
			s.clear()
		}
	}()
	if len(tokens) > m.nCtx {
		return &ContextFullError{Have: 0, Adding: len(tokens), Limit: m.nCtx}
	}
	for _, t := range tokens {
		if t < 0 || int(t) >= m.nVoc {
			return fmt.Errorf("restore state: token %d out of vocabulary range [0, %d): %w", t, m.nVoc, ErrStateMismatch)
		}
	}
	want := stateHeader{tokens: len(tokens), vocab: m.nVoc, digest: m.stateDigest()}
	logits, kv, err := splitState(data, want)
	if err != nil {
		return fmt.Errorf("restore state of %d tokens: %w", len(tokens), err)
	}
	if err := checkSeqState(kv, seqStateShape{
		streams: int(C.llama_n_seq_max(m.lctx)),
		cells:   len(tokens),
		layers:  m.Info().Layers,
	}); err != nil {
		return fmt.Errorf("restore state of %d tokens: %w", len(tokens), err)
	}

	m.mu.Lock()
	got := int(C.llama_state_seq_set_data(m.lctx, (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(kv))), C.size_t(len(kv)), C.llama_seq_id(s.id)))
	top := int(C.llama_memory_seq_pos_max(C.llama_get_memory(m.lctx), C.llama_seq_id(s.id)))
	m.mu.Unlock()
	if got != len(kv) {
		return fmt.Errorf("restore state of %d tokens: llama.cpp read %d of %d bytes: %s: %w", len(tokens), got, len(kv), orUnknown(takeErrors()), ErrStateMismatch)
	}
	if top != len(tokens)-1 {
		return fmt.Errorf("restore state of %d tokens: last position %d after restoring: %w", len(tokens), top, ErrStateMismatch)
	}
	s.tokens = append(s.tokens[:0], tokens...)
	for i := range s.logits {
		s.logits[i] = logits.at(i)
	}
	s.hasLog = true
	return nil
}

// clear empties the sequence.
func (s *Sequence) clear() {
	s.m.mu.Lock()
	C.llama_memory_seq_rm(C.llama_get_memory(s.m.lctx), C.llama_seq_id(s.id), -1, -1)
	s.m.mu.Unlock()
	s.tokens = s.tokens[:0]
	s.hasLog = false
}

// StateSettings describes, as one line of text, everything about the
// model's context that a saved state depends on beyond the model and
// adapter files: the llama.cpp commit, the version of the module that
// carries it and its state format version; the context size per
// sequence; the number of parallel sequences (each has a KV stream of its
// own); the batch size (which splits a prompt, and so fixes the last bits
// of its KV cache); the KV cache type (Precise); flash attention (which
// transposes V); the LoRA scale; and the CPU architecture. A cache of
// saved states keys them by it (package statecache).
func (m *Model) StateSettings() string {
	o := m.opts
	kv := "f16"
	if o.Precise {
		kv = "f32"
	}
	flash := cmp.Or(o.FlashAttention, "auto")
	if o.Precise {
		flash = "off"
	}
	lora := "none"
	if o.LoRA != "" {
		lora = strconv.FormatFloat(float64(o.LoRAScale), 'g', -1, 32)
	}
	return strings.Join([]string{
		"llama.cpp=" + C.GoString(C.LLAMA_COMMIT),
		"ollama=" + ollamaVersion(),
		"state=" + strconv.Itoa(int(C.LLAMA_STATE_SEQ_VERSION)),
		"ctx=" + strconv.Itoa(m.nCtx),
		"parallel=" + strconv.Itoa(o.Parallel),
		"batch=" + strconv.Itoa(len(m.bTok)),
		"kv=" + kv,
		"flash=" + flash,
		"lora_scale=" + lora,
		"arch=" + runtime.GOARCH,
	}, " ")
}

// stateDigest identifies what a state must match on this model: its
// settings and its shape (vocabulary, parameters, layers, embedding).
func (m *Model) stateDigest() [32]byte {
	in := m.Info()
	return digestOf(m.StateSettings(), in.Vocab.Fingerprint,
		strconv.FormatUint(in.Parameters, 10), strconv.Itoa(in.Layers), strconv.Itoa(in.Embedding))
}

// ollamaVersion is the version of the module whose llama.cpp sources (and
// patches) are compiled in, or "unknown" where the binary's build
// information lacks it (test binaries); the llama.cpp commit is there
// either way.
func ollamaVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	i := slices.IndexFunc(bi.Deps, func(d *debug.Module) bool { return d.Path == "github.com/ollama/ollama" })
	if i < 0 {
		return "unknown"
	}
	d := bi.Deps[i]
	if d.Replace != nil {
		d = d.Replace
	}
	return d.Version
}
