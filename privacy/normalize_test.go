package privacy

import (
	"strings"
	"testing"
)

// TestGuardSeesThroughDisguises: a name and a fact written with
// look-alike letters of other scripts, zero-width characters, soft
// hyphens, fullwidth letters, combining accents or other case are found,
// and the finding covers the disguised bytes, so that a redaction removes
// them whole. The first two are what the security probe sent.
func TestGuardSeesThroughDisguises(t *testing.T) {
	v := &Vault{
		Name:         NewPrivate("Vinnie Marbles"),
		Location:     NewPrivate("Zürich"),
		PrivateFacts: []Private{NewPrivate("I owe forty grand to a loan shark named Vinnie Marbles")},
	}
	g := NewGuard(v)
	tests := []struct{ name, text, disguised string }{
		{"fullwidth", "Write to Ｖｉｎｎｉｅ Ｍａｒｂｌｅｓ today.", "Ｖｉｎｎｉｅ Ｍａｒｂｌｅｓ"},
		{"soft hyphen", "Write to Vin\u00adnie Mar\u00adbles today.", "Vin\u00adnie Mar\u00adbles"},
		{"zero-width space", "Write to Vin\u200bnie Marbles today.", "Vin\u200bnie Marbles"},
		{"zero-width joiner and BOM", "Write to Vinn\u200die Mar\ufeffbles today.", "Vinn\u200die Mar\ufeffbles"},
		{"cyrillic", "Write to Vіnnіе Mаrblеs today.", "Vіnnіе Mаrblеs"}, // і, е, а are Cyrillic
		{"greek", "Write to Vinnie Μarbles today.", "Vinnie Μarbles"},    // Greek capital mu
		{"combining accents", "Write to Vi\u0301nnie\u0300 Marbles today.", "Vi\u0301nnie\u0300 Marbles"},
		{"case", "Write to VINNIE marbles today.", "VINNIE marbles"},
		{"city without its umlaut", "A trip to Zurich.", "Zurich"},
		{"city decomposed", "A trip to Zu\u0308rich.", "Zu\u0308rich"},
		{"fact in fullwidth", "They ｏｗｅ ｆｏｒｔｙ ｇｒａｎｄ to a ｌｏａｎ ｓｈａｒｋ.", ""},
		{"e-mail address in fullwidth", "Mail ｊｏｈｎ.ｓｍｉｔｈ＠ｅｘａｍｐｌｅ.ｃｏｍ now.", "ｊｏｈｎ.ｓｍｉｔｈ＠ｅｘａｍｐｌｅ.ｃｏｍ"},
		{"phone number with a zero-width space", "Call +1 305\u200b555 0147 soon.", "+1 305\u200b555 0147"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := g.Check(tt.text)
			if len(fs) == 0 {
				t.Fatalf("nothing found in %q", tt.text)
			}
			if tt.disguised == "" {
				return
			}
			i := strings.Index(tt.text, tt.disguised)
			if !covered(fs, i, i+len(tt.disguised)) && !coveredByUnion(fs, i, i+len(tt.disguised)) {
				t.Errorf("findings %+v do not cover %q at [%d, %d)", fs, tt.disguised, i, i+len(tt.disguised))
			}
			red, _, err := g.Public(tt.text, Redact)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(red.String(), tt.disguised) {
				t.Errorf("redacted %q still holds %q", red.String(), tt.disguised)
			}
		})
	}
	// Plain text around is not touched by folding.
	if fs := g.Check("Write a note about a shark and a loan."); len(fs) != 0 {
		t.Errorf("findings in plain text: %+v", fs)
	}
}

// coveredByUnion reports whether the findings together cover [start, end)
// (a name's two words may be two findings).
func coveredByUnion(fs []Finding, start, end int) bool {
	at := start
	for at < end {
		next := at
		for _, f := range fs {
			if f.Start <= at && f.End > next {
				next = f.End
			}
		}
		if next == at {
			return false
		}
		at = next
	}
	return true
}

func TestWordsFold(t *testing.T) {
	got := words("Ｖｉｎ\u00adnіе, Zu\u0308rich’s café-bar ＡＢＣ１２３ \u200b")
	want := []string{"vinnie", "zurich", "cafe", "bar", "abc123"}
	if len(got) != len(want) {
		t.Fatalf("words %+v, want %v", got, want)
	}
	for i, w := range got {
		if w.text != want[i] {
			t.Errorf("word %d: %q, want %q", i, w.text, want[i])
		}
	}
	if got[0].start != 0 {
		t.Errorf("first word starts at %d, want 0", got[0].start)
	}
}

// covered reports whether one finding holds [start, end).
func covered(fs []Finding, start, end int) bool {
	for _, f := range fs {
		if f.Start <= start && end <= f.End {
			return true
		}
	}
	return false
}
