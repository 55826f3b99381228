//go:build cgo

package llamacpp

import (
	"log/slog"
	"math"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// TestBatchComposition finds out whether a sequence's logits depend on
// what else the decode loop puts into the same llama_decode call: the
// other sequences' tokens (batch composition), and so how the call cuts
// the sequence's own prompt into micro-batches. It drives the decode loop's
// step directly, so that which requests share a call is decided here and
// not by goroutine timing, and compares logits bit for bit.
//
// Finding (CPU, x86-64 with AVX-512; the same for the default settings,
// Precise, and flash attention on and off):
//
//   - Q8_0 and Q4_0 weights: no dependence at all. Every case below gives
//     the logits of the sequence decoded alone, bit for bit.
//   - F32 and F16 weights (the shared test model is F32): a dependence on
//     the number of rows a matrix product takes, and on nothing else.
//     ggml hands products of two rows or more to llamafile's tinyBLAS and
//     a single row to its vec_dot, which sums in another order (up to
//     about 1e-2 in a logit here). So a generation step whose token is the
//     only row of the call differs from the same step beside other
//     sequences' tokens, and the last prompt token decoded in a call of
//     its own (as the sequence pool does when it reuses a prompt) differs
//     from the prompt decoded in one call; the logits of a prompt also
//     differ when other sequences' logits are taken in the same call (more
//     than one output row). Beside one other sequence equals beside three,
//     and a prompt cut into micro-batches by other sequences' prompts
//     equals the prompt decoded alone, as long as no piece is one row.
//
// So generations batched together reproduce the outputs of generations
// run one at a time only on a model of the first kind; internal/eval
// checks a model (by the last case below, through the public API) before
// it batches generations on it.
func TestBatchComposition(t *testing.T) {
	random := func(arch, typ string) func(t *testing.T) string {
		return func(t *testing.T) string {
			shape, err := enginetest.ShapeByName("tiny")
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), arch+"-"+typ+".gguf")
			if err := enginetest.Write(p, enginetest.Options{Arch: arch, Shape: shape, Type: typ, Seed: 11, Scale: 0.2}); err != nil {
				t.Fatal(err)
			}
			return p
		}
	}
	// Whether each case equals the sequence decoded alone.
	invariant := map[string]bool{
		"step beside others": true, "beside one equals beside three": true,
		"prompt split by others": true, "prompt beside others' outputs": true, "last prompt token alone": true,
	}
	rowCount := map[string]bool{
		"step beside others": false, "beside one equals beside three": true,
		"prompt split by others": true, "prompt beside others' outputs": false, "last prompt token alone": false,
	}
	models := []struct {
		name string
		path func(t *testing.T) string
		want map[string]bool
	}{
		{"shared-f32", func(t *testing.T) string { return enginetest.SharedModel(t) }, rowCount},
		{"llama-f16", random("llama", "f16"), rowCount},
		{"qwen2-q8_0", random("qwen2", "q8_0"), invariant},
		{"llama-q4_0", random("llama", "q4_0"), invariant},
	}
	settings := []struct {
		name string
		o    Options
	}{
		{"default", Options{}},
		{"precise", Options{Precise: true}},
		{"flash-on", Options{FlashAttention: "on"}},
		{"flash-off", Options{FlashAttention: "off"}},
	}
	for _, md := range models {
		path := md.path(t)
		for _, st := range settings {
			t.Run(md.name+"/"+st.name, func(t *testing.T) {
				o := st.o
				o.Parallel, o.ContextSize, o.Threads, o.Logger = 4, 256, 2, slog.New(slog.DiscardHandler)
				m, err := Open(path, o)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { m.Close() })
				if diff := cmp.Diff(md.want, batchCases(t, m)); diff != "" {
					t.Errorf("which cases equal the sequence decoded alone (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// batchCases runs every case on m and reports whether each gives the
// logits of the sequence decoded alone, bit for bit.
func batchCases(t *testing.T, m *Model) map[string]bool {
	t.Helper()
	seqs := make([]*Sequence, 4)
	for i := range seqs {
		s, err := m.NewSequence(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		seqs[i] = s
	}
	reset := func() {
		for _, s := range seqs {
			if err := s.Truncate(t.Context(), 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// prompt is BOS and n-1 tokens of its own for sequence i.
	prompt := func(n, i int) []int32 {
		p := []int32{m.Info().Vocab.BOS}
		for k := range n - 1 {
			p = append(p, int32((37*k+101*i+5)%m.VocabSize()))
		}
		return p
	}
	a := prompt(42, 0)
	// alone decodes greedy steps of seqs[0] by itself after logits first
	// and returns the logits before and after each.
	const steps = 6
	alone := func(first []float32) [][]float32 {
		out := [][]float32{first}
		for range steps {
			out = append(out, batchDecode(t, m, batchReq{seqs[0], []int32{argmaxOf(out[len(out)-1])}})[0])
		}
		return out
	}
	reset()
	solo := alone(batchDecode(t, m, batchReq{seqs[0], a})[0])

	// beside: seqs[0] decodes a alone, then steps in one call with the
	// next tokens of others other sequences.
	beside := func(others int) [][]float32 {
		reset()
		last := make([][]float32, others+1)
		last[0] = batchDecode(t, m, batchReq{seqs[0], a})[0]
		for i := 1; i <= others; i++ {
			last[i] = batchDecode(t, m, batchReq{seqs[i], prompt(30, i)})[0]
		}
		out := [][]float32{last[0]}
		for range steps {
			var reqs []batchReq
			for i := range last {
				reqs = append(reqs, batchReq{seqs[i], []int32{argmaxOf(last[i])}})
			}
			last = batchDecode(t, m, reqs...)
			out = append(out, last[0])
		}
		return out
	}
	got := map[string]bool{}
	one, three := beside(1), beside(3)
	got["step beside others"] = sameSeries(solo, three)
	got["beside one equals beside three"] = sameSeries(one, three)

	// The prompt with three shorter ones: llama.cpp cuts the call into
	// micro-batches of equal rows per sequence (21 of each, then 7 of the
	// rest at a time); a's last piece is its own, with one output.
	reset()
	reqs := []batchReq{{seqs[0], a}}
	for i := 1; i < 4; i++ {
		reqs = append(reqs, batchReq{seqs[i], prompt(14+7*i, i)})
	}
	got["prompt split by others"] = sameSeries(solo, alone(batchDecode(t, m, reqs...)[0]))

	// The prompt with three of the same length: one micro-batch whose
	// four last rows are outputs.
	reset()
	reqs = reqs[:0]
	for i := range 4 {
		reqs = append(reqs, batchReq{seqs[i], prompt(42, i)})
	}
	got["prompt beside others' outputs"] = sameSeries(solo, alone(batchDecode(t, m, reqs...)[0]))

	// The prompt but its last token, then that token in a call of its own.
	reset()
	batchDecode(t, m, batchReq{seqs[0], a[:len(a)-1]})
	got["last prompt token alone"] = sameSeries(solo, alone(batchDecode(t, m, batchReq{seqs[0], a[len(a)-1:]})[0]))
	return got
}

// batchReq is one sequence's tokens for batchDecode.
type batchReq struct {
	seq    *Sequence
	tokens []int32
}

// batchDecode decodes the requests as the decode loop does when they are
// all pending at once: step gathers them into llama_decode calls until
// every one is done. It returns a copy of each sequence's logits
// afterwards. The decode loop itself is idle meanwhile (nothing else
// decodes on m).
func batchDecode(t *testing.T, m *Model, reqs ...batchReq) [][]float32 {
	t.Helper()
	all := make([]*decodeReq, len(reqs))
	for i, q := range reqs {
		all[i] = &decodeReq{ctx: t.Context(), seq: q.seq, tokens: q.tokens, done: make(chan error, 1)}
	}
	for pending := append([]*decodeReq(nil), all...); len(pending) > 0; {
		pending = m.step(pending)
	}
	out := make([][]float32, len(reqs))
	for i, r := range all {
		if err := <-r.done; err != nil {
			t.Fatalf("decode sequence %d: %v", i, err)
		}
		out[i] = append([]float32(nil), r.seq.Logits()...)
	}
	return out
}

// sameSeries reports whether two series of logits are equal bit for bit.
func sameSeries(want, got [][]float32) bool {
	for i := range want {
		for j := range want[i] {
			if math.Float32bits(want[i][j]) != math.Float32bits(got[i][j]) {
				return false
			}
		}
	}
	return true
}

func argmaxOf(logits []float32) int32 {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	return int32(best)
}
