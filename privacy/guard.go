package privacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/privacy/ahocorasick"
)

// ErrPrivateEgress is wrapped by every [*LeakError]: private content was
// about to leave the device.
var ErrPrivateEgress = errors.New("private content in egress")

// LeakError reports a guard finding that blocked egress. It names the
// detector, the rule and the byte offsets in the checked text, never the
// text itself.
type LeakError struct {
	Detector string
	RuleID   string
	Start    int
	End      int
}

func (e *LeakError) Error() string {
	return fmt.Sprintf("%s: %s rule %s at bytes [%d,%d)", ErrPrivateEgress, e.Detector, e.RuleID, e.Start, e.End)
}

// Unwrap makes errors.Is(err, ErrPrivateEgress) hold.
func (e *LeakError) Unwrap() error { return ErrPrivateEgress }

// Policy is what the guard does with a finding.
type Policy int

// The policies (DESIGN §7).
const (
	// Block fails closed with a *LeakError.
	Block Policy = iota
	// Redact replaces each finding with a placeholder for its kind.
	Redact
	// StopCloud reports the finding so the caller stops consulting the
	// cloud (logit prefixes).
	StopCloud
)

// Finding is one match: the rule and its byte span in the checked text.
type Finding struct {
	Rule       string
	Start, End int
}

// Rules, by kind. A rule's prefix before the dot is its detector.
const (
	RuleName       = "entity.name"
	RuleLocation   = "entity.location"
	RuleEmailVault = "entity.email"
	RulePhoneVault = "entity.phone"
	RuleIdentifier = "entity.identifier"
	RuleFact       = "fact.shingle"
	RuleActivity   = "fact.activity"
	RuleHistory    = "fact.history"
	RuleEmail      = "pii.email"
	RulePhone      = "pii.phone"
	RuleCard       = "pii.card"
	RuleIBAN       = "pii.iban"
	RuleNationalID = "pii.national_id"
)

var placeholders = map[string]string{
	RuleName: "[NAME]", RuleLocation: "[LOCATION]", RuleEmailVault: "[EMAIL]", RulePhoneVault: "[PHONE]",
	RuleIdentifier: "[ID]", RuleFact: "[PRIVATE]", RuleActivity: "[PRIVATE]", RuleHistory: "[PRIVATE]",
	RuleEmail: "[EMAIL]", RulePhone: "[PHONE]", RuleCard: "[CARD]", RuleIBAN: "[IBAN]", RuleNationalID: "[ID]",
}

// stopWords are dropped before shingling: function words and the
// vocabulary every writing task shares ("create", "write", "post"), tuned
// on the dev data so that general sections of other users' tasks do not
// match (see the package tests for the measured rates).
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but nor so yet of in on at to for from by with without within into onto
	about above after against along among around as before behind below beneath beside between beyond during except
	inside near off out outside over past since through throughout till toward towards under underneath until up upon
	via i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers
	herself it its itself they them their theirs themselves this that these those who whom whose which what where when
	why how all any both each few more most other some such no not only own same than too very can will just should
	would could may might must shall do does did doing done be is am are was were been being have has had having get
	gets got getting make makes made making also s t d ll m re ve o y am pm etc one two three new every via per
	write writing create creating craft compose develop design prepare draft post blog article essay letter email
	script guide piece content detailed describe description share sharing highlight highlights highlighting discuss
	using use used based including include includes like well way ways help helps tips`) {
		m[w] = true
	}
	return m
}()

// word is a normalized word of a text with its byte span.
type word struct {
	text       string
	start, end int
}

// words splits text into words of letters and digits in their folded form
// (see foldRune: case, diacritics, compatibility forms, look-alike letters
// of other scripts, format characters inside a word), with the byte
// offsets of the original text. An apostrophe inside a word is kept, and a
// possessive dropped, so "Isabel's" matches "Isabel".
func words(text string) []word {
	var out []word
	var b strings.Builder
	i := 0
	for i < len(text) {
		r, n := utf8.DecodeRuneInString(text[i:])
		if f, ok := foldRune(r); !ok || f == "" {
			i += n
			continue
		}
		start := i
		b.Reset()
		for i < len(text) {
			r, n := utf8.DecodeRuneInString(text[i:])
			if f, ok := foldRune(r); ok {
				b.WriteString(f)
				i += n
				continue
			}
			if (r == '\'' || r == '’') && i+n < len(text) {
				r2, _ := utf8.DecodeRuneInString(text[i+n:])
				if f2, ok := foldRune(r2); ok && f2 != "" {
					b.WriteByte('\'')
					i += n
					continue
				}
			}
			break
		}
		w := strings.TrimSuffix(b.String(), "'s")
		if w == "" {
			continue
		}
		out = append(out, word{w, start, i})
	}
	return out
}

func contentWords(text string) []word {
	ws := words(text)
	out := ws[:0]
	for _, w := range ws {
		if !stopWords[w.text] {
			out = append(out, w)
		}
	}
	return out
}

// Guard knows one user's private context and finds it in text bound for
// the cloud. Build it with [NewGuard]; it is safe for concurrent use.
type Guard struct {
	vocab map[string]int32
	// Entities match on all words; facts on content words only.
	entities, facts        *ahocorasick.Matcher[int32]
	entityRules, factRules []string
	shingles               int
}

// NewGuard builds the guard of a vault; a nil vault gives a guard of the
// generic detectors alone (e-mail addresses, card numbers, …).
func NewGuard(v *Vault) *Guard {
	if v == nil {
		v = &Vault{} // the generic detectors alone
	}
	g := &Guard{vocab: map[string]int32{}}
	id := func(w string) int32 {
		if x, ok := g.vocab[w]; ok {
			return x
		}
		x := int32(len(g.vocab))
		g.vocab[w] = x
		return x
	}
	var ents [][]int32
	seenEnt := map[string]bool{}
	addEntity := func(rule string, text string) {
		ws := words(text)
		if len(ws) == 0 {
			return
		}
		key := rule + "\x00"
		p := make([]int32, len(ws))
		for i, w := range ws {
			p[i] = id(w.text)
			key += w.text + " "
		}
		if seenEnt[key] {
			return
		}
		seenEnt[key] = true
		ents = append(ents, p)
		g.entityRules = append(g.entityRules, rule)
	}
	name := v.Name.UnsafeText()
	addEntity(RuleName, name)
	for _, part := range words(name) {
		if utf8.RuneCountInString(part.text) >= 3 && !stopWords[part.text] {
			addEntity(RuleName, part.text)
		}
	}
	loc := v.Location.UnsafeText()
	addEntity(RuleLocation, loc)
	if city, _, ok := strings.Cut(loc, ","); ok {
		addEntity(RuleLocation, city)
	}
	for _, e := range v.Emails {
		addEntity(RuleEmailVault, e.UnsafeText())
	}
	for _, p := range v.Phones {
		addEntity(RulePhoneVault, p.UnsafeText())
	}
	for _, p := range v.Identifiers {
		addEntity(RuleIdentifier, p.UnsafeText())
	}

	var facts [][]int32
	seen := map[[3]int32]bool{}
	addShingles := func(rule, text string) {
		cw := contentWords(text)
		if len(cw) < 3 {
			// Too short to shingle: match the whole phrase exactly.
			addEntity(rule, text)
			return
		}
		for i := 0; i+3 <= len(cw); i++ {
			k := [3]int32{id(cw[i].text), id(cw[i+1].text), id(cw[i+2].text)}
			if seen[k] {
				continue
			}
			seen[k] = true
			facts = append(facts, k[:])
			g.factRules = append(g.factRules, rule)
		}
	}
	for _, f := range v.PrivateFacts {
		addShingles(RuleFact, f.UnsafeText())
	}
	for _, f := range v.ActivityLog {
		addShingles(RuleActivity, f.UnsafeText())
	}
	for _, h := range v.History {
		addShingles(RuleHistory, h.Text.UnsafeText())
	}
	g.shingles = len(facts)
	g.entities = ahocorasick.New(ents)
	g.facts = ahocorasick.New(facts)
	return g
}

// Shingles reports how many fact shingles the guard holds.
func (g *Guard) Shingles() int { return g.shingles }

var (
	reEmail = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	rePhone = regexp.MustCompile(`(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)|\d{2,4})[\s.-]\d{2,4}[\s.-]\d{2,4}(?:[\s.-]\d{2,4})?`)
	reCard  = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)
	reIBAN  = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b`)
	reSSN   = regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`)
)

// Check returns every finding in text, ordered by start. A finding wholly
// inside a verbatim copy of a constant the program declared with
// [PublicConst] is not one: the template says nothing about the user.
func (g *Guard) Check(text string) []Finding {
	var out []Finding
	// Entities on all words.
	ws := words(text)
	ids := make([]int32, len(ws))
	for i, w := range ws {
		if x, ok := g.vocab[w.text]; ok {
			ids[i] = x
		} else {
			ids[i] = -1
		}
	}
	for _, m := range g.entities.FindAll(ids) {
		out = append(out, Finding{Rule: g.entityRules[m.Pattern], Start: ws[m.Start].start, End: ws[m.End-1].end})
	}
	// Facts on content words.
	cw := contentWords(text)
	cids := make([]int32, len(cw))
	for i, w := range cw {
		if x, ok := g.vocab[w.text]; ok {
			cids[i] = x
		} else {
			cids[i] = -1
		}
	}
	for _, m := range g.facts.FindAll(cids) {
		out = append(out, Finding{Rule: g.factRules[m.Pattern], Start: cw[m.Start].start, End: cw[m.End-1].end})
	}
	// Generic PII.
	for _, loc := range reEmail.FindAllStringIndex(text, -1) {
		out = append(out, Finding{Rule: RuleEmail, Start: loc[0], End: loc[1]})
	}
	for _, loc := range reCard.FindAllStringIndex(text, -1) {
		if luhn(text[loc[0]:loc[1]]) {
			out = append(out, Finding{Rule: RuleCard, Start: loc[0], End: loc[1]})
		}
	}
	for _, loc := range reIBAN.FindAllStringIndex(text, -1) {
		if ibanValid(text[loc[0]:loc[1]]) {
			out = append(out, Finding{Rule: RuleIBAN, Start: loc[0], End: loc[1]})
		}
	}
	for _, loc := range reSSN.FindAllStringIndex(text, -1) {
		out = append(out, Finding{Rule: RuleNationalID, Start: loc[0], End: loc[1]})
	}
	for _, loc := range rePhone.FindAllStringIndex(text, -1) {
		if d := digits(text[loc[0]:loc[1]]); d >= 7 && d <= 15 && !covered(out, loc[0], loc[1]) {
			out = append(out, Finding{Rule: RulePhone, Start: loc[0], End: loc[1]})
		}
	}
	if spans := declaredSpans(text); len(spans) > 0 {
		out = slices.DeleteFunc(out, func(f Finding) bool {
			for _, sp := range spans {
				if sp[0] <= f.Start && f.End <= sp[1] {
					return true
				}
			}
			return false
		})
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return b.End - a.End
	})
	return out
}

func covered(fs []Finding, start, end int) bool {
	for _, f := range fs {
		if f.Start <= start && end <= f.End {
			return true
		}
	}
	return false
}

func digits(s string) int {
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n
}

func luhn(s string) bool {
	sum, n, double := 0, 0, false
	for i := len(s) - 1; i >= 0; i-- {
		c := s[i]
		if c < '0' || c > '9' {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		n++
		double = !double
	}
	return n >= 13 && sum%10 == 0
}

func ibanValid(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	s = s[4:] + s[:4]
	rem := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			rem = (rem*10 + int(r-'0')) % 97
		case r >= 'A' && r <= 'Z':
			v := int(r-'A') + 10
			rem = (rem*100 + v) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// Public turns user-derived text into a Public value under policy: Block
// fails with a *LeakError on the first finding; Redact replaces every
// finding with a placeholder for its kind ([NAME], [LOCATION], [PRIVATE],
// [EMAIL], ...); StopCloud behaves as Block (it is meant for token
// prefixes, see [Guard.PublicTokens]). It is the one way user-derived text
// becomes public. The findings are returned in every case.
func (g *Guard) Public(text string, policy Policy) (Public, []Finding, error) {
	fs := g.Check(text)
	if len(fs) == 0 {
		return Public{s: text}, nil, nil
	}
	if policy != Redact {
		f := fs[0]
		return Public{}, fs, &LeakError{Detector: detector(f.Rule), RuleID: f.Rule, Start: f.Start, End: f.End}
	}
	var b strings.Builder
	pos := 0
	for _, f := range fs {
		if f.Start < pos { // overlaps one already replaced
			pos = max(pos, f.End)
			continue
		}
		b.WriteString(text[pos:f.Start])
		b.WriteString(placeholders[f.Rule])
		pos = f.End
	}
	b.WriteString(text[pos:])
	out := b.String()
	// Redaction must leave nothing behind (a placeholder cannot complete a
	// shingle, but check rather than assume).
	if rest := g.Check(out); len(rest) > 0 {
		f := rest[0]
		return Public{}, fs, &LeakError{Detector: detector(f.Rule), RuleID: f.Rule, Start: f.Start, End: f.End}
	}
	return Public{s: out}, fs, nil
}

func detector(rule string) string {
	d, _, _ := strings.Cut(rule, ".")
	return d
}

// PublicTokens is a token sequence that may leave the device: the guard
// checked its text. Only [Guard.PublicTokens] makes one.
type PublicTokens struct{ ids []int32 }

// IDs returns the token ids. The slice is shared; do not modify it.
func (p PublicTokens) IDs() []int32 { return p.ids }

// Len returns the number of tokens.
func (p PublicTokens) Len() int { return len(p.ids) }

// PublicTokens checks the text of ids (detok renders it, with the tokenizer
// both models share) and returns them as public, or the first finding as a
// *LeakError (the StopCloud policy: the caller stops consulting the cloud).
func (g *Guard) PublicTokens(ids []int32, detok func([]int32) string) (PublicTokens, *LeakError) {
	if fs := g.Check(detok(ids)); len(fs) > 0 {
		f := fs[0]
		return PublicTokens{}, &LeakError{Detector: detector(f.Rule), RuleID: f.Rule, Start: f.Start, End: f.End}
	}
	return PublicTokens{ids: slices.Clone(ids)}, nil
}

// DeclassifyForBaseline marks private text as public without a check. It
// exists for the llm-context baseline alone (the paper's upper bound),
// which sends everything and runs only when the user opted in; every call
// site is an audited exception.
func DeclassifyForBaseline(p Private) Public { return Public{s: p.UnsafeText()} }

// DeclassifyTokensForTeacherForcing marks tokens as public without a
// check. It exists for CombModel extraction alone, which must show the
// cloud the reference responses (written with private context) and runs
// only when the user opted in; every call site is an audited exception.
func DeclassifyTokensForTeacherForcing(ids []int32) PublicTokens {
	return PublicTokens{ids: slices.Clone(ids)}
}

// CheckEgress is the egress choke point's check: it scans every string in
// a JSON request body (the raw body when it is not JSON), and the text of
// token-id prompts when detok is set, and returns the rules hit and a
// *LeakError for the first finding.
func (g *Guard) CheckEgress(body []byte, detok func([]int32) string) ([]string, error) {
	var texts []string
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		texts = append(texts, string(body))
	} else {
		collect(v, "", &texts, detok)
	}
	var rules []string
	var first *LeakError
	for _, t := range texts {
		for _, f := range g.Check(t) {
			if !slices.Contains(rules, f.Rule) {
				rules = append(rules, f.Rule)
			}
			if first == nil {
				first = &LeakError{Detector: detector(f.Rule), RuleID: f.Rule, Start: f.Start, End: f.End}
			}
		}
	}
	if first != nil {
		return rules, first
	}
	return nil, nil
}

// collect gathers the strings of a decoded JSON value, and the text of
// number arrays under prompt-like keys (token ids).
func collect(v any, key string, out *[]string, detok func([]int32) string) {
	switch x := v.(type) {
	case string:
		*out = append(*out, x)
	case map[string]any:
		for k, e := range x {
			collect(e, k, out, detok)
		}
	case []any:
		if ids, ok := tokenIDs(x); ok && detok != nil && (key == "prompt" || key == "tokens" || key == "input_ids") {
			*out = append(*out, detok(ids))
			return
		}
		for _, e := range x {
			collect(e, key, out, detok)
		}
	}
}

func tokenIDs(xs []any) ([]int32, bool) {
	if len(xs) == 0 {
		return nil, false
	}
	ids := make([]int32, len(xs))
	for i, x := range xs {
		f, ok := x.(float64)
		if !ok || f != float64(int32(f)) {
			return nil, false
		}
		ids[i] = int32(f)
	}
	return ids, true
}
