package guardmodel

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/privacy"
)

// span is one span of an answer: text the model copied from the request,
// and why. Its text is private (it may quote the context): it never goes
// into an error or a log record.
type span struct {
	Text   string `json:"text"`
	Reason string `json:"reason"`
}

// reasonRules maps the answer's reasons to finding rules.
var reasonRules = map[string]string{"context": RuleContext, "pii": RulePII}

// parseAnswer reads the spans of an answer in [Schema]'s shape (but for
// the length of a span's text, see below). An answer
// cut short (generation stopped at its token bound) keeps the spans that
// are complete, with complete false. An answer that breaks the schema is
// an error naming a byte offset or a span index, never the text.
func parseAnswer(answer string) (spans []span, complete bool, err error) {
	dec := json.NewDecoder(strings.NewReader(answer))
	dec.DisallowUnknownFields()
	cut := func(err error) bool { return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) }
	for _, want := range []json.Token{json.Delim('{'), "spans", json.Delim('[')} {
		tok, err := dec.Token()
		if cut(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, answerError(err)
		}
		if tok != want {
			return nil, false, fmt.Errorf("answer does not match the schema at byte %d", dec.InputOffset())
		}
	}
	for dec.More() {
		var s span
		if err := dec.Decode(&s); cut(err) {
			return spans, false, nil
		} else if err != nil {
			return nil, false, answerError(err)
		}
		i := len(spans)
		switch {
		case i >= MaxSpans:
			return nil, false, fmt.Errorf("answer does not match the schema: more than %d spans", MaxSpans)
		case reasonRules[s.Reason] == "":
			return nil, false, fmt.Errorf("answer does not match the schema: span %d: reason is not context or pii", i)
		case s.Text == "":
			return nil, false, fmt.Errorf("answer does not match the schema: span %d: empty text", i)
		}
		// The text's length is not checked: the grammar bounds it in
		// characters as llama.cpp decodes them, which differs from Go's
		// count where a degenerate model writes invalid UTF-8 (decoding
		// turns each bad byte into U+FFFD). Such a span matches nothing.
		spans = append(spans, s)
	}
	for _, want := range []json.Token{json.Delim(']'), json.Delim('}')} {
		tok, err := dec.Token()
		if cut(err) {
			return spans, false, nil
		}
		if err != nil {
			return nil, false, answerError(err)
		}
		if tok != want {
			return nil, false, fmt.Errorf("answer does not match the schema at byte %d", dec.InputOffset())
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false, fmt.Errorf("answer does not match the schema: text after the object at byte %d", dec.InputOffset())
	}
	return spans, true, nil
}

// answerError describes a JSON error of an answer by position and type:
// encoding/json's own messages quote the offending character.
func answerError(err error) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Errorf("answer is malformed JSON at byte %d", se.Offset)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Errorf("answer does not match the schema: field %q at byte %d: want %s", te.Field, te.Offset, te.Type)
	}
	return errors.New("answer does not match the schema: an unknown field or invalid JSON")
}

// locate maps spans to findings in text: every occurrence of each span's
// text (space trimmed, case folded as [strings.EqualFold] folds), with the
// span's rule, ordered by start and without duplicates. A span found
// nowhere is dropped and counted.
func locate(text string, spans []span) (fs []privacy.Finding, dropped int) {
	for _, s := range spans {
		needle := strings.TrimSpace(s.Text)
		found := false
		if needle != "" {
			for start, end := range occurrences(text, needle) {
				fs = append(fs, privacy.Finding{Rule: reasonRules[s.Reason], Start: start, End: end})
				found = true
			}
		}
		if !found {
			dropped++
		}
	}
	if len(fs) == 0 {
		return nil, dropped
	}
	return privacy.MergeFindings(nil, fs), dropped
}

// occurrences yields the byte span of every occurrence of needle in text
// under simple case folding, overlapping ones included; needle is not
// empty.
func occurrences(text, needle string) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i := 0; i < len(text); {
			if n, ok := foldPrefix(text[i:], needle); ok {
				if !yield(i, i+n) {
					return
				}
			}
			_, size := utf8.DecodeRuneInString(text[i:])
			i += size
		}
	}
}

// foldPrefix reports whether s begins with prefix under simple case
// folding, and the length in bytes of that beginning of s.
func foldPrefix(s, prefix string) (int, bool) {
	n := 0
	for _, p := range prefix {
		if n >= len(s) {
			return 0, false
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if !foldEqual(r, p) {
			return 0, false
		}
		n += size
	}
	return n, true
}

// foldEqual reports whether a and b are equal under simple case folding.
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}
