package metrics

import (
	"math"
	"testing"
)

// inUnit reports whether x is a number in [0, 1].
func inUnit(x float64) bool { return x >= 0 && x <= 1 }

func FuzzBLEU(f *testing.F) {
	f.Add("the cat sat on the mat", "the cat sat on the mat")
	f.Add("Hello, world!", "Hello world")
	f.Add("", "a b")
	f.Add("the the the the", "the cat")
	f.Add("3.14-2 &amp; a.,b", "<skipped>x-\ny")
	f.Fuzz(func(t *testing.T, pred, ref string) {
		s, err := BLEU([]string{pred}, [][]string{{ref}})
		if err != nil {
			if len(Tokenize13a(ref)) != 0 {
				t.Fatalf("BLEU(%q, %q): unexpected error %v", pred, ref, err)
			}
			return
		}
		for name, v := range map[string]float64{
			"BLEU": s.BLEU, "BrevityPenalty": s.BrevityPenalty,
			"p1": s.Precisions[0], "p2": s.Precisions[1], "p3": s.Precisions[2], "p4": s.Precisions[3],
		} {
			if !inUnit(v) {
				t.Errorf("BLEU(%q, %q): %s = %v, outside [0, 1]", pred, ref, name, v)
			}
		}
		if s.BLEU > s.BrevityPenalty {
			t.Errorf("BLEU(%q, %q) = %v > brevity penalty %v", pred, ref, s.BLEU, s.BrevityPenalty)
		}

		// Identity: a text of at least 4 tokens scores exactly 1 against itself.
		if len(Tokenize13a(ref)) >= MaxOrder {
			self, err := BLEU([]string{ref}, [][]string{{ref}})
			if err != nil {
				t.Fatalf("BLEU(%q, itself): %v", ref, err)
			}
			if math.Abs(self.BLEU-1) > 1e-12 || self.BrevityPenalty != 1 {
				t.Errorf("BLEU(%q, itself) = %+v, want BLEU 1", ref, self)
			}
		}
	})
}

func FuzzROUGE(f *testing.F) {
	f.Add("the cat on a mat", "the cat sat on the mat")
	f.Add("THE Cat, sat!", "the cat sat")
	f.Add("", "a")
	f.Add("İstanbul café", "\u212Aelvin naïve")
	f.Fuzz(func(t *testing.T, a, b string) {
		ab := ROUGEL(a, b)
		ba := ROUGEL(b, a)
		for name, v := range map[string]float64{"P": ab.Precision, "R": ab.Recall, "F": ab.F} {
			if !inUnit(v) {
				t.Errorf("ROUGEL(%q, %q): %s = %v, outside [0, 1]", a, b, name, v)
			}
		}
		// Swapping prediction and reference swaps P and R and keeps F.
		if ab.F != ba.F || ab.Precision != ba.Recall || ab.Recall != ba.Precision {
			t.Errorf("ROUGEL(%q, %q) = %+v, swapped = %+v: not symmetric", a, b, ab, ba)
		}
		if len(TokenizeROUGE(a)) > 0 {
			if self := ROUGEL(a, a); self != (ROUGEScore{1, 1, 1}) {
				t.Errorf("ROUGEL(%q, itself) = %+v, want all 1", a, self)
			}
		}
	})
}
