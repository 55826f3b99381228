package dataset

import (
	"cmp"
	"math"
	"slices"
	"strings"
	"unicode"
)

// BM25 parameters (Okapi BM25's usual values).
const (
	BM25K1 = 1.2
	BM25B  = 0.75
)

// Tokenize splits text into lower-case words: maximal runs of letters and
// digits.
func Tokenize(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// BM25 is an Okapi BM25 index over a fixed set of documents, with k1
// [BM25K1], b [BM25B] and the non-negative idf of Lucene:
//
//	idf(t)      = ln(1 + (N − n(t) + 0.5) / (n(t) + 0.5))
//	score(q, d) = Σ over distinct terms t of q:
//	              idf(t) · f(t,d)·(k1+1) / (f(t,d) + k1·(1 − b + b·|d|/avgdl))
//
// where N is the number of documents, n(t) how many contain t, f(t,d) how
// often t occurs in d, |d| its length in tokens and avgdl the mean length.
// It is safe for concurrent use once built.
type BM25 struct {
	tf    []map[string]int
	len   []int
	df    map[string]int
	avgdl float64
}

// NewBM25 indexes the documents, tokenized by [Tokenize].
func NewBM25(docs []string) *BM25 {
	m := &BM25{df: map[string]int{}}
	total := 0
	for _, d := range docs {
		toks := Tokenize(d)
		tf := map[string]int{}
		for _, t := range toks {
			tf[t]++
		}
		for t := range tf {
			m.df[t]++
		}
		m.tf = append(m.tf, tf)
		m.len = append(m.len, len(toks))
		total += len(toks)
	}
	if len(docs) > 0 {
		m.avgdl = float64(total) / float64(len(docs))
	}
	return m
}

// Scores returns each document's score for the query.
func (m *BM25) Scores(query string) []float64 {
	scores := make([]float64, len(m.tf))
	n := float64(len(m.tf))
	seen := map[string]bool{}
	for _, t := range Tokenize(query) {
		if seen[t] {
			continue
		}
		seen[t] = true
		df := m.df[t]
		if df == 0 {
			continue
		}
		idf := math.Log(1 + (n-float64(df)+0.5)/(float64(df)+0.5))
		for i, tf := range m.tf {
			f := float64(tf[t])
			if f == 0 {
				continue
			}
			norm := 1 - BM25B
			if m.avgdl > 0 {
				norm += BM25B * float64(m.len[i]) / m.avgdl
			}
			scores[i] += idf * f * (BM25K1 + 1) / (f + BM25K1*norm)
		}
	}
	return scores
}

// Rank returns the document indices, best score first; equal scores keep
// document order.
func (m *BM25) Rank(query string) []int {
	scores := m.Scores(query)
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	return idx
}
