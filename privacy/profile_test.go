package privacy

import (
	"fmt"
	"strings"
	"testing"
)

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
