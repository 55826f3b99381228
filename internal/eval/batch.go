package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
)

// batchProbeText is what batchInvariant decodes: public text, long enough
// for 16 tokens with any tokenizer.
const batchProbeText = "The lighthouse keeper wrote a letter every evening, describing the weather, " +
	"the ships that passed, and the birds that rested on the rail before flying south for the winter. " +
	"Nobody answered, but he kept writing, because the writing itself made the long nights shorter."

// batchInvariant reports whether m's logits are the same, bit for bit,
// however the engine batches the model's work, so that generations run
// together on m give the outputs they give one at a time.
//
// The engine decodes the sequences of a model that have work pending in
// one llama_decode call; measured on this engine (TestBatchComposition in
// internal/engine/llamacpp), a sequence's logits depend on that only
// through the number of rows each matrix product takes: for F32 and F16
// weights, one row runs another kernel than two or more, and for Q8_0 and
// Q4_0 weights nothing changes. So batchInvariant decodes a prompt of 16
// tokens two ways: in one call with the logits of every position, and in
// pieces of several tokens, one, two, several and one; the logits after
// each piece must equal those of the first way.
//
// It needs a context of 16 tokens, uses one sequence at a time and
// leaves none behind.
func batchInvariant(ctx context.Context, m *llamacpp.Model) (bool, error) {
	toks, err := m.Tokenize(batchProbeText, true, false)
	if err != nil {
		return false, fmt.Errorf("batch probe: %w", err)
	}
	toks = toks[:min(len(toks), 16)]
	n := len(toks)
	if n < 8 {
		return false, fmt.Errorf("batch probe: %d tokens, want at least 8", n)
	}
	// want[i] are the logits after toks[:i], from one call.
	want := make([][]float32, n+1)
	err = withSequence(ctx, m, func(s *llamacpp.Sequence) error {
		if err := s.ScoreFunc(ctx, toks, func(i int, logits []float32) { want[i] = append([]float32(nil), logits...) }); err != nil {
			return err
		}
		want[n] = append([]float32(nil), s.Logits()...)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("batch probe: %w", err)
	}
	same := true
	check := func(s *llamacpp.Sequence, i int) {
		same = same && sameBits(want[i], s.Logits())
	}
	err = withSequence(ctx, m, func(s *llamacpp.Sequence) error {
		prev := 0
		for _, cut := range []int{n / 4, n/4 + 1, n/4 + 3, n - 1, n} {
			if err := s.Append(ctx, toks[prev:cut]); err != nil {
				return err
			}
			check(s, cut)
			prev = cut
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("batch probe: %w", err)
	}
	return same, nil
}

// withSequence runs fn with a new sequence of m and closes it.
func withSequence(ctx context.Context, m *llamacpp.Model, fn func(s *llamacpp.Sequence) error) error {
	s, err := m.NewSequence(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	return fn(s)
}

// sameBits reports whether two logit vectors are equal bit for bit.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
