package metrics

import (
	"fmt"
	"strings"
	"unicode"
)

// ROUGEScore is a ROUGE-L score for one prediction, as rouge_score's Score
// tuple: all three values lie in [0, 1].
type ROUGEScore struct {
	// Precision is LCS length / prediction tokens.
	Precision float64
	// Recall is LCS length / reference tokens.
	Recall float64
	// F is 2·Precision·Recall / (Precision + Recall), or 0 when both are 0.
	// It is the value evaluate's rouge reports as "rougeL".
	F float64
}

// ROUGEL returns the ROUGE-L score of prediction against references as
// google rouge_score computes it with use_stemmer false: both texts are
// split by [TokenizeROUGE]; if either has no tokens the score is all zeros;
// otherwise precision and recall come from the length of the longest common
// subsequence of the token lists.
//
// With several references it follows rouge_score's score_multi: the score
// (precision, recall and F together) of the reference with the highest F,
// the first such reference on a tie. With no references it returns the zero
// score (rouge_score raises an error there; [ROUGELCorpus] reports it as
// [ErrNoReferences]).
func ROUGEL(prediction string, references ...string) ROUGEScore {
	pred := TokenizeROUGE(prediction)
	var best ROUGEScore
	for i, ref := range references {
		s := lcsScore(TokenizeROUGE(ref), pred)
		if i == 0 || s.F > best.F {
			best = s
		}
	}
	return best
}

// ROUGELCorpus scores each predictions[i] against references[i] with
// [ROUGEL] and returns the per-pair scores and the plain mean of their
// F-measures. evaluate's rouge with use_aggregator=False returns the same
// per-pair F-measures; its default instead reports the median of a random
// bootstrap of their mean, which this package does not reproduce. It returns
// errors wrapping [ErrEmptyCorpus], [ErrLengthMismatch] and
// [ErrNoReferences].
func ROUGELCorpus(predictions []string, references [][]string) (scores []ROUGEScore, meanF float64, err error) {
	if len(predictions) == 0 {
		return nil, 0, fmt.Errorf("rouge-l: %w", ErrEmptyCorpus)
	}
	if len(predictions) != len(references) {
		return nil, 0, fmt.Errorf("rouge-l: %d predictions, %d reference lists: %w",
			len(predictions), len(references), ErrLengthMismatch)
	}
	scores = make([]ROUGEScore, len(predictions))
	sum := 0.0
	for i, pred := range predictions {
		if len(references[i]) == 0 {
			return nil, 0, fmt.Errorf("rouge-l: prediction %d: %w", i, ErrNoReferences)
		}
		scores[i] = ROUGEL(pred, references[i]...)
		sum += scores[i].F
	}
	return scores, sum / float64(len(scores)), nil
}

// lcsScore is rouge_score's _score_lcs.
func lcsScore(target, prediction []string) ROUGEScore {
	if len(target) == 0 || len(prediction) == 0 {
		return ROUGEScore{}
	}
	l := float64(lcsLength(target, prediction))
	s := ROUGEScore{
		Precision: l / float64(len(prediction)),
		Recall:    l / float64(len(target)),
	}
	// scoring.fmeasure: 2 * precision * recall / (precision + recall).
	if s.Precision+s.Recall > 0 {
		s.F = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

// lcsLength returns the length of the longest common subsequence of a and b
// with the usual dynamic program, keeping two rows.
func lcsLength(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// TokenizeROUGE splits s into tokens exactly as rouge_score's default
// tokenizer (without stemming) does: lower-case with Python's str.lower,
// replace every run of characters outside [a-z0-9] with a space, and split.
// The tokens are therefore the maximal runs of ASCII letters and digits
// after lower-casing.
//
// Like rouge_score, it drops every non-ASCII letter: "café" gives "caf",
// "naïve" gives "na" and "ve", and text in non-Latin scripts yields no
// tokens at all. The only non-ASCII characters that survive are those whose
// Python lower case is ASCII: KELVIN SIGN (U+212A) becomes "k", and LATIN
// CAPITAL LETTER I WITH DOT ABOVE (U+0130) becomes "i" followed by a
// combining dot, which splits the word ("İstanbul" gives "i" and "stanbul").
func TokenizeROUGE(s string) []string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 'İ' {
			// Python's full lower-case mapping: U+0130 -> "i\u0307"; the
			// combining dot is not [a-z0-9], so it ends the token.
			b.WriteString("i ")
			continue
		}
		r = unicode.ToLower(r)
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	return strings.Fields(b.String())
}
