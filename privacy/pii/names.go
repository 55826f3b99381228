package pii

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// wclass is what the lexicon says about one capitalised word.
type wclass uint8

const (
	// wCommon is a common English word: capitalised only for a title or a
	// sentence start.
	wCommon wclass = iota
	// wName is a person's name from the gazetteer, not common English.
	wName
	// wPlace is a place from the gazetteer, not common English.
	wPlace
	// wUnknown is in no word list: a rare name, a brand, a foreign word.
	wUnknown
	// wKnown is a proper noun of the English dictionary that no gazetteer
	// lists: a famous brand, person or landmark ("Microsoft", "Everest").
	wKnown
	// wAmbiguous is a gazetteer name or place that is also common English
	// ("Will", "Hope", "Reading").
	wAmbiguous
	// wKnownAcronym is an acronym of the English dictionary ("CEO",
	// "NASA").
	wKnownAcronym
	// wAcronym is a word in capitals that no list knows ("HSBC").
	wAcronym
)

// token is one word of the text.
type token struct {
	start, end int
	text       string // as written, without a clitic ('s, 'll)
	key        string // lower case
	cap        bool   // first letter upper case, no digit
	allCaps    bool   // two or more letters, all upper case
	code       bool   // glued to code punctuation, or inside a pattern finding
	sentStart  bool   // first word of a sentence, line or list item
	camel      bool   // capitals inside: "ExxonMobil", "getName"
	sepBefore  string // the text between the previous token and this one
	line       int    // the line it is on, from 0
	class      wclass
}

// Words of the name finder, lower case.
var (
	// titles precede a person's name.
	titles = set("mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "madam", "dame", "lord", "lady",
		"rev", "reverend", "capt", "captain", "judge", "senator", "president", "uncle", "aunt", "auntie", "mister",
		"monsieur", "madame", "herr", "frau")
	// orgStrong end the name of an organisation on their own.
	orgStrong = set("inc", "incorporated", "ltd", "limited", "llc", "llp", "plc", "gmbh", "ag", "corp", "corporation",
		"co", "company", "companies", "group", "holdings", "bank", "university", "college", "institute", "academy",
		"hospital", "clinic", "foundation", "association", "society", "airlines", "airways", "motors",
		"pharmaceuticals", "insurance", "partners", "associates", "technologies", "enterprises", "industries",
		"consulting", "ventures", "capital", "labs", "laboratories", "school", "ministry", "church", "museum",
		"federation", "organization", "organisation", "agency", "authority", "council", "publishing", "press")
	// orgWeak end the name of an organisation when another word of it is
	// a proper name.
	orgWeak = set("center", "centre", "department", "services", "solutions", "systems", "media", "studio", "studios",
		"team", "club", "trust", "fund", "union", "committee", "office", "project", "network", "global",
		"international", "consultants", "marketing", "energy", "healthcare", "health", "bureau", "board",
		"productions", "pictures", "films", "entertainment", "games", "records", "publishers", "contractors")
	// placeWords end a street, area or feature name.
	placeWords = set("street", "st", "road", "rd", "avenue", "ave", "boulevard", "blvd", "lane", "drive", "way",
		"county", "city", "province", "district", "island", "islands", "lake", "river", "mountain", "mountains",
		"park", "beach", "bay", "valley", "square", "heights", "hills", "state", "region", "village", "town")
	// connectors may join the words of one name.
	connectors = set("of", "de", "del", "della", "da", "di", "du", "van", "von", "der", "den", "la", "le", "al",
		"el", "bin", "ibn", "bint", "and", "&", "for", "y")
	// notNames are capitalised words that a gazetteer may list but that
	// name no one and nowhere: months, days, pronouns, greetings.
	notNames = set("i", "january", "february", "march", "april", "may", "june", "july", "august", "september",
		"october", "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
		"nov", "dec", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue",
		"wed", "thu", "fri", "sat", "sun", "dear", "hi", "hello", "hey", "regards", "sincerely", "thanks", "best",
		"ok", "okay", "yes", "no", "god", "english", "christmas", "easter", "summer", "winter", "spring", "autumn")
	// greetings precede a name at the start of a letter or message.
	greetings = set("dear", "hi", "hello", "hey", "dearest", "attn", "attention", "to", "from", "cc")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// nameCand is a candidate name: the tokens [s, e) of the text, the kind
// and rule the finder gave it (see judgeRun and findCues), and the
// scorer's probability that it is a name worth reporting.
type nameCand struct {
	kind       Kind
	s, e       int
	start, end int // byte offsets of the tokens
	rule       string
	// group numbers the candidates with the same text (case folded);
	// reps counts the distinct spans of that group.
	group, reps int
	p           float64
}

// doc is a text prepared for the name finder, and what the scorer reads
// about the whole of it.
type doc struct {
	text    string
	toks    []token
	lx      *lexicon
	foreign bool
	// lower holds the words the text writes in lower case somewhere.
	lower map[string]bool
	// caps counts the capitalised words, code the words glued to code
	// punctuation, first the words I, me, my, we ...
	caps, code, first int
	// genre says what kind of text it is.
	genre genre
	// lines holds, for every line, its words of three letters or more
	// and how many of those are capitalised.
	lines []lineStats
}

type lineStats struct{ words, caps int }

// findNames returns the candidate names of people, organisations and
// places in text, outside the spans already taken, each with its score.
func findNames(text string, taken []Span) []nameCand {
	d, cs := nameCandidates(text, taken)
	z := make([]float64, len(cs))
	var x features
	for i := range cs {
		d.features(&cs[i], len(cs), &x)
		z[i] = nameModel.logit(&x)
	}
	setScores(cs, z)
	return cs
}

// setScores sets the score of every candidate from the logits z the
// model gives the candidates: all candidates with the same text share
// one score, the mean of their logits less the log of the number of
// places the text occurs as a candidate. A name is reported everywhere or nowhere, and
// one that recurs needs more evidence: if it is no name worth reporting,
// every occurrence is a false finding, while if it is, it is still one
// unit of PII.
func setScores(cs []nameCand, z []float64) {
	sum := make([]float64, len(cs))
	n := make([]int, len(cs))
	for i := range cs {
		sum[cs[i].group] += z[i]
		n[cs[i].group]++
	}
	for i := range cs {
		g := cs[i].group
		cs[i].p = sigmoid(sum[g]/float64(n[g]) - math.Log(float64(cs[i].reps)))
	}
}

// groupNames numbers the groups of candidates with the same text and
// counts the distinct spans of each.
func groupNames(text string, cs []nameCand) {
	ids := make(map[string]int, len(cs))
	var reps []int
	for i := range cs {
		c := &cs[i]
		k := strings.ToLower(text[c.start:c.end])
		g, ok := ids[k]
		if !ok {
			g = len(reps)
			ids[k] = g
			reps = append(reps, 0)
		}
		c.group = g
		if !slices.ContainsFunc(cs[:i], func(o nameCand) bool { return o.group == g && o.start == c.start && o.end == c.end }) {
			reps[g]++
		}
	}
	for i := range cs {
		cs[i].reps = reps[cs[i].group]
	}
}

// nameCandidates prepares text and returns its name candidates, not yet
// scored.
func nameCandidates(text string, taken []Span) (*doc, []nameCand) {
	lx := loadLexicon()
	toks := tokenize(text)
	markShouting(toks)
	d := &doc{text: text, toks: toks, lx: lx}
	for i := range toks {
		t := &toks[i]
		if overlapsSpans(taken, t.start, t.end) {
			t.code = true
		}
		t.class = lx.classify(t)
		if i > 0 {
			t.line = toks[i-1].line
			if strings.ContainsAny(t.sepBefore, "\n\r") {
				t.line++
			}
		}
		for len(d.lines) <= t.line {
			d.lines = append(d.lines, lineStats{})
		}
		if len(t.key) >= 3 {
			d.lines[t.line].words++
			if t.cap || t.allCaps {
				d.lines[t.line].caps++
			}
		}
		if t.code {
			d.code++
		}
		if firstPerson[t.key] {
			d.first++
		}
		d.genre |= genreWords[t.key]
		switch {
		case t.cap || t.allCaps:
			d.caps++
		case !t.code:
			if d.lower == nil {
				d.lower = make(map[string]bool)
			}
			d.lower[t.key] = true
		}
	}
	d.foreign = isForeign(toks, lx)
	var cs []nameCand
	add := func(k Kind, s, e int, rule string) {
		cs = append(cs, nameCand{kind: k, s: s, e: e, start: toks[s].start, end: toks[e-1].end, rule: rule})
	}
	findCues(toks, lx, add)
	for i := 0; i < len(toks); {
		if !startsName(&toks[i]) {
			i++
			continue
		}
		j := extendRun(toks, i)
		if k, s, e, rule := judgeRun(toks, i, j, d.foreign, lx); rule != "" {
			add(k, s, e, rule)
		}
		i = j
	}
	groupNames(text, cs)
	return d, cs
}

// markShouting treats words in capitals inside a passage in capitals
// (three or more such words in a row) as capitalised words.
func markShouting(toks []token) {
	for i := 0; i < len(toks); {
		j := i
		for j < len(toks) && (toks[j].allCaps || toks[j].cap && len(toks[j].text) == 1) && (j == i || toks[j].sepBefore == " " || toks[j].sepBefore == ", ") {
			j++
		}
		if j-i >= 3 {
			for k := i; k < j; k++ {
				if toks[k].allCaps {
					toks[k].allCaps, toks[k].cap = false, true
				}
			}
		}
		i = max(j, i+1)
	}
}

// startsName reports whether t may start a name.
func startsName(t *token) bool { return (t.cap || t.allCaps) && !t.code && !t.camel }

// extendRun returns the end (exclusive) of the run of capitalised words
// that starts at i: words joined by one space, a hyphen or a connector.
func extendRun(toks []token, i int) int {
	j := i + 1
	for j < len(toks) {
		t := &toks[j]
		if !tightSep(t.sepBefore, &toks[j-1]) {
			break
		}
		if startsName(t) {
			j++
			continue
		}
		// A connector joins two capitalised words.
		if connectors[t.key] && !t.cap && j+1 < len(toks) && startsName(&toks[j+1]) &&
			tightSep(toks[j+1].sepBefore, t) {
			j += 2
			continue
		}
		break
	}
	return j
}

// tightSep reports whether sep joins two words of one name: a space, a
// hyphen, or the period of an initial or title ("J. Smith", "Dr. Lee").
func tightSep(sep string, prev *token) bool {
	switch sep {
	case " ", "-", " & ", "&", " - ":
		return true
	case ". ", ".":
		return utf8.RuneCountInString(prev.text) == 1 && prev.cap || titles[prev.key]
	}
	return false
}

// weak reports whether t says nothing about a name on its own.
func weak(t *token) bool {
	return t.class == wCommon || notNames[t.key] || connectors[t.key] || greetings[t.key]
}

// judgeRun decides whether toks[i:j] may be a name, and returns its
// kind, the token range [s, e) of the candidate and the rule that
// proposed it; the rule is "" when it is no candidate. A rule names the
// evidence, which the scorer weighs: "title" (Mr, Dr), "org:..." (a
// company or school word ends the run), "place:..." (a gazetteer place),
// "multi:strongN" (several words, N of them names or unknown words),
// "single:..." (one word); "@start" marks a run that starts a sentence,
// where capitals say less.
func judgeRun(toks []token, i, j int, foreign bool, lx *lexicon) (Kind, int, int, string) {
	// A greeting opens a letter: the capitalised words after it name the
	// addressee ("Dear Maya", "Hi Mr. Lee").
	greeted := false
	if j-i > 1 && greetings[toks[i].key] && toks[i].sentStart {
		greeted = true
		i++
	}
	titled := i > 0 && titles[toks[i-1].key] && toks[i-1].cap && !toks[i-1].code
	// A title inside the run ("Dr. Ruby Allen") starts the name after it.
	for j-i > 1 && titles[toks[i].key] {
		titled = true
		i++
	}
	if titled {
		// After a title every capitalised word is part of the name: "Mr
		// Musk", "Dr. Will Price".
		return Person, i, j, "title"
	}
	run := toks[i:j]
	last := run[len(run)-1].key
	org := len(run) > 1 && (orgStrong[last] || orgWeak[last])
	street := len(run) > 1 && placeWords[last]
	// Trim weak words at the ends, keeping an organisation's or place's
	// last word.
	s, e := 0, len(run)
	for s < e && (weak(&run[s]) || run[s].sentStart && lx.dict[run[s].key]&dictLower != 0) {
		s++
	}
	// A place the gazetteer knows by its full name: "Saudi Arabia", "New
	// York".
	if e > s {
		if p, ok := placeSpan(run[s:e], lx); ok && p == e-s && (p > 1 || !org && !street) {
			at := ""
			if run[s].sentStart {
				at = "@start"
			}
			if p > 1 {
				return Place, i + s, i + e, "place:multi" + at
			}
			return Place, i + s, i + e, "place:" + placeName(lx.places[run[s].key]) + at
		}
	}
	for s < e && run[s].class == wKnown && !org {
		s++
	}
	if !org && !street {
		for e > s && (weak(&run[e-1]) || run[e-1].class == wKnown) {
			e--
		}
	}
	if s >= e {
		if greeted && !weak(&run[0]) || greeted && run[0].class == wCommon && lx.names[run[0].key] {
			return Person, i, i + 1, "cue:greeting"
		}
		// An organisation or place word after capitalised common words:
		// "World Bank", "Atlantic County".
		if (org && orgStrong[last] || street) && len(run) >= 2 && !weak(&run[len(run)-2]) {
			k := Organization
			if street {
				k = Place
			}
			return k, i, j, "suffix:common"
		}
		return "", 0, 0, ""
	}
	core := run[s:e]
	if greeted {
		return Person, i + s, i + e, "cue:greeting"
	}
	names, places, strong := 0, 0, 0
	for k := range core {
		switch t := &core[k]; t.class {
		case wName:
			names++
			strong++
		case wPlace:
			places++
			strong++
		case wUnknown:
			if !foreign && utf8.RuneCountInString(t.text) >= 3 {
				strong++
			}
		}
	}
	at := ""
	if core[0].sentStart {
		at = "@start"
	}
	ret := func(k Kind, rule string) (Kind, int, int, string) { return k, i + s, i + e, rule + at }
	switch {
	case org && orgStrong[last] && strong > 0:
		return ret(Organization, "org:strong")
	case org && orgStrong[last] && len(core) >= 2:
		return ret(Organization, "org:common")
	case org && strong > 0:
		return ret(Organization, "org:weak")
	case org && len(core) >= 2:
		return ret(Organization, "org:weakcommon")
	case street && strong > 0:
		return ret(Place, "street")
	}
	kind := Name
	if names > 0 && names >= places {
		kind = Person
	} else if places > 0 {
		kind = Place
	}
	if len(core) > 1 {
		switch {
		case allNames(core, lx):
			return ret(Person, "multi:names")
		case strong >= 2:
			return ret(kind, "multi:strong2")
		case strong == 1:
			return ret(kind, "multi:strong1")
		}
		// Every word is one the dictionary explains ("Real Estate
		// Market", "Piano Music"): no candidate.
		return "", 0, 0, ""
	}
	switch t := &core[0]; t.class {
	case wName:
		return ret(Person, "single:name")
	case wUnknown:
		// Short or in a foreign text, it says less: the scorer knows.
		return ret(Name, "single:unknown")
	case wPlace:
		return ret(Place, "single:town")
	case wAcronym:
		return ret(Organization, "single:acronym")
	case wKnownAcronym:
		return ret(Organization, "single:knownacronym")
	}
	return "", 0, 0, ""
}

// allNames reports whether every word of run is a person's name that the
// English dictionary also writes capitalised: "Jane Doe", "Will Price".
func allNames(run []token, lx *lexicon) bool {
	for k := range run {
		t := &run[k]
		if !(t.class == wName || t.class == wAmbiguous && lx.names[t.key] && lx.dict[t.key]&dictCap != 0) {
			return false
		}
	}
	return true
}

func placeName(c placeClass) string {
	return [...]string{"none", "town", "city", "bigcity", "region", "capital", "country"}[c]
}

// findCues adds names that context gives away, whatever their case:
// "my name is X", "named X", "I'm X", "Ms. x" (title, then a word no
// dictionary knows), a country or region in lower case, "at X" and
// "join X" for a company, "live in X" and "I'm from X" for a place.
func findCues(toks []token, lx *lexicon, add func(k Kind, s, e int, rule string)) {
	for i := range toks {
		t := &toks[i]
		// A word in lower case that the dictionary knows is no name
		// ("I am willing"); a capitalised one may be ("I am Will").
		if common := lx.dict[t.key]&dictLower != 0; t.code || notNames[t.key] || common && (!t.cap || !lx.names[t.key]) {
			continue
		}
		prev := func(k int) string {
			if i-k < 0 {
				return ""
			}
			return toks[i-k].key
		}
		rule := ""
		switch {
		case prev(1) == "is" && prev(2) == "name" && (prev(3) == "my" || prev(3) == "whose"):
			rule = "cue:myname"
		case prev(1) == "called" || prev(1) == "named":
			rule = "cue:named"
		case (prev(1) == "am" && prev(2) == "i" || prev(1) == "i" && (strings.HasPrefix(t.sepBefore, "'m") || strings.HasPrefix(t.sepBefore, "’m"))) && (!t.cap || t.class != wCommon):
			rule = "cue:iam"
		case i > 0 && titles[prev(1)] && toks[i-1].cap && !t.cap && lx.dict[t.key] == 0:
			rule = "cue:title-lower"
		case !t.cap && !t.allCaps && lx.places[t.key] >= placeCity && lx.dict[t.key]&dictLower == 0:
			rule = "lower:place"
		case t.cap && (t.class == wKnown || t.class == wAmbiguous) && (prev(1) == "at" || prev(1) == "join" || prev(1) == "joined" || prev(1) == "joining"):
			rule = "cue:at"
		case t.cap && lx.places[t.key] > placeNone && t.class != wCommon && livesIn(prev(2), prev(1)):
			rule = "cue:livein"
		}
		if rule == "" {
			continue
		}
		j := i + 1
		// The name goes on with up to two words that are capitalised or
		// no common word: "my name is John Smith".
		for j < len(toks) && j < i+3 && toks[j].sepBefore == " " && !toks[j].code && !notNames[toks[j].key] &&
			(toks[j].cap && !connectors[toks[j].key] || lx.dict[toks[j].key]&dictLower == 0) {
			j++
		}
		kind := Person
		if rule == "lower:place" || rule == "cue:livein" {
			kind, j = Place, i+1
		} else if rule == "cue:at" {
			kind = Organization
		}
		add(kind, i, j, rule)
	}
}

// livesIn reports whether the words w1 w2 say where someone lives, works
// or comes from: "live in", "based in", "moved to", "am from".
func livesIn(w1, w2 string) bool {
	switch w2 {
	case "in", "near":
		switch w1 {
		case "live", "lives", "lived", "living", "based", "located", "born", "reside", "resides", "residing", "stay", "staying", "work", "works", "working", "settled":
			return true
		}
	case "to":
		switch w1 {
		case "moved", "move", "moving", "relocated", "relocate", "relocating":
			return true
		}
	case "from":
		switch w1 {
		case "am", "i", "originally", "come", "comes", "hail", "hails", "is", "are":
			return true
		}
	}
	return false
}

// placeSpan reports how many tokens from the start of run form a place
// in the gazetteer.
func placeSpan(run []token, lx *lexicon) (int, bool) {
	for n := min(len(run), lx.placeWords); n >= 1; n-- {
		var b strings.Builder
		for k := range n {
			if k > 0 {
				b.WriteString(run[k].sepBefore)
			}
			b.WriteString(run[k].key)
		}
		if c := lx.places[b.String()]; c >= placeCity || c > placeNone && n > 1 {
			if n == 1 && (run[0].class == wCommon || run[0].class == wAmbiguous || notNames[run[0].key]) {
				return 0, false
			}
			return n, true
		}
	}
	return 0, false
}

// classify says what the lexicon knows about a capitalised word.
func (lx *lexicon) classify(t *token) wclass {
	if !t.cap && !t.allCaps {
		return wCommon
	}
	k := t.key
	if notNames[k] || lx.languages[k] || lx.isDemonym(k) || pluralAcronym(t.text) {
		return wCommon
	}
	f := lx.dict[k]
	name, place := lx.names[k], lx.places[k]
	if t.allCaps {
		switch {
		case f&dictLower != 0:
			return wCommon
		case f&dictUpper != 0:
			return wKnownAcronym
		case place > placeNone:
			return wPlace
		case f != 0:
			return wKnown
		}
		return wAcronym
	}
	switch {
	case f&dictLower != 0 && (name || f&dictCap != 0 || place >= placeCity):
		return wAmbiguous
	case f&dictLower != 0:
		return wCommon
	case name:
		return wName
	case place > placeNone:
		return wPlace
	case f != 0:
		return wKnown
	}
	return wUnknown
}

// pluralAcronym reports whether w is an acronym in the plural ("NGOs",
// "APIs"): a class of things, not a name.
func pluralAcronym(w string) bool {
	s, ok := strings.CutSuffix(w, "s")
	if !ok || len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// isDemonym reports whether w (lower case) is a country's name plus
// "n" or "an" ("nigerian", "american", "indian", "korean").
func (lx *lexicon) isDemonym(w string) bool {
	for _, cut := range []string{"n", "an", "ese", "ian"} {
		if s, ok := strings.CutSuffix(w, cut); ok && len(s) > 2 && lx.places[s] == placeCountry {
			return true
		}
	}
	return false
}

// isForeign reports whether the text is mostly not English: then words
// missing from the English lists say nothing about names.
func isForeign(toks []token, lx *lexicon) bool {
	n, known := 0, 0
	for i := range toks {
		t := &toks[i]
		if t.cap || t.allCaps || t.code || len(t.key) < 3 || strings.ContainsAny(t.key, "0123456789") {
			continue
		}
		n++
		if lx.dict[t.key] != 0 {
			known++
		}
	}
	return n >= 5 && known*10 < n*7
}

// tokenize splits text into words: runs of letters, digits and marks,
// with an inner apostrophe ("O'Brien"); clitics ('s, 'll) are dropped.
func tokenize(text string) []token {
	var toks []token
	prevEnd := 0
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		if !isWordRune(r) {
			i += size
			continue
		}
		start, script := i, isCJK(r)
		for i < len(text) {
			r, size := utf8.DecodeRuneInString(text[i:])
			if isWordRune(r) && isCJK(r) == script {
				i += size
				continue
			}
			if r == '\'' || r == '’' {
				next, _ := utf8.DecodeRuneInString(text[i+size:])
				if unicode.IsLetter(next) && clitic(text[i:]) == 0 {
					i += size
					continue
				}
			}
			break
		}
		t := token{start: start, end: i, text: text[start:i], sepBefore: text[prevEnd:start]}
		i += clitic(text[i:]) // 's, 'll, n't: outside the token
		t.key = strings.ToLower(t.text)
		t.cap, t.allCaps = capitals(t.text)
		t.code = looksLikeCode(text, t.start, t.end)
		t.camel = camelCase(t.text)
		t.sentStart = sentenceStart(text[:start])
		toks = append(toks, t)
		prevEnd = t.end
	}
	return toks
}

// isCJK reports whether r is written in a script without spaces between
// words; a Latin word glued to it ("告诉Tim") is a word of its own.
func isCJK(r rune) bool {
	return r >= 0x2E80 && (unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul))
}

func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// clitic returns the length of the clitic that s starts with ('s, 'm,
// 'll, 've, 'd, 're, 't, with ' or ’, ending a word), or 0.
func clitic(s string) int {
	r, size := utf8.DecodeRuneInString(s)
	if r != '\'' && r != '’' {
		return 0
	}
	for _, c := range [...]string{"s", "m", "ll", "ve", "d", "re", "t"} {
		rest := s[size:]
		if len(rest) >= len(c) && strings.EqualFold(rest[:len(c)], c) {
			next, _ := utf8.DecodeRuneInString(rest[len(c):])
			if len(rest) == len(c) || !isWordRune(next) {
				return size + len(c)
			}
		}
	}
	return 0
}

// capitals reports whether w is capitalised (an upper-case letter, then
// no digit) and whether it is all capitals (two or more letters).
func capitals(w string) (cp, all bool) {
	first, _ := utf8.DecodeRuneInString(w)
	upper, letters := 0, 0
	for _, r := range w {
		if unicode.IsDigit(r) {
			return false, false
		}
		if unicode.IsLetter(r) {
			letters++
			if unicode.IsUpper(r) {
				upper++
			}
		}
	}
	all = letters >= 2 && upper == letters
	cp = unicode.IsUpper(first) && !all
	return cp, all
}

// camelCase reports whether w has a capital after a lower-case letter,
// except in Mc, Mac and O' names.
func camelCase(w string) bool {
	seenLower := false
	for i, r := range w {
		if unicode.IsLower(r) {
			seenLower = true
		} else if unicode.IsUpper(r) && seenLower && i > 0 {
			if !(strings.HasPrefix(w, "Mc") && i == 2) && !(strings.HasPrefix(w, "Mac") && i == 3) &&
				!strings.ContainsAny(w[:i], "'’") {
				return true
			}
		}
	}
	return false
}

// looksLikeCode reports whether the word at text[start:end] is glued to
// code punctuation: a dotted.path, a call(, a_snake.
func looksLikeCode(text string, start, end int) bool {
	if start > 0 {
		if p := lastRune(text[:start]); strings.ContainsRune("._/\\#<$@=`{[", p) {
			return true
		}
	}
	if end < len(text) {
		n, _ := utf8.DecodeRuneInString(text[end:])
		if strings.ContainsRune("(_=<[{`", n) {
			return true
		}
		if n == '.' && end+1 < len(text) && isWordByte(text[end+1]) {
			return true
		}
	}
	return false
}

// sentenceStart reports whether a word after before starts a sentence,
// a line or a list item.
func sentenceStart(before string) bool {
	s := strings.TrimRightFunc(before, func(r rune) bool {
		return r == ' ' || r == '\t' || strings.ContainsRune("\"'“‘([*•·-–—>#", r)
	})
	if s == "" {
		return true
	}
	r := lastRune(s)
	if r == '\n' || r == '\r' || strings.ContainsRune(".!?:;", r) {
		return true
	}
	// A numbered item: "1. ", "2) ".
	return false
}
