package privacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/privacy/ahocorasick"
	"github.com/cogenesis/cogenesis/privacy/pii"
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
	RuleFact       = "fact.private"
	RuleFactEntity = "fact.entity"
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
	RuleIdentifier: "[ID]", RuleFact: "[PRIVATE]", RuleFactEntity: "[PRIVATE]", RuleActivity: "[PRIVATE]", RuleHistory: "[PRIVATE]",
	RuleEmail: "[EMAIL]", RulePhone: "[PHONE]", RuleCard: "[CARD]", RuleIBAN: "[IBAN]", RuleNationalID: "[ID]",
}

// stopWords are the function words, left out of a fact's content words.
// Words that carry meaning ("new", "email", "description", "write") are
// not here: the rarity table weighs them instead (see facts.go).
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but nor so yet of in on at to for from by with without within into onto
	about above after against along among around as before behind below beneath beside between beyond during except
	inside near off out outside over past since through throughout till toward towards under underneath until up upon
	via i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his himself she her hers
	herself it its itself they them their theirs themselves this that these those who whom whose which what where when
	why how all any both each few more most other some such no not only own same than too very can will just should
	would could may might must shall do does did doing done be is am are was were been being have has had having
	also s t d ll m re ve o y etc per i'm you're we're they're it's i've you've we've i'll you'll don't`) {
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
		if n := markup(text[i:]); n > 0 {
			i += n
			continue
		}
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
		if w == "" || isPlaceholder(text, start, i) {
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
	// Entities match on all words, in order; facts on the stems of
	// content words, in any order (see facts.go).
	entities    *ahocorasick.Matcher[int32]
	entityRules []string
	facts       *factIndex
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

	g.facts = newFactIndex()
	addFact := func(rule, text string) {
		g.facts.add(rule, text)
		for _, e := range factEntities(text) {
			addEntity(RuleFactEntity, e)
		}
	}
	for _, f := range v.PrivateFacts {
		addFact(RuleFact, f.UnsafeText())
	}
	for _, f := range v.ActivityLog {
		addFact(RuleActivity, f.UnsafeText())
	}
	for _, h := range v.History {
		for _, s := range sentences(h.Text.UnsafeText()) {
			g.facts.add(RuleHistory, s)
			for _, e := range factEntities(s) {
				addEntity(RuleFactEntity, e)
			}
		}
	}
	g.entities = ahocorasick.New(ents)
	return g
}

// GenericSpans is the guard's generic detector alone (what identifies
// anyone, with no vault: e-mail addresses, phone and card numbers, names
// of people, organisations and places, ...), as spans for pii.EvalPUPA.
func GenericSpans(text string) []pii.Span { return genericDetector.Detect(text) }

// genericDetector is the generic detector of every guard: for text a
// user wrote (the public instruction, guard check). It reports names at
// the recall end of the scorer: a public name redacted costs the cloud's
// answer a word, a private one sent cannot be taken back.
var genericDetector = pii.Detector{Threshold: pii.RecallThreshold}

// structuredDetector is the generic detector for text in flight: the
// egress backstop and the logit prefixes the local model writes. It finds
// what identifies anyone by its form (addresses, numbers, accounts) but
// not names of people, organisations and places, which a story's
// characters would be: a name the vault knows is still found, by the
// vault's rules.
var structuredDetector = pii.Detector{Kinds: slices.DeleteFunc(pii.DefaultKinds(), func(k pii.Kind) bool {
	return k == pii.Person || k == pii.Organization || k == pii.Place || k == pii.Name
})}

// Facts reports how many facts (and parts of facts) the guard matches.
func (g *Guard) Facts() int { return len(g.facts.facts) }

// sentences splits a text at sentence ends and line breaks.
func sentences(text string) []string {
	return strings.FieldsFunc(text, func(r rune) bool { return r == '.' || r == '!' || r == '?' || r == '\n' })
}

// Check returns every finding in text, ordered by start: the vault's
// entities and facts, and generic PII (see package pii), names of people,
// organisations and places included. A finding wholly inside a verbatim
// copy of a constant the program declared with [PublicConst] is not one:
// the template says nothing about the user.
func (g *Guard) Check(text string) []Finding { return g.check(text, genericDetector) }

// check is Check with the given generic detector.
func (g *Guard) check(text string, generic pii.Detector) []Finding {
	var out []Finding
	// The program's own templates are no evidence: their words take no
	// part in a match.
	spans := declaredSpans(text)
	ws := words(text)
	if len(spans) > 0 {
		ws = slices.DeleteFunc(ws, func(w word) bool {
			for _, sp := range spans {
				if sp[0] <= w.start && w.end <= sp[1] {
					return true
				}
			}
			return false
		})
	}
	// Entities on all words.
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
	// Facts on the stems of content words.
	out = g.facts.find(ws, out)
	// Generic PII: what identifies anyone, vault or not.
	for _, sp := range generic.Detect(text) {
		out = append(out, Finding{Rule: "pii." + string(sp.Kind), Start: sp.Start, End: sp.End})
	}
	// And in the folded text, for what a disguise hid from the patterns
	// (a fullwidth e-mail address, a phone number with zero-width spaces).
	if folded, off, ok := foldText(text); ok {
		for _, sp := range generic.Detect(folded) {
			f := Finding{Rule: "pii." + string(sp.Kind), Start: off[sp.Start], End: off[sp.End]}
			if f.End == off[sp.End-1] { // the span ends inside a rune of text
				f.End = len(text)
				for j := sp.End; j < len(off); j++ {
					if off[j] > off[sp.End-1] {
						f.End = off[j]
						break
					}
				}
			}
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	if len(spans) > 0 {
		out = slices.DeleteFunc(out, func(f Finding) bool {
			for _, sp := range spans {
				if sp[0] <= f.Start && f.End <= sp[1] {
					return true
				}
			}
			return false
		})
	}
	sortFindings(out)
	return out
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

// Public turns user-derived text into a Public value under policy: Block
// fails with a *LeakError on the first finding; Redact replaces every
// finding with a placeholder for its kind ([NAME], [LOCATION], [PRIVATE],
// [EMAIL], ...); StopCloud behaves as Block (it is meant for token
// prefixes, see [Guard.PublicTokens]). It is the one way user-derived text
// becomes public. The findings are returned in every case.
func (g *Guard) Public(text string, policy Policy) (Public, []Finding, error) {
	return g.PublicWith(text, policy, nil)
}

// PublicWith is [Guard.Public] with extra findings added to the guard's
// own: those of an on-device model (package guardmodel). They can only
// add: every finding of the guard stays (see [MergeFindings]).
func (g *Guard) PublicWith(text string, policy Policy, extra []Finding) (Public, []Finding, error) {
	fs := MergeFindings(g.Check(text), extra)
	if len(fs) == 0 {
		return Public{s: text}, nil, nil
	}
	if policy != Redact {
		f := fs[0]
		return Public{}, fs, &LeakError{Detector: detector(f.Rule), RuleID: f.Rule, Start: f.Start, End: f.End}
	}
	var b strings.Builder
	pos := 0
	for i := 0; i < len(fs); {
		// Overlapping findings are one span, with the placeholder of the
		// first.
		start, end := fs[i].Start, fs[i].End
		j := i + 1
		for j < len(fs) && fs[j].Start < end {
			end = max(end, fs[j].End)
			j++
		}
		b.WriteString(text[pos:start])
		b.WriteString(placeholder(fs[i].Rule))
		pos = end
		i = j
	}
	b.WriteString(text[pos:])
	out := b.String()
	// Redaction must leave nothing behind; check rather than assume.
	if rest := g.Check(out); len(rest) > 0 {
		f := rest[0]
		return Public{}, fs, &LeakError{Detector: detector(f.Rule), RuleID: f.Rule, Start: f.Start, End: f.End}
	}
	return Public{s: out}, fs, nil
}

// MergeFindings returns the union of base and extra, ordered by start (the
// longer of two findings that start together first): every finding of
// base is in it, unchanged, and every finding of extra that base lacks is
// added once. It never removes, shrinks or joins a finding, so a
// redaction of the result hides at least what a redaction of base hides.
// base and extra are not modified.
func MergeFindings(base, extra []Finding) []Finding {
	out := make([]Finding, 0, len(base)+len(extra))
	out = append(out, base...)
	seen := make(map[Finding]bool, len(base)+len(extra))
	for _, f := range base {
		seen[f] = true
	}
	for _, f := range extra {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sortFindings(out)
	return out
}

// sortFindings orders findings by start, the longer of two that start
// together first.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		if a.Start != b.Start {
			return a.Start - b.Start
		}
		return b.End - a.End
	})
}

// placeholder is what a redaction writes for a finding of rule: never
// empty, so a redaction is always visible.
func placeholder(rule string) string {
	if p, ok := placeholders[rule]; ok {
		return p
	}
	if kind, ok := strings.CutPrefix(rule, "pii."); ok {
		return "[" + strings.ToUpper(kind) + "]"
	}
	return "[PRIVATE]"
}

// markup returns the length of the chat markup that starts text ("<|im_end|>",
// "</s>", "<start_of_turn>"): angle brackets around letters, digits and
// "_|/!-" alone, which are no words of anyone. It returns 0 for anything
// else ("<jo@example.org>" is an address).
func markup(text string) int {
	if len(text) < 3 || text[0] != '<' {
		return 0
	}
	for j := 1; j < len(text) && j < 48; j++ {
		switch c := text[j]; {
		case c == '>':
			if j == 1 {
				return 0
			}
			return j + 1
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_|/!-", c) >= 0:
		default:
			return 0
		}
	}
	return 0
}

// isPlaceholder reports whether text[start:end] is the name inside a
// placeholder a redaction wrote ("[PRIVATE]"), which the guard skips so
// that a redacted text is checked for what is left of it.
func isPlaceholder(text string, start, end int) bool {
	if start == 0 || end >= len(text) || text[start-1] != '[' || text[end] != ']' {
		return false
	}
	for i := start; i < end; i++ {
		if c := text[i]; (c < 'A' || c > 'Z') && c != '_' {
			return false
		}
	}
	return true
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
// Names the vault does not know do not count here (see
// structuredDetector): the local model's characters are not a leak.
func (g *Guard) PublicTokens(ids []int32, detok func([]int32) string) (PublicTokens, *LeakError) {
	if fs := g.check(detok(ids), structuredDetector); len(fs) > 0 {
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
// *LeakError for the first finding. Like [Guard.PublicTokens] it counts
// no name the vault does not know: the instruction the user wrote had
// those redacted by [Guard.Public] before, and what the models write may
// name anyone.
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
		for _, f := range g.check(t, structuredDetector) {
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
		if ids, ok := TokenIDs(x); ok && detok != nil && (key == "prompt" || key == "tokens" || key == "input_ids") {
			*out = append(*out, detok(ids))
			return
		}
		for _, e := range x {
			collect(e, key, out, detok)
		}
	}
}

// TokenIDs reads a decoded JSON array as token ids: false unless it is
// non-empty and every element a number that is an int32.
func TokenIDs(xs []any) ([]int32, bool) {
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
