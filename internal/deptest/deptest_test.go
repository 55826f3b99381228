package deptest_test

import (
	"testing"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// record is a testing.TB that notes how Missing ended it.
type record struct {
	testing.TB
	skipped, failed bool
}

func (r *record) Helper()               {}
func (r *record) Skip(args ...any)      { r.skipped = true }
func (r *record) Fatalf(string, ...any) { r.failed = true }

func TestMissing(t *testing.T) {
	for _, ci := range []string{"", "false", "true"} {
		t.Setenv("CI", ci)
		r := &record{TB: t}
		deptest.Missing(r, "chromium not found")
		if want := ci == "true"; r.failed != want || r.skipped == want {
			t.Errorf("CI=%q: failed %v skipped %v, want failed %v", ci, r.failed, r.skipped, want)
		}
	}
}
