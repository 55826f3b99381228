package collab

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/privacy"
)

// cannedGuardModel answers every check with the same findings or error.
type cannedGuardModel struct {
	findings []privacy.Finding
	err      error
	calls    int
}

func (c *cannedGuardModel) Findings(ctx context.Context, text string) ([]privacy.Finding, error) {
	c.calls++
	return c.findings, c.err
}

// TestGuardModelOnlyAdds: the guard model's findings are redacted with
// the guard's, once per public instruction, and its failure sends nothing.
func TestGuardModelOnlyAdds(t *testing.T) {
	v := &privacy.Vault{Name: privacy.NewPrivate("Marisol Quintana")}
	task := TaskFromVault(v, privacy.SplitTask("Write to Marisol about the choir trip: she sings alto."))
	text := task.publicCandidate()
	choir := strings.Index(text, "choir")
	gm := &cannedGuardModel{findings: []privacy.Finding{{Rule: "model.context", Start: choir, End: choir + len("choir trip")}}}
	r := &Runner{Guard: privacy.NewGuard(v), GuardModel: gm}
	pub, n, err := r.publicInstruction(t.Context(), task)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := pub.String(), "Write to [NAME] about the [PRIVATE]"; got != want || n != 3 || gm.calls != 1 {
		t.Errorf("public %q (%d redactions, %d model calls), want %q", got, n, gm.calls, want)
	}
	// No model: the guard alone.
	r.GuardModel = nil
	if pub, _, _ := r.publicInstruction(t.Context(), task); pub.String() != "Write to [NAME] about the choir trip" {
		t.Errorf("without the model: %q", pub.String())
	}
	// A failing model fails the request.
	r.GuardModel = &cannedGuardModel{err: errors.New("out of memory")}
	if _, _, err := r.publicInstruction(t.Context(), task); err == nil || !strings.Contains(err.Error(), "guard model") {
		t.Errorf("err = %v, want a guard model error", err)
	}
}
