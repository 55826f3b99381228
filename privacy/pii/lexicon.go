package pii

import (
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// The gazetteer files, written by build/gazetteer.sh (see NOTICE).
//
//go:embed data/regions.txt data/names.txt.gz data/places.tsv.gz data/en_us.txt.gz data/words.txt.gz
var dataFS embed.FS

// placeClass ranks a gazetteer place: larger is better known.
type placeClass uint8

const (
	placeNone    placeClass = iota
	placeTown               // a city of 15,000 to 99,999 people
	placeCity               // 100,000 to 999,999
	placeBigCity            // a million or more
	placeRegion             // a state, province or nation (data/regions.txt)
	placeCapital            // a capital
	placeCountry            // a country, an alias of one, or a continent
)

// dictFlags say how the English dictionary writes a word.
type dictFlags uint8

const (
	dictLower dictFlags = 1 << iota // in lower case: a common word
	dictCap                         // capitalised: a proper noun
	dictUpper                       // in capitals: an acronym
	dictMixed                       // otherwise ("iPhone", "McDonald")
)

// lexicon is the loaded gazetteer. It is read-only after load.
type lexicon struct {
	// names holds person names (first or last), lower case.
	names map[string]bool
	// places maps a place name in lower case to its class; placeWords is
	// the most words a place name has.
	places     map[string]placeClass
	placeWords int
	// languages holds the English names of languages, lower case; most
	// are also nationalities ("Italian").
	languages map[string]bool
	// english is word-list's English words, lower case, sorted (see
	// IsEnglishWord).
	english []string
	// dict maps a word of the English dictionary, in lower case, to how
	// the dictionary writes it.
	dict map[string]dictFlags
}

// loadLexicon is the lexicon, loaded once. The embedded files are part of
// the binary, so an error is a broken build: it panics.
var loadLexicon = sync.OnceValue(func() *lexicon {
	lx, err := readLexicon()
	if err != nil {
		panic(fmt.Sprintf("pii: embedded gazetteer: %v", err))
	}
	return lx
})

func readLexicon() (*lexicon, error) {
	lx := &lexicon{
		names:   make(map[string]bool, 40000),
		places:  make(map[string]placeClass, 25000),
		dict:    make(map[string]dictFlags, 150000),
		english: make([]string, 0, 280000),

		languages: make(map[string]bool, 200),
	}
	err := eachLine("data/names.txt.gz", func(line string) error {
		lx.names[strings.ToLower(line)] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = eachLine("data/places.tsv.gz", func(line string) error {
		name, class, ok := strings.Cut(line, "\t")
		if !ok {
			return fmt.Errorf("no tab")
		}
		var c placeClass
		switch class {
		case "language":
			lx.languages[strings.ToLower(name)] = true
			return nil
		case "country":
			c = placeCountry
		case "capital":
			c = placeCapital
		default:
			n, err := strconv.Atoi(class)
			if err != nil {
				return fmt.Errorf("class: %w", err)
			}
			c = placeTown + placeClass(min(max(n-4, 0), 2))
		}
		k := strings.ToLower(name)
		lx.places[k] = max(lx.places[k], c)
		lx.placeWords = max(lx.placeWords, len(strings.Fields(k)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	b, err := dataFS.ReadFile("data/regions.txt")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			k := strings.ToLower(line)
			lx.places[k] = max(lx.places[k], placeRegion)
			lx.placeWords = max(lx.placeWords, len(strings.Fields(k)))
		}
	}
	err = eachLine("data/words.txt.gz", func(w string) error {
		lx.english = append(lx.english, w)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !slices.IsSorted(lx.english) {
		return nil, fmt.Errorf("data/words.txt.gz: not sorted")
	}
	err = eachLine("data/en_us.txt.gz", func(w string) error {
		k := strings.ToLower(w)
		var f dictFlags
		switch first, _ := utf8.DecodeRuneInString(w); {
		case k == w:
			f = dictLower
		case strings.ToUpper(w) == w:
			f = dictUpper
		case unicode.IsUpper(first) && strings.ToLower(w[1:]) == w[1:]:
			f = dictCap
		default:
			f = dictMixed
		}
		lx.dict[k] |= f
		return nil
	})
	if err != nil {
		return nil, err
	}
	return lx, nil
}

// eachLine calls fn on every non-empty line of a gzipped embedded file.
// The lines are substrings of one string: fn may keep them.
func eachLine(name string, fn func(string) error) error {
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return err
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	data, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	n := 0
	for line := range strings.Lines(string(data)) {
		n++
		if line = strings.TrimSuffix(line, "\n"); line == "" {
			continue
		}
		if err := fn(line); err != nil {
			return fmt.Errorf("%s line %d: %w", name, n, err)
		}
	}
	return nil
}
