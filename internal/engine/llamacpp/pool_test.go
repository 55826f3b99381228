//go:build cgo

package llamacpp_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
)

func tokenize(t *testing.T, m *llamacpp.Model, text string) []int32 {
	t.Helper()
	toks, err := m.Tokenize(text, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// TestPoolReusesPrefix checks that a prompt extending an earlier one gets
// the earlier sequence back, and that what Load leaves (logits, scores)
// equals a fresh evaluation.
func TestPoolReusesPrefix(t *testing.T) {
	m := openTiny(t, llamacpp.Options{Precise: true, Parallel: 2})
	pool := m.Pool()
	a := tokenize(t, m, "Once upon a time there was a little girl")
	ab := tokenize(t, m, "Once upon a time there was a little girl named Lily who liked cats")
	if commonLen(a, ab) < len(a)-1 {
		t.Fatalf("tokenization does not share the prefix: %v vs %v", a, ab)
	}
	const k = 5
	ps, err := pool.Acquire(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Load(t.Context(), a, true, k); err != nil {
		t.Fatal(err)
	}
	pool.Release(ps, true)

	// A fresh, unrelated prompt opens the second slot rather than
	// evicting the first.
	other := tokenize(t, m, "The sky")
	po, err := pool.Acquire(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	if po == ps {
		t.Fatalf("an unrelated prompt took the sequence holding a prefix while a slot was free")
	}
	if _, err := po.Load(t.Context(), other, false, 0); err != nil {
		t.Fatal(err)
	}
	pool.Release(po, true)

	ps2, err := pool.Acquire(t.Context(), ab)
	if err != nil {
		t.Fatal(err)
	}
	if ps2 != ps {
		t.Fatalf("the extension did not get the sequence holding its prefix")
	}
	got, err := ps2.Load(t.Context(), ab, true, k)
	if err != nil {
		t.Fatal(err)
	}
	gotLogits := append([]float32(nil), ps2.Seq.Logits()...)
	pool.Release(ps2, true)

	fresh := newSeq(t, m)
	want, err := fresh.Score(t.Context(), ab, k)
	if err != nil {
		t.Fatal(err)
	}
	freshLogits := append([]float32(nil), fresh.Logits()...)
	fresh.Close() // two slots: the pool needs one more below
	if len(got) != len(want) {
		t.Fatalf("%d scores, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Token != want[i].Token || math.Abs(got[i].Logprob-want[i].Logprob) > 1e-4 {
			t.Errorf("position %d: token %d log-prob %g, fresh %d %g", i, got[i].Token, got[i].Logprob, want[i].Token, want[i].Logprob)
		}
		if len(got[i].Top) != len(want[i].Top) {
			t.Errorf("position %d: %d alternatives, fresh %d", i, len(got[i].Top), len(want[i].Top))
		}
	}
	if d := maxAbsDiff(gotLogits, freshLogits); d > 1e-3 {
		t.Errorf("logits after the reused prefix differ from fresh by %g", d)
	}

	// A shorter prompt (a prefix of what the sequence holds) rolls back.
	ps3, err := pool.Acquire(t.Context(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps3.Load(t.Context(), a, false, 0); err != nil {
		t.Fatal(err)
	}
	if ps3.Seq.Len() != len(a) {
		t.Errorf("after loading a shorter prompt the sequence holds %d tokens, want %d", ps3.Seq.Len(), len(a))
	}
	rolled := append([]float32(nil), ps3.Seq.Logits()...)
	pool.Release(ps3, true)
	short := newSeq(t, m) // takes an idle pool sequence's slot
	if err := short.Append(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(rolled, short.Logits()); d > 1e-3 {
		t.Errorf("logits after rolling back differ from fresh by %g", d)
	}
}

// TestPoolGivesSlotsUp checks that sequences idle in the pool never starve
// a caller of NewSequence, and that a sequence released after an error is
// not reused.
func TestPoolGivesSlotsUp(t *testing.T) {
	m := openTiny(t, llamacpp.Options{Parallel: 1})
	pool := m.Pool()
	p := tokenize(t, m, "Once upon a time")
	ps, err := pool.Acquire(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Load(t.Context(), p, false, 0); err != nil {
		t.Fatal(err)
	}
	pool.Release(ps, true)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err := m.NewSequence(ctx)
	if err != nil {
		t.Fatalf("NewSequence with the only slot idle in the pool: %v", err)
	}
	s.Close()

	ps, err = pool.Acquire(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Seq.Len() != 0 {
		t.Errorf("the evicted sequence came back holding %d tokens", ps.Seq.Len())
	}
	pool.Release(ps, false)
	ps2, err := pool.Acquire(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if ps2 == ps {
		t.Errorf("a sequence released after an error was reused")
	}
	pool.Release(ps2, true)
}

func commonLen(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
