package vault_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/privacy"
)

// loadFixture reads one of the privacy package's load fixtures.
func loadFixture(t *testing.T, name string) (string, []byte) {
	t.Helper()
	p := filepath.Join("..", "..", "privacy", "testdata", "load", name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return p, b
}

// TestImportKeepsContinuedActivity is the import side of the silent drop:
// all 9 activity items of a list continued over lines holding ':' reach
// the stored user, each whole, as they reach a generate run's guard.
func TestImportKeepsContinuedActivity(t *testing.T) {
	path, data := loadFixture(t, "activity_colons.json")
	s, _ := open(t)
	res, err := s.Import(t.Context(), path, data, vault.ImportOptions{Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 || len(res.Skipped) > 0 {
		t.Errorf("import: %+v", res)
	}
	u, err := s.Get(t.Context(), "2_0_0")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := privacy.LoadContextFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, a := range recs[0].Vault.ActivityLog {
		want = append(want, a.UnsafeText())
	}
	if len(u.ActivityLog) != 9 {
		t.Errorf("%d activity items stored, want 9", len(u.ActivityLog))
	}
	if diff := cmp.Diff(want, u.ActivityLog); diff != "" {
		t.Errorf("activity log (-loaded +stored):\n%s", diff)
	}
	for _, item := range []string{"Sauna heater: switched on remotely at 18:30 on Fridays", "Baby monitor streams to his phone from 19:00 to 07:00"} {
		if !strings.Contains(u.Vault().Profile.UnsafeText(), item) || !contains(u.ActivityLog, item) {
			t.Errorf("stored user lacks an activity item of %d bytes", len(item))
		}
	}
	// The profile block is kept as written, so that export gives the file
	// back.
	if u.ProfileBlock == "" {
		t.Error("the multi-line profile block was not kept")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestImportUnknownKey: an unknown key's value is stored as a private
// fact, and the import reports the key by name.
func TestImportUnknownKey(t *testing.T) {
	path, data := loadFixture(t, "unknown_key.json")
	s, _ := open(t)
	res, err := s.Import(t.Context(), path, data, vault.ImportOptions{Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`unknown_key.json: record 0: field "additional_profile": line 1: text before the first key, kept as a private fact`,
		`unknown_key.json: record 0: field "additional_profile": line 2: unknown key "Preferred_name_at_work", kept as a private fact`,
		`unknown_key.json: record 0: field "additional_profile": line 9: unknown key "Medical_notes", kept as a private fact`,
	}
	if diff := cmp.Diff(want, res.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	u, err := s.Get(t.Context(), "3_0_0")
	if err != nil {
		t.Fatal(err)
	}
	if !contains(u.PrivateFacts, "Medical_notes: Carries an epinephrine pen for a peanut allergy") {
		t.Errorf("the unknown key's fact is not stored: %d facts", len(u.PrivateFacts))
	}
}

// TestImportBadRecords: a file with a bad record imports nothing and names
// it; with SkipBad the good records are imported under their tids and the
// bad one is reported.
func TestImportBadRecords(t *testing.T) {
	path, data := loadFixture(t, "one_bad.json")
	s, _ := open(t)
	_, err := s.Import(t.Context(), path, data, vault.ImportOptions{Index: -1})
	be, ok := errors.AsType[*privacy.BadRecordsError](err)
	if !ok || !cmp.Equal(be.Records(), []int{2}) {
		t.Fatalf("got %v, want a *privacy.BadRecordsError naming record 2", err)
	}
	if strings.Contains(err.Error(), "flowerpot") {
		t.Error("the error quotes the bad record")
	}
	if ids, err := s.IDs(t.Context()); err != nil || len(ids) != 0 {
		t.Errorf("a failed import stored %v (%v)", ids, err)
	}
	// One good record alone fails too: the file has a bad one.
	if _, err := s.Import(t.Context(), path, data, vault.ImportOptions{Index: 3}); !errors.As(err, &be) {
		t.Errorf("import of record 3: %v", err)
	}

	res, err := s.Import(t.Context(), path, data, vault.ImportOptions{Index: -1, SkipBad: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3 || res.Users != 3 || !cmp.Equal(res.Skipped, []int{2}) || !cmp.Equal(res.IDs, []string{"4_0_0", "4_1_0", "4_2_0"}) {
		t.Errorf("import: %+v", res)
	}
	res, err = s.Import(t.Context(), path, data, vault.ImportOptions{Index: 3, User: "bruno", SkipBad: true})
	if err != nil || res.Records != 1 || res.Skipped != nil || !cmp.Equal(res.IDs, []string{"bruno"}) {
		t.Errorf("import of record 3: %+v %v", res, err)
	}
	_, err = s.Import(t.Context(), path, data, vault.ImportOptions{Index: 2, SkipBad: true})
	if le, ok := errors.AsType[*privacy.LoadError](err); !ok || le.Record != 2 {
		t.Errorf("import of the bad record: %v", err)
	}
}
