package eval

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io/fs"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cogenesis/cogenesis/internal/atomicfile"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/eval/judge"
	"github.com/cogenesis/cogenesis/internal/eval/metrics"
)

// Row is the result of one dataset × model × strategy, over the seeds.
type Row struct {
	Dataset  string `json:"dataset"`
	Model    string `json:"model"`
	Strategy string `json:"strategy"`
	Baseline bool   `json:"baseline"`
	// Scores holds the judge score per prompt (keyed "Ovl.(w)", "Per.",
	// "Ovl.(w/o)"): per seed, the mean over records of each output's
	// median rating over the repeats; then mean and std over seeds.
	Scores map[string]Stat `json:"scores"`
	// Unrated counts the outputs (record × seed) per prompt that no
	// repeat rated; they are left out of the means.
	Unrated map[string]int `json:"unrated"`
	// PerSeed holds the per-seed means per prompt, in seed order (NaN
	// is written as null).
	PerSeed map[string][]float64 `json:"-"`
	// BLEU and ROUGEL are corpus BLEU and mean ROUGE-L F per seed against
	// the dataset's references, times 100 (as the paper's Table 3).
	BLEU   Stat `json:"bleu"`
	ROUGEL Stat `json:"rouge_l"`
	// Pairwise is win/tie/lose against the baseline over record × seed.
	Pairwise WinTieLose `json:"pairwise"`
	// Samples holds, per prompt, each record's rating (mean over seeds of
	// the per-output medians; NaN when unrated), in record order: the
	// stability plot's samples.
	Samples map[string][]float64 `json:"-"`

	model, strat, ds int
}

// Label is the row's "model + strategy" label.
func (r Row) Label() string { return r.Model + " + " + r.Strategy }

// UsageRow is the usage, cost and egress of one strategy over all its
// outputs in the plan (cached ones included).
type UsageRow struct {
	Strategy        string  `json:"strategy"`
	Outputs         int     `json:"outputs"`
	CloudCalls      int     `json:"cloud_calls"`
	CloudPrompt     int     `json:"cloud_prompt_tokens"`
	CloudCompletion int     `json:"cloud_completion_tokens"`
	LocalPrompt     int     `json:"local_prompt_tokens"`
	LocalCompletion int     `json:"local_completion_tokens"`
	Redactions      int     `json:"redactions"`
	Seconds         float64 `json:"seconds"`
	Cost            float64 `json:"cost"`
	// Requests, Leaks and Blocked count the strategy's audit log (all
	// runs into this output directory): requests sent, requests sent with
	// private content (verdict "private": a leak, allowed only for
	// llm-context with allow_private_egress), requests the guard blocked.
	Requests int `json:"audit_requests"`
	Leaks    int `json:"leaks"`
	Blocked  int `json:"blocked"`
}

// JudgeUsage is the judge's usage, cost and egress.
type JudgeUsage struct {
	Series           int     `json:"series"`
	Attempts         int     `json:"attempts"`
	Unrated          int     `json:"unrated"`
	Refused          int     `json:"refused"`
	PromptTokens     int     `json:"prompt_tokens"`
	CompletionTokens int     `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
	Requests         int     `json:"audit_requests"`
	Private          int     `json:"private"`
}

// Calls counts the model calls of this run.
type Calls struct {
	Generations   int64 `json:"generations"`
	CloudRequests int64 `json:"cloud_requests"`
	JudgeRequests int64 `json:"judge_requests"`
}

// Total is every model call of the run.
func (c Calls) Total() int64 { return c.Generations + c.CloudRequests + c.JudgeRequests }

// Report is what a run found.
type Report struct {
	Rows     []Row      `json:"rows"`
	Usage    []UsageRow `json:"usage"`
	Judge    JudgeUsage `json:"judge"`
	Calls    Calls      `json:"calls"`
	Kinds    []string   `json:"prompts"`
	Datasets []string   `json:"datasets"`
	Pairwise string     `json:"pairwise"`
	Baseline string     `json:"baseline"`
	// Markdown is Table 1, Table 3 and the usage table (report.md).
	Markdown string `json:"-"`
	// Files lists the files written into the output directory.
	Files []string `json:"-"`
}

// aggregate computes the report's rows and usage from the finished jobs.
func (r *runner) aggregate(p *plan) (*Report, error) {
	cfg := r.cfg
	rep := &Report{Pairwise: cfg.Judge.Pairwise, Baseline: cfg.Baseline}
	for _, k := range cfg.Judge.kinds() {
		rep.Kinds = append(rep.Kinds, k.String())
	}
	for _, d := range cfg.Datasets {
		rep.Datasets = append(rep.Datasets, d.Name)
	}
	// Ratings per output and kind: the repeats.
	ratings := map[*genJob]map[judge.Kind][]*float64{}
	for _, j := range p.judges {
		m := ratings[j.gen]
		if m == nil {
			m = map[judge.Kind][]*float64{}
			ratings[j.gen] = m
		}
		m[j.kind] = append(m[j.kind], j.result.Rating)
	}
	verdicts := map[*genJob][2]string{}
	for _, j := range p.pairs {
		v := verdicts[j.gen]
		if j.swapped {
			v[1] = j.result.Verdict
		} else {
			v[0] = j.result.Verdict
		}
		verdicts[j.gen] = v
	}
	base := p.baseline()
	for di, d := range cfg.Datasets {
		recs := p.records[di]
		for mi, m := range cfg.Models {
			for si, s := range cfg.Strategies {
				row := Row{
					Dataset: d.Name, Model: m.Name, Strategy: s.Name, Baseline: si == base,
					Scores: map[string]Stat{}, Unrated: map[string]int{}, PerSeed: map[string][]float64{}, Samples: map[string][]float64{},
					model: mi, strat: si, ds: di,
				}
				for _, kind := range cfg.Judge.kinds() {
					perSeed := make([]float64, len(cfg.Seeds))
					perRec := make([][]float64, len(recs))
					for sx, seed := range cfg.Seeds {
						vals := make([]float64, len(recs))
						for ri, rec := range recs {
							g := p.byCell[cellKey{di, mi, si, rec.index, seed}]
							v, ok := median(ratings[g][kind])
							if !ok {
								row.Unrated[kind.String()]++
								v = math.NaN()
							}
							vals[ri] = v
							perRec[ri] = append(perRec[ri], v)
						}
						perSeed[sx] = mean(vals)
					}
					row.Scores[kind.String()] = meanStd(perSeed)
					row.PerSeed[kind.String()] = perSeed
					samples := make([]float64, len(recs))
					for ri := range recs {
						samples[ri] = mean(perRec[ri])
					}
					row.Samples[kind.String()] = samples
				}
				var bleus, rouges []float64
				for _, seed := range cfg.Seeds {
					var preds []string
					var refs [][]string
					for _, rec := range recs {
						g := p.byCell[cellKey{di, mi, si, rec.index, seed}]
						preds = append(preds, g.result.Text)
						refs = append(refs, []string{rec.rec.Reference.UnsafeText()})
					}
					b, err := metrics.BLEU(preds, refs)
					switch {
					case errors.Is(err, metrics.ErrZeroReferenceLength):
						bleus = append(bleus, math.NaN())
					case err != nil:
						return nil, fmt.Errorf("bleu %s: %w", row.Label(), err)
					default:
						bleus = append(bleus, 100*b.BLEU)
					}
					_, f, err := metrics.ROUGELCorpus(preds, refs)
					if err != nil {
						return nil, fmt.Errorf("rouge-l %s: %w", row.Label(), err)
					}
					rouges = append(rouges, 100*f)
				}
				row.BLEU, row.ROUGEL = meanStd(bleus), meanStd(rouges)
				if si != base {
					for _, seed := range cfg.Seeds {
						for _, rec := range recs {
							g := p.byCell[cellKey{di, mi, si, rec.index, seed}]
							b := p.byCell[cellKey{di, mi, base, rec.index, seed}]
							switch cfg.Judge.Pairwise {
							case PairwiseJudge:
								v := verdicts[g]
								first, ok1 := parseVerdict(v[0])
								second, ok2 := parseVerdict(v[1])
								if !ok1 || !ok2 {
									row.Pairwise.Unrated++
									continue
								}
								row.Pairwise.add(judge.CombineOrders(first, second))
							case PairwiseRatings:
								a, ok1 := median(ratings[g][judge.Overall])
								bb, ok2 := median(ratings[b][judge.Overall])
								if !ok1 || !ok2 {
									row.Pairwise.Unrated++
									continue
								}
								row.Pairwise.add(judge.Compare(a, bb))
							}
						}
					}
				}
				rep.Rows = append(rep.Rows, row)
			}
		}
	}

	// Usage per strategy, over every output of the plan.
	for si, s := range cfg.Strategies {
		u := UsageRow{Strategy: s.Name}
		for _, g := range p.gens {
			if g.strat != si {
				continue
			}
			u.Outputs++
			u.CloudCalls += g.result.CloudCalls
			u.CloudPrompt += g.result.CloudPrompt
			u.CloudCompletion += g.result.CloudCompletion
			u.LocalPrompt += g.result.LocalPrompt
			u.LocalCompletion += g.result.LocalCompletion
			u.Redactions += g.result.Redactions
			u.Seconds += g.result.Seconds
		}
		u.Cost = (float64(u.CloudPrompt)*cfg.Prices.CloudIn + float64(u.CloudCompletion)*cfg.Prices.CloudOut) / 1e6
		recs, err := readAudit(filepath.Join(cfg.Out, "audit", safeName(s.Name)+".jsonl"))
		if err != nil {
			return nil, err
		}
		for _, a := range recs {
			switch a.Verdict {
			case audit.VerdictBlock:
				u.Blocked++
			case audit.VerdictPrivate:
				u.Leaks++
				u.Requests++
			default:
				u.Requests++
			}
		}
		rep.Usage = append(rep.Usage, u)
	}
	for _, j := range append(append([]*judgeJob(nil), p.judges...), p.pairs...) {
		rep.Judge.Series++
		rep.Judge.Attempts += j.result.Attempts
		rep.Judge.PromptTokens += j.result.PromptTokens
		rep.Judge.CompletionTokens += j.result.CompletionTokens
		if j.result.Rating == nil && j.result.Verdict == "" {
			rep.Judge.Unrated++
		}
		if j.result.Refused != "" {
			rep.Judge.Refused++
		}
	}
	rep.Judge.Cost = (float64(rep.Judge.PromptTokens)*cfg.Prices.JudgeIn + float64(rep.Judge.CompletionTokens)*cfg.Prices.JudgeOut) / 1e6
	jrecs, err := readAudit(filepath.Join(cfg.Out, "judge-audit.jsonl"))
	if err != nil {
		return nil, err
	}
	for _, a := range jrecs {
		if a.Verdict != audit.VerdictBlock {
			rep.Judge.Requests++
		}
		if a.Verdict == audit.VerdictPrivate {
			rep.Judge.Private++
		}
	}
	rep.Calls = Calls{Generations: r.genRuns.Load(), CloudRequests: r.cloudRequests.Load(), JudgeRequests: r.judgeRequests.Load()}
	return rep, nil
}

// readAudit reads an audit log, verifying its chain; a missing log has no
// records.
func readAudit(path string) ([]audit.Record, error) {
	recs, err := audit.Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return recs, err
}

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
	t1md := rep.table1Markdown()
	t3md := rep.table3Markdown()
	umd := rep.usageMarkdown(r.cfg)
	rep.Markdown = "## Table 1: judge scores (mean ± std over seeds)\n\n" + t1md +
		"\n## Table 3: pairwise against " + rep.Baseline + ", BLEU and ROUGE-L\n\n" + t3md +
		"\n## Usage, cost and egress\n\n" + umd
	files := []struct {
		name string
		data func() ([]byte, error)
	}{
		{"report.md", func() ([]byte, error) { return []byte(rep.Markdown), nil }},
		{"table1.md", func() ([]byte, error) { return []byte(t1md), nil }},
		{"table1.csv", rep.table1CSV},
		{"table1.html", func() ([]byte, error) { return []byte(rep.table1HTML()), nil }},
		{"table3.md", func() ([]byte, error) { return []byte(t3md), nil }},
		{"table3.csv", rep.table3CSV},
		{"table3.html", func() ([]byte, error) { return []byte(rep.table3HTML()), nil }},
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

// table1Markdown is Table 1's layout: one row per model and strategy, per
// dataset the three judge scores; best in bold, second underlined, the
// change against the baseline with arrows.
func (rep *Report) table1Markdown() string {
	var b strings.Builder
	b.WriteString("| Model and setting |")
	for _, d := range rep.Datasets {
		for _, k := range rep.Kinds {
			fmt.Fprintf(&b, " %s %s |", d, k)
		}
	}
	b.WriteString("\n|---|")
	for range rep.Datasets {
		for range rep.Kinds {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	ranks := rep.ranks()
	for _, set := range rep.settings() {
		first := rep.cell(0, set[0], set[1])
		fmt.Fprintf(&b, "| %s |", mdEscape(first.Label()))
		for di, d := range rep.Datasets {
			row := rep.cell(di, set[0], set[1])
			base, _ := rep.baseRow(row)
			for _, k := range rep.Kinds {
				s := row.Scores[k]
				txt := fmtStat(s)
				if rk := ranks[[2]string{d, k}]; s.Valid() && s.Mean == rk[0] {
					txt = "**" + txt + "**"
				} else if s.Valid() && s.Mean == rk[1] {
					txt = "<u>" + txt + "</u>"
				}
				if !row.Baseline {
					if dl := delta(s, base.Scores[k]); dl != "" {
						txt += " " + dl
					}
				}
				if n := row.Unrated[k]; n > 0 {
					txt += fmt.Sprintf(" (%d unrated)", n)
				}
				fmt.Fprintf(&b, " %s |", txt)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// table1CSV is Table 1 as CSV: one row per setting, per dataset and
// prompt a mean, a std and an unrated count.
func (rep *Report) table1CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	head := []string{"model", "strategy", "baseline"}
	for _, d := range rep.Datasets {
		for _, k := range rep.Kinds {
			head = append(head, d+" "+k+" mean", d+" "+k+" std", d+" "+k+" unrated")
		}
	}
	if err := w.Write(head); err != nil {
		return nil, err
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
		if err := w.Write(line); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

const pageStyle = `<style>
body{font:14px/1.5 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:4px 10px;text-align:center}
td.l,th.l{text-align:left}
tr.base td{background:#f3f3f3}
.up{color:#1a7f37;font-size:85%}.down{color:#c62828;font-size:85%}
.meta{color:#666;font-size:13px}
</style>`

// table1HTML is Table 1 as a self-contained HTML page.
func (rep *Report) table1HTML() string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cogen eval: Table 1</title>" + pageStyle + "</head><body>\n")
	b.WriteString("<h2>Judge scores (mean ± std over seeds)</h2>\n<table>\n<tr><th class=\"l\" rowspan=\"2\">Model and setting</th>")
	for _, d := range rep.Datasets {
		fmt.Fprintf(&b, "<th colspan=\"%d\">%s</th>", len(rep.Kinds), html.EscapeString(d))
	}
	b.WriteString("</tr>\n<tr>")
	for range rep.Datasets {
		for _, k := range rep.Kinds {
			fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(k))
		}
	}
	b.WriteString("</tr>\n")
	ranks := rep.ranks()
	for _, set := range rep.settings() {
		first := rep.cell(0, set[0], set[1])
		cls := ""
		if first.Baseline {
			cls = ` class="base"`
		}
		fmt.Fprintf(&b, "<tr%s><td class=\"l\">%s</td>", cls, html.EscapeString(first.Label()))
		for di, d := range rep.Datasets {
			row := rep.cell(di, set[0], set[1])
			base, _ := rep.baseRow(row)
			for _, k := range rep.Kinds {
				s := row.Scores[k]
				txt := html.EscapeString(fmtStat(s))
				if rk := ranks[[2]string{d, k}]; s.Valid() && s.Mean == rk[0] {
					txt = "<b>" + txt + "</b>"
				} else if s.Valid() && s.Mean == rk[1] {
					txt = "<u>" + txt + "</u>"
				}
				if dl := delta(s, base.Scores[k]); dl != "" && !row.Baseline {
					c := "up"
					if strings.HasPrefix(dl, "↓") {
						c = "down"
					}
					txt += fmt.Sprintf(" <span class=\"%s\">%s</span>", c, dl)
				}
				if n := row.Unrated[k]; n > 0 {
					txt += fmt.Sprintf(" <span class=\"meta\">(%d unrated)</span>", n)
				}
				fmt.Fprintf(&b, "<td>%s</td>", txt)
			}
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</table>\n<p class=\"meta\">Best per column in bold, second underlined; arrows: change against the baseline " + html.EscapeString(rep.Baseline) + " of the same model. Scores: per seed the mean over records of each output's median rating over the judge repeats; unrated outputs are left out.</p>\n</body></html>\n")
	return b.String()
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

// table3Markdown is Table 3's layout: win/tie/lose (%) against the
// baseline, BLEU and ROUGE-L, per dataset, model and strategy.
func (rep *Report) table3Markdown() string {
	var b strings.Builder
	b.WriteString("| Dataset | Model and setting | Win/Tie/Lose (%) | BLEU | ROUGE-L |\n|---|---|---|---|---|\n")
	for _, r := range rep.Rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdEscape(r.Dataset), mdEscape(r.Label()), rep.wtl(r), fmtStat(r.BLEU), fmtStat(r.ROUGEL))
	}
	return b.String()
}

// table3CSV is Table 3 as CSV, with counts.
func (rep *Report) table3CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write([]string{"dataset", "model", "strategy", "baseline", "win", "tie", "lose", "unrated", "win_pct", "tie_pct", "lose_pct", "bleu_mean", "bleu_std", "rouge_l_mean", "rouge_l_std"}); err != nil {
		return nil, err
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
		if err := w.Write(line); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return buf.Bytes(), w.Error()
}

// table3HTML is Table 3 as a self-contained HTML page.
func (rep *Report) table3HTML() string {
	var b strings.Builder
	b.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>cogen eval: Table 3</title>" + pageStyle + "</head><body>\n")
	fmt.Fprintf(&b, "<h2>Pairwise against %s, BLEU and ROUGE-L</h2>\n<table>\n<tr><th class=\"l\">Dataset</th><th class=\"l\">Model and setting</th><th>Win/Tie/Lose (%%)</th><th>BLEU</th><th>ROUGE-L</th></tr>\n", html.EscapeString(rep.Baseline))
	for _, r := range rep.Rows {
		cls := ""
		if r.Baseline {
			cls = ` class="base"`
		}
		fmt.Fprintf(&b, "<tr%s><td class=\"l\">%s</td><td class=\"l\">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", cls,
			html.EscapeString(r.Dataset), html.EscapeString(r.Label()), html.EscapeString(rep.wtl(r)), html.EscapeString(fmtStat(r.BLEU)), html.EscapeString(fmtStat(r.ROUGEL)))
	}
	mode := map[string]string{
		PairwiseJudge:   "the judge compares each output with the baseline's output for the same record and seed in both presentation orders; a win only when both orders prefer the system, a loss only when both prefer the baseline, a tie otherwise",
		PairwiseRatings: "the Ovl.(w) ratings of each output and the baseline's output for the same record and seed are compared",
		PairwiseOff:     "off",
	}[rep.Pairwise]
	fmt.Fprintf(&b, "</table>\n<p class=\"meta\">Win/tie/lose: %s. BLEU (corpus, Hugging Face evaluate's bleu) and ROUGE-L (mean rougeL F) against the dataset's references, ×100, mean ± std over seeds.</p>\n</body></html>\n", html.EscapeString(mode))
	return b.String()
}

// usageMarkdown is the usage, cost and egress table.
func (rep *Report) usageMarkdown(cfg *Config) string {
	var b strings.Builder
	b.WriteString("| Strategy | Outputs | Cloud calls | Cloud tokens in/out | Local tokens in/out | Redactions | Audit requests | Leaks (private) | Blocked | Cost |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, u := range rep.Usage {
		fmt.Fprintf(&b, "| %s | %d | %d | %d/%d | %d/%d | %d | %d | %d | %d | %.4f |\n", mdEscape(u.Strategy), u.Outputs, u.CloudCalls,
			u.CloudPrompt, u.CloudCompletion, u.LocalPrompt, u.LocalCompletion, u.Redactions, u.Requests, u.Leaks, u.Blocked, u.Cost)
	}
	j := rep.Judge
	fmt.Fprintf(&b, "\nJudge: %d request series, %d attempts, %d unrated (%d refused by the judge); tokens in/out %d/%d; cost %.4f; %d requests in judge-audit.jsonl, %d carrying private context (judge.allow_private).\n",
		j.Series, j.Attempts, j.Unrated, j.Refused, j.PromptTokens, j.CompletionTokens, j.Cost, j.Requests, j.Private)
	return b.String()
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
