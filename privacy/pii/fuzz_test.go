package pii

import (
	"testing"
	"unicode/utf8"
)

// FuzzDetect checks Detect's invariants on any input (spans in bounds,
// sorted, disjoint) and that an e-mail address inserted between two
// words is always found, exactly. Seeds are in testdata/fuzz/FuzzDetect.
func FuzzDetect(f *testing.F) {
	f.Add("Dear Mr. Frazier, my name is Jane Doe and I live in Dammam.", 5)
	f.Fuzz(func(t *testing.T, text string, at int) {
		checkInvariants(t, text, Detect(text))

		at = min(max(at, 0), len(text))
		for at > 0 && at < len(text) && !utf8.RuneStart(text[at]) {
			at--
		}
		const email = "jane.doe@example.com"
		in := text[:at] + " " + email + " " + text[at:]
		want := Span{Kind: Email, Start: at + 1, End: at + 1 + len(email)}
		spans := Detect(in)
		checkInvariants(t, in, spans)
		for _, s := range spans {
			if s == want {
				return
			}
		}
		t.Errorf("inserted e-mail at %d not found: %v", at, show(in, spans))
	})
}
