//go:build cgo

package llamacpp_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
)

// stateModel is a model the state tests run on, with the prompt and the
// continuation they use.
type stateModel struct {
	name   string
	path   func(t testing.TB) string
	opts   llamacpp.Options
	prompt func(t testing.TB, m *llamacpp.Model) (prefix, suffix []int32)
}

// randomModel writes a random-weight model of the tiny shape.
func randomModel(arch, typ string) func(t testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		tiny, err := enginetest.ShapeByName("tiny")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(t.TempDir(), arch+"-"+typ+".gguf")
		if err := enginetest.Write(p, enginetest.Options{Arch: arch, Shape: tiny, Type: typ, Seed: 11, Scale: 0.2}); err != nil {
			t.Fatal(err)
		}
		return p
	}
}

// textPrompt tokenizes a story as the prefix, and a sentence after it.
func textPrompt(t testing.TB, m *llamacpp.Model) (prefix, suffix []int32) {
	t.Helper()
	p, err := m.Tokenize("Once upon a time, in a small town by the sea, there lived a girl named Lily. "+
		"She loved to walk on the beach and collect shells of every colour. One day she found a big shell "+
		"that sang when she held it to her ear, and she ran home to show her mother.", true, false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Tokenize(" Her mother smiled and said", false, false)
	if err != nil {
		t.Fatal(err)
	}
	return p, s
}

// randomPrompt draws tokens (after BOS) from the whole vocabulary.
func randomPrompt(t testing.TB, m *llamacpp.Model) (prefix, suffix []int32) {
	rng := rand.New(rand.NewPCG(7, 7))
	draw := func(n int) []int32 {
		out := make([]int32, n)
		for i := range out {
			out[i] = int32(rng.IntN(m.VocabSize()))
		}
		return out
	}
	return append([]int32{m.Info().Vocab.BOS}, draw(90)...), draw(12)
}

func stateModels() []stateModel {
	shared := func(t testing.TB) string { return enginetest.SharedModel(t) }
	// BatchSize 16 splits every prefix into several batches; Parallel 3
	// holds the original, the cold and the restored sequence at once.
	o := func(o llamacpp.Options) llamacpp.Options {
		o.BatchSize, o.Parallel, o.ContextSize, o.Threads = 16, 3, 256, 2
		return o
	}
	return []stateModel{
		{"tiny", shared, o(llamacpp.Options{}), textPrompt},
		{"tiny/precise", shared, o(llamacpp.Options{Precise: true}), textPrompt},
		{"tiny/flash-on", shared, o(llamacpp.Options{FlashAttention: "on"}), textPrompt},
		{"random-llama-f32/flash-off", randomModel("llama", "f32"), o(llamacpp.Options{FlashAttention: "off"}), randomPrompt},
		{"random-qwen2-q8_0/flash-on", randomModel("qwen2", "q8_0"), o(llamacpp.Options{FlashAttention: "on"}), randomPrompt},
	}
}

func openState(t testing.TB, sm stateModel) *llamacpp.Model {
	t.Helper()
	m, err := llamacpp.Open(sm.path(t), sm.opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// sameBits reports where two logit vectors first differ in their bits,
// and by how much they differ at most.
func sameBits(want, got []float32) error {
	if len(want) != len(got) {
		return fmt.Errorf("%d logits, want %d", len(got), len(want))
	}
	first, worst := -1, 0.0
	for i := range want {
		if math.Float32bits(want[i]) != math.Float32bits(got[i]) {
			if first < 0 {
				first = i
			}
			worst = max(worst, math.Abs(float64(want[i])-float64(got[i])))
		}
	}
	if first >= 0 {
		return fmt.Errorf("logits differ in their bits from index %d (at most by %g)", first, worst)
	}
	return nil
}

// rowsOf appends tokens to s and returns a copy of the logits after each.
func rowsOf(t *testing.T, s *llamacpp.Sequence, tokens []int32) [][]float32 {
	t.Helper()
	rows := make([][]float32, len(tokens))
	err := s.ScoreFunc(t.Context(), tokens, func(i int, logits []float32) {
		if i > 0 {
			rows[i-1] = append([]float32(nil), logits...)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	rows[len(tokens)-1] = append([]float32(nil), s.Logits()...)
	return rows
}

// TestRestoreStateBitwise checks that a restored sequence is the saved
// one, bit for bit: its logits, the logits of every token appended to it,
// and the tokens it generates greedily equal those of a sequence that
// evaluated the same prompt with the same batch split, without saving or
// restoring.
//
// The same batch split: the KV rows and logits of a prompt depend, in
// their last bits, on how llama_decode calls cut it (a batch of many
// tokens runs other kernels than a batch of one). The decode loop cuts one
// Append of a sequence that decodes alone into consecutive batches of
// BatchSize tokens from its first token, so here every Append runs while
// no other sequence decodes, and the cold sequence appends the prompt in
// the one call the saved sequence did. The restored sequence lives in
// another slot (KV stream) than the one it was saved from, and held other
// tokens before.
func TestRestoreStateBitwise(t *testing.T) {
	for _, sm := range stateModels() {
		t.Run(sm.name, func(t *testing.T) {
			m := openState(t, sm)
			prefix, suffix := sm.prompt(t, m)
			if len(prefix) <= 3*16 {
				t.Fatalf("prefix of %d tokens does not span several batches", len(prefix))
			}
			orig := newSeq(t, m)
			if err := orig.Append(t.Context(), prefix); err != nil {
				t.Fatal(err)
			}
			data, err := orig.SaveState()
			if err != nil {
				t.Fatal(err)
			}
			saved := append([]float32(nil), orig.Logits()...)

			cold := newSeq(t, m)
			if err := cold.Append(t.Context(), prefix); err != nil {
				t.Fatal(err)
			}
			if err := sameBits(saved, cold.Logits()); err != nil {
				t.Fatalf("the engine does not reproduce itself with the same batch split: %v", err)
			}

			// Another split of the same prompt, its last 20 tokens one at
			// a time, gives other bits on most of these models (logged
			// only: whether it does depends on the kernels), which is why
			// the comparisons below need the same split.
			split := newSeq(t, m)
			if err := split.Append(t.Context(), prefix[:7]); err != nil {
				t.Fatal(err)
			}
			if err := split.Append(t.Context(), prefix[7:len(prefix)-20]); err != nil {
				t.Fatal(err)
			}
			for _, tok := range prefix[len(prefix)-20:] {
				if err := split.Append(t.Context(), []int32{tok}); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("another batch split: %v", sameBits(saved, split.Logits()))
			split.Close()

			restored := newSeq(t, m)
			if err := restored.Append(t.Context(), suffix); err != nil { // content to replace
				t.Fatal(err)
			}
			if err := restored.RestoreState(t.Context(), data, prefix); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(prefix, restored.Tokens()); diff != "" {
				t.Errorf("restored tokens (-want +got):\n%s", diff)
			}
			if err := sameBits(cold.Logits(), restored.Logits()); err != nil {
				t.Errorf("after restoring: %v", err)
			}

			want, got := rowsOf(t, cold, suffix), rowsOf(t, restored, suffix)
			for i := range want {
				if err := sameBits(want[i], got[i]); err != nil {
					t.Errorf("after appending %d tokens: %v", i+1, err)
				}
			}

			// Greedy generation after the prefix and the suffix: the
			// original, the cold and the restored sequence agree.
			gen := llamacpp.GenerateOptions{MaxTokens: 24}
			if err := orig.Append(t.Context(), suffix); err != nil {
				t.Fatal(err)
			}
			var outs [3][]int32
			for i, s := range []*llamacpp.Sequence{orig, cold, restored} {
				res, err := s.Generate(t.Context(), nil, gen, nil)
				if err != nil {
					t.Fatal(err)
				}
				outs[i] = res.Tokens
			}
			if len(outs[0]) == 0 {
				t.Fatalf("nothing generated")
			}
			if diff := cmp.Diff(outs[0], outs[2]); diff != "" {
				t.Errorf("greedy generation, restored against the original (-original +restored):\n%s", diff)
			}
			if diff := cmp.Diff(outs[1], outs[2]); diff != "" {
				t.Errorf("greedy generation, restored against cold (-cold +restored):\n%s", diff)
			}
			t.Logf("settings: %s", m.StateSettings())
		})
	}
}

// TestRestoreStateRejects checks that a state that does not fit is an
// ErrStateMismatch, leaves the sequence empty and usable, and never
// reaches llama.cpp malformed.
func TestRestoreStateRejects(t *testing.T) {
	sms := stateModels()
	m := openState(t, sms[0])
	prefix, _ := textPrompt(t, m)
	s := newSeq(t, m)
	if err := s.Append(t.Context(), prefix); err != nil {
		t.Fatal(err)
	}
	data, err := s.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	want := append([]float32(nil), s.Logits()...)

	// A state of the same file saved with other settings.
	precise := openState(t, sms[1])
	ps := newSeq(t, precise)
	if err := ps.Append(t.Context(), prefix); err != nil {
		t.Fatal(err)
	}
	otherSettings, err := ps.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	if m.StateSettings() == precise.StateSettings() {
		t.Errorf("StateSettings the same for Precise and not: %q", m.StateSettings())
	}

	kv := len(data) - len(llamaPart(m, data)) // offset of llama.cpp's part
	cells := kvCells(t, m, data)              // offset of the first cell
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), data...)) }
	u32 := func(off int, v uint32) []byte {
		return edit(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[off:], v); return b })
	}
	tests := []struct {
		name   string
		data   []byte
		tokens []int32
	}{
		{"fewer tokens", data, prefix[:len(prefix)-1]},
		{"more tokens", data, append(prefix[:len(prefix):len(prefix)], 5)},
		{"token out of range", data, append(prefix[:len(prefix)-1:len(prefix)-1], int32(m.VocabSize()))},
		{"empty", nil, prefix},
		{"truncated header", data[:20], prefix},
		{"truncated logits", data[:kv-1], prefix},
		{"no llama.cpp state", data[:kv], prefix},
		{"truncated llama.cpp state", data[:len(data)-1], prefix},
		{"truncated mid-cells", data[:cells+30], prefix},
		{"trailing byte", append(data[:len(data):len(data)], 0), prefix},
		{"bad magic", edit(func(b []byte) []byte { b[0] ^= 1; return b }), prefix},
		{"future version", u32(4, 2), prefix},
		{"other vocabulary", u32(12, 7), prefix},
		{"other settings", otherSettings, prefix},
		{"stream count", u32(kv, 9), prefix},
		{"duplicate position", u32(cells+12, 0), prefix},
		{"position past the end", u32(cells, uint32(len(prefix))), prefix},
		{"two sequences in a cell", u32(cells+4, 2), prefix},
		{"layer count", u32(cells+12*len(prefix)+4, 9), prefix},
		{"V transposition", u32(cells+12*len(prefix), 7), prefix},
		{"huge row size", edit(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[cells+12*len(prefix)+12:], 1<<62)
			return b
		}), prefix},
		// Well-formed, so only llama.cpp can tell: it checks K's type.
		{"key type", u32(cells+12*len(prefix)+8, 0), prefix},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newSeq(t, m)
			if err := r.Append(t.Context(), prefix[:5]); err != nil {
				t.Fatal(err)
			}
			err := r.RestoreState(t.Context(), tt.data, tt.tokens)
			if !errors.Is(err, llamacpp.ErrStateMismatch) {
				t.Fatalf("RestoreState: %v, want ErrStateMismatch", err)
			}
			t.Log(err)
			if r.Len() != 0 || r.Logits() != nil {
				t.Errorf("after a failed restore the sequence holds %d tokens (logits %v), want none", r.Len(), r.Logits() != nil)
			}
			// The sequence works, as a fresh one would.
			if err := r.Append(t.Context(), prefix); err != nil {
				t.Fatal(err)
			}
			if err := sameBits(want, r.Logits()); err != nil {
				t.Errorf("after a failed restore and appending the prefix: %v", err)
			}
			// And the good state restores into it.
			if err := r.RestoreState(t.Context(), data, prefix); err != nil {
				t.Fatalf("restore after a failed one: %v", err)
			}
		})
	}
}

// TestRestoreStateFlips restores states with random bytes changed: each
// either restores or is an ErrStateMismatch, and the process survives.
func TestRestoreStateFlips(t *testing.T) {
	sm := stateModels()[0]
	sm.opts.Parallel = 1
	m := openState(t, sm)
	prefix, _ := textPrompt(t, m)
	prefix = prefix[:20]
	s := newSeq(t, m)
	if err := s.Append(t.Context(), prefix); err != nil {
		t.Fatal(err)
	}
	data, err := s.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	kv := len(data) - len(llamaPart(m, data))
	rng := rand.New(rand.NewPCG(1, 2))
	ok, rejected := 0, 0
	for i := range 300 {
		b := append([]byte(nil), data...)
		// Flip a byte in llama.cpp's structure (its first 400 bytes hold
		// the counts, the cells and the first layer's K header) or anywhere.
		at := kv + rng.IntN(min(400, len(data)-kv))
		if i%3 == 0 {
			at = rng.IntN(len(b))
		}
		b[at] ^= byte(1 + rng.IntN(255))
		switch err := s.RestoreState(t.Context(), b, prefix); {
		case err == nil:
			ok++
		case errors.Is(err, llamacpp.ErrStateMismatch):
			rejected++
		default:
			t.Fatalf("flip at %d: %v", at, err)
		}
	}
	t.Logf("%d restored, %d rejected", ok, rejected)
	if err := s.RestoreState(t.Context(), data, prefix); err != nil {
		t.Fatalf("the unchanged state after the flipped ones: %v", err)
	}
}

// TestPooledRestoreState checks that restoring into a pooled sequence
// drops the scores the pool kept, so Load scores the new content.
func TestPooledRestoreState(t *testing.T) {
	m := openTiny(t, llamacpp.Options{Precise: true, Parallel: 2})
	pool := m.Pool()
	a := tokenize(t, m, "The sun rose over the hills and the birds began to sing")
	b := tokenize(t, m, "A cat sat by the window watching the rain fall on the street")
	src := newSeq(t, m)
	if err := src.Append(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	state, err := src.SaveState()
	if err != nil {
		t.Fatal(err)
	}
	want, err := newSeq(t, m).Score(t.Context(), b, 3)
	if err != nil {
		t.Fatal(err)
	}
	src.Close()

	ps, err := pool.Acquire(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Release(ps, false)
	if _, err := ps.Load(t.Context(), a, true, 3); err != nil {
		t.Fatal(err)
	}
	if err := ps.RestoreState(t.Context(), state, b); err != nil {
		t.Fatal(err)
	}
	got, err := ps.Load(t.Context(), b, true, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d scores, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Token != want[i].Token || math.Abs(got[i].Logprob-want[i].Logprob) > 1e-4 {
			t.Errorf("score %d: token %d logprob %g, want token %d logprob %g", i, got[i].Token, got[i].Logprob, want[i].Token, want[i].Logprob)
		}
	}
}

// llamaPart returns the llama.cpp part of a saved state: what follows the
// 48-byte header and the logits.
func llamaPart(m *llamacpp.Model, data []byte) []byte {
	return data[48+4*m.VocabSize():]
}

// kvCells returns the offset in data of the first KV cell of the state's
// one non-empty stream.
func kvCells(t *testing.T, m *llamacpp.Model, data []byte) int {
	t.Helper()
	off := len(data) - len(llamaPart(m, data))
	streams := int(binary.LittleEndian.Uint32(data[off:]))
	off += 4
	for range streams {
		n := binary.LittleEndian.Uint32(data[off:])
		off += 4
		if n != 0 {
			return off
		}
	}
	t.Fatalf("no cells in the state")
	return 0
}

// BenchmarkRestoreVsEvaluate measures the time to the first token's logits
// for a long prompt: evaluating it cold against restoring its saved
// state. The model has random weights of a small shape (hidden 256, 4
// layers, 2 KV heads); the prompt is 2048 tokens. Run it with
// -benchtime=3x: one evaluation takes seconds.
func BenchmarkRestoreVsEvaluate(b *testing.B) {
	path := filepath.Join(b.TempDir(), "bench.gguf")
	shape := enginetest.Shape{Hidden: 256, Layers: 4, Heads: 4, KVHeads: 2, FFN: 768, Context: 4096}
	if err := enginetest.Write(path, enginetest.Options{Arch: "qwen2", Shape: shape, Type: "f16", Seed: 1}); err != nil {
		b.Fatal(err)
	}
	m, err := llamacpp.Open(path, llamacpp.Options{ContextSize: 4096, Threads: 2})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	rng := rand.New(rand.NewPCG(3, 3))
	prompt := make([]int32, 2048)
	for i := range prompt {
		prompt[i] = int32(rng.IntN(m.VocabSize()))
	}
	s, err := m.NewSequence(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(b.Context(), prompt); err != nil {
		b.Fatal(err)
	}
	state, err := s.SaveState()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("evaluate", func(b *testing.B) {
		for b.Loop() {
			if err := s.Truncate(b.Context(), 0); err != nil {
				b.Fatal(err)
			}
			if err := s.Append(b.Context(), prompt); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(prompt)), "tokens")
	})
	b.Run("restore", func(b *testing.B) {
		for b.Loop() {
			if err := s.RestoreState(b.Context(), state, prompt); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(state)), "state-bytes")
	})
}
