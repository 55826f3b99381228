package eval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/dataset"
	"github.com/cogenesis/cogenesis/internal/regfile"
	"github.com/cogenesis/cogenesis/privacy"
)

// keyVersion changes when the meaning of a cached result changes.
const keyVersion = "cogen-eval-1"

// record is one dataset record of the plan.
type record struct {
	ds, index int
	tid       string
	rec       privacy.Record
	task      collab.Task
	hash      string // content hash of the record's JSON
}

// genJob is one generation: a record, a model, a strategy and a seed.
type genJob struct {
	rec    *record
	model  int
	strat  int
	seed   uint64
	key    string
	result *genResult
}

// plan is the full set of jobs of a config.
type plan struct {
	cfg     *Config
	records [][]*record // per dataset
	gens    []*genJob
	judges  []*judgeJob
	pairs   []*judgeJob
	// byCell finds a generation by dataset, model, strategy, record
	// index and seed.
	byCell map[cellKey]*genJob
	// judgeID identifies the judge in the cache keys.
	judgeID string
}

// cellKey locates a generation job in plan.byCell.
type cellKey struct {
	ds, model, strat, rec int
	seed                  uint64
}

// loadRecords loads the planned records of dataset i.
func (c *Config) loadRecords(i int) ([]*record, error) {
	recs, _, err := c.loadDataset(i)
	return recs, err
}

// loadDataset loads the planned records of dataset i, and the notes a run
// prints on its progress output once: the warnings of the file (profile
// keys kept as private facts) and, with skip_bad, the bad records it
// skipped.
func (c *Config) loadDataset(i int) ([]*record, []string, error) {
	d := c.Datasets[i]
	var (
		recs  []privacy.Record
		tasks []collab.Task
		total int
		notes []string
		bad   []int
	)
	if d.Kind == string(collab.KindContext) {
		f, err := privacy.LoadContext(d.Path, privacy.LoadOptions{SkipBad: d.SkipBad})
		if err != nil {
			return nil, nil, skipBadHint(i, err)
		}
		recs, total, bad = f.Records, f.Total, f.SkippedRecords()
		for _, r := range recs {
			tasks = append(tasks, collab.TaskFromRecord(r))
		}
		for _, w := range f.Warnings {
			notes = append(notes, "warning: "+w.String())
		}
	} else {
		f, err := dataset.LoadWith(d.Path, dataset.Options{Kind: dataset.Kind(d.Kind), SkipBad: d.SkipBad})
		if err != nil {
			return nil, nil, skipBadHint(i, err)
		}
		if recs, tasks, err = lampRecords(d.Path, f); err != nil {
			return nil, nil, err
		}
		total, bad = len(f.Records)+len(f.SkippedRecords()), f.SkippedRecords()
		for _, w := range f.Warnings {
			notes = append(notes, "warning: "+w.String())
		}
	}
	if len(bad) > 0 {
		noun := "records"
		if len(bad) == 1 {
			noun = "record"
		}
		notes = append(notes, fmt.Sprintf("datasets[%d] (%s): skipped %d bad %s of %d: %s (see `cogen data validate %s`)",
			i, d.Name, len(bad), noun, total, joinInts(bad), d.Path))
	}
	data, err := regfile.ReadFile(d.Path, dataset.MaxFileBytes)
	if err != nil {
		return nil, nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, nil, fmt.Errorf("dataset %s: %w", d.Path, err)
	}
	if len(raw) != total {
		return nil, nil, fmt.Errorf("dataset %s: %d JSON records, %d loaded", d.Path, len(raw), total)
	}
	lo, hi, _ := parseRange(d.Records)
	if hi < 0 || hi > total {
		hi = total
	}
	if lo > hi {
		return nil, nil, &FieldError{Field: fmt.Sprintf("datasets[%d].records", i), Err: fmt.Errorf("%q: %s has %d records", d.Records, d.Path, total)}
	}
	if d.Limit > 0 && hi-lo > d.Limit {
		hi = lo + d.Limit
	}
	var out []*record
	for j, r := range recs {
		k := r.Index
		if k < lo || k >= hi {
			continue
		}
		var b bytes.Buffer
		if err := json.Compact(&b, raw[k]); err != nil {
			return nil, nil, fmt.Errorf("dataset %s record %d: %w", d.Path, k, err)
		}
		var head struct {
			TID string `json:"tid"`
		}
		_ = json.Unmarshal(raw[k], &head) // the tid is only a label
		out = append(out, &record{ds: i, index: k, tid: head.TID, rec: r, task: tasks[j], hash: textHash(b.String())})
	}
	if len(out) == 0 {
		return nil, nil, &FieldError{Field: fmt.Sprintf("datasets[%d].records", i),
			Err: fmt.Errorf("%q selects no record: %s has %d records (%d usable)", d.Records, d.Path, total, len(recs))}
	}
	return out, notes, nil
}

// skipBadHint adds to the error of a dataset with bad records how to go
// on without them.
func skipBadHint(i int, err error) error {
	_, bad := errors.AsType[*privacy.BadRecordsError](err)
	if pe, ok := errors.AsType[*dataset.ProblemError](err); ok && !pe.Fatal {
		bad = !slices.ContainsFunc(pe.Problems, func(p dataset.Problem) bool { return p.Index < 0 })
	}
	if bad {
		return fmt.Errorf("datasets[%d]: %w\n(set skip_bad = true in this [[datasets]] entry to evaluate the good records)", i, err)
	}
	return err
}

// joinInts writes "3, 41, 97".
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// lampRecords takes a loaded paper-abstract or email file (paper_dev.json)
// apart: each record's with-context prompt becomes its history items and
// its title or subject, which become the user's vault (history only, for
// the guard) and the task; the collaboration prompts for the kind are
// built from them. Each record keeps its index in the file.
func lampRecords(path string, f *dataset.File) ([]privacy.Record, []collab.Task, error) {
	if f.WithoutContext {
		return nil, nil, fmt.Errorf("dataset %s: a without-context file; give the file with context", path)
	}
	var recs []privacy.Record
	var tasks []collab.Task
	for i, r := range f.Records {
		pr, err := dataset.ParsePrompt(f.Kind, r.Prompt())
		if err != nil {
			return nil, nil, fmt.Errorf("dataset %s record %d (%s): prompt: %w", path, f.Index(i), r.TID, err)
		}
		v := &privacy.Vault{ID: r.TID}
		for _, h := range pr.History {
			v.History = append(v.History, privacy.HistoryItem{Title: privacy.NewPrivate(h.Title), Text: privacy.NewPrivate(h.Text)})
		}
		target := privacy.NewPrivate(pr.Target)
		recs = append(recs, privacy.Record{Index: f.Index(i), Vault: v, Task: privacy.Task{Full: target, General: target}, Reference: privacy.NewPrivate(r.Reference())})
		tasks = append(tasks, collab.Task{Kind: f.Kind, Instruction: target, General: target, History: v.HistoryText()})
	}
	return recs, tasks, nil
}

// modelID identifies a model file by its content: the SHA-256 of the file,
// computed once per file version (path, size, modification time) and kept
// in the store.
func (r *runner) modelID(ctx context.Context, ref string) (string, error) {
	r.mu.Lock()
	id, ok := r.ids[ref]
	r.mu.Unlock()
	if ok {
		return id, nil
	}
	path, err := r.resolve(ctx, ref)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("model %s: %w", path, err)
	}
	mk := fmt.Sprintf("sha256:%s:%d:%d", path, fi.Size(), fi.ModTime().UnixNano())
	id, err = r.st.meta(ctx, mk)
	if err != nil {
		return "", err
	}
	if id == "" {
		f, err := regfile.Open(path)
		if err != nil {
			return "", fmt.Errorf("model %s: %w", path, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		_ = f.Close() // read-only
		if err != nil {
			return "", fmt.Errorf("model %s: %w", path, err)
		}
		id = "sha256:" + hex.EncodeToString(h.Sum(nil))
		if err := r.st.setMeta(ctx, mk, id); err != nil {
			return "", err
		}
	}
	r.mu.Lock()
	r.ids[ref] = id
	r.mu.Unlock()
	return id, nil
}

// targetID identifies a cloud or judge target: the model file's content
// for local:PATH, the URL, server kind and model name otherwise.
func (r *runner) targetID(ctx context.Context, target, kind, model string) (string, error) {
	if p, ok := cutLocal(target); ok {
		id, err := r.modelID(ctx, p)
		return "local:" + id, err
	}
	return target + "|" + kind + "|" + model, nil
}

// plan lists every generation job and finds the finished ones.
func (r *runner) plan(ctx context.Context) (*plan, error) {
	cfg := r.cfg
	p := &plan{cfg: cfg, byCell: map[cellKey]*genJob{}}
	for i := range cfg.Datasets {
		recs, notes, err := cfg.loadDataset(i)
		if err != nil {
			return nil, err
		}
		for _, n := range notes {
			fmt.Fprintln(r.out, n)
		}
		p.records = append(p.records, recs)
	}
	var err error
	if p.judgeID, err = r.targetID(ctx, cfg.Judge.Target, cfg.Judge.Kind, cfg.Judge.Model); err != nil {
		return nil, fmt.Errorf("judge.target: %w", err)
	}
	var cloudID string
	for _, s := range cfg.Strategies {
		if s.Strategy != string(collab.SLM) {
			id, err := r.targetID(ctx, cfg.Cloud.Target, cfg.Cloud.Kind, cfg.Cloud.Model)
			if err != nil {
				return nil, err
			}
			cloudID = id
			break
		}
	}
	for mi, m := range cfg.Models {
		slmID, err := r.modelID(ctx, m.SLM)
		if err != nil {
			return nil, fmt.Errorf("models[%d].slm: %w", mi, err)
		}
		loraID := ""
		if m.LoRA != "" {
			if loraID, err = r.modelID(ctx, m.LoRA); err != nil {
				return nil, fmt.Errorf("models[%d].lora: %w", mi, err)
			}
		}
		for si, s := range cfg.Strategies {
			combID := ""
			if s.Comb != "" {
				if combID, err = r.modelID(ctx, s.Comb); err != nil {
					return nil, fmt.Errorf("strategies[%d].comb: %w", si, err)
				}
			}
			usesCloud := s.Strategy != string(collab.SLM)
			usesSLM := s.Strategy != string(collab.LLM) && s.Strategy != string(collab.LLMContext)
			for di := range cfg.Datasets {
				for _, rec := range p.records[di] {
					for _, seed := range cfg.Seeds {
						k := map[string]any{
							"v": keyVersion, "phase": "gen", "record": rec.hash, "seed": seed,
							"strategy": s.Strategy, "fusion": s.Fusion, "schedule": s.Schedule, "top_k": s.TopK, "comb": combID, "gamma": s.Gamma,
							"max_tokens": cfg.MaxTokens, "sampling": cfg.Sampling,
						}
						if usesSLM {
							k["slm"], k["lora"] = slmID, loraID
						}
						if usesCloud {
							k["cloud"], k["cloud_max_tokens"], k["allow_private"] = cloudID, cfg.CloudMaxTokens, cfg.Cloud.AllowPrivateEgress
						}
						j := &genJob{rec: rec, model: mi, strat: si, seed: seed, key: hashOf(k)}
						p.gens = append(p.gens, j)
						p.byCell[cellKey{di, mi, si, rec.index, seed}] = j
					}
				}
			}
		}
	}
	for _, j := range p.gens {
		var res genResult
		ok, err := r.st.get(ctx, "gen", j.key, &res)
		if err != nil {
			return nil, err
		}
		// per_token_fallback is not in the key: it changes no output, only
		// whether a run may fall back. A fallback's result counts only
		// where the entry still allows one; elsewhere the run is refused.
		if ok && (res.Ran == "" || cfg.Strategies[j.strat].PerTokenFallback) {
			j.result = &res
		}
	}
	return p, nil
}

// label names a job without private text: dataset, record, model,
// strategy and seed.
func (p *plan) label(j *genJob) string {
	return fmt.Sprintf("dataset %s record %d (%s) model %s strategy %s seed %d",
		p.cfg.Datasets[j.rec.ds].Name, j.rec.index, j.rec.tid, p.cfg.Models[j.model].Name, p.cfg.Strategies[j.strat].Name, j.seed)
}

// planJudges lists the rating and pairwise jobs and finds the finished
// ones (the keys need the generated texts).
func (p *plan) planJudges() {
	cfg := p.cfg
	common := map[string]any{
		"v": keyVersion, "judge": p.judgeID, "temperature": cfg.Judge.Temperature, "max_tokens": cfg.Judge.MaxTokens,
		"grammar": cfg.Judge.Grammar, "max_retries": cfg.Judge.MaxRetries,
	}
	for _, g := range p.gens {
		for _, kind := range cfg.Judge.kinds() {
			for rep := range cfg.Judge.Repeats {
				k := map[string]any{"phase": "rate", "gen": g.key, "text": textHash(g.result.Text), "kind": int(kind), "repeat": rep, "common": common}
				p.judges = append(p.judges, &judgeJob{gen: g, kind: kind, repeat: rep, key: hashOf(k)})
			}
		}
	}
	if cfg.Judge.Pairwise != PairwiseJudge {
		return
	}
	base := p.baseline()
	for _, g := range p.gens {
		if g.strat == base {
			continue
		}
		b := p.byCell[cellKey{g.rec.ds, g.model, base, g.rec.index, g.seed}]
		for _, swapped := range []bool{false, true} {
			k := map[string]any{"phase": "pair", "gen": g.key, "text": textHash(g.result.Text), "base": b.key, "base_text": textHash(b.result.Text), "swapped": swapped, "common": common}
			p.pairs = append(p.pairs, &judgeJob{gen: g, base: b, swapped: swapped, key: hashOf(k)})
		}
	}
}

// judgeCounts returns the number of rating and pairwise request series
// the plan's outputs need, cached ones included; planJudges lists them
// once the outputs exist.
func (p *plan) judgeCounts() (ratings, pairs int) {
	cfg := p.cfg
	ratings = len(p.gens) * len(cfg.Judge.Prompts) * cfg.Judge.Repeats
	if cfg.Judge.Pairwise != PairwiseJudge {
		return ratings, 0
	}
	base := p.baseline()
	for _, g := range p.gens {
		if g.strat != base {
			pairs += 2
		}
	}
	return ratings, pairs
}

// baseline returns the index of the baseline strategy.
func (p *plan) baseline() int {
	for i, s := range p.cfg.Strategies {
		if s.Name == p.cfg.Baseline {
			return i
		}
	}
	panic("eval: baseline not validated")
}
