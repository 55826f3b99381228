package metrics

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestTokenizeROUGE(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"case and punctuation", "THE Cat, sat!", []string{"the", "cat", "sat"}},
		{"digits kept", "abc123 4.5", []string{"abc123", "4", "5"}},
		// Non-ASCII letters are separators, as in rouge_score.
		{"non-ascii dropped", "café naïve Straße", []string{"caf", "na", "ve", "stra", "e"}},
		{"non-latin script", "日本語 テキスト", nil},
		{"fullwidth digits dropped", "１２3", []string{"3"}},
		// Python: "İ".lower() == "i\u0307", and the combining dot splits.
		{"dotted capital I", "İstanbul", []string{"i", "stanbul"}},
		// Python: "\u212a".lower() == "k".
		{"kelvin sign", "\u212Aelvin", []string{"kelvin"}},
		{"apostrophe splits", "don't", []string{"don", "t"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TokenizeROUGE(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("TokenizeROUGE(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestROUGEL(t *testing.T) {
	tests := []struct {
		name string
		pred string
		refs []string
		want ROUGEScore
	}{
		{
			// pred: the cat on a mat (5); ref: the cat sat on the mat (6).
			// LCS = the cat on mat = 4. P = 4/5, R = 4/6 = 2/3,
			// F = 2*(4/5)*(2/3) / (4/5 + 2/3) = (16/15) / (22/15) = 8/11.
			name: "known lcs",
			pred: "the cat on a mat",
			refs: []string{"the cat sat on the mat"},
			want: ROUGEScore{Precision: 4.0 / 5, Recall: 2.0 / 3, F: 8.0 / 11},
		},
		{
			name: "perfect match",
			pred: "the cat sat",
			refs: []string{"the cat sat"},
			want: ROUGEScore{Precision: 1, Recall: 1, F: 1},
		},
		{
			// Lower-casing and punctuation removal make both "the cat sat".
			name: "case insensitive",
			pred: "THE Cat, sat!",
			refs: []string{"the cat sat"},
			want: ROUGEScore{Precision: 1, Recall: 1, F: 1},
		},
		{
			// Order matters: LCS of (b a) and (a b) is 1; P = R = F = 1/2.
			name: "order",
			pred: "b a",
			refs: []string{"a b"},
			want: ROUGEScore{Precision: 0.5, Recall: 0.5, F: 0.5},
		},
		{
			name: "empty prediction",
			pred: "",
			refs: []string{"the cat"},
			want: ROUGEScore{},
		},
		{
			// Only punctuation: no tokens, scored as empty.
			name: "punctuation-only prediction",
			pred: "!!! ...",
			refs: []string{"the cat"},
			want: ROUGEScore{},
		},
		{
			name: "no overlap",
			pred: "a b",
			refs: []string{"c d"},
			want: ROUGEScore{},
		},
		{
			// ref1 "a x x x": LCS 1, P = R = 1/4, F = 1/4.
			// ref2 "a b y": LCS 2 (a b), P = 2/4, R = 2/3,
			//   F = 2*(1/2)*(2/3) / (1/2 + 2/3) = (2/3) / (7/6) = 4/7.
			// score_multi keeps the reference with the higher F: ref2.
			name: "multi-reference max F",
			pred: "a b c d",
			refs: []string{"a x x x", "a b y"},
			want: ROUGEScore{Precision: 0.5, Recall: 2.0 / 3, F: 4.0 / 7},
		},
		{
			// ref "a": LCS 1, P = 1/2, R = 1, F = 2*(1/2)*1/(3/2) = 2/3.
			// ref "a b c d": LCS 2, P = 1, R = 1/2, F = 2/3 as well.
			// On a tie np.argmax keeps the first reference.
			name: "multi-reference tie keeps first",
			pred: "a b",
			refs: []string{"a", "a b c d"},
			want: ROUGEScore{Precision: 0.5, Recall: 1, F: 2.0 / 3},
		},
		{
			name: "multi-reference tie keeps first reversed",
			pred: "a b",
			refs: []string{"a b c d", "a"},
			want: ROUGEScore{Precision: 1, Recall: 0.5, F: 2.0 / 3},
		},
		{
			name: "no references",
			pred: "a b",
			refs: nil,
			want: ROUGEScore{},
		},
		{
			// Repeated tokens: pred "the the the cat", ref "the cat the mat".
			// LCS is 2 ("the the" or "the cat"; "the the cat" is not a
			// subsequence of the reference). P = R = F = 2/4.
			name: "repeated tokens",
			pred: "the the the cat",
			refs: []string{"the cat the mat"},
			want: ROUGEScore{Precision: 0.5, Recall: 0.5, F: 0.5},
		},
		{
			// Punctuation separates words: "cat-dog, bird." is cat dog bird.
			// LCS with "cat dog fish" is 2: P = R = F = 2/3.
			name: "punctuation separates words",
			pred: "cat-dog, bird.",
			refs: []string{"cat dog fish"},
			want: ROUGEScore{Precision: 2.0 / 3, Recall: 2.0 / 3, F: 2.0 / 3},
		},
		{
			// A short prediction has full precision and low recall (ROUGE
			// has no brevity penalty; recall plays its part): LCS 2,
			// P = 1, R = 2/6, F = 2*(1)(1/3) / (4/3) = 1/2.
			name: "short prediction",
			pred: "the cat",
			refs: []string{"the cat sat on the mat"},
			want: ROUGEScore{Precision: 1, Recall: 1.0 / 3, F: 0.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ROUGEL(tt.pred, tt.refs...)
			if diff := cmp.Diff(tt.want, got, approx); diff != "" {
				t.Errorf("ROUGEL mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestROUGELCorpus(t *testing.T) {
	// Pair 1 is "known lcs" above, F = 8/11; pair 2 is a perfect match, F = 1.
	// Mean F = (8/11 + 1) / 2 = 19/22.
	preds := []string{"the cat on a mat", "hello there"}
	refs := [][]string{{"the cat sat on the mat"}, {"Hello, there!"}}
	scores, mean, err := ROUGELCorpus(preds, refs)
	if err != nil {
		t.Fatalf("ROUGELCorpus: %v", err)
	}
	wantScores := []ROUGEScore{
		{Precision: 4.0 / 5, Recall: 2.0 / 3, F: 8.0 / 11},
		{Precision: 1, Recall: 1, F: 1},
	}
	if diff := cmp.Diff(wantScores, scores, approx); diff != "" {
		t.Errorf("scores mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(19.0/22, mean, approx); diff != "" {
		t.Errorf("mean mismatch (-want +got):\n%s", diff)
	}
}

func TestROUGELCorpusErrors(t *testing.T) {
	tests := []struct {
		name  string
		preds []string
		refs  [][]string
		want  error
	}{
		{"empty corpus", nil, nil, ErrEmptyCorpus},
		{"length mismatch", []string{"a"}, [][]string{{"a"}, {"b"}}, ErrLengthMismatch},
		{"no references", []string{"a"}, [][]string{nil}, ErrNoReferences},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ROUGELCorpus(tt.preds, tt.refs)
			if !errors.Is(err, tt.want) {
				t.Errorf("ROUGELCorpus error = %v, want %v", err, tt.want)
			}
		})
	}
}
