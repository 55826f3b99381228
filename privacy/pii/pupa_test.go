package pii

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// pupaPath is the PUPA file beside the checkout (shared/data/pupa).
const pupaPath = "../../../shared/data/pupa/PUPA_New.csv"

// readPUPA returns the PUPA file, or stands the test down when it is
// missing (and fails under CI).
func readPUPA(tb testing.TB) []byte {
	tb.Helper()
	b, err := os.ReadFile(pupaPath)
	if errors.Is(err, fs.ErrNotExist) {
		deptest.Missing(tb, "PUPA data %s: the shared data directory beside the checkout", pupaPath)
		return nil
	}
	if err != nil {
		tb.Fatalf("read PUPA: %v", err)
	}
	return b
}

// pupaDetectors are the detectors measured on PUPA: this package's two
// settings, the default with every web address (Link) and the project's
// detector before this package.
var pupaDetectors = []struct {
	name   string
	detect func(string) []Span
}{
	{"default", Detect},
	{"precise", Detector{Precise: true}.Detect},
	{"links", Detector{Kinds: append(DefaultKinds(), Link)}.Detect},
	{"before", beforeDetect},
}

// TestPUPA measures the detectors on the real PUPA prompts and checks the
// figures against floors and ceilings a little below and above what they
// measured when this test was written (doc.go gives the figures). The
// name scorer and its thresholds were trained and chosen on the Even
// half only (see TestTrainScorer): the thresholds keep Even at or below
// 0.2 (default) and 0.1 (Precise) false findings per prompt, which this
// test checks exactly; Odd is held out.
//
// The target is recall >= 60% with <= 0.2 false findings per
// prompt. Neither setting meets it on the held-out half: the test logs
// where each stands.
func TestPUPA(t *testing.T) {
	data := readPUPA(t)
	reps := map[string]Report{}
	for _, d := range pupaDetectors {
		rep, err := EvalPUPA(bytes.NewReader(data), d.detect)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		reps[d.name] = rep
		t.Logf("%s all:  %v", d.name, rep.Tally)
		t.Logf("%s even: %v", d.name, rep.Even)
		t.Logf("%s odd:  %v", d.name, rep.Odd)
		for _, k := range slices.Sorted(maps.Keys(rep.ByKind)) {
			v := rep.ByKind[k]
			t.Logf("%s kind %s: findings %d, true %d, false %d, units recalled %d", d.name, k, v.Findings, v.True, v.False, v.Recalled)
		}
	}

	// The data set: counts that do not depend on the detector.
	all := reps["default"].Tally
	if all.Prompts != 664 || all.Units != 1594 || all.AbsentUnits != 59 || all.PlaceholderUnits != 35 {
		t.Errorf("data: prompts %d units %d absent %d placeholders %d, want 664, 1594, 59, 35",
			all.Prompts, all.Units, all.AbsentUnits, all.PlaceholderUnits)
	}
	if e, o := reps["default"].Even, reps["default"].Odd; e.Prompts+o.Prompts != all.Prompts || e.Units+o.Units != all.Units {
		t.Errorf("halves do not add up: even %d+odd %d prompts, %d+%d units", e.Prompts, o.Prompts, e.Units, o.Units)
	}

	type bound struct {
		name              string
		t                 Tally
		minRecall, maxFPP float64
	}
	def, pre, before := reps["default"], reps["precise"], reps["before"]
	for _, b := range []bound{
		{"default all", def.Tally, 0.435, 0.25},
		{"default even", def.Even, 0.475, targetFalse},
		{"default odd", def.Odd, 0.40, 0.34},
		{"precise all", pre.Tally, 0.29, 0.125},
		{"precise even", pre.Even, 0.31, preciseFalse},
		{"precise odd", pre.Odd, 0.27, 0.16},
		{"before all", before.Tally, 0, 0.15},
	} {
		if r := b.t.Recall(); r < b.minRecall {
			t.Errorf("%s: recall %.3f, want >= %.2f", b.name, r, b.minRecall)
		}
		if f := b.t.FalsePerPrompt(); f > b.maxFPP {
			t.Errorf("%s: %.3f false findings per prompt, want <= %.2f", b.name, f, b.maxFPP)
		}
	}
	if pre.FalseFindings >= def.FalseFindings || pre.UnitsRecalled >= def.UnitsRecalled {
		t.Errorf("precise: %d false findings, %d units; default %d, %d: want fewer of both", pre.FalseFindings, pre.UnitsRecalled, def.FalseFindings, def.UnitsRecalled)
	}
	if before.Recall() > 0.05 || def.Recall() < before.Recall()+0.4 {
		t.Errorf("before recall %.3f, default %.3f: want the default far above", before.Recall(), def.Recall())
	}
	for _, d := range []struct {
		name string
		t    Tally
	}{{"default odd", def.Odd}, {"precise odd", pre.Odd}, {"default all", def.Tally}} {
		t.Logf("issue target (recall >= 0.60, false/prompt <= 0.20): %s recall %.3f (met %v), false/prompt %.3f (met %v; strict %.3f)",
			d.name, d.t.Recall(), d.t.Recall() >= 0.6, d.t.FalsePerPrompt(), d.t.FalsePerPrompt() <= 0.2, d.t.StrictFalsePerPrompt())
	}
}

// BenchmarkPUPA runs each detector over the PUPA file and reports its
// figures on the whole file.
func BenchmarkPUPA(b *testing.B) {
	data := readPUPA(b)
	for _, d := range pupaDetectors {
		b.Run(d.name, func(b *testing.B) {
			var rep Report
			for b.Loop() {
				var err error
				if rep, err = EvalPUPA(bytes.NewReader(data), d.detect); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(rep.Recall(), "recall")
			b.ReportMetric(rep.FalsePerPrompt(), "false/prompt")
			b.ReportMetric(rep.FlaggedShare(), "flagged")
			b.ReportMetric(rep.Even.Recall(), "recall-even")
			b.ReportMetric(rep.Even.FalsePerPrompt(), "false/prompt-even")
			b.ReportMetric(rep.Odd.Recall(), "recall-odd")
			b.ReportMetric(rep.Odd.FalsePerPrompt(), "false/prompt-odd")
		})
	}
}
