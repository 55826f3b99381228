package metrics

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The values below are not worked out from this package's code but
// published by the reference implementations: they are independent
// oracles.

// TestBLEUEvaluateExamples checks the examples of Hugging Face evaluate's
// bleu (metrics/bleu/bleu.py docstring and metrics/bleu/README.md), whose
// printed results are given in full.
func TestBLEUEvaluateExamples(t *testing.T) {
	tests := []struct {
		name  string
		preds []string
		refs  [][]string
		want  BLEUScore
	}{
		{
			// README: {'bleu': 1.0, 'precisions': [1.0, 1.0, 1.0, 1.0],
			// 'brevity_penalty': 1.0, 'length_ratio': 1.1666666666666667,
			// 'translation_length': 7, 'reference_length': 6}. The shortest
			// reference of the first line ("hello there !", 3 tokens) sets
			// its reference length, not the matching one (4 tokens).
			name:  "second reference",
			preds: []string{"hello there general kenobi", "foo bar foobar"},
			refs:  [][]string{{"hello there general kenobi", "hello there !"}, {"foo bar foobar"}},
			want: BLEUScore{BLEU: 1, Precisions: [4]float64{1, 1, 1, 1}, BrevityPenalty: 1,
				LengthRatio: 1.1666666666666667, TranslationLength: 7, ReferenceLength: 6},
		},
		{
			// The docstring writes the second reference "hello there!": the
			// 13a tokenizer splits the "!" off, so the result is the same.
			name:  "docstring",
			preds: []string{"hello there general kenobi", "foo bar foobar"},
			refs:  [][]string{{"hello there general kenobi", "hello there!"}, {"foo bar foobar"}},
			want: BLEUScore{BLEU: 1, Precisions: [4]float64{1, 1, 1, 1}, BrevityPenalty: 1,
				LengthRatio: 1.1666666666666667, TranslationLength: 7, ReferenceLength: 6},
		},
		{
			// README: {'bleu': 1.0, ..., 'length_ratio': 1.0,
			// 'translation_length': 7, 'reference_length': 7}.
			name:  "one reference each",
			preds: []string{"hello there general kenobi", "foo bar foobar"},
			refs:  [][]string{{"hello there general kenobi"}, {"foo bar foobar"}},
			want: BLEUScore{BLEU: 1, Precisions: [4]float64{1, 1, 1, 1}, BrevityPenalty: 1,
				LengthRatio: 1, TranslationLength: 7, ReferenceLength: 7},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BLEU(tt.preds, tt.refs)
			if err != nil {
				t.Fatal(err)
			}
			// Exact: these are the floats evaluate printed.
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("BLEU mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestROUGELRougeScoreOracles checks google-research rouge_score's own
// tests (rouge/rouge_scorer_test.py): hand cases, and two pairs of its
// testdata (target.txt, prediction.txt: random strings that exercise the
// tokenizer) whose expected values it took from runs of the official
// ROUGE-1.5.5 Perl script, to 5 decimal places. rouge_score calls
// score(target, prediction); ROUGEL takes the prediction first.
func TestROUGELRougeScoreOracles(t *testing.T) {
	const (
		target0     = "ZfbCUIUuePaiLVUlCaUXxkpu XPeWing tUHfPMuZ',-Xd Y BrUgVJing M-HV.-DgdDaY.rFDJCRing Ht-LM EKBDXkME,yz'RBr q'wtion wIojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxer tKM L\n"
		target1     = "KsJdPByEtAor fE-Qg Dpdbring cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMtion psing sbKao Q m qiing LMmer HqqLFXe,XPY,J XsurkMer ,ed nB'wH'bWVHjWFEing tQ.saefZwJtKrTlixYpMMsJing UCAPwNHeYVjDing c T BUySKtion gMPfJpwGw p'NvxAoping eu pBwMBKV'I DNxqelhu,PHPxDEq,mtion SN\n"
		prediction0 = "rFDJCRtion Ht-LM EKtDXkME,yz'RBr q'wer wrojNbN wL,b .a-'XdQggyFl jB-RPP'iyOIcUxi\n"
		prediction1 = "n cw-WeFyu vC MoBL Xdn g wkvcEiGvKtion BDFhrpMer pstion sbKao Q m qier LMmed HqqLFXe,XPY,J XsurkMeo ,ed nB'wH'bWVHjWFEer tQ.saefZwJtKrTlixYpMMNJtion UCAPwNHeYVjD\n"
	)
	tests := []struct {
		name               string
		target, prediction string
		want               ROUGEScore
		places             int // decimal places compared
	}{
		{"consecutive", "testing one two", "testing one", ROUGEScore{Precision: 1, Recall: 2.0 / 3, F: 4.0 / 5}, 12},
		{"non-consecutive", "testing one two", "testing two", ROUGEScore{Precision: 1, Recall: 2.0 / 3, F: 4.0 / 5}, 12},
		{"empty prediction", "testing one two", "", ROUGEScore{}, 12},
		{"ROUGE-1.5.5 pair 0", target0, prediction0, ROUGEScore{Precision: 0.68750, Recall: 0.40741, F: 0.51163}, 5},
		{"ROUGE-1.5.5 pair 1", target1, prediction1, ROUGEScore{Precision: 0.65385, Recall: 0.40476, F: 0.50000}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ROUGEL(tt.prediction, tt.target)
			tol := 0.5 * math.Pow(10, -float64(tt.places))
			for _, c := range []struct {
				name      string
				want, got float64
			}{{"precision", tt.want.Precision, got.Precision}, {"recall", tt.want.Recall, got.Recall}, {"F", tt.want.F, got.F}} {
				if math.Abs(c.want-c.got) > tol {
					t.Errorf("%s = %.6f, want %.5f (to %d places)", c.name, c.got, c.want, tt.places)
				}
			}
		})
	}
}

// TestROUGELEvaluateExample checks the example of evaluate's rouge
// (metrics/rouge/rouge.py docstring): identical texts give rougeL 1.0.
func TestROUGELEvaluateExample(t *testing.T) {
	_, mean, err := ROUGELCorpus([]string{"hello there", "general kenobi"}, [][]string{{"hello there"}, {"general kenobi"}})
	if err != nil || mean != 1 {
		t.Errorf("rougeL = %v, %v; want 1.0", mean, err)
	}
}
