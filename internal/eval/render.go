package eval

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"

	"github.com/cogenesis/cogenesis/internal/atomicfile"
)

// report aggregates and writes every output file.
func (r *runner) report(ctx context.Context, p *plan) (*Report, error) {
	rep, err := r.aggregate(p)
	if err != nil {
		return nil, err
	}
	out := r.cfg.Out
	write := func(name string, data []byte) error {
		path := filepath.Join(out, name)
		if err := atomicfile.Write(path, data, 0o644); err != nil {
			return err
		}
		rep.Files = append(rep.Files, path)
		return nil
	}
	t1, t3 := rep.table1(), rep.table3()
	t1md, t3md := t1.Markdown(), t3.Markdown()
	umd := rep.usageMarkdown()
	rep.Markdown = "## Table 1: judge scores (mean ± std over seeds)\n\n" + t1md +
		"\n## Table 3: pairwise against " + rep.Baseline + ", BLEU and ROUGE-L\n\n" + t3md +
		"\n## Usage, cost and egress\n\n" + umd
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{"report.md", func() ([]byte, error) { return []byte(rep.Markdown), nil }},
		{"table1.md", func() ([]byte, error) { return []byte(t1md), nil }},
		{"table1.csv", rep.table1Data().CSV},
		{"table1.html", t1.HTML},
		{"table3.md", func() ([]byte, error) { return []byte(t3md), nil }},
		{"table3.csv", rep.table3Data().CSV},
		{"table3.html", t3.HTML},
		{"usage.md", func() ([]byte, error) { return []byte(umd), nil }},
		{"weights.html", func() ([]byte, error) { return r.weightsHTML(p) }},
	}
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return nil, fmt.Errorf("write %s: %w", f.name, err)
		}
		if err := write(f.name, data); err != nil {
			return nil, err
		}
	}
	for _, kind := range rep.Kinds {
		data, err := rep.stabilityPNG(kind)
		if err != nil {
			return nil, fmt.Errorf("stability plot %s: %w", kind, err)
		}
		if err := write("stability-"+kindFile(kind)+".png", data); err != nil {
			return nil, err
		}
	}
	results, err := rep.resultsJSON(r.cfg)
	if err != nil {
		return nil, err
	}
	if err := write("results.json", results); err != nil {
		return nil, err
	}
	return rep, nil
}

// kindFile turns a prompt label into a file-name part: "Ovl.(w/o)" is
// "ovl-wo".
func kindFile(kind string) string {
	for name, k := range promptNames {
		if k.String() == kind {
			return name
		}
	}
	return safeName(kind)
}

// fmtStat formats a stat as "7.12 ± 0.30", a single seed's value as
// "7.12", and no value as "—".
func fmtStat(s Stat) string {
	switch s.N {
	case 0:
		return "—"
	case 1:
		return fmt.Sprintf("%.2f", s.Mean)
	}
	return fmt.Sprintf("%.2f ± %.2f", s.Mean, s.Std)
}

// delta formats the change against the baseline: "↑0.18", "↓0.52".
func delta(s, base Stat) string {
	if !s.Valid() || !base.Valid() {
		return ""
	}
	d := s.Mean - base.Mean
	if d >= 0 {
		return fmt.Sprintf("↑%.2f", d)
	}
	return fmt.Sprintf("↓%.2f", -d)
}

// rowsOf returns the rows of a model and a dataset, in strategy order.
func (rep *Report) rowsOf(ds, model int) []Row {
	var out []Row
	for _, r := range rep.Rows {
		if r.ds == ds && r.model == model {
			out = append(out, r)
		}
	}
	return out
}

// settings returns the (model, strategy) pairs in table order.
func (rep *Report) settings() [][2]int {
	var out [][2]int
	seen := map[[2]int]bool{}
	for _, r := range rep.Rows {
		k := [2]int{r.model, r.strat}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// cell returns the row of a setting and dataset.
func (rep *Report) cell(ds, model, strat int) Row {
	for _, r := range rep.Rows {
		if r.ds == ds && r.model == model && r.strat == strat {
			return r
		}
	}
	panic("eval: missing report row")
}

// baseRow returns the baseline's row for the same dataset and model.
func (rep *Report) baseRow(r Row) (Row, bool) {
	for _, b := range rep.rowsOf(r.ds, r.model) {
		if b.Baseline {
			return b, true
		}
	}
	return Row{}, false
}

// ranks returns, for each dataset and prompt, the best and second-best
// means over the settings (the paper marks them bold and underlined).
func (rep *Report) ranks() map[[2]string][2]float64 {
	out := map[[2]string][2]float64{}
	for di, d := range rep.Datasets {
		for _, k := range rep.Kinds {
			var vals []float64
			for _, r := range rep.Rows {
				if r.ds == di && r.Scores[k].Valid() {
					vals = append(vals, r.Scores[k].Mean)
				}
			}
			slices.Sort(vals)
			vals = slices.Compact(vals)
			best, second := math.NaN(), math.NaN()
			if n := len(vals); n > 0 {
				best = vals[n-1]
				if n > 1 {
					second = vals[n-2]
				}
			}
			out[[2]string{d, k}] = [2]float64{best, second}
		}
	}
	return out
}

// table1 is Table 1's layout: one row per model and strategy, per
// dataset the judge scores; best in bold, second underlined, the change
// against the baseline with arrows.
func (rep *Report) table1() *Table {
	t := &Table{
		Name:   "Table 1",
		Title:  "Judge scores (mean ± std over seeds)",
		Header: []string{"Model and setting"},
		Labels: 1,
		Notes: []string{"Best per column in bold, second underlined; arrows: change against the baseline " + rep.Baseline +
			" of the same model. Scores: per seed the mean over records of each output's median rating over the judge repeats; unrated outputs are left out."},
	}
	for _, d := range rep.Datasets {
		for _, k := range rep.Kinds {
			t.Header = append(t.Header, d+" "+k)
		}
	}
	ranks := rep.ranks()
	for _, set := range rep.settings() {
		first := rep.cell(0, set[0], set[1])
		line := []Cell{{Text: first.Label(), Base: first.Baseline}}
		for di, d := range rep.Datasets {
			row := rep.cell(di, set[0], set[1])
			base, _ := rep.baseRow(row)
			for _, k := range rep.Kinds {
				s := row.Scores[k]
				c := Cell{Text: fmtStat(s), Base: row.Baseline}
				if rk := ranks[[2]string{d, k}]; s.Valid() && s.Mean == rk[0] {
					c.Rank = RankBest
				} else if s.Valid() && s.Mean == rk[1] {
					c.Rank = RankSecond
				}
				if !row.Baseline {
					c.Delta = delta(s, base.Scores[k])
				}
				if n := row.Unrated[k]; n > 0 {
					c.Note = fmt.Sprintf("(%d unrated)", n)
				}
				line = append(line, c)
			}
		}
		t.Rows = append(t.Rows, line)
	}
	return t
}

// table1Data is Table 1's data (table1.csv): one row per setting, per
// dataset and prompt a mean, a std and an unrated count.
func (rep *Report) table1Data() *Table {
	t := &Table{Name: "Table 1", Header: []string{"model", "strategy", "baseline"}}
	for _, d := range rep.Datasets {
		for _, k := range rep.Kinds {
			t.Header = append(t.Header, d+" "+k+" mean", d+" "+k+" std", d+" "+k+" unrated")
		}
	}
	for _, set := range rep.settings() {
		first := rep.cell(0, set[0], set[1])
		line := []string{first.Model, first.Strategy, fmt.Sprint(first.Baseline)}
		for di := range rep.Datasets {
			row := rep.cell(di, set[0], set[1])
			for _, k := range rep.Kinds {
				s := row.Scores[k]
				if s.Valid() {
					line = append(line, fmt.Sprintf("%.4f", s.Mean), fmt.Sprintf("%.4f", s.Std))
				} else {
					line = append(line, "", "")
				}
				line = append(line, fmt.Sprint(row.Unrated[k]))
			}
		}
		t.Rows = append(t.Rows, textCells(line...))
	}
	return t
}

// textCells returns cells of plain texts.
func textCells(texts ...string) []Cell {
	cells := make([]Cell, len(texts))
	for i, s := range texts {
		cells[i] = Cell{Text: s}
	}
	return cells
}

// wtl formats win/tie/lose as the paper's "38/2/10" in percent.
func (rep *Report) wtl(r Row) string {
	if r.Baseline {
		return "baseline"
	}
	if rep.Pairwise == PairwiseOff {
		return "—"
	}
	w, t, l := r.Pairwise.Percent()
	if math.IsNaN(w) {
		return "—"
	}
	s := fmt.Sprintf("%.0f/%.0f/%.0f", w, t, l)
	if r.Pairwise.Unrated > 0 {
		s += fmt.Sprintf(" (%d unrated)", r.Pairwise.Unrated)
	}
	return s
}

// table3 is Table 3's layout: win/tie/lose (%) against the baseline,
// BLEU and ROUGE-L, per dataset, model and strategy.
func (rep *Report) table3() *Table {
	mode := map[string]string{
		PairwiseJudge:   "the judge compares each output with the baseline's output for the same record and seed in both presentation orders; a win only when both orders prefer the system, a loss only when both prefer the baseline, a tie otherwise",
		PairwiseRatings: "the Ovl.(w) ratings of each output and the baseline's output for the same record and seed are compared",
		PairwiseOff:     "off",
	}[rep.Pairwise]
	t := &Table{
		Name:   "Table 3",
		Title:  "Pairwise against " + rep.Baseline + ", BLEU and ROUGE-L",
		Header: []string{"Dataset", "Model and setting", "Win/Tie/Lose (%)", "BLEU", "ROUGE-L"},
		Labels: 2,
		Notes: []string{"Win/tie/lose: " + mode + ". BLEU (corpus, Hugging Face evaluate's bleu) and ROUGE-L (mean rougeL F)" +
			" against the dataset's references, ×100, mean ± std over seeds."},
	}
	for _, r := range rep.Rows {
		line := textCells(r.Dataset, r.Label(), rep.wtl(r), fmtStat(r.BLEU), fmtStat(r.ROUGEL))
		for i := range line {
			line[i].Base = r.Baseline
		}
		t.Rows = append(t.Rows, line)
	}
	return t
}

// table3Data is Table 3's data (table3.csv), with counts.
func (rep *Report) table3Data() *Table {
	t := &Table{
		Name: "Table 3",
		Header: []string{"dataset", "model", "strategy", "baseline", "win", "tie", "lose", "unrated",
			"win_pct", "tie_pct", "lose_pct", "bleu_mean", "bleu_std", "rouge_l_mean", "rouge_l_std"},
	}
	f := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return fmt.Sprintf("%.4f", x)
	}
	for _, r := range rep.Rows {
		wp, tp, lp := r.Pairwise.Percent()
		pw := r.Pairwise
		line := []string{r.Dataset, r.Model, r.Strategy, fmt.Sprint(r.Baseline),
			fmt.Sprint(pw.Win), fmt.Sprint(pw.Tie), fmt.Sprint(pw.Lose), fmt.Sprint(pw.Unrated),
			f(wp), f(tp), f(lp), f(r.BLEU.Mean), f(r.BLEU.Std), f(r.ROUGEL.Mean), f(r.ROUGEL.Std)}
		if r.Baseline {
			for i := 4; i <= 10; i++ {
				line[i] = ""
			}
		}
		t.Rows = append(t.Rows, textCells(line...))
	}
	return t
}

// usageTable is the usage, cost and egress table, one row per strategy.
func (rep *Report) usageTable() *Table {
	t := &Table{
		Name: "Usage",
		Header: []string{"Strategy", "Outputs", "Cloud calls", "Cloud tokens in/out", "Local tokens in/out",
			"Redactions", "Audit requests", "Leaks (private)", "Blocked", "Cost"},
		Labels: 1,
	}
	for _, u := range rep.Usage {
		t.Rows = append(t.Rows, textCells(u.Strategy, fmt.Sprint(u.Outputs), fmt.Sprint(u.CloudCalls),
			fmt.Sprintf("%d/%d", u.CloudPrompt, u.CloudCompletion), fmt.Sprintf("%d/%d", u.LocalPrompt, u.LocalCompletion),
			fmt.Sprint(u.Redactions), fmt.Sprint(u.Requests), fmt.Sprint(u.Leaks), fmt.Sprint(u.Blocked), fmt.Sprintf("%.4f", u.Cost)))
	}
	return t
}

// usageMarkdown is the usage table followed by the judge's usage.
func (rep *Report) usageMarkdown() string {
	j := rep.Judge
	return rep.usageTable().Markdown() + fmt.Sprintf("\nJudge: %d request series, %d attempts, %d unrated (%d refused by the judge); tokens in/out %d/%d; cost %.4f; %d requests in judge-audit.jsonl, %d carrying private context (judge.allow_private).\n",
		j.Series, j.Attempts, j.Unrated, j.Refused, j.PromptTokens, j.CompletionTokens, j.Cost, j.Requests, j.Private)
}

// resultsJSON is the machine-readable report, with the per-seed values.
func (rep *Report) resultsJSON(cfg *Config) ([]byte, error) {
	type rowOut struct {
		Row
		PerSeed map[string][]*float64 `json:"per_seed"`
	}
	out := struct {
		*Report
		Seeds []uint64 `json:"seeds"`
		Rows  []rowOut `json:"rows"`
	}{Report: rep, Seeds: cfg.Seeds}
	for _, r := range rep.Rows {
		ro := rowOut{Row: r, PerSeed: map[string][]*float64{}}
		for k, vs := range r.PerSeed {
			for _, v := range vs {
				if math.IsNaN(v) {
					ro.PerSeed[k] = append(ro.PerSeed[k], nil)
				} else {
					ro.PerSeed[k] = append(ro.PerSeed[k], &v)
				}
			}
		}
		out.Rows = append(out.Rows, ro)
	}
	var buf bytes.Buffer
	enc := jsonEncoder(&buf)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
