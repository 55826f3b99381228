package vault_test

import (
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// devFile is the paper's dev data beside the repository.
const devFile = "../../../shared/data/cogenesis/context_dev.json"

func devData(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(devFile)
	if err != nil {
		deptest.Missing(t, "dev data not available (put the shared/ folder beside the repository): %v", err)
	}
	return b
}

func open(t *testing.T) (*vault.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vault.db")
	s, err := vault.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func ada() vault.User {
	return vault.User{
		ID: "ada", Name: "Ada Example", Age: "41", Occupation: "Bridge engineer", Location: "Lyon, France",
		Emails: []string{"ada@example.org"}, Phones: []string{"+33 6 12 34 56 78"}, Identifiers: []string{"employee 4711"},
		PersonalTraits: []string{"patient", "precise"}, WritingStyle: []string{"short sentences"},
		PrivateFacts: []string{"Holds a patent on a cable-stayed joint"}, ActivityLog: []string{"Cycles to the office every Tuesday"},
		AIUsage: []string{"Drafts reports"},
		History: []vault.History{{Title: "Write a note on load tests", Text: "We tested the joint at twice the load."}},
		Tasks:   []vault.Task{{Task: "Write a blog post: about my week.", Reference: "It was a week."}},
	}
}

var ignoreTimes = cmpopts.IgnoreFields(vault.User{}, "Created", "Updated")

func TestCRUD(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	got, err := s.Create(ctx, ada())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ada(), got, ignoreTimes); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if got.Created.IsZero() || got.Updated.IsZero() {
		t.Errorf("times not set: %v %v", got.Created, got.Updated)
	}
	if _, err := s.Create(ctx, ada()); !errors.Is(err, vault.ErrExists) {
		t.Errorf("second Create: %v, want ErrExists", err)
	}
	u := ada()
	u.PrivateFacts = append(u.PrivateFacts, "Sings in a choir")
	u.History = append(u.History, vault.History{Title: "t2", Text: "Second text."})
	if _, err := s.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	got, err = s.Get(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, got, ignoreTimes); diff != "" {
		t.Errorf("updated (-want +got):\n%s", diff)
	}
	bob := vault.User{ID: "bob", Name: "Bob"}
	if _, err := s.Update(ctx, bob); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("Update unknown: %v, want ErrNotFound", err)
	}
	if _, err := s.Put(ctx, bob); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []vault.Summary{
		{ID: "ada", Name: "Ada Example", Facts: 2, Activity: 1, History: 2, Tasks: 1},
		{ID: "bob", Name: "Bob"},
	}
	if diff := cmp.Diff(want, list, cmpopts.IgnoreFields(vault.Summary{}, "Updated")); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if err := s.Delete(ctx, "ada"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "ada"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "ada"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("second Delete: %v, want ErrNotFound", err)
	}
	// Re-creating the id finds nothing left of the old user's rows.
	if got, err := s.Create(ctx, vault.User{ID: "ada", Name: "New Ada"}); err != nil || len(got.PrivateFacts) != 0 || len(got.History) != 0 {
		t.Errorf("re-created user %+v, %v: old rows survived the delete", got, err)
	}
}

func TestValidateNamesField(t *testing.T) {
	s, _ := open(t)
	tests := []struct {
		name  string
		edit  func(*vault.User)
		field string
	}{
		{"no id", func(u *vault.User) { u.ID = "" }, "id"},
		{"slash in id", func(u *vault.User) { u.ID = "a/b" }, "id"},
		{"dot id", func(u *vault.User) { u.ID = ".." }, "id"},
		{"no name", func(u *vault.User) { u.Name = " " }, "name"},
		{"empty history", func(u *vault.User) { u.History[0].Text = "" }, "history[0].text"},
		{"empty fact", func(u *vault.User) { u.PrivateFacts = []string{"x", " "} }, "private_facts[1]"},
		{"separator in item", func(u *vault.User) { u.ActivityLog = []string{"a; b"} }, "activity_log[0]"},
		{"empty task", func(u *vault.User) { u.Tasks[0].Task = "" }, "tasks[0].task"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := ada()
			tt.edit(&u)
			_, err := s.Create(t.Context(), u)
			fe, ok := errors.AsType[*vault.FieldError](err)
			if !ok {
				t.Fatalf("err = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("field %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if strings.Contains(err.Error(), "Ada") || strings.Contains(err.Error(), "patent") {
				t.Errorf("error quotes private text: %v", err)
			}
		})
	}
}

func TestFileMode(t *testing.T) {
	s, path := open(t)
	if _, err := s.Create(t.Context(), ada()); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			if p != path && errors.Is(err, os.ErrNotExist) {
				continue
			}
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), m)
		}
	}
	// An existing file readable by others is narrowed.
	other := filepath.Join(t.TempDir(), "wide.db")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s2, err := vault.Open(t.Context(), other)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if fi, err := os.Stat(other); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("existing file: mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	s, err := vault.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(t.Context(), ada()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = vault.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Get(t.Context(), "ada")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ada(), got, ignoreTimes); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestImportExportDevData imports all 150 records of the paper's dev data
// and checks the users, their vaults (as the CLI's --dataset path builds
// them) and that the export equals the input, field for field.
func TestImportExportDevData(t *testing.T) {
	data := devData(t)
	s, _ := open(t)
	ctx := t.Context()
	res, err := s.Import(ctx, devFile, data, vault.ImportOptions{Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 150 || res.Users != 150 || res.Created != 150 || res.Replaced != 0 {
		t.Errorf("import: %+v", res)
	}
	// Importing again replaces, never duplicates.
	res, err = s.Import(ctx, devFile, data, vault.ImportOptions{Index: -1})
	if err != nil || res.Replaced != 150 || res.Created != 0 {
		t.Errorf("re-import: %+v, %v", res, err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 150 {
		t.Fatalf("List: %d users, %v", len(list), err)
	}

	recs, err := privacy.LoadContextFile(devFile)
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		u, err := s.Get(ctx, rec.Vault.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(rec.Vault, u.Vault()); diff != "" {
			t.Fatalf("record %d: vault (-dataset +store):\n%s", i, diff)
		}
		if u.ProfileBlock != "" {
			t.Errorf("record %d: profile kept verbatim, but the fields render it", i)
		}
	}

	out, skipped, err := s.Export(ctx)
	if err != nil || len(skipped) != 0 {
		t.Fatalf("Export: %v, skipped %v", err, skipped)
	}
	got, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	var want, have any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("export differs from the input (-input +export):\n%.3000s", diff)
	}
}

func TestImportOneRecordAsUser(t *testing.T) {
	data := devData(t)
	s, _ := open(t)
	res, err := s.Import(t.Context(), devFile, data, vault.ImportOptions{Index: 7, User: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Users != 1 || res.IDs[0] != "me" {
		t.Errorf("import: %+v", res)
	}
	if _, err := s.Import(t.Context(), devFile, data, vault.ImportOptions{Index: 150}); err == nil || !strings.Contains(err.Error(), "150 records") {
		t.Errorf("index out of range: %v", err)
	}
}

func TestImportMergesTasksOfOneUser(t *testing.T) {
	data := devData(t)
	var recs []map[string]any
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	second := map[string]any{}
	for k, v := range recs[0] {
		second[k] = v
	}
	second["conversations"] = []any{map[string]any{"from": "user", "value": "Another task: here."}, map[string]any{"from": "assistant", "value": "Answer."}}
	b, _ := json.Marshal([]any{recs[0], second})
	s, _ := open(t)
	res, err := s.Import(t.Context(), "two.json", b, vault.ImportOptions{Index: -1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 2 || res.Users != 1 {
		t.Errorf("import: %+v", res)
	}
	u, err := s.Get(t.Context(), recs[0]["tid"].(string))
	if err != nil || len(u.Tasks) != 2 || u.Tasks[1].Task != "Another task: here." {
		t.Errorf("tasks %+v, %v", u.Tasks, err)
	}

	// The same id with another profile is refused, naming the record.
	second["additional_profile"] = "Name: Somebody Else"
	b, _ = json.Marshal([]any{recs[0], second})
	_, err = s.Import(t.Context(), "two.json", b, vault.ImportOptions{Index: -1})
	fe, ok := errors.AsType[*vault.FieldError](err)
	if !ok || fe.Record != 1 || fe.Field != "additional_profile" {
		t.Errorf("conflicting profiles: %v", err)
	}
}

func TestImportErrorsNameRecordAndField(t *testing.T) {
	s, _ := open(t)
	good := `{"tid":"a","conversations":[{"from":"user","value":"T: x"},{"from":"assistant","value":"R"}],"profile":[{"title":"t","text":"x","id":"0"}],"additional_profile":"Name: A","additional_tasks":[]}`
	tests := []struct {
		name, data, want string
	}{
		{"not an array", `{"tid":1}`, "not a JSON array"},
		{"no name", `[` + good + `,` + strings.Replace(good, `"Name: A"`, `"Age: 3"`, 1) + `]`, `record 1: field "additional_profile": no Name line`},
		{"empty history", `[` + strings.Replace(good, `"text":"x"`, `"text":""`, 1) + `]`, `record 0: field "profile[0].text": empty`},
		{"one turn", `[` + strings.Replace(good, `,{"from":"assistant","value":"R"}`, ``, 1) + `]`, `record 0: field "conversations"`},
		{"wrong type", `[` + strings.Replace(good, `"tid":"a"`, `"tid":5`, 1) + `]`, `record 0: field "tid"`},
		{"bad id", `[` + strings.Replace(good, `"tid":"a"`, `"tid":"a b"`, 1) + `]`, `record 0: field "tid"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Import(t.Context(), "bad.json", []byte(tt.data), vault.ImportOptions{Index: -1})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if ids, err := s.IDs(t.Context()); err != nil || len(ids) != 0 {
		t.Errorf("a failed import stored %v (%v)", ids, err)
	}
}

// TestUserFileLoads checks that the user-file export reads back with
// privacy.LoadVault as the same vault.
func TestUserFileLoads(t *testing.T) {
	u := ada()
	b, err := json.MarshalIndent(u.File(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ada.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := privacy.LoadVault(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u.Vault(), v); diff != "" {
		t.Errorf("(-store +file):\n%s", diff)
	}
}

func TestUserTokens(t *testing.T) {
	s, _ := open(t)
	ctx := t.Context()
	if _, err := s.CreateToken(ctx, "ada"); !errors.Is(err, vault.ErrNotFound) {
		t.Errorf("token for an unknown user: %v", err)
	}
	if _, err := s.Create(ctx, ada()); err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateToken(ctx, "ada")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, vault.TokenPrefix) || len(tok) < 40 {
		t.Errorf("token %q", tok)
	}
	if id, err := s.TokenUser(ctx, tok); err != nil || id != "ada" {
		t.Errorf("TokenUser = %q, %v", id, err)
	}
	for _, bad := range []string{"", "cgu_", tok + "x", strings.TrimPrefix(tok, vault.TokenPrefix)} {
		if _, err := s.TokenUser(ctx, bad); !errors.Is(err, vault.ErrUnknownToken) {
			t.Errorf("TokenUser(%q): %v, want ErrUnknownToken", bad, err)
		}
	}
	if err := s.Delete(ctx, "ada"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenUser(ctx, tok); !errors.Is(err, vault.ErrUnknownToken) {
		t.Errorf("token survived its user: %v", err)
	}
}

// TestMigratesVersionOne opens a vault made by schema version 1 and checks
// that it gains the tokens table and keeps its users.
func TestMigratesVersionOne(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	s, err := vault.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(t.Context(), ada()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TABLE tokens; PRAGMA user_version = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err = vault.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateToken(t.Context(), "ada"); err != nil {
		t.Errorf("after migration: %v", err)
	}
}
