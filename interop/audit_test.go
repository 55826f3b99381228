//go:build cgo

package interop_test

import (
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
)

// checkAudit checks the egress audit log after a run: its hash chain holds,
// it has at least min records, and every request went out under the user
// policy with a verdict that lets public text pass (none blocked, none
// sent as private). It returns the records.
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
	for _, r := range recs {
		if r.Policy != "user" || (r.Verdict != audit.VerdictAllow && r.Verdict != audit.VerdictRedact) {
			t.Errorf("audit record %d (%s %s): policy %q verdict %q, want user and allow or redact", r.Seq, r.Method, r.Path, r.Policy, r.Verdict)
		}
	}
	return recs
}
