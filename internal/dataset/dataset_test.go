package dataset_test

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogenesis/cogenesis/internal/dataset"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// sharedData returns the path of a file of the real dev data in
// ../shared/data/cogenesis, or skips the test when it is absent.
func sharedData(t *testing.T, name string) string {
	t.Helper()
	p := enginetest.SharedPath("data", "cogenesis", name)
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "real dev data not available (%v): put the shared/ folder beside the repository to run this test", err)
	}
	return p
}

// readGeneric reads a dataset file as plain JSON values, for tests that
// corrupt it.
func readGeneric(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	if err := json.Unmarshal(b, &recs); err != nil {
		t.Fatal(err)
	}
	return recs
}

func marshalRecords(t *testing.T, recs []map[string]any) [][]byte {
	t.Helper()
	parts := make([][]byte, len(recs))
	for i, r := range recs {
		b, err := json.MarshalIndent(r, "  ", "  ")
		if err != nil {
			t.Fatal(err)
		}
		parts[i] = b
	}
	return parts
}

func writeArray(t *testing.T, path string, parts [][]byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("[\n  ")
	for i, p := range parts {
		if i > 0 {
			b.WriteString(",\n  ")
		}
		b.Write(p)
	}
	b.WriteString("\n]\n")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func conv(r map[string]any, i int) map[string]any {
	return r["conversations"].([]any)[i].(map[string]any)
}

var ignoreOffset = cmpopts.IgnoreFields(dataset.Problem{}, "Offset")

// The marker planted in corrupted records: it must never reach a problem.
const secret = "SECRET-MARKER"

func checkNoSecret(t *testing.T, probs []dataset.Problem) {
	t.Helper()
	for _, p := range probs {
		if strings.Contains(p.String(), secret) {
			t.Errorf("problem quotes record text: %s", p)
		}
	}
}

func TestDevFilesValidate(t *testing.T) {
	ctx := sharedData(t, "context_dev.json")
	paper := sharedData(t, "paper_dev.json")
	wo := sharedData(t, "paper_dev_wo.json")
	tests := []struct {
		name        string
		path        string
		opts        dataset.Options
		wantKind    dataset.Kind
		wantWithout bool
		wantRecords int // as the data README says
	}{
		{"context-aware", ctx, dataset.Options{}, dataset.KindContext, false, 150},
		{"paper with its pair", paper, dataset.Options{Without: wo}, dataset.KindPaper, false, 161},
		{"paper without context alone", wo, dataset.Options{}, dataset.KindPaper, true, 161},
		{"paper, kind given", paper, dataset.Options{Kind: dataset.KindPaper}, dataset.KindPaper, false, 161},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if probs := dataset.ValidateWith(tt.path, tt.opts); len(probs) > 0 {
				t.Fatalf("%d problems, first: %s", len(probs), probs[0])
			}
			f, err := dataset.LoadWith(tt.path, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if f.Kind != tt.wantKind || f.WithoutContext != tt.wantWithout || len(f.Records) != tt.wantRecords {
				t.Errorf("got kind %s, without context %v, %d records; want %s, %v, %d", f.Kind, f.WithoutContext, len(f.Records), tt.wantKind, tt.wantWithout, tt.wantRecords)
			}
			if tt.opts.Without != "" && len(f.Without) != len(f.Records) {
				t.Errorf("%d paired records, want %d", len(f.Without), len(f.Records))
			}
		})
	}
}

func TestDevContextRecords(t *testing.T) {
	f, err := dataset.Load(sharedData(t, "context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The README's description of the first record (tid "3_7_4").
	r := f.Records[0]
	if r.TID != "3_7_4" || r.User() != "3_7_4" || r.TIDPrefix() != "3_7" {
		t.Errorf("record 0: tid %q, user %q, tid prefix %q; want 3_7_4, 3_7_4, 3_7", r.TID, r.User(), r.TIDPrefix())
	}
	if !strings.HasPrefix(r.Prompt(), "Develop a Marketing Script for Your Monthly Dinner Party: ") {
		t.Errorf("record 0: prompt does not start with the README's example (%d bytes)", len(r.Prompt()))
	}
	var keys []string
	for _, fl := range r.Fields() {
		keys = append(keys, fl.Key)
	}
	want := []string{"Age", "Name", "Occupation", "Location", "Personal_traits", "Writing_style", "Privacy_info", "Smart_device_usage", "Ai_assistant_usage"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("record 0: additional_profile keys (-want +got):\n%s", diff)
	}
	for i, r := range f.Records {
		if len(r.History()) != 4 || r.Reference() == "" {
			t.Errorf("record %d: %d history items, reference of %d bytes; the README says 4 items", i, len(r.History()), len(r.Reference()))
		}
	}
}

// TestValidateCorruptedContext plants one defect of each sort in a copy of
// context_dev.json and checks that every one is reported, with its record
// index, tid and field, and without the record's text.
func TestValidateCorruptedContext(t *testing.T) {
	recs := readGeneric(t, sharedData(t, "context_dev.json"))
	tid := func(i int) string { return recs[i]["tid"].(string) }
	path := filepath.Join(t.TempDir(), "context_corrupt.json")
	longName := secret + " field name with spaces"
	want := []dataset.Problem{
		{Index: 3, TID: tid(3), Field: "conversations", Reason: "missing field"},
		{Index: 7, Field: "tid", Reason: "want a string, got a number"},
		{Index: 11, TID: tid(11), Field: "profile", Reason: "empty writing history"},
		{Index: 20, TID: tid(20), Field: "additional_profile", Reason: "line 3: duplicate key (first on line 1)"},
		{Index: 25, TID: tid(25), Field: "conversations[1].value", Reason: "empty reference"},
		{Index: 30, TID: tid(30), Field: "conversations[0].from", Reason: `wrong role: want "user", got "assistant"`},
		{Index: 30, TID: tid(30), Field: "conversations[1].from", Reason: `wrong role: want "assistant", got an unknown role`},
		{Index: 40, TID: tid(0), Field: "tid", Reason: "duplicate tid (first at record 0)"},
		{Index: 45, TID: tid(45), Field: "profile[1].text", Reason: "want a string, got a number"},
		{Index: 50, TID: tid(50), Reason: fmt.Sprintf("unknown field with a %d-byte name", len(longName))},
		{Index: 60, TID: tid(60), Field: "additional_tasks", Reason: "want an array, got a string"},
		{Index: 70, TID: tid(70), Field: "profile[0].title", Reason: "missing field"},
		{Index: 80, TID: tid(80), Field: "conversations", Reason: "empty conversations"},
		// and record 100, truncated: appended below once its offset is known.
	}
	delete(recs[3], "conversations")
	recs[7]["tid"] = 7
	recs[11]["profile"] = []any{}
	recs[20]["additional_profile"] = "Name: Ann\n" + secret + " without a colon\nname: Bo"
	// Not a problem: a continuation line, and an unknown key kept as a
	// private fact with a warning.
	recs[21]["additional_profile"] = recs[21]["additional_profile"].(string) + "\n  " + secret + " goes on\nHobby: " + secret
	conv(recs[25], 1)["value"] = ""
	conv(recs[30], 0)["from"] = "assistant"
	conv(recs[30], 1)["from"] = secret + "-role"
	recs[40]["tid"] = tid(0)
	recs[45]["profile"].([]any)[1].(map[string]any)["text"] = 42
	recs[50][longName] = secret
	recs[60]["additional_tasks"] = "not an array " + secret
	delete(recs[70]["profile"].([]any)[0].(map[string]any), "title")
	recs[80]["conversations"] = []any{}

	parts := marshalRecords(t, recs)
	writeArray(t, path, parts[:100])
	// Cut the file in the middle of record 100.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = b[:len(b)-len("\n]\n")]
	b = append(b, ",\n  "...)
	b = append(b, parts[100][:len(parts[100])/2]...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	want = append(want, dataset.Problem{Index: 100, Reason: fmt.Sprintf("truncated JSON at byte %d", len(b))})
	for i := range want {
		want[i].Path = path
	}

	got := dataset.Validate(path)
	if diff := cmp.Diff(want, got, ignoreOffset); diff != "" {
		t.Errorf("Validate (-want +got):\n%s", diff)
	}
	checkNoSecret(t, got)
	if last := got[len(got)-1]; last.Offset != int64(len(b)) {
		t.Errorf("truncation offset %d, want %d", last.Offset, len(b))
	}

	_, err = dataset.Load(path)
	pe, ok := err.(*dataset.ProblemError)
	if !ok {
		t.Fatalf("Load: got %v, want a *ProblemError", err)
	}
	if diff := cmp.Diff(want, pe.Problems, ignoreOffset); diff != "" {
		t.Errorf("Load's problems (-want +got):\n%s", diff)
	}
	if !pe.Fatal {
		t.Error("Load: the error does not say the JSON is broken")
	}
	lines := len(strings.Split(recs[21]["additional_profile"].(string), "\n"))
	wantWarn := []dataset.Problem{{Path: path, Index: 21, TID: tid(21), Field: "additional_profile", Reason: fmt.Sprintf(`line %d: unknown key "Hobby", kept as a private fact`, lines)}}
	if diff := cmp.Diff(wantWarn, pe.Warnings, ignoreOffset); diff != "" {
		t.Errorf("Load's warnings (-want +got):\n%s", diff)
	}
	checkNoSecret(t, pe.Warnings)
}

// TestValidateCorruptedPaperPair corrupts copies of paper_dev.json and
// paper_dev_wo.json.
func TestValidateCorruptedPaperPair(t *testing.T) {
	main := readGeneric(t, sharedData(t, "paper_dev.json"))
	wo := readGeneric(t, sharedData(t, "paper_dev_wo.json"))
	dir := t.TempDir()
	mainPath, woPath := filepath.Join(dir, "paper.json"), filepath.Join(dir, "paper_wo.json")

	// Record 5: the history section emptied.
	p, err := dataset.ParsePrompt(dataset.KindPaper, conv(main[5], 0)["value"].(string))
	if err != nil {
		t.Fatal(err)
	}
	p.History = nil
	conv(main[5], 0)["value"] = p.String()
	// Record 9: a task line of the email template.
	v := conv(main[9], 0)["value"].(string)
	conv(main[9], 0)["value"] = strings.Replace(v, "Compose an abstract for the title", "Compose an email for the subject", 1)
	// Record 12: a context field in a paper file.
	main[12]["profile"] = []any{}
	// The pair: another task line at 2, another tid at 3, one record short.
	conv(wo[2], 0)["value"] = "Compose an abstract for the title '" + secret + "' that matches the author's unique content, style and tone."
	wo[3]["tid"] = "x3"
	wo = wo[:len(wo)-1]
	writeArray(t, mainPath, marshalRecords(t, main))
	writeArray(t, woPath, marshalRecords(t, wo))

	tid := func(i int) string { return main[i]["tid"].(string) }
	want := []dataset.Problem{
		{Path: mainPath, Index: 5, TID: tid(5), Field: "conversations[0].value", Reason: "paper prompt: empty history"},
		{Path: mainPath, Index: 9, TID: tid(9), Field: "conversations[0].value", Reason: "paper prompt: task line does not match the task template"},
		{Path: mainPath, Index: 12, TID: tid(12), Field: "profile", Reason: "unknown field"},
		{Path: woPath, Index: -1, Reason: fmt.Sprintf("has %d records, want %d as in the paired file %s", len(wo), len(main), mainPath)},
		{Path: woPath, Index: 2, TID: tid(2), Field: "conversations[0].value", Reason: "is not the task line of record 2 of the paired file"},
		{Path: woPath, Index: 3, TID: "x3", Field: "tid", Reason: "differs from the tid of record 3 of the paired file"},
	}
	got := dataset.ValidateWith(mainPath, dataset.Options{Without: woPath})
	if diff := cmp.Diff(want, got, ignoreOffset); diff != "" {
		t.Errorf("ValidateWith (-want +got):\n%s", diff)
	}
	checkNoSecret(t, got)
}

func TestTable5DevFigures(t *testing.T) {
	ctx, err := dataset.Load(sharedData(t, "context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	paper, err := dataset.LoadWith(sharedData(t, "paper_dev.json"), dataset.Options{Without: sharedData(t, "paper_dev_wo.json")})
	if err != nil {
		t.Fatal(err)
	}
	cs, ps := ctx.Stats(dataset.SplitOptions{}), paper.Stats(dataset.SplitOptions{})
	t.Logf("Table 5 figures of the dev files:\n%s\n%s", dataset.RenderTable(cs, ps), dataset.RenderMarkdown(cs, ps))

	// Table 5 of the paper (whole data sets, lengths in words): context-aware
	// output 155; paper abstracts profile 1000, output 158. The dev files
	// are samples of them, so their means should be close.
	near := func(name string, got, want, tol float64) {
		if math.Abs(got-want)/want > tol {
			t.Errorf("%s: %.1f, Table 5 says %.0f (tolerance %.0f%%)", name, got, want, tol*100)
		}
	}
	near("context-aware output words", cs.OutputWords, 155, 0.05)
	near("paper output words", ps.OutputWords, 158, 0.10)
	near("paper history words", ps.HistoryWords, 1000, 0.10)

	for _, s := range []dataset.Stats{cs, ps} {
		if s.Train+s.Validation != s.Records {
			t.Errorf("%s: split %d + %d records, want %d", s.Name, s.Train, s.Validation, s.Records)
		}
	}
	if cs.Users == 0 || cs.Users > cs.Records || cs.TrainUsers+cs.ValidationUsers != cs.Users {
		t.Errorf("context-aware: %d users, %d + %d split users, %d records", cs.Users, cs.TrainUsers, cs.ValidationUsers, cs.Records)
	}
	if want := int(math.Round(0.9 * float64(cs.Users))); cs.TrainUsers != want {
		t.Errorf("context-aware: %d train users, want round(0.9 × %d) = %d", cs.TrainUsers, cs.Users, want)
	}
	if ps.Users != 0 {
		t.Errorf("paper: %d users, want 0 (N/A)", ps.Users)
	}
}

func TestPromptRoundTripOnDevData(t *testing.T) {
	paper, err := dataset.LoadWith(sharedData(t, "paper_dev.json"), dataset.Options{Without: sharedData(t, "paper_dev_wo.json")})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range paper.Records {
		p, err := dataset.ParsePrompt(dataset.KindPaper, r.Prompt())
		if err != nil {
			t.Errorf("record %d: %v", i, err)
			continue
		}
		if p.String() != r.Prompt() {
			t.Errorf("record %d: the prompt does not render back to itself", i)
		}
		if p.Without() != paper.Without[i].Prompt() {
			t.Errorf("record %d: the task line differs from paper_dev_wo.json's", i)
		}
		if len(p.History) == 0 {
			t.Errorf("record %d: no history", i)
		}
	}
}
