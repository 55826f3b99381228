//go:build cgo

package cli_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// TestGenerateContextCache runs generate twice for the demo user: the
// first run saves the user's evaluated context beside the default vault,
// the second restores it and writes the same text; vault cache stats
// counts it, clear removes it, and --context-cache-mb 0 saves nothing.
func TestGenerateContextCache(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	model := enginetest.SharedModel(t)
	user := filepath.Join("..", "..", "examples", "user.toml")
	gen := func(extra ...string) string {
		t.Helper()
		args := append([]string{"generate", "--strategy", "slm", "--slm", model, "--user", user, "--max-tokens", "12",
			"--seed", "4", "--temperature", "0.8", "--threads", "1"}, extra...)
		out, errOut, err := run(t, append(args, "Write a note for the regulars")...)
		if err != nil {
			t.Fatalf("generate: %v\n%s", err, errOut)
		}
		return out
	}
	stats := func() string {
		t.Helper()
		out, _, err := run(t, "vault", "cache", "stats")
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	off := gen("--context-cache-mb", "0")
	if s := stats(); !strings.Contains(s, ": 0 saved states of 0 users") {
		t.Errorf("with the cache off: %s", s)
	}
	a := gen()
	if s := stats(); !strings.Contains(s, ": 1 saved state of 1 user") {
		t.Errorf("after a run: %s", s)
	}
	b := gen()
	if a != b || strings.TrimSpace(a) == "" {
		t.Errorf("evaluated %q, restored %q", a, b)
	}
	t.Logf("without the cache %q, with it %q (the context is its own decode call there)", off, a)
	out, _, err := run(t, "vault", "cache", "clear")
	if err != nil || !strings.Contains(out, "removed 1 saved state of 1 user") {
		t.Errorf("clear: %v %s", err, out)
	}
	if s := stats(); !strings.Contains(s, ": 0 saved states") {
		t.Errorf("after clear: %s", s)
	}
}
