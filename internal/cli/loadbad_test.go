package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/privacy"
)

// loadFixture is one of the privacy package's load fixtures: hand-written
// users in the paper's context-aware format.
func loadFixture(name string) string {
	return filepath.Join("..", "..", "privacy", "testdata", "load", name)
}

// TestDataValidateLoadFixtures: the shapes that once failed validation
// are valid; an unknown key is valid with a warning on stderr that names
// the key, never the value.
func TestDataValidateLoadFixtures(t *testing.T) {
	tests := []struct {
		name, file, out string
		warnings        []string
	}{
		{"multi-line writing style", "multiline_style.json", ": 1 records (context): no problems\n", nil},
		{"activity lines with ':'", "activity_colons.json", ": 1 records (context): no problems\n", nil},
		{"unknown key", "unknown_key.json", ": 1 records (context): no problems, 3 warnings (on stderr)\n", []string{
			`line 1: text before the first key, kept as a private fact`,
			`line 2: unknown key "Preferred_name_at_work", kept as a private fact`,
			`line 9: unknown key "Medical_notes", kept as a private fact`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := loadFixture(tt.file)
			var out, errb bytes.Buffer
			if err := runData(t.Context(), []string{"validate", path}, &out, &errb); err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if diff := cmp.Diff(path+tt.out, out.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			var want []string
			for _, w := range tt.warnings {
				want = append(want, "warning: "+path+`: record 0 (tid 3_0_0): field "additional_profile": `+w)
			}
			var got []string
			if s := strings.TrimSuffix(errb.String(), "\n"); s != "" {
				got = strings.Split(s, "\n")
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if strings.Contains(errb.String(), "epinephrine") {
				t.Error("a warning quotes the profile")
			}
		})
	}
}

// TestGenerateDatasetSkipBad runs the loader of generate --dataset: a file
// with a bad record fails with every bad record named and a hint; with
// --skip-bad a good record loads and the run names the skipped one once,
// and the bad record cannot be chosen.
func TestGenerateDatasetSkipBad(t *testing.T) {
	path := loadFixture("one_bad.json")
	var errb bytes.Buffer
	c := collabFlags{dataset: path, index: 3}
	_, _, err := c.loadTask("", &errb)
	if _, ok := errors.AsType[*privacy.BadRecordsError](err); !ok || !strings.Contains(err.Error(), "pass --skip-bad to go on with the 3 good records") {
		t.Errorf("without --skip-bad: %v", err)
	}
	if strings.Contains(err.Error(), "flowerpot") {
		t.Error("the error quotes the bad record")
	}

	c.skipBad = true
	v, task, err := c.loadTask("", &errb)
	if err != nil {
		t.Fatal(err)
	}
	if v.ID != "4_2_0" || task.General.IsZero() {
		t.Errorf("record 3: vault %s", v.ID)
	}
	want := "skipped 1 bad record of 4: 2 (see `cogen data validate " + path + "`)\n"
	if diff := cmp.Diff(want, errb.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	c.index = 2
	if _, _, err := c.loadTask("", &errb); err == nil || !strings.Contains(err.Error(), "--index 2: a bad record") {
		t.Errorf("the bad record: %v", err)
	}
	c.index = 4
	if _, _, err := c.loadTask("", &errb); err == nil || !strings.Contains(err.Error(), "has 4 records") {
		t.Errorf("out of range: %v", err)
	}

	// The silently dropped activity items reach the run's guard.
	c = collabFlags{dataset: loadFixture("activity_colons.json")}
	v, _, err = c.loadTask("", &errb)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.ActivityLog) != 9 {
		t.Errorf("%d activity items, want 9", len(v.ActivityLog))
	}
	if len(privacy.NewGuard(v).Check("The sauna heater is switched on remotely on Fridays")) == 0 {
		t.Error("the guard passes a continued activity item")
	}
}

func TestVaultImportSkipBad(t *testing.T) {
	path := loadFixture("one_bad.json")
	db := filepath.Join(t.TempDir(), "vault.db")
	var out, errb bytes.Buffer
	err := runVault(t.Context(), []string{"import", "--vault", db, "--dataset", path}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "one_bad.json: 1 bad record of 4: 2") || !strings.Contains(err.Error(), "--skip-bad") {
		t.Errorf("without --skip-bad: %v", err)
	}
	out.Reset()
	if err := runVault(t.Context(), []string{"import", "--vault", db, "--dataset", path, "--skip-bad"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "imported 3 records: 3 users (3 new, 0 replaced)") {
		t.Errorf("stdout %q", out.String())
	}
	want := "skipped 1 bad record of 4: 2 (see `cogen data validate " + path + "`)\n"
	if diff := cmp.Diff(want, errb.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

// TestDataSFTSkipBad writes examples (no cloud needed) for the good
// records of a range, by their numbers in the file.
func TestDataSFTSkipBad(t *testing.T) {
	path := loadFixture("one_bad.json")
	out := filepath.Join(t.TempDir(), "sft.jsonl")
	var stdout, errb bytes.Buffer
	if err := runDataSFT(t.Context(), []string{"--data", path, "--out", out, "--records", "1:4"}, &stdout, &errb); err == nil || !strings.Contains(err.Error(), "--skip-bad") {
		t.Errorf("without --skip-bad: %v", err)
	}
	if err := runDataSFT(t.Context(), []string{"--data", path, "--out", out, "--records", "1:4", "--skip-bad"}, &stdout, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "2 examples (2 new)") || !strings.Contains(errb.String(), "skipped 1 bad record of 4: 2") {
		t.Errorf("stdout %q, stderr %q", stdout.String(), errb.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var refs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l sftLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, l.Messages[len(l.Messages)-1].Content)
	}
	want := []string{
		"Hello, just a quick note. Ask them to move their car on Monday. Thanks.",
		"Hello, just a quick note. Invite them to the street party. Thanks.",
	}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("references (-want +got):\n%s", diff)
	}
}
