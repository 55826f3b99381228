package privacy

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/privacy/pii"
)

// Facts are matched as meaning, not as word order. Each fact (a private
// fact, an activity item, a sentence of an earlier writing) becomes the
// set of Snowball stems of its content words, each weighed by its rarity
// in public writing ([weight]); numbers are left to the entities. A window
// of a request, max(n+4, [partialWindow]) content words for a fact of n
// stems, matches the fact when it holds
//
//   - every stem of the fact, in any order, within n+4 content words (the
//     fact copied, inflected or reordered);
//   - three or more of its stems with [coverEnough] of its summed weight,
//     or four or more with [coverMore] (most of the fact, in other order
//     or with words left out);
//   - two or more rare stems (each at least [rareStem]) adding up to
//     [rareEnough] (a paraphrase that keeps the fact's rare words: "the
//     loan shark to whom I owe forty grand"); or
//   - for a private fact, two of its stems within [ownedWords] words after
//     "your", "my" or "our" ("your monthly dinner party").
//
// A generic topic phrase that shares common words with a fact ("digital
// marketing strategies") meets none of these. The proper names and numbers
// inside a fact are entities of their own (see factEntities).

// rareEnough is the summed weight of two or more of a fact's stems that
// makes a partial match. With the table's N, a word found in no public
// document weighs 7.7, "loan" 6.0, "party" 3.9 and "write" 2.1. The
// thresholds were set on the adversarial fixture and on the dev users'
// general sections against an annotator's labels (see the package tests),
// not on single records.
const rareEnough = 14.0

// coverEnough is the share of a fact's summed weight that three or more
// of its stems must hold to match without the rare ones.
const coverEnough = 0.6

// coverMore is the share that four or more stems must hold.
const coverMore = 0.5

// rareStem is the least weight of a stem that counts toward a partial
// match.
const rareStem = 4.5

// possessives mark what follows as the user's own: "your monthly dinner
// party" tells more than "a monthly dinner party".
var possessives = map[string]bool{"your": true, "my": true, "our": true}

// ownedWords is how many words after a possessive count as owned.
const ownedWords = 5

// partialWindow is the least span, in content words, a match may have.
const partialWindow = 8

// fact is one fact's distinct stems and their weights.
type fact struct {
	rule    string
	stems   []string
	weights []float64
	total   float64
}

// factIndex finds facts in text.
type factIndex struct {
	facts []fact
	post  map[string][]posting
}

type posting struct {
	fact int32
	idx  int16 // the stem's index in the fact
}

func newFactIndex() *factIndex { return &factIndex{post: map[string][]posting{}} }

// add adds a fact.
func (x *factIndex) add(rule, text string) {
	var f fact
	for _, w := range contentWords(text) {
		s := stem(w.text)
		if isDigits(s) || slices.Contains(f.stems, s) {
			continue // a number is an entity of its own (factEntities)
		}
		f.stems = append(f.stems, s)
		f.weights = append(f.weights, weight(s))
		f.total += weight(s)
	}
	if len(f.stems) < 2 || len(f.stems) > 1<<15 {
		return // a single word is matched only as an entity
	}
	f.rule = rule
	id := int32(len(x.facts))
	x.facts = append(x.facts, f)
	for i, s := range f.stems {
		x.post[s] = append(x.post[s], posting{id, int16(i)})
	}
}

type factHit struct {
	pos   int // index in the request's content words
	idx   int16
	owned bool // the word follows "your", "my" or "our" closely
}

// find returns the findings of the facts in the words ws of a text. A
// match is redacted as little as makes it no match: its rarest words, one
// after another, until what is left of the window meets neither rule and
// more than half of its words are gone (a generic word of the task stays,
// the words that tell the fact go).
func (x *factIndex) find(ws []word, out []Finding) []Finding {
	if len(x.facts) == 0 || len(ws) == 0 {
		return out
	}
	hits := map[int32][]factHit{}
	var cw []word
	owner := -1 // index in ws of the last possessive
	for i, w := range ws {
		if possessives[w.text] {
			owner = i
			continue
		}
		if stopWords[w.text] {
			continue
		}
		owned := owner >= 0 && i-owner <= ownedWords
		for _, p := range x.post[stem(w.text)] {
			hits[p.fact] = append(hits[p.fact], factHit{len(cw), p.idx, owned})
		}
		cw = append(cw, w)
	}
	ids := make([]int32, 0, len(hits))
	for id := range hits {
		ids = append(ids, id)
	}
	slices.Sort(ids) // findings in a stable order
	for _, id := range ids {
		hs := hits[id]
		if len(hs) < 2 {
			continue
		}
		f := &x.facts[id]
		var m matcher
		m.init(f)
		for {
			win, ok := m.first(hs)
			if !ok {
				break
			}
			out = m.redact(hs, win, cw, out)
		}
	}
	return out
}

// matcher runs the rules of one fact over its hits in a request.
type matcher struct {
	f       *fact
	win     int
	count   []int
	removed []bool // hits already redacted
}

func (m *matcher) init(f *fact) {
	m.f = f
	m.win = max(len(f.stems)+4, partialWindow)
	m.count = make([]int, len(f.stems))
}

// matches reports whether the hits hs[l:r+1] not redacted, less the stems
// in drop, meet a rule.
func (m *matcher) matches(hs []factHit, l, r int, drop []bool) bool {
	clear(m.count)
	distinct, rares, owned, sum, covered := 0, 0, 0, 0.0, 0.0
	first, last := -1, -1
	var seenOwned []int16
	for i := l; i <= r; i++ {
		h := hs[i]
		if m.removed[i] || drop != nil && drop[h.idx] {
			continue
		}
		if first < 0 {
			first = h.pos
		}
		last = h.pos
		if h.owned && !slices.Contains(seenOwned, h.idx) {
			seenOwned = append(seenOwned, h.idx)
			owned++
		}
		if m.count[h.idx]++; m.count[h.idx] > 1 {
			continue
		}
		w := m.f.weights[h.idx]
		distinct++
		covered += w
		if w >= rareStem {
			rares++
			sum += w
		}
	}
	n := len(m.f.stems)
	return distinct == n && last-first < n+4 ||
		distinct >= 3 && covered >= coverEnough*m.f.total-1e-9 ||
		distinct >= 4 && covered >= coverMore*m.f.total-1e-9 ||
		rares >= 2 && sum >= rareEnough-1e-9 ||
		m.f.rule == RuleFact && owned >= 2
}

// first returns the first window [l, r] of hits that matches.
func (m *matcher) first(hs []factHit) ([2]int, bool) {
	if m.removed == nil {
		m.removed = make([]bool, len(hs))
	}
	l := 0
	for r := range hs {
		if m.removed[r] {
			continue
		}
		for hs[r].pos-hs[l].pos >= m.win {
			l++
		}
		if m.matches(hs, l, r, nil) {
			// Redact with the whole neighbourhood in view.
			for r+1 < len(hs) && hs[r+1].pos-hs[l].pos < m.win {
				r++
			}
			return [2]int{l, r}, true
		}
	}
	return [2]int{}, false
}

// redact drops the window's stems, rarest first, until it no longer
// matches, marks their hits redacted and appends their findings.
func (m *matcher) redact(hs []factHit, win [2]int, cw []word, out []Finding) []Finding {
	l, r := win[0], win[1]
	var in []int16
	for i := l; i <= r; i++ {
		if !m.removed[i] && !slices.Contains(in, hs[i].idx) {
			in = append(in, hs[i].idx)
		}
	}
	slices.SortStableFunc(in, func(a, b int16) int {
		if wa, wb := m.f.weights[a], m.f.weights[b]; wa != wb {
			if wa > wb {
				return -1
			}
			return 1
		}
		return 0
	})
	drop := make([]bool, len(m.f.stems))
	for k, idx := range in {
		drop[idx] = true
		if 2*(k+1) > len(in) && !m.matches(hs, l, r, drop) {
			break
		}
	}
	var pos []int
	for i := l; i <= r; i++ {
		if !m.removed[i] && drop[hs[i].idx] {
			m.removed[i] = true
			pos = append(pos, hs[i].pos)
		}
	}
	slices.Sort(pos)
	pos = slices.Compact(pos)
	// One finding for each run of neighbouring content words.
	for i := 0; i < len(pos); {
		j := i + 1
		for j < len(pos) && pos[j] == pos[j-1]+1 {
			j++
		}
		out = append(out, Finding{Rule: m.f.rule, Start: cw[pos[i]].start, End: cw[pos[j-1]].end})
		i = j
	}
	// The window's other hits stay: with later words they may still make
	// a match of their own (find looks again).
	return out
}

// factEntities returns the proper names and numbers inside a fact, each
// to be matched as an entity of its own:
//
//   - a capitalised word of four or more letters that is not an English
//     word and is rare in public writing ("InnovateX", "Maldives",
//     "Bruno"; not "LinkedIn"), wherever it stands;
//   - a run of capitalised words, not at the start of a sentence or a
//     quotation, that holds such a word or ends in an organisation's word
//     ("Elegance Nuptials Inc", "Cascade Enterprise Solutions");
//   - a number of three or more digits that is not a year alone ("40,000",
//     "9:45", "10k" is not).
//
// Capitalised English words alone ("Chess", "Vintage") are not entities:
// a fact's own words find them (facts.go, above).
func factEntities(text string) []string {
	ws := words(text)
	var out []string
	capital := func(w word) bool {
		r, _ := utf8.DecodeRuneInString(text[w.start:])
		return unicode.IsUpper(r)
	}
	initial := func(i int) bool {
		if i == 0 {
			return true
		}
		gap := strings.TrimSpace(text[ws[i-1].end:ws[i].start])
		return gap != "" && strings.ContainsAny(gap[len(gap)-1:], ".!?:;'\"‘“(-–—")
	}
	name := func(w word) bool {
		return capital(w) && utf8.RuneCountInString(w.text) >= 4 && !hasDigit(w.text) &&
			!pii.IsEnglishWord(strings.ReplaceAll(w.text, "'", "")) && weight(stem(w.text)) >= rareName
	}
	for i := 0; i < len(ws); {
		w := ws[i]
		if hasDigit(w.text) {
			// A number, with the digit groups that follow it ("40,000").
			j := i + 1
			for j < len(ws) && isDigits(ws[j].text) && ws[j].start-ws[j-1].end == 1 {
				j++
			}
			if n := digits(text[w.start:ws[j-1].end]); n >= 3 && !(j == i+1 && isYear(w.text)) {
				out = append(out, text[w.start:ws[j-1].end])
			}
			i = j
			continue
		}
		if !capital(w) {
			i++
			continue
		}
		j := i + 1
		for j < len(ws) && capital(ws[j]) && !hasDigit(ws[j].text) && !initial(j) {
			j++
		}
		run := ws[i:j]
		names := 0
		for _, x := range run {
			if name(x) {
				names++
				out = append(out, x.text)
			}
		}
		if len(run) > 1 && (names > 0 || orgWords[run[len(run)-1].text]) && !(initial(i) && names == 0) {
			out = append(out, text[w.start:ws[j-1].end])
		}
		i = j
	}
	return out
}

// rareName is the least weight of a name inside a fact: a brand every
// user mentions ("LinkedIn", "Spotify") says little about one of them.
var rareName = 6.0

// orgWords end an organisation's name.
var orgWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`inc llc ltd corp co company corporation solutions innovations industries enterprises
	group club foundation university college school academy hospital clinic bank studio studios agency partners
	labs lab technologies tech systems ventures capital associates consulting media institute society center centre`) {
		m[w] = true
	}
	return m
}()

func isYear(s string) bool {
	return len(s) == 4 && isDigits(s) && (s[:2] == "19" || s[:2] == "20")
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
