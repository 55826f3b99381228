package privacy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// The load fixtures: hand-written users in the paper's context-aware
// format, one shape each.
var (
	multilineStyle = filepath.Join("testdata", "load", "multiline_style.json")
	activityColons = filepath.Join("testdata", "load", "activity_colons.json")
	unknownKey     = filepath.Join("testdata", "load", "unknown_key.json")
	oneBad         = filepath.Join("testdata", "load", "one_bad.json")
)

func loadOne(t *testing.T, path string) (*ContextFile, *Vault) {
	t.Helper()
	f, err := LoadContext(path, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 1 || f.Total != 1 {
		t.Fatalf("%d records of %d, want 1", len(f.Records), f.Total)
	}
	return f, f.Records[0].Vault
}

// TestLoadMultilineWritingStyle: a Writing_style value that goes on over
// several lines without ':' once failed the whole file ("line 7: missing
// ':'"). It loads, without a warning, and keeps every line.
func TestLoadMultilineWritingStyle(t *testing.T) {
	f, v := loadOne(t, multilineStyle)
	if len(f.Warnings) > 0 {
		t.Errorf("warnings: %v", f.Warnings)
	}
	want := []string{"Plain and exact, with numbered steps",
		"avoids jargon when writing for patients but keeps the dosage units precise and closes every note with a short thank-you"}
	if diff := cmp.Diff(want, texts(v.WritingStyle)); diff != "" {
		t.Errorf("writing style (-want +got):\n%s", diff)
	}
	if got := v.Location.UnsafeText(); got != "Leeds, West Yorkshire, England" {
		t.Errorf("location %q", got)
	}
	if diff := cmp.Diff([]string{"Pill reminder app pings her mother at 08:00", "Listens to audiobooks on the night bus"}, texts(v.ActivityLog)); diff != "" {
		t.Errorf("activity log (-want +got):\n%s", diff)
	}
}

// TestLoadActivityContinuationWithColons is the regression test of the
// silent drop: a Smart_device_usage list of 9 items goes on over six
// lines, and the continuation lines hold ':' (times, "Door lock: ...").
// The old loader took such a line for an unknown key and dropped it, so
// that most of the user's activity never reached the guard. All 9 items
// are in the vault, each whole, and the guard finds them.
func TestLoadActivityContinuationWithColons(t *testing.T) {
	f, v := loadOne(t, activityColons)
	if len(f.Warnings) > 0 {
		t.Errorf("warnings: %v", f.Warnings)
	}
	want := []string{
		"Alarm rings at 04:50 before the first ferry shift",
		"Coffee machine starts at 05:05 on shift days",
		"Sauna heater: switched on remotely at 18:30 on Fridays",
		"Door lock: logs him in at 23:40 after late crossings",
		"Rowing machine app records 06:15 sessions on days off",
		"Sleep tracker: flags nights under 5:30 hours",
		"Heating drops to 16 degrees at 22:00",
		"Bike lock alarm: pings when the cargo bike moves after 21:00",
		"Baby monitor streams to his phone from 19:00 to 07:00",
	}
	if len(v.ActivityLog) != 9 {
		t.Errorf("%d activity items, want 9", len(v.ActivityLog))
	}
	if diff := cmp.Diff(want, texts(v.ActivityLog)); diff != "" {
		t.Errorf("activity log (-want +got):\n%s", diff)
	}
	g := NewGuard(v)
	for _, task := range []string{
		"Remind me that the sauna heater is switched on remotely on Fridays",
		"Ask the crew why the rowing machine app records sessions on days off",
		"Write about how the baby monitor streams to the phone overnight",
	} {
		if len(g.Check(task)) == 0 {
			t.Errorf("the guard passes a task naming a continued activity item (%d bytes)", len(task))
		}
	}
}

// TestLoadUnknownKey: a key the format does not know is kept as a private
// fact, which the guard checks, and reported by its name, never its value
// - even where it follows a field the guard does not read (Writing_style).
func TestLoadUnknownKey(t *testing.T) {
	f, v := loadOne(t, unknownKey)
	var warns []string
	for _, w := range f.Warnings {
		warns = append(warns, w.String())
	}
	want := []string{
		`unknown_key.json: record 0: field "additional_profile": line 1: text before the first key, kept as a private fact`,
		`unknown_key.json: record 0: field "additional_profile": line 2: unknown key "Preferred_name_at_work", kept as a private fact`,
		`unknown_key.json: record 0: field "additional_profile": line 9: unknown key "Medical_notes", kept as a private fact`,
	}
	if diff := cmp.Diff(want, warns); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	facts := texts(v.PrivateFacts)
	for _, fact := range []string{
		"Reviewed with the form tutor",
		"Preferred_name_at_work: Miss Ramaswamy",
		"Medical_notes: Carries an epinephrine pen for a peanut allergy",
		"Sees a physiotherapist every Thursday evening",
		"Is applying for a teaching post in Singapore without telling her school",
	} {
		if !strings.Contains(strings.Join(facts, "\n"), fact) {
			t.Errorf("private facts lack a fact of %d bytes", len(fact))
		}
	}
	if diff := cmp.Diff([]string{"Warm and clear", "Uses examples from the classroom"}, texts(v.WritingStyle)); diff != "" {
		t.Errorf("writing style (-want +got):\n%s", diff)
	}
	if len(NewGuard(v).Check("Remind me to pack the epinephrine pen for my peanut allergy")) == 0 {
		t.Error("the guard passes a task naming the unknown key's fact")
	}
	for _, w := range warns {
		if strings.Contains(w, "epinephrine") || strings.Contains(w, "Ramaswamy") {
			t.Errorf("warning quotes the profile: %s", w)
		}
	}
}

// TestLoadOneBadRecord: a file with one bad record among good ones names
// every problem of the bad record and loads nothing by default; with
// SkipBad it loads the others, keeping their numbers.
func TestLoadOneBadRecord(t *testing.T) {
	const secret = "flowerpot" // in the bad record's profile
	_, err := LoadContext(oneBad, LoadOptions{})
	be, ok := errors.AsType[*BadRecordsError](err)
	if !ok {
		t.Fatalf("got %v, want a *BadRecordsError", err)
	}
	wantProbs := []*LoadError{
		{File: oneBad, Record: 2, Field: "conversations[1].value", Reason: "empty reference"},
		{File: oneBad, Record: 2, Field: "additional_profile", Reason: "no Name line"},
	}
	if diff := cmp.Diff(wantProbs, be.Problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2}, be.Records()); diff != "" {
		t.Errorf("bad records (-want +got):\n%s", diff)
	}
	wantText := "one_bad.json: 1 bad record of 4: 2\n" +
		`one_bad.json: record 2: field "conversations[1].value": empty reference` + "\n" +
		`one_bad.json: record 2: field "additional_profile": no Name line`
	if err.Error() != wantText {
		t.Errorf("error text:\n%s\nwant:\n%s", err, wantText)
	}
	if le, ok := errors.AsType[*LoadError](err); !ok || le.Record != 2 {
		t.Errorf("the error does not unwrap to the record's *LoadError: %v", le)
	}
	if _, err := LoadContextFile(oneBad); !errors.As(err, &be) {
		t.Errorf("LoadContextFile: %v", err)
	}

	f, err := LoadContext(oneBad, LoadOptions{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	var idx []int
	for _, r := range f.Records {
		idx = append(idx, r.Index)
	}
	if diff := cmp.Diff([]int{0, 1, 3}, idx); diff != "" {
		t.Errorf("loaded records (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2}, f.SkippedRecords()); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantProbs, f.Skipped); diff != "" {
		t.Errorf("skipped problems (-want +got):\n%s", diff)
	}
	if f.Total != 4 || len(f.Fields()) != 3 || f.Fields()[2].TID != "4_2_0" {
		t.Errorf("total %d, %d fields", f.Total, len(f.Fields()))
	}
	if strings.Contains(err2text(LoadContext(oneBad, LoadOptions{})), secret) {
		t.Error("the error quotes the bad record")
	}
}

func err2text(_ *ContextFile, err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestBadRecordsErrorText checks that a long list is cut in the text but
// kept whole in the fields.
func TestBadRecordsErrorText(t *testing.T) {
	e := &BadRecordsError{File: "/x/ctx.json", Total: 100}
	for i := range 30 {
		e.Problems = append(e.Problems, &LoadError{File: "/x/ctx.json", Record: i, Field: "tid", Reason: "empty"})
	}
	text := e.Error()
	lines := strings.Split(text, "\n")
	if len(lines) != 1+maxListed+1 || !strings.HasPrefix(lines[0], "ctx.json: 30 bad records of 100: 0, 1, 2,") ||
		!strings.HasSuffix(lines[0], ", 19, … (30 in all)") || lines[len(lines)-1] != "(and 10 more problems)" {
		t.Errorf("text:\n%s", text)
	}
	if len(e.Records()) != 30 {
		t.Errorf("%d records", len(e.Records()))
	}
}

// TestLoadFileErrors: problems of the whole file stay one *LoadError.
func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, data, want string }{
		{"not an array", `{"tid":"1"}`, `obj.json: not a JSON array of records: field "": want []json.RawMessage`},
		{"broken JSON", `[{"tid": x}]`, "obj.json: not a JSON array of records: malformed JSON at byte 10"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "obj.json")
			if err := os.WriteFile(p, []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadContext(p, LoadOptions{SkipBad: true})
			le, ok := errors.AsType[*LoadError](err)
			if !ok || le.Record != -1 {
				t.Fatalf("got %v, want a *LoadError of the file", err)
			}
			if err.Error() != tt.want {
				t.Errorf("got %q, want %q", err, tt.want)
			}
		})
	}
}

// TestDevFileLoadsClean: the paper's dev file loads whole, with no
// problem and no warning.
func TestDevFileLoadsClean(t *testing.T) {
	p := filepath.Join("..", "..", "shared", "data", "cogenesis", "context_dev.json")
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "dev data not available (%v): put shared/ beside the repository", err)
	}
	f, err := LoadContext(p, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Records) != 150 || len(f.Warnings) != 0 || len(f.Skipped) != 0 {
		t.Errorf("%d records, %d warnings, %d skipped; want 150, 0, 0", len(f.Records), len(f.Warnings), len(f.Skipped))
	}
	for _, r := range f.Records {
		v := r.Vault
		if len(v.PrivateFacts) == 0 || len(v.ActivityLog) == 0 || v.Name.IsZero() || len(v.History) != 4 {
			t.Errorf("record %d: %d facts, %d activity items, %d history items", r.Index, len(v.PrivateFacts), len(v.ActivityLog), len(v.History))
		}
	}
}
