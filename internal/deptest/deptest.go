// Package deptest lets a test stand down when something it needs from
// outside the repository is missing — the shared data and models beside
// the checkout, Node's openai package, Chromium — and makes that a failure
// under CI=true, so that a green CI run means every test really ran.
package deptest

import (
	"fmt"
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (CI=true, as .ci/run sets).
func InCI() bool { return os.Getenv("CI") == "true" }

// Missing skips t, naming what is missing and how to get it; under CI it
// fails t instead.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("missing dependency (CI=true, so this fails instead of skipping): %s", msg)
		return
	}
	t.Skip(msg)
}
