package dataset_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

// The privacy package's load fixtures: hand-written users in the paper's
// context-aware format, one shape each.
func loadFixture(name string) string {
	return filepath.Join("..", "..", "privacy", "testdata", "load", name)
}

// TestLoadMultilineProfiles: the shapes that once failed validation (a
// value over several lines, continuation lines holding ':') are valid, and
// Fields reads them as the privacy boundary does: one field per key.
func TestLoadMultilineProfiles(t *testing.T) {
	want := []string{"Age", "Name", "Occupation", "Location", "Personal_traits", "Writing_style", "Privacy_info", "Smart_device_usage", "Ai_assistant_usage"}
	for _, name := range []string{"multiline_style.json", "activity_colons.json"} {
		t.Run(name, func(t *testing.T) {
			f, err := dataset.Load(loadFixture(name))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Warnings) > 0 {
				t.Errorf("warnings: %v", f.Warnings)
			}
			var keys []string
			for _, fl := range f.Records[0].Fields() {
				keys = append(keys, fl.Key)
			}
			if diff := cmp.Diff(want, keys); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadUnknownKeyWarns: an unknown key is no problem but a warning that
// names the record and the key.
func TestLoadUnknownKeyWarns(t *testing.T) {
	path := loadFixture("unknown_key.json")
	f, err := dataset.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range f.Warnings {
		got = append(got, w.String())
	}
	want := []string{
		path + `: record 0 (tid 3_0_0): field "additional_profile": line 1: text before the first key, kept as a private fact`,
		path + `: record 0 (tid 3_0_0): field "additional_profile": line 2: unknown key "Preferred_name_at_work", kept as a private fact`,
		path + `: record 0 (tid 3_0_0): field "additional_profile": line 9: unknown key "Medical_notes", kept as a private fact`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if probs := dataset.Validate(path); len(probs) > 0 {
		t.Errorf("problems: %v", probs)
	}
}

// TestLoadSkipBad: a file with one bad record fails to load, naming the
// record; with SkipBad the others load and keep their indices.
func TestLoadSkipBad(t *testing.T) {
	path := loadFixture("one_bad.json")
	wantProbs := []dataset.Problem{
		{Path: path, Index: 2, TID: "4_0_2", Field: "conversations[1].value", Reason: "empty reference"},
		{Path: path, Index: 2, TID: "4_0_2", Field: "additional_profile", Reason: "no Name line"},
	}
	_, err := dataset.Load(path)
	pe, ok := errors.AsType[*dataset.ProblemError](err)
	if !ok {
		t.Fatalf("got %v, want a *ProblemError", err)
	}
	if diff := cmp.Diff(wantProbs, pe.Problems, ignoreOffset); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	f, err := dataset.LoadWith(path, dataset.Options{SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	var tids []string
	var idx []int
	for i, r := range f.Records {
		tids = append(tids, r.TID)
		idx = append(idx, f.Index(i))
	}
	if diff := cmp.Diff([]string{"4_0_0", "4_1_0", "4_2_0"}, tids); diff != "" {
		t.Errorf("tids (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 1, 3}, idx); diff != "" {
		t.Errorf("indices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{2}, f.SkippedRecords()); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantProbs, f.Skipped, ignoreOffset); diff != "" {
		t.Errorf("skipped problems (-want +got):\n%s", diff)
	}
	// A subset keeps the file's indices.
	if s := f.Subset([]int{2}); s.Index(0) != 3 {
		t.Errorf("subset index %d, want 3", s.Index(0))
	}

	// A problem of the whole file is never skipped.
	if _, err := dataset.LoadWith(filepath.Join("testdata", "context_broken.json"), dataset.Options{SkipBad: true}); err == nil {
		t.Error("a truncated file loaded with SkipBad")
	}
}
