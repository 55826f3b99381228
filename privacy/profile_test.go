package privacy

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// contextBody is a context-aware record with the given profile block.
func contextBody(profile string) string {
	return fmt.Sprintf(`{"tid":"9_0_0","conversations":[{"from":"user","value":"Write a note: about the week"},{"from":"assistant","value":"ok"}],`+
		`"profile":[{"title":"t","text":"x","id":"0"}],"additional_profile":%q,"additional_tasks":[]}`, profile)
}

// texts returns the text of private values, for comparing in tests.
func texts(ps []Private) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.UnsafeText())
	}
	return out
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
	rec, err := ParseContextRecord("ctx.json", 0, []byte(contextBody(profile)))
	if err != nil {
		t.Fatal(err)
	}
	v := rec.Vault
	wantLog := []string{"Sets a 6am alarm", "Streams jazz at night", "Thermostat: 19 degrees on weekdays", "Doorbell camera: alerts for the porch",
		"Fitness tracker: logs a Tuesday rowing class", "Sleep app: tracks naps", "Grocery list: oat milk", "Car app: preheats the car"}
	if diff := cmp.Diff(wantLog, texts(v.ActivityLog)); diff != "" {
		t.Errorf("activity log (-want +got):\n%s", diff)
	}
	wantStyle := []string{"Warm and direct", "prefers short paragraphs and ends with a question"}
	if diff := cmp.Diff(wantStyle, texts(v.WritingStyle)); diff != "" {
		t.Errorf("writing style (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"Is saving for a sailboat"}, texts(v.PrivateFacts)); diff != "" {
		t.Errorf("private facts (-want +got):\n%s", diff)
	}
	// A task that names one of the once-dropped items is caught.
	g := NewGuard(v)
	if fs := g.Check("Plan around my Tuesday rowing class and the fitness tracker logs"); len(fs) == 0 {
		t.Error("a task naming a continued activity item passes the guard")
	}
}

// TestProfileFields covers the line rules of a profile block, case by
// case: what starts a field, what continues one, and where an unknown key
// or keyless text goes.
func TestProfileFields(t *testing.T) {
	type field struct {
		Key   string
		Known bool
		Line  int
		Value string
	}
	tests := []struct {
		name, block string
		want        []field
	}{
		{"one line per key", "Name: Ann\nAge: 30", []field{{"Name", true, 1, "Ann"}, {"Age", true, 2, "30"}}},
		{"known key in any case, no space", "name:Ann\nSMART_DEVICE_USAGE:  a; b", []field{{"name", true, 1, "Ann"}, {"SMART_DEVICE_USAGE", true, 2, "a; b"}}},
		{"continuation without ':'", "Writing_style: terse\n  and warm\nor plain", []field{{"Writing_style", true, 1, "terse and warm or plain"}}},
		{"times are not keys", "Smart_device_usage: alarm\n07:30 kettle on\nlights off at 22:00", []field{{"Smart_device_usage", true, 1, "alarm 07:30 kettle on lights off at 22:00"}}},
		{"a URL is not a key", "Name: Ann\nhttps://example.org/ann", []field{{"Name", true, 1, "Ann https://example.org/ann"}}},
		{"key after an open list continues it", "Smart_device_usage: alarm;\nThermostat: 19 degrees", []field{{"Smart_device_usage", true, 1, "alarm; Thermostat: 19 degrees"}}},
		{"indented key continues", "Writing_style: terse\n  Tone: warm", []field{{"Writing_style", true, 1, "terse Tone: warm"}}},
		{"unknown key", "Name: Ann\nMedical_notes: asthma\n  since 2010", []field{{"Name", true, 1, "Ann"}, {"Medical_notes", false, 2, "asthma since 2010"}}},
		{"unknown key of words", "Name: Ann\nFavourite food: figs", []field{{"Name", true, 1, "Ann"}, {"Favourite food", false, 2, "figs"}}},
		{"too many words for a key", "Name: Ann\nShe told me once that: figs", []field{{"Name", true, 1, "Ann She told me once that: figs"}}},
		{"text before the first key", "reviewed in May\nalso June\nName: Ann", []field{{"", false, 1, "reviewed in May"}, {"", false, 2, "also June"}, {"Name", true, 3, "Ann"}}},
		{"blank and CRLF lines", "Name: Ann\r\n\r\nAge: 30\r\n", []field{{"Name", true, 1, "Ann"}, {"Age", true, 3, "30"}}},
		{"empty block", "", []field{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []field{}
			for _, f := range ProfileFields(tt.block) {
				got = append(got, field{f.Key, f.Known, f.Line, f.Value.UnsafeText()})
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProfileVault checks where each kind of field lands in the vault and
// what is reported: unknown keys and keyless text become private facts
// (which the guard checks) with a warning naming the key, never the value.
func TestProfileVault(t *testing.T) {
	const secret = "restores a 1967 motorbike"
	d := DecodeRecord("ctx.json", 4, []byte(contextBody("note from intake\nHobby: "+secret+"; keeps bees\nName: Lee\nWriting_style: terse\nHealth: asthma")), KindContext)
	if len(d.Problems) > 0 {
		t.Fatalf("problems: %v", d.Problems)
	}
	want := []string{"note from intake", "Hobby: " + secret, "keeps bees", "Health: asthma"}
	if diff := cmp.Diff(want, texts(d.Record.Vault.PrivateFacts)); diff != "" {
		t.Errorf("private facts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"terse"}, texts(d.Record.Vault.WritingStyle)); diff != "" {
		t.Errorf("writing style (-want +got):\n%s", diff)
	}
	var warns []string
	for _, w := range d.Warnings {
		warns = append(warns, w.String())
	}
	wantWarns := []string{
		`ctx.json: record 4: field "additional_profile": line 1: text before the first key, kept as a private fact`,
		`ctx.json: record 4: field "additional_profile": line 2: unknown key "Hobby", kept as a private fact`,
		`ctx.json: record 4: field "additional_profile": line 5: unknown key "Health", kept as a private fact`,
	}
	if diff := cmp.Diff(wantWarns, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if g := NewGuard(d.Record.Vault); len(g.Check("My hobby: I restores a 1967 motorbike on weekends")) == 0 {
		t.Error("the guard misses a fact kept from an unknown key")
	}
}

func TestProfileProblems(t *testing.T) {
	tests := []struct {
		name, block string
		want        []string
	}{
		{"no name", "Age: 41\nOccupation: baker", []string{"no Name line"}},
		{"empty name", "Name:\nAge: 41", []string{"line 1: empty Name"}},
		{"duplicate key", "Name: A\n\nname: B", []string{"line 3: duplicate key (first on line 1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DecodeRecord("ctx.json", 0, []byte(contextBody(tt.block)), KindContext)
			var got []string
			for _, p := range d.Problems {
				if p.Field != "additional_profile" {
					t.Errorf("problem of field %q", p.Field)
				}
				got = append(got, p.Reason)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if d.Record.Vault != nil {
				t.Error("a bad record comes with a vault")
			}
		})
	}
}

func FuzzProfileFields(f *testing.F) {
	f.Add("Name: Ann\nWriting_style: terse;\n  warm\nHobby: x\n07:30 y")
	f.Add("text\nSmart_device_usage: a;\nThermostat: 19")
	f.Fuzz(func(t *testing.T, block string) {
		// Nothing is dropped: every word of the block is in a field, key
		// or value.
		var all []string
		for _, fl := range ProfileFields(block) {
			all = append(all, fl.Key, fl.Value.UnsafeText())
		}
		joined := " " + strings.Join(strings.Fields(strings.Join(all, " ")), " ") + " "
		for _, w := range strings.Fields(strings.ReplaceAll(block, ":", " ")) {
			if !strings.Contains(strings.ReplaceAll(joined, ":", " "), w) {
				t.Fatalf("word of %d bytes lost", len(w))
			}
		}
	})
}
