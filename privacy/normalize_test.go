package privacy

import (
	"fmt"
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
	if fs := g.Check("Write a note about a shark, a loan and Zagreb."); len(fs) != 0 {
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

// BenchmarkGuardCheck is one check of a request (a dev record's general
// section and task, as the cloud receives them) against the record's vault, the cost
// paid before every logits cloud call; "disguised" adds fullwidth and
// zero-width characters, which leave the ASCII fast path.
func BenchmarkGuardCheck(b *testing.B) {
	r := devRecords(b)[117] // the longest private context
	g := NewGuard(r.Vault)
	plain := r.Task.Full.UnsafeText()
	disguised := strings.ReplaceAll(strings.ReplaceAll(plain, "a", "ａ"), "e", "e\u200b")
	for _, c := range []struct{ name, text string }{{"plain", plain}, {"disguised", disguised}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.text)))
			for b.Loop() {
				g.Check(c.text)
			}
		})
	}
}

// TestProfileContinuationLines: the paper's data continues a value over
// several lines. A continuation without ':' once failed the whole file
// ("line 7: missing ':'"); one with a ':' of its own was taken for an
// unknown key and dropped silently, so that 6 of a user's 9 activity items
// never reached the guard. Both shapes load, and nothing is dropped.
func TestProfileContinuationLines(t *testing.T) {
	profile := "Name: Dana Reyes\n" +
		"Writing_style: Warm and direct;\n" +
		"  prefers short paragraphs\n" +
		"  and ends with a question\n" +
		"Smart_device_usage: Sets a 6am alarm; Streams jazz at night;\n" +
		"Thermostat: 19 degrees on weekdays;\n" +
		"Doorbell camera: alerts for the porch;\n" +
		"Fitness tracker: logs a Tuesday rowing class; Sleep app: tracks naps; Grocery list: oat milk; Car app: preheats the car;\n" +
		"Privacy_info: Is saving for a sailboat"
	body := fmt.Sprintf(`{"tid":"9","conversations":[{"from":"user","value":"Write a note: about the week"},{"from":"assistant","value":"ok"}],"profile":[{"title":"t","text":"x"}],"additional_profile":%q}`, profile)
	rec, err := ParseContextRecord("ctx.json", 0, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	v := rec.Vault
	if len(v.ActivityLog) != 8 {
		var got []string
		for _, a := range v.ActivityLog {
			got = append(got, a.UnsafeText())
		}
		t.Errorf("%d activity items, want 8: %q", len(v.ActivityLog), got)
	}
	style := ""
	for _, w := range v.WritingStyle {
		style += w.UnsafeText() + " | "
	}
	if !strings.Contains(style, "prefers short paragraphs") || !strings.Contains(style, "ends with a question") {
		t.Errorf("writing style %q lost its continuation lines", style)
	}
	if len(v.PrivateFacts) != 1 || v.PrivateFacts[0].UnsafeText() != "Is saving for a sailboat" {
		t.Errorf("private facts %v", v.PrivateFacts)
	}
	// A task that names one of the once-dropped items is caught.
	g := NewGuard(v)
	if fs := g.Check("Plan around my Tuesday rowing class and the fitness tracker logs"); len(fs) == 0 {
		t.Error("a task naming a continued activity item passes the guard")
	}
	// Lines before the first known key are kept as private facts.
	v2, err := parseProfile("ctx.json", 0, "Hobby: restores a 1967 motorbike\nName: Lee")
	if err != nil {
		t.Fatal(err)
	}
	if len(v2.PrivateFacts) != 1 || !strings.Contains(v2.PrivateFacts[0].UnsafeText(), "1967 motorbike") {
		t.Errorf("a line before the first key was dropped: %v", v2.PrivateFacts)
	}
}
