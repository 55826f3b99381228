package eval

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"path/filepath"

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
	jd := p.judgements()
	base := p.baseline()
	for di, d := range cfg.Datasets {
		for mi, m := range cfg.Models {
			for si, s := range cfg.Strategies {
				row := Row{
					Dataset: d.Name, Model: m.Name, Strategy: p.strategyLabel(di, mi, si, s.Name), Baseline: si == base,
					Scores: map[string]Stat{}, Unrated: map[string]int{}, PerSeed: map[string][]float64{}, Samples: map[string][]float64{},
					model: mi, strat: si, ds: di,
				}
				p.scores(&row, jd)
				if err := p.textMetrics(&row); err != nil {
					return nil, err
				}
				if si != base {
					p.pairwise(&row, base, jd)
				}
				rep.Rows = append(rep.Rows, row)
			}
		}
	}
	for si := range cfg.Strategies {
		u, err := p.usage(si)
		if err != nil {
			return nil, err
		}
		rep.Usage = append(rep.Usage, u)
	}
	var err error
	if rep.Judge, err = p.judgeUsage(); err != nil {
		return nil, err
	}
	rep.Calls = Calls{Generations: r.genRuns.Load(), CloudRequests: r.cloudRequests.Load(), JudgeRequests: r.judgeRequests.Load()}
	return rep, nil
}

// strategyLabel is the name of strategy entry si in the tables, with what
// ran in its place where a fallback did (speculative against a cloud that
// cannot score a sequence: "speculative (ran speculative→logits)").
func (p *plan) strategyLabel(di, mi, si int, name string) string {
	for _, j := range p.gens {
		if j.rec.ds == di && j.model == mi && j.strat == si && j.result != nil && j.result.Ran != "" {
			return name + " (ran " + j.result.Ran + ")"
		}
	}
	return name
}

// judgements holds the finished judge jobs by output: the ratings per prompt
// (the repeats) and the pairwise verdicts in both presentation orders.
type judgements struct {
	ratings  map[*genJob]map[judge.Kind][]*float64
	verdicts map[*genJob][2]string
}

// judgements collects the results of the rating and pairwise jobs.
func (p *plan) judgements() judgements {
	jd := judgements{ratings: map[*genJob]map[judge.Kind][]*float64{}, verdicts: map[*genJob][2]string{}}
	for _, j := range p.judges {
		m := jd.ratings[j.gen]
		if m == nil {
			m = map[judge.Kind][]*float64{}
			jd.ratings[j.gen] = m
		}
		m[j.kind] = append(m[j.kind], j.result.Rating)
	}
	for _, j := range p.pairs {
		v := jd.verdicts[j.gen]
		if j.swapped {
			v[1] = j.result.Verdict
		} else {
			v[0] = j.result.Verdict
		}
		jd.verdicts[j.gen] = v
	}
	return jd
}

// scores sets a row's judge scores per prompt: per seed the mean over
// records of each output's median rating, then mean and std over seeds;
// also the per-seed means, the per-record samples and the unrated counts.
func (p *plan) scores(row *Row, jd judgements) {
	cfg := p.cfg
	recs := p.records[row.ds]
	for _, kind := range cfg.Judge.kinds() {
		perSeed := make([]float64, len(cfg.Seeds))
		perRec := make([][]float64, len(recs))
		for sx, seed := range cfg.Seeds {
			vals := make([]float64, len(recs))
			for ri, rec := range recs {
				g := p.byCell[cellKey{row.ds, row.model, row.strat, rec.index, seed}]
				v, ok := median(jd.ratings[g][kind])
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
}

// textMetrics sets a row's BLEU and ROUGE-L against the references: per
// seed over the records, then mean and std over seeds.
func (p *plan) textMetrics(row *Row) error {
	var bleus, rouges []float64
	for _, seed := range p.cfg.Seeds {
		var preds []string
		var refs [][]string
		for _, rec := range p.records[row.ds] {
			g := p.byCell[cellKey{row.ds, row.model, row.strat, rec.index, seed}]
			preds = append(preds, g.result.Text)
			refs = append(refs, []string{rec.rec.Reference.UnsafeText()})
		}
		b, err := metrics.BLEU(preds, refs)
		switch {
		case errors.Is(err, metrics.ErrZeroReferenceLength):
			bleus = append(bleus, math.NaN())
		case err != nil:
			return fmt.Errorf("bleu %s: %w", row.Label(), err)
		default:
			bleus = append(bleus, 100*b.BLEU)
		}
		_, f, err := metrics.ROUGELCorpus(preds, refs)
		if err != nil {
			return fmt.Errorf("rouge-l %s: %w", row.Label(), err)
		}
		rouges = append(rouges, 100*f)
	}
	row.BLEU, row.ROUGEL = meanStd(bleus), meanStd(rouges)
	return nil
}

// pairwise counts a row's win/tie/lose against the baseline strategy
// over record × seed.
func (p *plan) pairwise(row *Row, base int, jd judgements) {
	for _, seed := range p.cfg.Seeds {
		for _, rec := range p.records[row.ds] {
			g := p.byCell[cellKey{row.ds, row.model, row.strat, rec.index, seed}]
			b := p.byCell[cellKey{row.ds, row.model, base, rec.index, seed}]
			switch p.cfg.Judge.Pairwise {
			case PairwiseJudge:
				v := jd.verdicts[g]
				first, ok1 := parseVerdict(v[0])
				second, ok2 := parseVerdict(v[1])
				if !ok1 || !ok2 {
					row.Pairwise.Unrated++
					continue
				}
				row.Pairwise.add(judge.CombineOrders(first, second))
			case PairwiseRatings:
				a, ok1 := median(jd.ratings[g][judge.Overall])
				bb, ok2 := median(jd.ratings[b][judge.Overall])
				if !ok1 || !ok2 {
					row.Pairwise.Unrated++
					continue
				}
				row.Pairwise.add(judge.Compare(a, bb))
			}
		}
	}
}

// usage sums the usage of strategy entry si over every output of the
// plan and counts its audit log.
func (p *plan) usage(si int) (UsageRow, error) {
	cfg := p.cfg
	s := cfg.Strategies[si]
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
		return UsageRow{}, err
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
	return u, nil
}

// judgeUsage sums the judge's usage over the rating and pairwise jobs and
// counts its audit log.
func (p *plan) judgeUsage() (JudgeUsage, error) {
	cfg := p.cfg
	var ju JudgeUsage
	for _, j := range append(append([]*judgeJob(nil), p.judges...), p.pairs...) {
		ju.Series++
		ju.Attempts += j.result.Attempts
		ju.PromptTokens += j.result.PromptTokens
		ju.CompletionTokens += j.result.CompletionTokens
		if j.result.Rating == nil && j.result.Verdict == "" {
			ju.Unrated++
		}
		if j.result.Refused != "" {
			ju.Refused++
		}
	}
	ju.Cost = (float64(ju.PromptTokens)*cfg.Prices.JudgeIn + float64(ju.CompletionTokens)*cfg.Prices.JudgeOut) / 1e6
	recs, err := readAudit(filepath.Join(cfg.Out, "judge-audit.jsonl"))
	if err != nil {
		return JudgeUsage{}, err
	}
	for _, a := range recs {
		if a.Verdict != audit.VerdictBlock {
			ju.Requests++
		}
		if a.Verdict == audit.VerdictPrivate {
			ju.Private++
		}
	}
	return ju, nil
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
