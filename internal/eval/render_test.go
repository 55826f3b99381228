package eval

import (
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// goldenReport is a hand-made report of two datasets, two models and
// three strategies (the first the baseline), with names that need
// escaping or quoting, missing and single-seed values, ties for the best
// score, unrated outputs and pairs.
func goldenReport(pairwise string) *Report {
	rep := &Report{
		Kinds:    []string{"Ovl.(w)", "Per."},
		Datasets: []string{"d1", "d2"},
		Pairwise: pairwise,
		Baseline: "base",
	}
	models := []string{"m", `m "q", 2`}
	strats := []string{"base", "sys|tem", "multi\nline"}
	v := 0.0
	for di, d := range rep.Datasets {
		for mi, m := range models {
			for si, s := range strats {
				v += 0.37
				row := Row{
					Dataset: d, Model: m, Strategy: s, Baseline: si == 0,
					Scores:  map[string]Stat{},
					Unrated: map[string]int{},
					BLEU:    Stat{Mean: 10 + v, Std: v / 10, N: 3},
					ROUGEL:  Stat{Mean: 20 + v, N: 1},
					model:   mi, strat: si, ds: di,
				}
				switch (di + mi + si) % 4 {
				case 0:
					row.Scores["Ovl.(w)"] = Stat{Mean: 7.5, Std: 2.125, N: 2}
					row.Scores["Per."] = Stat{Mean: 6 + v, Std: 0.5, N: 3}
				case 1:
					row.Scores["Ovl.(w)"] = Stat{Mean: 7.5, N: 1}
					row.Scores["Per."] = Stat{Mean: 9 - v, Std: 0.25, N: 3}
					row.Unrated["Per."] = 2
				case 2:
					row.Scores["Ovl.(w)"] = Stat{Mean: 5 + v, Std: 1, N: 3}
					row.Unrated["Ovl.(w)"] = 3
					row.BLEU = Stat{Mean: math.NaN()}
				case 3:
					row.Scores["Ovl.(w)"] = Stat{Mean: 8 - v, Std: 0.1, N: 3}
					row.Scores["Per."] = Stat{Mean: 7.5, Std: 0.75, N: 2}
				}
				switch {
				case si == 0:
				case (di+mi)%2 == 0:
					row.Pairwise = WinTieLose{Win: 3, Tie: 1, Lose: 2, Unrated: si - 1}
				case si == 1:
					row.Pairwise = WinTieLose{Unrated: 4}
				default:
					row.Pairwise = WinTieLose{Win: 1, Lose: 2}
				}
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	rep.Usage = []UsageRow{
		{Strategy: "base", Outputs: 8, LocalPrompt: 1200, LocalCompletion: 300, Seconds: 4.5},
		{Strategy: "sys|tem", Outputs: 8, CloudCalls: 16, CloudPrompt: 5000, CloudCompletion: 700, LocalPrompt: 900, LocalCompletion: 310, Redactions: 2, Seconds: 9, Cost: 0.01234, Requests: 16, Leaks: 1, Blocked: 3},
		{Strategy: "multi\nline", Outputs: 8, CloudCalls: 8, CloudPrompt: 2500, CloudCompletion: 350, Seconds: 3, Cost: 0.00617, Requests: 8},
	}
	rep.Judge = JudgeUsage{Series: 96, Attempts: 101, Unrated: 4, Refused: 1, PromptTokens: 90000, CompletionTokens: 12000, Cost: 0.4321, Requests: 100, Private: 100}
	return rep
}

// TestReportTablesGolden checks the Markdown and CSV of Tables 1 and 3
// and the usage table of a hand-made report against testdata. The golden
// files were written by the renderers before the tables became [Table]
// values; -update rewrites them.
func TestReportTablesGolden(t *testing.T) {
	outputs := []struct {
		name   string
		render func(rep *Report) ([]byte, error)
	}{
		{"table1-md", func(rep *Report) ([]byte, error) { return []byte(rep.table1().Markdown()), nil }},
		{"table1-csv", func(rep *Report) ([]byte, error) { return rep.table1Data().CSV() }},
		{"table3-md", func(rep *Report) ([]byte, error) { return []byte(rep.table3().Markdown()), nil }},
		{"table3-csv", func(rep *Report) ([]byte, error) { return rep.table3Data().CSV() }},
		{"usage-md", func(rep *Report) ([]byte, error) { return []byte(rep.usageMarkdown()), nil }},
	}
	for _, pairwise := range []string{PairwiseJudge, PairwiseOff} {
		for _, o := range outputs {
			name := pairwise + "-" + o.name
			t.Run(name, func(t *testing.T) {
				got, err := o.render(goldenReport(pairwise))
				if err != nil {
					t.Fatalf("render: %v", err)
				}
				path := filepath.Join("testdata", "TestReportTablesGolden", name+".golden")
				if *update {
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("read golden file: %v", err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("%s (-want +got):\n%s", name, diff)
				}
			})
		}
	}
}
