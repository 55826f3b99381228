//go:build cgo

package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// TestFusionExtractTrainEval runs the CombModel pipeline on two dev records
// (train) and one (dev): extraction resumes without repeating records and
// refuses a directory made with other settings; train writes a model that
// eval reads.
func TestFusionExtractTrainEval(t *testing.T) {
	model := enginetest.SharedModel(t)
	data := enginetest.SharedPath("data", "cogenesis", "context_dev.json")
	if _, err := os.Stat(data); err != nil {
		deptest.Missing(t, "dev data not available: %v", err)
	}
	dir := t.TempDir()
	train, dev := filepath.Join(dir, "train"), filepath.Join(dir, "dev")
	extract := func(out, records string, extra ...string) (string, string, error) {
		args := append([]string{"fusion", "extract", "--slm", model, "--llm", "local:" + model, "--data", data,
			"--out", out, "--records", records, "--k", "4", "--threads", "2", "--allow-private-egress"}, extra...)
		return run(t, args...)
	}
	if _, _, err := extract(train, "0:1"); err != nil {
		t.Fatal(err)
	}
	// Other settings in the same directory are refused; a wider range
	// goes on from what is there.
	if _, _, err := extract(train, "0:2", "--k", "3"); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Fatalf("another k in the same directory: err = %v", err)
	}
	out, _, err := extract(train, "0:2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "(1 new:") {
		t.Errorf("widening 0:1 to 0:2: output %q, want one new record", out)
	}
	first, err := os.Stat(filepath.Join(train, fusion.PositionFile(0)))
	if err != nil {
		t.Fatal(err)
	}
	// Lose record 1 (as a crash before its rename would): the rerun does
	// only that one and leaves record 0 alone.
	os.Remove(filepath.Join(train, fusion.PositionFile(1)))
	out, _, err = extract(train, "0:2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "(1 new:") {
		t.Errorf("rerun output %q, want one new record", out)
	}
	again, _ := os.Stat(filepath.Join(train, fusion.PositionFile(0)))
	if !again.ModTime().Equal(first.ModTime()) {
		t.Errorf("record 0 was extracted again")
	}
	if _, _, err := extract(dev, "2:3"); err != nil {
		t.Fatal(err)
	}
	comb := filepath.Join(dir, "comb.safetensors")
	if _, _, err := run(t, "fusion", "train", "--train", train, "--dev", dev, "--out", comb, "--epochs", "2"); err != nil {
		t.Fatal(err)
	}
	table, _, err := run(t, "fusion", "eval", "--data", dev, "--comb", comb, "--markdown")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(table), "\n")
	if len(lines) != 7 || !strings.HasPrefix(lines[0], "| fusion | NLL per token | top-1 accuracy |") {
		t.Fatalf("eval table:\n%s", table)
	}
	for i, rule := range []string{"slm", "cloud", "mean", "max", "learned"} {
		if !strings.HasPrefix(lines[2+i], "| "+rule+" |") {
			t.Errorf("row %d: %q, want %s", i, lines[2+i], rule)
		}
	}
	// learned runs in generate too.
	if _, _, err := run(t, "generate", "--strategy", "logits", "--fusion", "learned", "--comb", comb, "--top-k-cloud", "4",
		"--slm", model, "--llm", "local:"+model, "--dataset", data, "--index", "5", "--max-tokens", "4", "--threads", "2",
		"--audit", filepath.Join(dir, "audit.jsonl")); err != nil {
		t.Errorf("generate with the learned fusion: %v", err)
	}
	if _, _, err := run(t, "generate", "--strategy", "logits", "--fusion", "learned", "--slm", model, "--llm", "local:"+model,
		"--dataset", data, "--index", "5", "--max-tokens", "4"); err == nil || !strings.Contains(err.Error(), "CombModel") {
		t.Errorf("learned without --comb: err = %v", err)
	}
}
