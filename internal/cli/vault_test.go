//go:build cgo

package cli_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

func devContextFile(t *testing.T) string {
	t.Helper()
	p := enginetest.SharedPath("data", "cogenesis", "context_dev.json")
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "dev data not available: %v", err)
	}
	return p
}

func TestVaultImportListExport(t *testing.T) {
	data := devContextFile(t)
	dir := t.TempDir()
	v := filepath.Join(dir, "vault.db")
	out, _, err := run(t, "vault", "import", "--vault", v, "--dataset", data)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "imported 150 records: 150 users (150 new, 0 replaced)") || !strings.Contains(out, "users: one per tid") {
		t.Errorf("import output %q", out)
	}
	if fi, err := os.Stat(v); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("vault file mode: %v %v", fi.Mode(), err)
	}
	out, _, err = run(t, "vault", "import", "--vault", v, "--dataset", data, "--index", "3", "--user", "me")
	if err != nil || !strings.Contains(out, "1 users (1 new") {
		t.Errorf("import one as me: %q %v", out, err)
	}
	out, errOut, err := run(t, "vault", "list", "--vault", v)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out, "\n"); lines != 152 || !strings.Contains(errOut, "151 users") || !strings.Contains(out, "3_7_4") {
		t.Errorf("list: %d lines, stderr %q", lines, errOut)
	}

	exp := filepath.Join(dir, "export.json")
	if _, _, err := run(t, "vault", "export", "--vault", v, "--out", exp); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	var want, have []any
	if err := json.Unmarshal(in, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &have); err != nil {
		t.Fatal(err)
	}
	if len(have) != 151 {
		t.Fatalf("export has %d records, want 151", len(have))
	}
	if diff := cmp.Diff(want, have[:150]); diff != "" {
		t.Errorf("export differs from the dataset (-dataset +export):\n%.2000s", diff)
	}

	// The user format reads back as a user file of cogen generate.
	uf := filepath.Join(dir, "me.json")
	if _, _, err := run(t, "vault", "export", "--vault", v, "--user", "me", "--format", "user", "--out", uf); err != nil {
		t.Fatal(err)
	}
	loaded, err := privacy.LoadVault(uf)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := privacy.LoadContextFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Name.Equal(recs[3].Vault.Name) || len(loaded.PrivateFacts) != len(recs[3].Vault.PrivateFacts) || len(loaded.History) != len(recs[3].Vault.History) {
		t.Errorf("user file does not hold record 3's user")
	}
}

func TestVaultUsageErrors(t *testing.T) {
	v := filepath.Join(t.TempDir(), "v.db")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no subcommand", []string{"vault"}, "no vault subcommand"},
		{"unknown subcommand", []string{"vault", "frob"}, "unknown vault subcommand"},
		{"import without dataset", []string{"vault", "import", "--vault", v}, "--dataset"},
		{"user without index", []string{"vault", "import", "--vault", v, "--dataset", "x.json", "--user", "me"}, "--index"},
		{"user format without user", []string{"vault", "export", "--vault", v, "--format", "user"}, "--user"},
		{"bad format", []string{"vault", "export", "--vault", v, "--format", "csv"}, "--format"},
		{"token without user", []string{"vault", "token", "--vault", v}, "--user"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, tt.args...)
			if _, ok := errors.AsType[*cli.UsageError](err); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error about %q", err, tt.want)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`[{"tid":"a","conversations":[{"from":"user","value":"T"},{"from":"assistant","value":"R"}],"profile":[{"title":"t","text":"x"}],"additional_profile":"Age: 3"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := run(t, "vault", "import", "--vault", v, "--dataset", bad)
	if err == nil || !strings.Contains(err.Error(), `bad.json: record 0: field "additional_profile": no Name line`) {
		t.Errorf("bad dataset: %v", err)
	}
}

func TestVaultToken(t *testing.T) {
	data := devContextFile(t)
	v := filepath.Join(t.TempDir(), "v.db")
	if _, _, err := run(t, "vault", "import", "--vault", v, "--dataset", data, "--index", "0", "--user", "me"); err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "vault", "token", "--vault", v, "--user", "me")
	if err != nil || !strings.HasPrefix(out, "cgu_") {
		t.Errorf("token: %q %v", out, err)
	}
	if _, _, err := run(t, "vault", "token", "--vault", v, "--user", "nobody"); err == nil || !strings.Contains(err.Error(), "no such user") {
		t.Errorf("token for an unknown user: %v", err)
	}
}

// TestVaultImportUserFile: vault import takes the user file of cogen
// generate --user (TOML or JSON), and export writes the format its file
// name says: a .toml export is a user file that --user reads back with
// the same private context.
func TestVaultImportUserFile(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "v.db")
	src := filepath.Join("..", "..", "examples", "user.toml")
	out, _, err := run(t, "vault", "import", "--vault", db, "--dataset", src, "--user", "ada")
	if err != nil || !strings.Contains(out, "imported user ada") {
		t.Fatalf("import: %v %q", err, out)
	}
	for _, ext := range []string{".toml", ".json"} {
		path := filepath.Join(dir, "ada"+ext)
		if _, _, err := run(t, "vault", "export", "--vault", db, "--user", "ada", "--format", "user", "--out", path); err != nil {
			t.Fatal(err)
		}
		want, err := privacy.LoadVault(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := privacy.LoadVault(path) // fails unless the file is in the format its name says
		if err != nil {
			t.Fatalf("%s: %v", ext, err)
		}
		if diff := cmp.Diff(want.ContextText().UnsafeText(), got.ContextText().UnsafeText()); diff != "" {
			t.Errorf("%s: private context changed (-want +got):\n%s", ext, diff)
		}
	}
	if _, _, err := run(t, "vault", "export", "--vault", db, "--out", filepath.Join(dir, "all.toml")); !errors.As(err, new(*cli.UsageError)) {
		t.Errorf("a dataset exported to .toml: err = %v, want a usage error", err)
	}
}

// TestDataStatsAndVaultAgree counts the users of the paper's dev file
// twice, by `cogen data stats` and by `cogen vault import`, which read the
// records by different paths: both must find 150 (one per tid), and both
// must say that the tids' 111 group_user prefixes are not users. (Before,
// data stats counted the prefixes as users: 111.)
func TestDataStatsAndVaultAgree(t *testing.T) {
	data := devContextFile(t)
	stats, _, err := run(t, "data", "stats", data)
	if err != nil {
		t.Fatal(err)
	}
	imp, _, err := run(t, "vault", "import", "--vault", filepath.Join(t.TempDir(), "vault.db"), "--dataset", data)
	if err != nil {
		t.Fatal(err)
	}
	count := func(out, pattern string) int {
		t.Helper()
		m := regexp.MustCompile(pattern).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("output lacks %s:\n%s", pattern, out)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	got := map[string]int{
		"data stats users":          count(stats, `(?m)^Total Users \(one per tid\) +(\d+)$`),
		"data stats profiles":       count(stats, `(?m)^Distinct Profiles +(\d+)$`),
		"data stats tid prefixes":   count(stats, `(?m)^Distinct tid Prefixes \(group_user\) +(\d+)$`),
		"vault import users":        count(imp, `: (\d+) users \(`),
		"vault import tid prefixes": count(imp, `users: one per tid, .* (\d+) distinct group_user prefixes, which name no user`),
	}
	want := map[string]int{
		"data stats users": 150, "data stats profiles": 150, "data stats tid prefixes": 111,
		"vault import users": 150, "vault import tid prefixes": 111,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
}
