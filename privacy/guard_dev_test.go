package privacy

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

func devRecords(t testing.TB) []Record {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "shared", "data", "cogenesis", "context_dev.json")
	if _, err := os.Stat(p); err != nil {
		deptest.Missing(t, "dev data not available (%v): put shared/ beside the repository", err)
	}
	recs, err := LoadContextFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// factsOnly is a guard over the private facts and activity log alone, as
// the figure of 28 users counts them.
func factsOnly(v *Vault) *Guard {
	return NewGuard(&Vault{Name: NewPrivate("\x00"), PrivateFacts: v.PrivateFacts, ActivityLog: v.ActivityLog})
}

func TestDevGeneralSectionsLeak(t *testing.T) {
	recs := devRecords(t)
	if len(recs) != 150 {
		t.Fatalf("%d records, want 150", len(recs))
	}
	leaky, changed, words, redactedWords := 0, 0, 0, 0
	for i, r := range recs {
		general := r.Task.General.UnsafeText()
		if len(factsOnly(r.Vault).Check(general)) > 0 {
			leaky++
		}
		g := NewGuard(r.Vault)
		pub, fs, err := g.Public(general, Redact)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if rest := g.Check(pub.String()); len(rest) != 0 {
			t.Errorf("record %d: %d findings remain after redaction", i, len(rest))
		}
		words += len(strings.Fields(general))
		if len(fs) > 0 {
			changed++
			for _, f := range fs {
				redactedWords += len(strings.Fields(general[f.Start:f.End]))
			}
		}
	}
	t.Logf("general sections matching a private fact or activity of their user: %d of %d", leaky, len(recs))
	t.Logf("after the full guard: %d of %d general sections redacted (%.1f%%), %d of %d words (%.1f%%)",
		changed, len(recs), 100*float64(changed)/float64(len(recs)), redactedWords, words, 100*float64(redactedWords)/float64(words))
	// Which of these reveal something, and which only share a topic, is
	// judged by TestDevLeakLabels against an annotator's labels.
	if leaky == 0 {
		t.Errorf("no general section matches its user's facts; the paper's data reveals some (README: record 0)")
	}
}

func TestDevRecallInjected(t *testing.T) {
	recs := devRecords(t)
	missed, total := 0, 0
	for i, r := range recs {
		g := NewGuard(r.Vault)
		carrier := recs[(i+1)%len(recs)].Task.General.UnsafeText()
		var probes []string
		for _, f := range r.Vault.PrivateFacts {
			probes = append(probes, f.UnsafeText())
		}
		for _, f := range r.Vault.ActivityLog {
			probes = append(probes, f.UnsafeText())
		}
		probes = append(probes, r.Vault.Name.UnsafeText(), r.Vault.Location.UnsafeText(),
			"write to jane.doe@example.com", "card 4111 1111 1111 1111", "IBAN DE89 3704 0044 0532 0130 00", "SSN 078-05-1120")
		for _, p := range probes {
			total++
			text := carrier + " and " + p + ". Thanks."
			if len(g.Check(text)) == 0 {
				missed++
				t.Errorf("record %d: an injected probe of %d words was not found", i, len(words(p)))
			}
		}
	}
	t.Logf("recall: %d of %d injected items found", total-missed, total)
}

func TestDevFalsePositives(t *testing.T) {
	recs := devRecords(t)
	guards := make([]*Guard, len(recs))
	for i, r := range recs {
		guards[i] = NewGuard(r.Vault)
	}
	fp, checks := 0, 0
	rules := map[string]int{}
	for i, g := range guards {
		for j, r := range recs {
			if i == j || recs[i].Vault.ID == r.Vault.ID {
				continue
			}
			checks++
			// Generic findings (names, places, ...) are the same for
			// every guard; this counts what the vault adds.
			fs := slices.DeleteFunc(g.Check(r.Task.General.UnsafeText()), func(f Finding) bool { return strings.HasPrefix(f.Rule, "pii.") })
			if len(fs) > 0 {
				fp++
				rules[fs[0].Rule]++
			}
		}
	}
	rate := float64(fp) / float64(checks)
	t.Logf("false positives on other users' general sections: %d of %d checks (%.3f%%), by rule %v", fp, checks, 100*rate, rules)
	if rate > 0.01 {
		t.Errorf("false-positive rate %.3f%% above 1%%", 100*rate)
	}
}
