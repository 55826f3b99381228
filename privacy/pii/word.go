package pii

import "slices"

// IsEnglishWord reports whether w, in lower case, is in the English word
// list (data/words.txt.gz; see NOTICE). The guard uses it to tell a name
// inside a private fact ("InnovateX", "Maldives") from a capitalised
// English word ("Chess").
func IsEnglishWord(w string) bool {
	_, ok := slices.BinarySearch(loadLexicon().english, w)
	return ok
}
