//go:build cgo

package cli_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/cli"
)

// commands are every command and subcommand of cogen.
var commands = []string{
	"generate", "model info", "bench engine", "bench collab", "bench threads", "cloud", "cloud check", "serve",
	"vault import", "vault list", "vault export", "vault token", "vault cache", "audit show", "audit seen", "audit verify", "audit repair",
	"data validate", "data stats", "data lamp", "data sft", "fusion extract", "fusion train", "fusion eval",
	"eval", "eval score", "synth", "testmodel", "guard check", "guard eval",
	// The groups.
	"model", "bench", "vault", "audit", "data", "fusion", "guard",
}

// TestHelpEveryCommand: -h, --help and "help CMD" exit 0 for every
// command and subcommand and show at least one example.
func TestHelpEveryCommand(t *testing.T) {
	for _, c := range commands {
		path := strings.Fields(c)
		for _, args := range [][]string{append(path, "-h"), append(path, "--help"), append([]string{"help"}, path...)} {
			out, errOut, err := run(t, args...)
			if err != nil {
				t.Errorf("%q: %v", args, err)
				continue
			}
			if text := out + errOut; !strings.Contains(text, "Examples:\n  cogen "+path[0]) {
				t.Errorf("%q shows no example:\n%s", args, text)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		if out, _, err := run(t, args...); err != nil || !strings.Contains(out, "cogen help COMMAND") {
			t.Errorf("%q: %v\n%s", args, err, out)
		}
	}
	if out, _, err := run(t, "--version"); err != nil || !strings.HasPrefix(out, "cogen ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version: %q %v", out, err)
	}
	if _, _, err := run(t, "data"); !errors.As(err, new(*cli.UsageError)) {
		t.Errorf("a group without a subcommand: err = %v, want a usage error", err)
	}
}

// TestFlagsAfterArguments: a flag after a positional argument is a flag,
// an unknown one is an error naming it, and "--" ends the flags.
func TestFlagsAfterArguments(t *testing.T) {
	data := sharedFile(t, "cogenesis", "context_dev.json")
	out, _, err := run(t, "guard", "check", "--dataset", data, "Plan the dinner party she hosts every month", "--index", "0", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct{ Findings []struct{ Rule string } }
	if err := json.Unmarshal([]byte(out), &g); err != nil || len(g.Findings) == 0 {
		t.Errorf("flags after the text: %v, %q", err, out)
	}
	if _, _, err := run(t, "data", "validate", data, "--frobnicate"); err == nil || !strings.Contains(err.Error(), "-frobnicate") {
		t.Errorf("unknown flag after the file: err = %v, want one naming it", err)
	}
	out, _, err = run(t, "guard", "check", "--dataset", data, "--index", "0", "--json", "--", "--index", "7")
	if err != nil {
		t.Fatal(err)
	}
	var p struct{ Public string }
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.Public != "--index 7" {
		t.Errorf(`after "--": %v, public %q, want the text "--index 7"`, err, p.Public)
	}
}
