package metrics

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode"
)

// MaxOrder is the longest n-gram BLEU counts, evaluate's default max_order.
const MaxOrder = 4

var (
	// ErrLengthMismatch reports that the number of predictions and of
	// reference lists differ.
	ErrLengthMismatch = errors.New("predictions and references differ in length")
	// ErrEmptyCorpus reports a call with no predictions at all.
	ErrEmptyCorpus = errors.New("empty corpus")
	// ErrNoReferences reports a prediction with an empty list of references.
	ErrNoReferences = errors.New("prediction has no references")
	// ErrZeroReferenceLength reports that the summed shortest-reference
	// length of the corpus is zero, so the BLEU length ratio is undefined
	// (evaluate raises ZeroDivisionError here).
	ErrZeroReferenceLength = errors.New("reference length is zero")
)

// BLEUScore is the result of [BLEU], field for field the dictionary that
// evaluate's bleu returns. All float fields lie in [0, 1] except
// LengthRatio, which is TranslationLength / ReferenceLength.
type BLEUScore struct {
	// BLEU is the corpus score: the geometric mean of Precisions times
	// BrevityPenalty, or 0 when any precision is 0.
	BLEU float64
	// Precisions holds the clipped n-gram precision for n = 1..4.
	Precisions [MaxOrder]float64
	// BrevityPenalty is 1 when LengthRatio > 1, else exp(1 - 1/LengthRatio).
	BrevityPenalty float64
	// LengthRatio is TranslationLength / ReferenceLength.
	LengthRatio float64
	// TranslationLength is the total number of prediction tokens.
	TranslationLength int
	// ReferenceLength sums, over the predictions, the token count of each
	// prediction's shortest reference.
	ReferenceLength int
}

// BLEU returns the corpus BLEU of predictions against references, where
// references[i] holds one or more references for predictions[i]. It computes
// what evaluate's bleu computes with its defaults (tokenizer_13a,
// max_order 4, smooth false):
//
//   - each text is split by [Tokenize13a];
//   - for each n = 1..4 the matches are the prediction's n-gram counts
//     clipped by the largest count of that n-gram in any single reference,
//     summed over the corpus, and the possible matches are
//     max(0, len(prediction) - n + 1), summed over the corpus;
//   - precision n is matches / possible, or 0 when possible is 0 (so a
//     prediction of fewer than 4 tokens scores 0 on its own);
//   - the geometric mean of the precisions is 0 if any precision is 0;
//   - the brevity penalty uses the shortest reference of each prediction.
//
// Where evaluate with tensorflow/nmt's compute_bleu raises
// ZeroDivisionError, BLEU differs: when the corpus has no prediction
// tokens at all it returns BLEU 0, BrevityPenalty 0 and LengthRatio 0 (the
// limit as the ratio goes to 0, and what the copy of compute_bleu in
// evaluate's main branch, metrics/bleu/nmt_bleu.py, returns); when the
// summed reference length is 0 it returns an error wrapping
// [ErrZeroReferenceLength] (that copy returns 0, 0, 0 there too). It also
// returns errors wrapping [ErrEmptyCorpus], [ErrLengthMismatch] and
// [ErrNoReferences].
func BLEU(predictions []string, references [][]string) (BLEUScore, error) {
	if len(predictions) == 0 {
		return BLEUScore{}, fmt.Errorf("bleu: %w", ErrEmptyCorpus)
	}
	if len(predictions) != len(references) {
		return BLEUScore{}, fmt.Errorf("bleu: %d predictions, %d reference lists: %w",
			len(predictions), len(references), ErrLengthMismatch)
	}
	var (
		matches  [MaxOrder]int
		possible [MaxOrder]int
		s        BLEUScore
	)
	for i, pred := range predictions {
		refs := references[i]
		if len(refs) == 0 {
			return BLEUScore{}, fmt.Errorf("bleu: prediction %d: %w", i, ErrNoReferences)
		}
		trans := Tokenize13a(pred)
		s.TranslationLength += len(trans)

		merged := make(map[string]int)
		shortest := -1
		for _, r := range refs {
			rt := Tokenize13a(r)
			if shortest < 0 || len(rt) < shortest {
				shortest = len(rt)
			}
			for g, c := range ngramCounts(rt) {
				merged[g] = max(merged[g], c)
			}
		}
		s.ReferenceLength += shortest

		for g, c := range ngramCounts(trans) {
			matches[ngramOrder(g)-1] += min(c, merged[g])
		}
		for n := 1; n <= MaxOrder; n++ {
			if p := len(trans) - n + 1; p > 0 {
				possible[n-1] += p
			}
		}
	}
	if s.ReferenceLength == 0 {
		return BLEUScore{}, fmt.Errorf("bleu: %w", ErrZeroReferenceLength)
	}

	for n := range MaxOrder {
		if possible[n] > 0 {
			s.Precisions[n] = float64(matches[n]) / float64(possible[n])
		}
	}
	geoMean := 0.0
	if min(s.Precisions[0], s.Precisions[1], s.Precisions[2], s.Precisions[3]) > 0 {
		// Same order of operations as compute_bleu: sum of (1/4)*log(p).
		logSum := 0.0
		for _, p := range s.Precisions {
			logSum += (1.0 / MaxOrder) * math.Log(p)
		}
		geoMean = math.Exp(logSum)
	}
	s.LengthRatio = float64(s.TranslationLength) / float64(s.ReferenceLength)
	switch {
	case s.LengthRatio > 1:
		s.BrevityPenalty = 1
	case s.TranslationLength == 0:
		s.BrevityPenalty = 0 // evaluate: ZeroDivisionError; limit of exp(1-1/r) as r→0.
	default:
		s.BrevityPenalty = math.Exp(1 - 1/s.LengthRatio)
	}
	s.BLEU = geoMean * s.BrevityPenalty
	return s, nil
}

// ngramCounts counts the n-grams of tokens for n = 1..MaxOrder. An n-gram is
// keyed by its tokens joined with a single space, which is unambiguous
// because tokens never contain whitespace.
func ngramCounts(tokens []string) map[string]int {
	counts := make(map[string]int)
	for n := 1; n <= MaxOrder; n++ {
		for i := 0; i+n <= len(tokens); i++ {
			counts[strings.Join(tokens[i:i+n], " ")]++
		}
	}
	return counts
}

// ngramOrder returns n for an n-gram key built by ngramCounts.
func ngramOrder(key string) int {
	return strings.Count(key, " ") + 1
}

// Tokenize13a splits s into tokens exactly as evaluate's bleu tokenizer
// (tokenizer_13a.py, a copy of sacrebleu's "13a" tokenizer that returns the
// token list) does:
//
//  1. remove "<skipped>", remove "-\n" (joining hyphenated line breaks),
//     turn every "\n" into a space;
//  2. unescape &quot; &amp; &lt; &gt; (in that order);
//  3. put spaces around each of { | } ~ [ \ ] ^ _ ` ! " # $ % & ( ) * + : ;
//     < = > ? @ / (the apostrophe and the hyphen are not split);
//  4. split a period or comma from a preceding non-digit, then from a
//     following non-digit, so "3.14" and "1,000" stay whole;
//  5. split a hyphen that follows a digit ("2-3" gives 2 - 3);
//  6. split on whitespace as Python's str.split does (this includes U+001C
//     to U+001F, which Go's unicode.IsSpace does not).
//
// Steps 4 and 5 replay Python's re.sub, which replaces non-overlapping
// matches from left to right, so "a.,b" gives a . , b.
func Tokenize13a(s string) []string {
	s = strings.ReplaceAll(s, "<skipped>", "")
	s = strings.ReplaceAll(s, "-\n", "")
	s = strings.ReplaceAll(s, "\n", " ")
	if strings.Contains(s, "&") {
		s = strings.ReplaceAll(s, "&quot;", `"`)
		s = strings.ReplaceAll(s, "&amp;", "&")
		s = strings.ReplaceAll(s, "&lt;", "<")
		s = strings.ReplaceAll(s, "&gt;", ">")
	}
	rs := []rune(" " + s + " ")

	// ([\{-\~\[-\` -\&\(-\+\:-\@\/]) -> " \1 "
	out := make([]rune, 0, len(rs)*2)
	for _, r := range rs {
		if isSymbol13a(r) {
			out = append(out, ' ', r, ' ')
		} else {
			out = append(out, r)
		}
	}
	rs = out
	// ([^0-9])([\.,]) -> "\1 \2 "
	rs = subPairs(rs, func(a, b rune) bool { return !isDigit(a) && isPeriodComma(b) },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })
	// ([\.,])([^0-9]) -> " \1 \2"
	rs = subPairs(rs, func(a, b rune) bool { return isPeriodComma(a) && !isDigit(b) },
		func(dst []rune, a, b rune) []rune { return append(dst, ' ', a, ' ', b) })
	// ([0-9])(-) -> "\1 \2 "
	rs = subPairs(rs, func(a, b rune) bool { return isDigit(a) && b == '-' },
		func(dst []rune, a, b rune) []rune { return append(dst, a, ' ', b, ' ') })

	return strings.FieldsFunc(string(rs), isPySpace)
}

// subPairs replays Python's re.sub for a pattern of two one-character groups:
// the leftmost match is replaced, and scanning resumes after it, so matches
// never overlap.
func subPairs(rs []rune, match func(a, b rune) bool, repl func(dst []rune, a, b rune) []rune) []rune {
	out := make([]rune, 0, len(rs)+len(rs)/2)
	i := 0
	for i < len(rs) {
		if i+1 < len(rs) && match(rs[i], rs[i+1]) {
			out = repl(out, rs[i], rs[i+1])
			i += 2
			continue
		}
		out = append(out, rs[i])
		i++
	}
	return out
}

// isSymbol13a reports whether r is in the 13a character class
// [\{-\~\[-\` -\&\(-\+\:-\@\/].
func isSymbol13a(r rune) bool {
	switch {
	case r >= '{' && r <= '~', // { | } ~
		r >= '[' && r <= '`', // [ \ ] ^ _ `
		r >= ' ' && r <= '&', // space ! " # $ % &
		r >= '(' && r <= '+', // ( ) * +
		r >= ':' && r <= '@', // : ; < = > ? @
		r == '/':
		return true
	}
	return false
}

// isDigit reports whether r is an ASCII digit, as [0-9] in a Python regex.
func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// isPeriodComma reports whether r is '.' or ','.
func isPeriodComma(r rune) bool { return r == '.' || r == ',' }

// isPySpace reports whether Python's str.isspace holds for r: Go's
// unicode.IsSpace plus the information separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}
