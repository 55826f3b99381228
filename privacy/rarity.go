package privacy

import (
	"bufio"
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

// The guard weighs a word by how rare it is in public writing, not by a
// fixed stop list: a fact phrase made of common words is still caught when
// it is copied whole, and a generic topic phrase that shares a few common
// words with a fact is not ("digital marketing strategies"), while a few
// rare words of a fact are enough ("loan shark ... forty grand").
//
// The table holds the document frequency of each word stem in a public
// corpus (see rarity_test.go, which rebuilds it from shared/data and checks
// it against this file; -update-rarity rewrites it): the PUPA prompts and
// reference answers, the paper abstracts of the dev data, and the general
// sections of the dev users' additional tasks (the part the paper itself
// sends to the cloud). Stems seen in fewer than two documents are left out
// and count as rare.
//
//go:embed data/rarity.tsv.gz
var rarityFile []byte

type rarityTable struct {
	docs int
	df   map[string]int32
}

var rarity = sync.OnceValue(func() rarityTable {
	t, err := parseRarity(rarityFile)
	if err != nil {
		panic("privacy: embedded rarity table: " + err.Error())
	}
	return t
})

func parseRarity(gz []byte) (rarityTable, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return rarityTable{}, err
	}
	t := rarityTable{df: map[string]int32{}}
	sc := bufio.NewScanner(zr)
	line := 0
	for sc.Scan() {
		line++
		s := sc.Text()
		if line == 1 {
			n, ok := strings.CutPrefix(s, "# docs ")
			if !ok {
				return rarityTable{}, fmt.Errorf("line 1: want \"# docs N\"")
			}
			if t.docs, err = strconv.Atoi(n); err != nil || t.docs <= 0 {
				return rarityTable{}, fmt.Errorf("line 1: bad document count")
			}
			continue
		}
		w, n, ok := strings.Cut(s, "\t")
		df, err := strconv.Atoi(n)
		if !ok || err != nil || df <= 0 || df > t.docs {
			return rarityTable{}, fmt.Errorf("line %d: want \"stem<TAB>count\"", line)
		}
		t.df[w] = int32(df)
	}
	if err := sc.Err(); err != nil {
		return rarityTable{}, err
	}
	return t, nil
}

// weight is the inverse document frequency of a stem, ln((N+1)/(df+1)):
// about 0 for a word in every document, 7.8 for one never seen.
func weight(stem string) float64 {
	t := rarity()
	return math.Log(float64(t.docs+1) / float64(t.df[stem]+1))
}
