package pii

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Report is what [EvalPUPA] measured: the whole file, and the file split
// into two halves by conversation, so that a detector tuned on one half
// can be checked on the other.
type Report struct {
	// Tally counts over all prompts.
	Tally
	// Even counts the prompts whose conversation_hash starts with an even
	// hex digit (0, 2, ... e), Odd the others. This package's name scorer
	// was trained, and its thresholds chosen, on Even only; Odd is its
	// held-out half. (Records that repeat a prompt share its
	// conversation_hash, so they fall in the same half.)
	Even, Odd Tally
}

// Tally counts one set of prompts. The definitions:
//
//   - A unit is one distinct entry of a prompt's pii_units (split on "||",
//     trimmed, compared case-insensitively; a repeated entry counts once).
//   - A placeholder unit is one that is nothing but Presidio placeholders
//     such as "<presidio_anonymized_person>": that text was anonymised
//     before annotation. Placeholder units are counted in PlaceholderUnits
//     only, never in Units.
//   - An occurrence of a unit is a place where it occurs in user_query,
//     matched case-insensitively (both lower-cased rune by rune with
//     unicode.ToLower), overlaps allowed. A unit without an occurrence is absent: counted in
//     AbsentUnits, not in Units.
//   - Units counts the units that are neither placeholders nor absent; it
//     is the denominator of [Tally.Recall].
//   - A unit is recalled when some finding overlaps (shares at least one
//     byte with) one of its occurrences.
//   - A finding is true when it overlaps an occurrence of a unit of its
//     prompt that is not a placeholder. Otherwise it is on a placeholder
//     when it overlaps a Presidio placeholder in the text
//     ("<PRESIDIO_ANONYMIZED_...>", brackets optional). Otherwise it is a
//     mention, and true as well, when its words (folded to lower case,
//     split at anything not a letter or digit) are a whole word or a run
//     of whole words of a unit of its prompt that is not a placeholder:
//     "Therese" alone, elsewhere in the prompt, where the unit is
//     "therese belivet"; "Zed" where the unit "zed hq" is written
//     "ZED-HQ". Otherwise it is false. Findings on a placeholder are
//     neither true nor false.
//   - The strict definition, that of this package before mentions were
//     counted, takes mentions for false: see [Tally.StrictFalsePerPrompt].
//     Mentions never count towards recall, which only occurrences give.
type Tally struct {
	Prompts int
	// Units is the number of units that occur in their prompt (see the
	// definitions above), UnitsRecalled how many of them some finding
	// overlaps.
	Units, UnitsRecalled int
	// AbsentUnits counts units that occur nowhere in their prompt.
	AbsentUnits int
	// PlaceholderUnits counts the placeholder units, PlaceholdersRecalled
	// those of them that a finding overlaps.
	PlaceholderUnits, PlaceholdersRecalled int
	// Findings counts every finding; TrueFindings, FalseFindings and
	// PlaceholderFindings split them as defined above.
	Findings, TrueFindings, FalseFindings, PlaceholderFindings int
	// Mentions counts the true findings that are mentions of a unit (see
	// above), not on an occurrence of one. They are in TrueFindings; the
	// strict definition counts them false.
	Mentions int
	// Flagged counts the prompts with at least one finding.
	Flagged int
	// TextBytes is the length of all prompts, FlaggedBytes the bytes that
	// some finding covers: a detector that flags everything recalls
	// everything, and this shows it.
	TextBytes, FlaggedBytes int
	// ByKind splits the findings by their kind.
	ByKind map[Kind]KindTally
}

// KindTally counts the findings of one kind.
type KindTally struct {
	// Findings, True and False count the findings of this kind as in
	// [Tally] (findings on a placeholder are in Findings only); Mentions
	// counts those of True that are mentions of a unit.
	Findings, True, False, Mentions int
	// Recalled counts the units that a finding of this kind overlaps (a
	// unit that findings of two kinds overlap counts for both).
	Recalled int
}

// Recall is UnitsRecalled / Units.
func (t Tally) Recall() float64 { return ratio(t.UnitsRecalled, t.Units) }

// FlaggedShare is the share of prompts with at least one finding.
func (t Tally) FlaggedShare() float64 { return ratio(t.Flagged, t.Prompts) }

// FalsePerPrompt is the mean number of false findings per prompt.
func (t Tally) FalsePerPrompt() float64 { return ratio(t.FalseFindings, t.Prompts) }

// StrictFalsePerPrompt is the mean number of false findings per prompt
// under the strict definition, which counts mentions of a unit as false:
// (FalseFindings + Mentions) / Prompts.
func (t Tally) StrictFalsePerPrompt() float64 {
	return ratio(t.FalseFindings+t.Mentions, t.Prompts)
}

// String summarises the tally on one line, with counts only.
func (t Tally) String() string {
	return fmt.Sprintf("prompts %d, units %d, recalled %d (%.1f%%), absent %d, placeholders %d (recalled %d), flagged %.1f%%, findings %d (true %d of which %d mentions, false %d, on placeholders %d), false/prompt %.3f (strict %.3f), flagged bytes %.1f%%",
		t.Prompts, t.Units, t.UnitsRecalled, 100*t.Recall(), t.AbsentUnits, t.PlaceholderUnits, t.PlaceholdersRecalled,
		100*t.FlaggedShare(), t.Findings, t.TrueFindings, t.Mentions, t.FalseFindings, t.PlaceholderFindings, t.FalsePerPrompt(),
		t.StrictFalsePerPrompt(), 100*ratio(t.FlaggedBytes, t.TextBytes))
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

func (t *Tally) add(u Tally) {
	t.Prompts += u.Prompts
	t.Units += u.Units
	t.UnitsRecalled += u.UnitsRecalled
	t.AbsentUnits += u.AbsentUnits
	t.PlaceholderUnits += u.PlaceholderUnits
	t.PlaceholdersRecalled += u.PlaceholdersRecalled
	t.Findings += u.Findings
	t.TrueFindings += u.TrueFindings
	t.FalseFindings += u.FalseFindings
	t.PlaceholderFindings += u.PlaceholderFindings
	t.Mentions += u.Mentions
	t.Flagged += u.Flagged
	t.TextBytes += u.TextBytes
	t.FlaggedBytes += u.FlaggedBytes
	for k, v := range u.ByKind {
		if t.ByKind == nil {
			t.ByKind = make(map[Kind]KindTally)
		}
		w := t.ByKind[k]
		w.Findings += v.Findings
		w.True += v.True
		w.False += v.False
		w.Mentions += v.Mentions
		w.Recalled += v.Recalled
		t.ByKind[k] = w
	}
}

// The PUPA columns EvalPUPA reads.
const (
	colHash  = "conversation_hash"
	colQuery = "user_query"
	colUnits = "pii_units"
)

// rePlaceholder matches a Presidio placeholder, with or without its
// angle brackets, in any case.
var rePlaceholder = regexp.MustCompile(`(?i)<?presidio_anonymized_[a-z_]+>?`)

// EvalPUPA runs detect on the user_query of every record of a PUPA CSV
// file (columns conversation_hash, user_query and pii_units, in any order,
// with a header line) and counts what it found against pii_units as
// [Tally] defines. In short: a unit is recalled when a finding overlaps
// one of its occurrences; a finding is true when it overlaps an
// occurrence of a unit, or is a mention of one (its words are a word or
// a run of words of a unit of the prompt, "Therese" for the unit
// "therese belivet"); findings on Presidio placeholders are neither true
// nor false; the others are false. [Tally.StrictFalsePerPrompt] counts
// mentions false, as this package did before. detect may be any
// detector: [Detect], a [Detector]'s method, or another. EvalPUPA does
// not close r. Its errors name the record (its line) and the field,
// never the text.
func EvalPUPA(r io.Reader, detect func(string) []Span) (Report, error) {
	var rep Report
	err := eachPUPA(r, func(hash string, h int, query, units string) {
		t := tallyPrompt(query, units, detect(query))
		rep.Tally.add(t)
		if h%2 == 0 {
			rep.Even.add(t)
		} else {
			rep.Odd.add(t)
		}
	})
	if err != nil {
		return Report{}, err
	}
	return rep, nil
}

// eachPUPA calls fn with the conversation hash and the value of its
// first hex digit, the query and the pii_units field of every record of
// a PUPA CSV file.
func eachPUPA(r io.Reader, fn func(hash string, h int, query, units string)) error {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("pupa header: %w", err)
	}
	col := map[string]int{colHash: -1, colQuery: -1, colUnits: -1}
	for i, h := range header {
		h = strings.TrimPrefix(h, "\ufeff")
		if _, ok := col[h]; ok {
			col[h] = i
		}
	}
	for _, name := range []string{colHash, colQuery, colUnits} {
		if col[name] < 0 {
			return fmt.Errorf("pupa header: no column %s", name)
		}
	}
	for rec := 1; ; rec++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("pupa record %d: %w", rec, err)
		}
		line, _ := cr.FieldPos(0)
		hash := row[col[colHash]]
		h, ok := hexDigit(hash)
		if !ok {
			return fmt.Errorf("pupa record %d (line %d) field %s: not a hex hash (%d bytes)", rec, line, colHash, len(hash))
		}
		query := row[col[colQuery]]
		if !utf8.ValidString(query) {
			return fmt.Errorf("pupa record %d (line %d) field %s: invalid UTF-8", rec, line, colQuery)
		}
		fn(hash, h, query, row[col[colUnits]])
	}
}

func hexDigit(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9':
		return int(c - '0'), true
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10, true
	}
	return 0, false
}

// unit is one distinct pii_units entry and its occurrences in the query.
type unit struct {
	placeholder bool
	occ         [][2]int
}

// parseUnits splits a pii_units field into its distinct units.
func parseUnits(field string) []string {
	var out []string
	seen := map[string]bool{}
	for u := range strings.SplitSeq(field, "||") {
		u = strings.TrimSpace(u)
		k := strings.ToLower(u)
		if u == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, u)
	}
	return out
}

// isPlaceholderUnit reports whether u is nothing but Presidio
// placeholders (and punctuation or spaces).
func isPlaceholderUnit(u string) bool {
	if !rePlaceholder.MatchString(u) {
		return false
	}
	rest := rePlaceholder.ReplaceAllString(u, "")
	return strings.IndexFunc(rest, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0
}

// truth is what the annotation says about one prompt: its units and
// the Presidio placeholders in its text.
type truth struct {
	query string
	units []unit
	// words holds the folded words of each unit that is not a
	// placeholder, for mentions.
	words [][]string
	marks [][2]int
}

// newTruth parses the pii_units field of query.
func newTruth(query, unitsField string) *truth {
	tr := &truth{query: query}
	folded, off := foldWithOffsets(query)
	for _, u := range parseUnits(unitsField) {
		x := unit{placeholder: isPlaceholderUnit(u), occ: occurrences(folded, off, u)}
		if !x.placeholder {
			tr.words = append(tr.words, foldedWords(u))
		}
		tr.units = append(tr.units, x)
	}
	for _, loc := range rePlaceholder.FindAllStringIndex(query, -1) {
		tr.marks = append(tr.marks, [2]int{loc[0], loc[1]})
	}
	return tr
}

// verdict is what [Tally] makes of one finding.
type verdict uint8

const (
	vFalse verdict = iota
	vOccurrence
	vMention
	vPlaceholder
)

// judge classifies a finding as [Tally] defines.
func (tr *truth) judge(s Span) verdict {
	switch {
	case overlapsAnyUnit(s, tr.units):
		return vOccurrence
	case overlapsAny(s, tr.marks):
		return vPlaceholder
	}
	if w := foldedWords(clip(tr.query, s)); len(w) > 0 && slices.ContainsFunc(tr.words, func(u []string) bool { return containsSeq(u, w) }) {
		return vMention
	}
	return vFalse
}

func tallyPrompt(query, unitsField string, spans []Span) Tally {
	return newTruth(query, unitsField).tally(spans)
}

// tally counts the findings spans of one prompt.
func (tr *truth) tally(spans []Span) Tally {
	query := tr.query
	t := Tally{Prompts: 1, TextBytes: len(query), Findings: len(spans)}
	if len(spans) > 0 {
		t.Flagged = 1
	}
	units := tr.units
	for _, x := range units {
		switch {
		case x.placeholder:
			t.PlaceholderUnits++
		case len(x.occ) == 0:
			t.AbsentUnits++
		default:
			t.Units++
		}
	}
	byKind := make(map[Kind]KindTally)
	for _, s := range spans {
		k := byKind[s.Kind]
		k.Findings++
		switch tr.judge(s) {
		case vOccurrence:
			t.TrueFindings++
			k.True++
		case vMention:
			t.TrueFindings++
			t.Mentions++
			k.True++
			k.Mentions++
		case vPlaceholder:
			t.PlaceholderFindings++
		default:
			t.FalseFindings++
			k.False++
		}
		byKind[s.Kind] = k
	}
	for _, u := range units {
		if len(u.occ) == 0 {
			continue
		}
		recalled := false
		var kinds []Kind
		for _, s := range spans {
			if overlapsAny(s, u.occ) {
				recalled = true
				if !slices.Contains(kinds, s.Kind) {
					kinds = append(kinds, s.Kind)
				}
			}
		}
		if !recalled {
			continue
		}
		if u.placeholder {
			t.PlaceholdersRecalled++
			continue
		}
		t.UnitsRecalled++
		for _, k := range kinds {
			x := byKind[k]
			x.Recalled++
			byKind[k] = x
		}
	}
	t.FlaggedBytes = coveredBytes(spans, len(query))
	if len(byKind) > 0 {
		t.ByKind = byKind
	}
	return t
}

// clip returns the text of s in query, cut to the query's bounds (a
// detector under test may return any span).
func clip(query string, s Span) string {
	lo, hi := min(max(s.Start, 0), len(query)), min(max(s.End, 0), len(query))
	if hi < lo {
		return ""
	}
	return query[lo:hi]
}

// foldedWords splits s into lower-case words of letters and digits.
func foldedWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// containsSeq reports whether w occurs as a contiguous run in u.
func containsSeq(u, w []string) bool {
	for i := 0; i+len(w) <= len(u); i++ {
		if slices.Equal(u[i:i+len(w)], w) {
			return true
		}
	}
	return false
}

// overlapsAnyUnit reports whether s overlaps an occurrence of a unit
// that is not a placeholder.
func overlapsAnyUnit(s Span, units []unit) bool {
	for _, u := range units {
		if !u.placeholder && overlapsAny(s, u.occ) {
			return true
		}
	}
	return false
}

func overlapsAny(s Span, occ [][2]int) bool {
	for _, o := range occ {
		if s.Start < o[1] && o[0] < s.End {
			return true
		}
	}
	return false
}

func coveredBytes(spans []Span, n int) int {
	ss := slices.Clone(spans)
	slices.SortFunc(ss, func(a, b Span) int { return a.Start - b.Start })
	total, end := 0, 0
	for _, s := range ss {
		lo, hi := max(s.Start, end, 0), min(s.End, n)
		if hi > lo {
			total += hi - lo
			end = hi
		}
	}
	return total
}

// foldWithOffsets case-folds s rune by rune (unicode.ToLower) and returns,
// for every byte of the result, the offset in s of the rune it came from,
// plus one final entry len(s).
func foldWithOffsets(s string) (string, []int) {
	var b strings.Builder
	b.Grow(len(s))
	off := make([]int, 0, len(s)+1)
	for i, r := range s {
		if r == utf8.RuneError {
			// Keep invalid bytes (and U+FFFD) as they are.
			_, size := utf8.DecodeRuneInString(s[i:])
			b.WriteString(s[i : i+size])
			for range size {
				off = append(off, i)
			}
			continue
		}
		n := b.Len()
		b.WriteRune(unicode.ToLower(r))
		for range b.Len() - n {
			off = append(off, i)
		}
	}
	off = append(off, len(s))
	return b.String(), off
}

// occurrences finds every place (overlaps allowed) where u occurs in the
// folded text, as byte spans of the original text.
func occurrences(folded string, off []int, u string) [][2]int {
	fu, _ := foldWithOffsets(u)
	if fu == "" {
		return nil
	}
	var out [][2]int
	for i := 0; i <= len(folded)-len(fu); {
		j := strings.Index(folded[i:], fu)
		if j < 0 {
			break
		}
		start := i + j
		end := start + len(fu)
		out = append(out, [2]int{off[start], endOffset(off, end)})
		_, size := utf8.DecodeRuneInString(folded[start:])
		i = start + size
	}
	return out
}

// endOffset maps the end of a folded match to the end in the original
// text: the start of the next original rune.
func endOffset(off []int, end int) int {
	if end >= len(off)-1 {
		return off[len(off)-1]
	}
	return off[end]
}
