package synth

import (
	"strings"
	"unicode"
)

// nearDuplicate is the word-shingle Jaccard similarity at or above which
// two tasks count as the same task.
const nearDuplicate = 0.6

// shingles returns the set of word 3-grams of s (its words when it has
// fewer than three), lower-cased, punctuation dropped.
func shingles(s string) map[string]bool {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := map[string]bool{}
	if len(words) < 3 {
		for _, w := range words {
			out[w] = true
		}
		return out
	}
	for i := 0; i+3 <= len(words); i++ {
		out[strings.Join(words[i:i+3], " ")] = true
	}
	return out
}

// jaccard is |a ∩ b| / |a ∪ b|; two empty sets are the same.
func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter := 0
	for k := range a {
		if b[k] {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// dedupTasks keeps each task unless it is a near-duplicate (similarity at
// or above threshold) of a task kept before it.
func dedupTasks(tasks []TaskItem, threshold float64) (kept []TaskItem, dropped int) {
	var sets []map[string]bool
	for _, t := range tasks {
		s := shingles(t.String())
		dup := false
		for _, k := range sets {
			if jaccard(s, k) >= threshold {
				dup = true
				break
			}
		}
		if dup {
			dropped++
			continue
		}
		sets = append(sets, s)
		kept = append(kept, t)
	}
	return kept, dropped
}
