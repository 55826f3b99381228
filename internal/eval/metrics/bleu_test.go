package metrics

import (
	"errors"
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// approx compares floats to 1e-12: the reference values below are exact
// fractions worked out by hand, evaluated with float64 arithmetic that may
// round differently from the code under test in the last bits.
var approx = cmpopts.EquateApprox(0, 1e-12)

func TestTokenize13a(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		// "!" is in the symbol class (space-&), so it is padded; the comma
		// follows the non-digit "o", so rule 2 splits it.
		{"hello world", "Hello, world!", []string{"Hello", ",", "world", "!"}},
		// Period and comma between digits stay; the final period follows a
		// non-digit and is split.
		{"numbers", "Pi is 3.14, not 1,000.", []string{"Pi", "is", "3.14", ",", "not", "1,000", "."}},
		// Apostrophe and word-internal hyphen are not in any rule.
		{"apostrophe and hyphen", "don't be well-known", []string{"don't", "be", "well-known"}},
		// Rule 5: a hyphen after a digit is split.
		{"digit hyphen", "pages 2-3", []string{"pages", "2", "-", "3"}},
		// Entities are unescaped first, then < & > are padded as symbols.
		{"entities", "a &amp; &lt;b&gt; &quot;q&quot;", []string{"a", "&", "<", "b", ">", `"`, "q", `"`}},
		// "-\n" joins, "\n" becomes a space, "<skipped>" disappears.
		{"lines", "hyphen-\nated\nline<skipped>two", []string{"hyphenated", "linetwo"}},
		// Rule 2 consumes "a." so the comma is left for rule 3:
		// " a.,b " -> " a . ,b " -> " a .  , b " -> a . , b.
		{"non-overlapping", "a.,b", []string{"a", ".", ",", "b"}},
		// "1." is not split by rule 2 (digit before), but rule 3 splits
		// ".a" (non-digit after): "1 . a".
		{"digit period letter", "1.a", []string{"1", ".", "a"}},
		{"symbols", "$5 (x)/y", []string{"$", "5", "(", "x", ")", "/", "y"}},
		// U+001F is whitespace for Python's str.split; U+00A0 too.
		{"python whitespace", "a\x1fb\u00a0c", []string{"a", "b", "c"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Tokenize13a(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Tokenize13a(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestBLEU(t *testing.T) {
	tests := []struct {
		name  string
		preds []string
		refs  [][]string
		want  BLEUScore
	}{
		{
			// 6 tokens, every n-gram matches: 6/6, 5/5, 4/4, 3/3; ratio 1,
			// bp = exp(1 - 1/1) = 1.
			name:  "perfect match",
			preds: []string{"the cat sat on the mat"},
			refs:  [][]string{{"the cat sat on the mat"}},
			want: BLEUScore{BLEU: 1, Precisions: [4]float64{1, 1, 1, 1},
				BrevityPenalty: 1, LengthRatio: 1, TranslationLength: 6, ReferenceLength: 6},
		},
		{
			// No shared token: all precisions 0, so BLEU 0; ratio 4/4, bp 1.
			name:  "zero matches",
			preds: []string{"a b c d"},
			refs:  [][]string{{"w x y z"}},
			want: BLEUScore{BLEU: 0, Precisions: [4]float64{0, 0, 0, 0},
				BrevityPenalty: 1, LengthRatio: 1, TranslationLength: 4, ReferenceLength: 4},
		},
		{
			// Prediction is a 5-token prefix of the 6-token reference:
			// precisions 5/5, 4/4, 3/3, 2/2 = 1; ratio 5/6;
			// bp = exp(1 - 6/5) = exp(-0.2); BLEU = 1 * exp(-0.2).
			name:  "brevity penalty",
			preds: []string{"the cat sat on the"},
			refs:  [][]string{{"the cat sat on the mat"}},
			want: BLEUScore{BLEU: math.Exp(-0.2), Precisions: [4]float64{1, 1, 1, 1},
				BrevityPenalty: math.Exp(-0.2), LengthRatio: 5.0 / 6, TranslationLength: 5, ReferenceLength: 6},
		},
		{
			// 7 tokens, "today" unmatched: 1-grams 6/7, 2-grams 5/6
			// ("mat today" misses), 3-grams 4/5, 4-grams 3/4.
			// Product = (6*5*4*3)/(7*6*5*4) = 3/7; BLEU = (3/7)^(1/4).
			// Ratio 7/6 > 1, so bp = 1.
			name:  "candidate longer than reference",
			preds: []string{"the cat sat on the mat today"},
			refs:  [][]string{{"the cat sat on the mat"}},
			want: BLEUScore{BLEU: math.Pow(3.0/7, 0.25), Precisions: [4]float64{6.0 / 7, 5.0 / 6, 4.0 / 5, 3.0 / 4},
				BrevityPenalty: 1, LengthRatio: 7.0 / 6, TranslationLength: 7, ReferenceLength: 6},
		},
		{
			// "the" x4 against a reference holding "the" twice: clipped
			// unigram matches min(4, 2) = 2 of 4 = 0.5. "the the" (3 of them)
			// and longer n-grams never occur: 0/3, 0/2, 0/1, so BLEU 0.
			// Ratio 4/6, bp = exp(1 - 6/4) = exp(-0.5).
			name:  "clipping repeated n-grams",
			preds: []string{"the the the the"},
			refs:  [][]string{{"the cat is on the mat"}},
			want: BLEUScore{BLEU: 0, Precisions: [4]float64{0.5, 0, 0, 0},
				BrevityPenalty: math.Exp(-0.5), LengthRatio: 4.0 / 6, TranslationLength: 4, ReferenceLength: 6},
		},
		{
			// Prediction P = the the cat sat on mat (6 tokens).
			// R1 = the cat sat on (4), R2 = on the the mat is red ok (7).
			// Clip counts are the max over references: "the" max(1, 2) = 2.
			// 1-grams: the(2, clip 2) cat sat on mat -> 6/6.
			// 2-grams: the-the (R2) the-cat cat-sat sat-on (R1), on-mat (none)
			//   -> 4/5.
			// 3-grams: the-the-cat no, the-cat-sat yes, cat-sat-on yes,
			//   sat-on-mat no -> 2/4.
			// 4-grams: the-cat-sat-on yes, others no -> 1/3.
			// BLEU geo = (1 * 4/5 * 1/2 * 1/3)^(1/4) = (2/15)^(1/4).
			// Reference length is the SHORTEST reference, 4, so ratio 6/4 =
			// 1.5 > 1 and bp = 1. (sacrebleu's closest-length rule would pick
			// 7 and give bp = exp(1 - 7/6) < 1.)
			name:  "multi-reference",
			preds: []string{"the the cat sat on mat"},
			refs:  [][]string{{"the cat sat on", "on the the mat is red ok"}},
			want: BLEUScore{BLEU: math.Pow(2.0/15, 0.25), Precisions: [4]float64{1, 4.0 / 5, 1.0 / 2, 1.0 / 3},
				BrevityPenalty: 1, LengthRatio: 1.5, TranslationLength: 6, ReferenceLength: 4},
		},
		{
			// Tokens: Hello , world ! (4) against Hello , world . (4): the
			// comma and "!" are tokens of their own.
			// 1-grams 3/4 (Hello , world), 2-grams 2/3 (Hello-, ,-world),
			// 3-grams 1/2 (Hello-,-world), 4-grams 0/1 -> BLEU 0.
			name:  "punctuation tokens",
			preds: []string{"Hello, world!"},
			refs:  [][]string{{"Hello, world."}},
			want: BLEUScore{BLEU: 0, Precisions: [4]float64{3.0 / 4, 2.0 / 3, 1.0 / 2, 0},
				BrevityPenalty: 1, LengthRatio: 1, TranslationLength: 4, ReferenceLength: 4},
		},
		{
			// Counts are summed over the corpus before dividing.
			// S1: "a b c d" = ref: 4/4, 3/3, 2/2, 1/1.
			// S2: "e f g h" vs "e f x h": 1-grams e f h 3/4; 2-grams e-f 1/3;
			//   3-grams 0/2; 4-grams 0/1.
			// Corpus: 7/8, 4/6, 2/4, 1/2; product 7/8*2/3*1/2*1/2 = 7/48;
			// BLEU = (7/48)^(1/4) ~ 0.618, not the mean of sentence BLEUs
			// (1 + 0)/2 = 0.5. Lengths 8 and 8, bp 1.
			name:  "corpus sums counts",
			preds: []string{"a b c d", "e f g h"},
			refs:  [][]string{{"a b c d"}, {"e f x h"}},
			want: BLEUScore{BLEU: math.Pow(7.0/48, 0.25), Precisions: [4]float64{7.0 / 8, 4.0 / 6, 2.0 / 4, 1.0 / 2},
				BrevityPenalty: 1, LengthRatio: 1, TranslationLength: 8, ReferenceLength: 8},
		},
		{
			// Three identical tokens: no 4-gram is possible, precision 4 is
			// 0 by compute_bleu's rule, so BLEU is 0 despite a perfect match.
			name:  "identical but shorter than four tokens",
			preds: []string{"a b c"},
			refs:  [][]string{{"a b c"}},
			want: BLEUScore{BLEU: 0, Precisions: [4]float64{1, 1, 1, 0},
				BrevityPenalty: 1, LengthRatio: 1, TranslationLength: 3, ReferenceLength: 3},
		},
		{
			// No prediction tokens: evaluate raises ZeroDivisionError; this
			// package returns the limit, BLEU 0 with bp 0 and ratio 0/2.
			name:  "empty prediction",
			preds: []string{""},
			refs:  [][]string{{"a b"}},
			want: BLEUScore{BLEU: 0, Precisions: [4]float64{0, 0, 0, 0},
				BrevityPenalty: 0, LengthRatio: 0, TranslationLength: 0, ReferenceLength: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BLEU(tt.preds, tt.refs)
			if err != nil {
				t.Fatalf("BLEU: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("BLEU mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBLEUErrors(t *testing.T) {
	tests := []struct {
		name  string
		preds []string
		refs  [][]string
		want  error
	}{
		{"empty corpus", nil, nil, ErrEmptyCorpus},
		{"length mismatch", []string{"a", "b"}, [][]string{{"a"}}, ErrLengthMismatch},
		{"no references", []string{"a"}, [][]string{{}}, ErrNoReferences},
		// Shortest reference is empty, so the summed reference length is 0.
		{"zero reference length", []string{"a b"}, [][]string{{"", "a b"}}, ErrZeroReferenceLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := BLEU(tt.preds, tt.refs)
			if !errors.Is(err, tt.want) {
				t.Errorf("BLEU error = %v, want %v", err, tt.want)
			}
		})
	}
}
