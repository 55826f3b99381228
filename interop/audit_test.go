//go:build cgo

package interop_test

import (
	"slices"
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
)

// checkAudit checks the egress audit log after a run: its hash chain holds,
// it has at least min records, and every request went out under the user
// policy with a verdict that lets public text pass (none blocked, none
// sent as private), naming no strategy. It returns the records.
func checkAudit(t testing.TB, log *audit.Log, min int) []audit.Record {
	t.Helper()
	st, err := audit.VerifyFile(log.Path())
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	recs, err := audit.Read(log.Path())
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != len(recs) || len(recs) < min {
		t.Errorf("audit log: %d records (%d verified), want at least %d", len(recs), st.Records, min)
	}
	checkRecords(t, recs, "", audit.VerdictAllow, audit.VerdictRedact)
	return recs
}

// checkRecords checks that every record went out under the user policy,
// for strategy (empty: none named), with one of the verdicts.
func checkRecords(t testing.TB, recs []audit.Record, strategy string, verdicts ...string) {
	t.Helper()
	for _, r := range recs {
		if r.Policy != "user" || !slices.Contains(verdicts, r.Verdict) || r.Strategy != strategy {
			t.Errorf("audit record %d (%s %s): policy %q verdict %q strategy %q, want user, %v and %q", r.Seq, r.Method, r.Path, r.Policy, r.Verdict, r.Strategy, verdicts, strategy)
		}
	}
}
