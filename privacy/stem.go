package privacy

import (
	"sync"

	"github.com/kljensen/snowball/english"
)

// stems caches the Snowball English stem of folded words: "projects",
// "project" and "projected" are one stem, so a fact matches its inflected
// forms. The cache is bounded: once full, stems are computed each time.
var stems struct {
	sync.RWMutex
	m map[string]string
}

const maxStemCache = 1 << 16

// stem returns the stem of a folded word. Words with digits and short
// words are their own stem.
func stem(w string) string {
	if len(w) <= 3 || hasDigit(w) {
		return w
	}
	stems.RLock()
	s, ok := stems.m[w]
	stems.RUnlock()
	if ok {
		return s
	}
	s = english.Stem(w, true)
	stems.Lock()
	if stems.m == nil {
		stems.m = map[string]string{}
	}
	if len(stems.m) < maxStemCache {
		stems.m[w] = s
	}
	stems.Unlock()
	return s
}

func hasDigit(w string) bool {
	for i := 0; i < len(w); i++ {
		if w[i] >= '0' && w[i] <= '9' {
			return true
		}
	}
	return false
}
