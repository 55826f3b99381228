//go:build cgo

package cli_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/deptest"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// sharedFile is a file of the shared data (../shared/data/...).
func sharedFile(t *testing.T, parts ...string) string {
	t.Helper()
	p := enginetest.SharedPath(append([]string{"data"}, parts...)...)
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "shared data not available (%v): put shared/ beside the repository", err)
	}
	return p
}

type guardCheckOut struct {
	Findings []struct {
		Rule       string
		Start, End int
		Text       string
	}
	Public string
	Model  *struct {
		PromptTokens    int
		GeneratedTokens int
	}
}

func guardCheckJSON(t *testing.T, args ...string) guardCheckOut {
	t.Helper()
	out, _, err := run(t, append([]string{"guard", "check", "--json"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	var g guardCheckOut
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return g
}

// TestGuardCheck: cogen guard check finds a dev user's fact and a phone
// number, and prints the text as it would leave; without text it checks
// the record's general section.
func TestGuardCheck(t *testing.T) {
	data := sharedFile(t, "cogenesis", "context_dev.json")
	text := "Plan the dinner party she hosts every month; call +1 305 555 0147"
	g := guardCheckJSON(t, "--dataset", data, "--index", "0", text)
	rules := map[string]bool{}
	for _, f := range g.Findings {
		rules[f.Rule] = true
		if text[f.Start:f.End] != f.Text {
			t.Errorf("finding %s: text %q is not bytes [%d,%d)", f.Rule, f.Text, f.Start, f.End)
		}
	}
	if !rules["fact.private"] || !rules["pii.phone"] {
		t.Errorf("rules %v, want fact.private and pii.phone", rules)
	}
	if strings.Contains(g.Public, "555") || strings.Contains(g.Public, "dinner") || !strings.Contains(g.Public, "[PHONE]") {
		t.Errorf("public text %q", g.Public)
	}
	out, _, err := run(t, "guard", "check", "--dataset", data, "--index", "0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "as it would leave the device:\nDevelop a Marketing Script for Your Monthly [PRIVATE]") {
		t.Errorf("general section of record 0:\n%s", out)
	}
	for _, args := range [][]string{
		{"guard", "check", "text"},
		{"guard", "check", "--dataset", data, "--user", "u.toml", "text"},
		{"guard", "check", "--dataset", data, "--guard-model", "remote", "text"},
		{"guard", "check", "--dataset", data, "--guard-model", "local", "text"},
		{"guard", "eval"},
		{"guard", "frob"},
	} {
		if _, _, err := run(t, args...); !errors.As(err, new(*cli.UsageError)) {
			t.Errorf("%q: err = %v, want a usage error", args, err)
		}
	}
}

// TestGuardCheckModel: --guard-model local runs the on-device model
// check on the real engine; its findings only add to the guard's.
func TestGuardCheckModel(t *testing.T) {
	data := sharedFile(t, "cogenesis", "context_dev.json")
	text := "Write to Isabel about the dinner party she hosts every month"
	base := guardCheckJSON(t, "--dataset", data, "--index", "0", text)
	g := guardCheckJSON(t, "--dataset", data, "--index", "0", "--guard-model", "local",
		"--slm", enginetest.SharedModel(t), "--threads", "1", "--ctx", "1024", text)
	if g.Model == nil || g.Model.PromptTokens == 0 {
		t.Fatalf("no model statistics: %+v", g.Model)
	}
	for _, f := range base.Findings {
		found := false
		for _, h := range g.Findings {
			found = found || h == f
		}
		if !found {
			t.Errorf("finding %+v of the guard is gone with the model check", f)
		}
	}
}

// TestGuardEval: cogen guard eval on the real PUPA file.
func TestGuardEval(t *testing.T) {
	p := sharedFile(t, "pupa", "PUPA_New.csv")
	out, _, err := run(t, "guard", "eval", "--pupa", p, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct{ Prompts, Units, UnitsRecalled int }
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Prompts != 664 || rep.Units < 1000 || rep.UnitsRecalled*10 < rep.Units*6 {
		t.Errorf("prompts %d, units %d, recalled %d: want 664 prompts and at least 60%% recall", rep.Prompts, rep.Units, rep.UnitsRecalled)
	}
	text, _, err := run(t, "guard", "eval", "--pupa", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"recall", "false/prompt", "hash even", "person"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
}
