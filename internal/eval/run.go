package eval

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/dataset"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/eval/judge"
	"github.com/cogenesis/cogenesis/internal/progress"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// keyVersion changes when the meaning of a cached result changes.
const keyVersion = "cogen-eval-1"

// minGrammarTokens is the room a grammar-constrained judge answer needs
// after its explanation for the verdict.
const minGrammarTokens = 24

// Options are what a run needs beyond its config.
type Options struct {
	// Resolve turns a model reference (a path or hf://...) into a local
	// file, downloading it if needed; nil uses references as paths.
	Resolve func(ctx context.Context, ref string) (string, error)
	// Progress receives the progress bars and the list of files (usually
	// stderr); nil discards them.
	Progress io.Writer
	Logger   *slog.Logger
}

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

// genResult is a finished generation, as stored.
type genResult struct {
	Text            string        `json:"text"`
	Redactions      int           `json:"redactions"`
	CloudCalls      int           `json:"cloud_calls"`
	LocalPrompt     int           `json:"local_prompt_tokens"`
	LocalCompletion int           `json:"local_completion_tokens"`
	CloudPrompt     int           `json:"cloud_prompt_tokens"`
	CloudCompletion int           `json:"cloud_completion_tokens"`
	Seconds         float64       `json:"seconds"`
	Trace           *collab.Trace `json:"trace,omitempty"`
}

// judgeJob is one judge request series: a rating of one output with one
// prompt and repeat, or one presentation order of a pairwise comparison.
type judgeJob struct {
	gen    *genJob
	kind   judge.Kind // 0 for pairwise
	repeat int
	// base and order are set for pairwise: the baseline's output and
	// whether the system is presented second.
	base    *genJob
	swapped bool
	key     string
	result  *judgeResult
}

// judgeResult is a finished judge job, as stored. Rating is nil and
// Verdict empty when no attempt gave one: the job is unrated.
type judgeResult struct {
	Rating           *float64 `json:"rating,omitempty"`
	Verdict          string   `json:"verdict,omitempty"`
	Attempts         int      `json:"attempts"`
	Answers          []string `json:"answers"`
	PromptTokens     int      `json:"prompt_tokens"`
	CompletionTokens int      `json:"completion_tokens"`
	// Refused holds the status of a request the judge refused (400, 413,
	// 422): the job is unrated. Never the server's message.
	Refused string `json:"refused,omitempty"`
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

type cellKey struct {
	ds, model, strat, rec int
	seed                  uint64
}

// runner holds the state of one run.
type runner struct {
	cfg    *Config
	o      Options
	st     *store
	logger *slog.Logger
	out    io.Writer

	mu     sync.Mutex
	locals map[string]*collab.LocalCloud // by resolved model path
	ids    map[string]string             // model identities by reference

	// Counters of this run's model calls.
	genRuns       atomic.Int64
	cloudRequests atomic.Int64
	judgeRequests atomic.Int64
}

// Run runs the evaluation of cfg: it generates what the job store lacks,
// judges what it lacks, and writes the tables and figures into cfg.Out.
// A rerun of a finished evaluation makes no model call; a run killed at any
// point resumes without repeating a finished job.
func Run(ctx context.Context, cfg *Config, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	if err := os.MkdirAll(filepath.Join(cfg.Out, "audit"), 0o700); err != nil {
		return nil, fmt.Errorf("eval output: %w", err)
	}
	st, err := openStore(ctx, filepath.Join(cfg.Out, "eval.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	r := &runner{cfg: cfg, o: o, st: st, logger: o.Logger, out: out, locals: map[string]*collab.LocalCloud{}, ids: map[string]string{}}
	defer r.closeLocals()

	p, err := r.plan(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.generate(ctx, p); err != nil {
		return nil, err
	}
	p.planJudges()
	if err := r.judgeAll(ctx, p); err != nil {
		return nil, err
	}
	rep, err := r.report(ctx, p)
	if err != nil {
		return nil, err
	}
	return rep, nil
}

func (r *runner) closeLocals() {
	for _, lc := range r.locals {
		if err := lc.Close(); err != nil {
			r.logger.Warn("close local cloud", "err", err)
		}
	}
}

// hashOf returns the hex SHA-256 of the JSON of v.
func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("eval: hash: %v", err)) // only plain values are hashed
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func textHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// loadRecords loads the planned records of dataset i.
func (c *Config) loadRecords(i int) ([]*record, error) {
	d := c.Datasets[i]
	var recs []privacy.Record
	var tasks []collab.Task
	if d.Kind == string(collab.KindContext) {
		var err error
		if recs, err = privacy.LoadContextFile(d.Path); err != nil {
			return nil, err
		}
		for _, r := range recs {
			tasks = append(tasks, collab.TaskFromRecord(r))
		}
	} else {
		var err error
		if recs, tasks, err = loadLaMP(d.Path, dataset.Kind(d.Kind)); err != nil {
			return nil, err
		}
	}
	data, err := regfile.ReadFile(d.Path, dataset.MaxFileBytes)
	if err != nil {
		return nil, err
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("dataset %s: %w", d.Path, err)
	}
	if len(raw) != len(recs) {
		return nil, fmt.Errorf("dataset %s: %d JSON records, %d loaded", d.Path, len(raw), len(recs))
	}
	lo, hi, _ := parseRange(d.Records)
	if hi < 0 || hi > len(recs) {
		hi = len(recs)
	}
	if lo > hi {
		return nil, &FieldError{Field: fmt.Sprintf("datasets[%d].records", i), Err: fmt.Errorf("%q: %s has %d records", d.Records, d.Path, len(recs))}
	}
	if d.Limit > 0 && hi-lo > d.Limit {
		hi = lo + d.Limit
	}
	var out []*record
	for k := lo; k < hi; k++ {
		var b bytes.Buffer
		if err := json.Compact(&b, raw[k]); err != nil {
			return nil, fmt.Errorf("dataset %s record %d: %w", d.Path, k, err)
		}
		var head struct {
			TID string `json:"tid"`
		}
		_ = json.Unmarshal(raw[k], &head) // the tid is only a label
		out = append(out, &record{ds: i, index: k, tid: head.TID, rec: recs[k], task: tasks[k], hash: textHash(b.String())})
	}
	if len(out) == 0 {
		return nil, &FieldError{Field: fmt.Sprintf("datasets[%d].records", i), Err: errors.New("selects no record")}
	}
	return out, nil
}

// loadLaMP loads a paper-abstract or email file (paper_dev.json): each
// record's with-context prompt is taken apart into its history items and
// its title or subject, which become the user's vault (history only, for
// the guard) and the task; the collaboration prompts for the kind are
// built from them.
func loadLaMP(path string, kind dataset.Kind) ([]privacy.Record, []collab.Task, error) {
	f, err := dataset.LoadWith(path, dataset.Options{Kind: kind})
	if err != nil {
		return nil, nil, err
	}
	if f.WithoutContext {
		return nil, nil, fmt.Errorf("dataset %s: a without-context file; give the file with context", path)
	}
	var recs []privacy.Record
	var tasks []collab.Task
	for i, r := range f.Records {
		pr, err := dataset.ParsePrompt(kind, r.Prompt())
		if err != nil {
			return nil, nil, fmt.Errorf("dataset %s record %d (%s): prompt: %w", path, i, r.TID, err)
		}
		v := &privacy.Vault{ID: r.TID}
		for _, h := range pr.History {
			v.History = append(v.History, privacy.HistoryItem{Title: privacy.NewPrivate(h.Title), Text: privacy.NewPrivate(h.Text)})
		}
		target := privacy.NewPrivate(pr.Target)
		recs = append(recs, privacy.Record{Vault: v, Task: privacy.Task{Full: target, General: target}, Reference: privacy.NewPrivate(r.Reference())})
		tasks = append(tasks, collab.Task{Kind: collab.TaskKind(kind), Instruction: target, General: target, History: v.HistoryText()})
	}
	return recs, tasks, nil
}

// judgeQuestion is the {question} of the judge prompts: the task as the
// user wrote it, or for paper and email records the task line of the
// paper's prompts.
func judgeQuestion(t collab.Task) string {
	switch t.Kind {
	case collab.KindPaper:
		return "Compose an abstract for the title '" + t.Instruction.UnsafeText() + "' that matches the author's unique content, style and tone."
	case collab.KindEmail:
		return "Compose an email for the subject '" + t.Instruction.UnsafeText() + "' that matches the author's unique style and tone."
	}
	return t.Instruction.UnsafeText()
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

func (r *runner) resolve(ctx context.Context, ref string) (string, error) {
	if r.o.Resolve == nil {
		return ref, nil
	}
	return r.o.Resolve(ctx, ref)
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

func cutLocal(target string) (string, bool) { return strings.CutPrefix(target, "local:") }

// plan lists every generation job and finds the finished ones.
func (r *runner) plan(ctx context.Context) (*plan, error) {
	cfg := r.cfg
	p := &plan{cfg: cfg, byCell: map[cellKey]*genJob{}}
	for i := range cfg.Datasets {
		recs, err := cfg.loadRecords(i)
		if err != nil {
			return nil, err
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
		if ok {
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

// localCloud returns the in-process cloud serving the model at ref,
// starting it once; the generation cloud and the judge share it.
func (r *runner) localCloud(ctx context.Context, ref string) (*collab.LocalCloud, error) {
	path, err := r.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if lc, ok := r.locals[path]; ok {
		return lc, nil
	}
	lc, err := collab.StartLocalCloud(path, 0, r.cfg.Threads, r.logger.With("component", "cloud"))
	if err != nil {
		return nil, err
	}
	r.locals[path] = lc
	return lc, nil
}

// endpoint is where a target's requests go.
type endpoint struct {
	url   string
	kind  openaiapi.Kind
	model string
	key   string // bearer token; empty: the client's environment variable
}

// endpoint returns the endpoint of a target, starting a local cloud for
// local:PATH.
func (r *runner) endpoint(ctx context.Context, target, kind, model string) (endpoint, error) {
	if p, ok := cutLocal(target); ok {
		lc, err := r.localCloud(ctx, p)
		if err != nil {
			return endpoint{}, err
		}
		return endpoint{lc.URL, openaiapi.KindVLLM, "local", lc.Key}, nil
	}
	return endpoint{target, openaiapi.Kind(kind), model, ""}, nil
}

// generate runs the pending generation jobs one at a time (the local model
// is the bottleneck), opening each local model only when one of its jobs
// is pending.
func (r *runner) generate(ctx context.Context, p *plan) error {
	var pending []*genJob
	for _, j := range p.gens {
		if j.result == nil {
			pending = append(pending, j)
		}
	}
	// Record by record: the outputs of one record share the local model's
	// with-context prompt, which the sequence pool keeps evaluated.
	slices.SortStableFunc(pending, func(a, b *genJob) int {
		return cmp.Or(cmp.Compare(a.model, b.model), cmp.Compare(a.rec.ds, b.rec.ds), cmp.Compare(a.rec.index, b.rec.index),
			cmp.Compare(a.strat, b.strat), cmp.Compare(a.seed, b.seed))
	})
	fmt.Fprintf(r.out, "generate: %d outputs, %d cached, %d to run\n", len(p.gens), len(p.gens)-len(pending), len(pending))
	if len(pending) == 0 {
		return nil
	}
	bar := progress.New(r.out, "generate", int64(len(pending)))
	defer bar.Done()

	var (
		curModel = -1
		slm      *llamacpp.Model
		clouds   = map[int]*collab.Cloud{} // by strategy
		closers  []func()
		slmPtr   atomic.Pointer[llamacpp.Model]
		combs    = map[string]*fusion.CombModel{}
	)
	defer func() {
		for _, c := range closers {
			c()
		}
		if slm != nil {
			slm.Close()
		}
	}()
	detok := func(ids []int32) string {
		if m := slmPtr.Load(); m != nil {
			return m.Detokenize(ids)
		}
		return ""
	}
	guards := map[*record]*privacy.Guard{}
	for _, j := range pending {
		s := r.cfg.Strategies[j.strat]
		st, _ := collab.ParseStrategy(s.Strategy) // validated
		needsSLM := st != collab.LLM && st != collab.LLMContext
		if needsSLM && curModel != j.model {
			if slm != nil {
				slmPtr.Store(nil)
				slm.Close()
				slm = nil
			}
			m := r.cfg.Models[j.model]
			path, err := r.resolve(ctx, m.SLM)
			if err != nil {
				return err
			}
			lora := ""
			if m.LoRA != "" {
				if lora, err = r.resolve(ctx, m.LoRA); err != nil {
					return err
				}
			}
			slm, err = llamacpp.Open(path, llamacpp.Options{ContextSize: 8192, Threads: r.cfg.Threads, Parallel: 2, LoRA: lora, Logger: r.logger.With("component", "llama.cpp")})
			if err != nil {
				return fmt.Errorf("models[%d] %s: %w", j.model, m.Name, err)
			}
			curModel = j.model
			slmPtr.Store(slm)
		}
		var cloud *collab.Cloud
		if st != collab.SLM {
			if cloud = clouds[j.strat]; cloud == nil {
				ep, err := r.endpoint(ctx, r.cfg.Cloud.Target, r.cfg.Cloud.Kind, r.cfg.Cloud.Model)
				if err != nil {
					return err
				}
				log, err := audit.Open(filepath.Join(r.cfg.Out, "audit", safeName(s.Name)+".jsonl"))
				if err != nil {
					return err
				}
				c, _, err := collab.DialCloud(collab.CloudConfig{
					Target: ep.url, Kind: ep.kind, Model: ep.model, APIKey: ep.key, Audit: log, Detokenize: detok,
					AllowPrivateEgress: r.cfg.Cloud.AllowPrivateEgress, Logger: r.logger.With("component", "cloud"),
				})
				if err != nil {
					log.Close()
					return err
				}
				closers = append(closers, func() { log.Close() })
				clouds[j.strat], cloud = c, c
			}
		}
		var comb *fusion.CombModel
		if s.Comb != "" {
			if comb = combs[s.Comb]; comb == nil {
				c, err := fusion.Load(s.Comb, 0)
				if err != nil {
					return err
				}
				combs[s.Comb], comb = c, c
			}
		}
		g := guards[j.rec]
		if g == nil {
			g = privacy.NewGuard(j.rec.rec.Vault)
			guards[j.rec] = g
		}
		run := &collab.Runner{Guard: g, AllowPrivateEgress: r.cfg.Cloud.AllowPrivateEgress, Logger: r.logger}
		if needsSLM {
			run.SLM = slm
		}
		if cloud != nil {
			run.Cloud = cloud
		}
		if err := r.st.started(ctx, "gen", j.key); err != nil {
			return err
		}
		method, _ := fusion.ParseMethod(s.Fusion)
		sched, _ := collab.ParseSchedule(s.Schedule)
		var before llm.Usage
		var reqBefore int64
		if cloud != nil {
			before, reqBefore = cloud.Client().Usage(), cloud.Client().Requests()
		}
		start := time.Now()
		res, err := run.Run(ctx, j.rec.task, collab.Options{
			Strategy: st, MaxTokens: r.cfg.MaxTokens, Sample: r.cfg.Sampling.params(j.seed),
			Fusion: method, Schedule: sched, TopK: s.TopK, Comb: comb, Gamma: s.Gamma,
			CloudMaxTokens: r.cfg.CloudMaxTokens, Trace: st == collab.Logits || st == collab.Speculative,
		})
		r.genRuns.Add(1)
		if cloud != nil {
			r.cloudRequests.Add(cloud.Client().Requests() - reqBefore)
		}
		if err != nil {
			return fmt.Errorf("generate %s: %w", p.label(j), err)
		}
		gr := &genResult{
			Text: res.Text, Redactions: res.Redactions, CloudCalls: res.CloudCalls,
			LocalPrompt: res.Usage.PromptTokens, LocalCompletion: res.Usage.CompletionTokens,
			Seconds: time.Since(start).Seconds(), Trace: res.Trace,
		}
		if !needsSLM {
			// The llm strategies generate in the cloud only.
			gr.LocalPrompt, gr.LocalCompletion = 0, 0
		}
		if cloud != nil {
			after := cloud.Client().Usage()
			gr.CloudPrompt, gr.CloudCompletion = after.PromptTokens-before.PromptTokens, after.CompletionTokens-before.CompletionTokens
		}
		if err := r.st.put(ctx, "gen", j.key, gr); err != nil {
			return err
		}
		j.result = gr
		bar.Add(1)
	}
	return nil
}

// safeName makes a label usable as a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
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

// baseline returns the index of the baseline strategy.
func (p *plan) baseline() int {
	for i, s := range p.cfg.Strategies {
		if s.Name == p.cfg.Baseline {
			return i
		}
	}
	panic("eval: baseline not validated")
}

// judgeAll runs the pending rating and pairwise jobs with bounded
// concurrency.
func (r *runner) judgeAll(ctx context.Context, p *plan) error {
	all := append(append([]*judgeJob(nil), p.judges...), p.pairs...)
	var pending []*judgeJob
	for _, j := range all {
		var res judgeResult
		ok, err := r.st.get(ctx, "judged", j.key, &res)
		if err != nil {
			return err
		}
		if ok {
			j.result = &res
		} else {
			pending = append(pending, j)
		}
	}
	// Prompt by prompt and record by record: consecutive requests share
	// the long prefix (instruction, profile, history, question), which a
	// server with prefix caching evaluates once.
	slices.SortStableFunc(pending, func(a, b *judgeJob) int {
		return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.gen.rec.ds, b.gen.rec.ds), cmp.Compare(a.gen.rec.index, b.gen.rec.index))
	})
	fmt.Fprintf(r.out, "judge: %d request series (%d ratings, %d pairwise), %d cached, %d to run\n",
		len(all), len(p.judges), len(p.pairs), len(all)-len(pending), len(pending))
	if len(pending) == 0 {
		return nil
	}
	client, closeLog, err := r.judgeClient(ctx)
	if err != nil {
		return err
	}
	defer closeLog()
	bar := progress.New(r.out, "judge", int64(len(pending)))
	defer bar.Done()
	guards := map[*record]*privacy.Guard{}
	for _, j := range pending {
		if guards[j.gen.rec] == nil {
			guards[j.gen.rec] = privacy.NewGuard(j.gen.rec.rec.Vault)
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.Judge.Concurrency)
	for _, j := range pending {
		g.Go(func() error {
			if err := r.st.started(gctx, "judge", j.key); err != nil {
				return err
			}
			res, err := r.judgeOne(withJudgeGuard(gctx, guards[j.gen.rec]), client, j)
			if err != nil {
				return fmt.Errorf("judge %s: %w", p.label(j.gen), err)
			}
			if err := r.st.put(gctx, "judged", j.key, res); err != nil {
				return err
			}
			j.result = res
			bar.Add(1)
			return nil
		})
	}
	return g.Wait()
}

type judgeGuardKey struct{}

func withJudgeGuard(ctx context.Context, g *privacy.Guard) context.Context {
	return context.WithValue(ctx, judgeGuardKey{}, g)
}

// judgeClient dials the judge behind its own audit log: every judge
// request is checked by the record's guard and recorded; findings are
// let through with the verdict "private", which judge.allow_private
// allows.
func (r *runner) judgeClient(ctx context.Context) (*openaiapi.Client, func(), error) {
	j := r.cfg.Judge
	ep, err := r.endpoint(ctx, j.Target, j.Kind, j.Model)
	if err != nil {
		return nil, nil, err
	}
	log, err := audit.Open(filepath.Join(r.cfg.Out, "judge-audit.jsonl"))
	if err != nil {
		return nil, nil, err
	}
	tr := &audit.Transport{Base: http.DefaultTransport, Log: log}
	tr.Check = func(ctx context.Context, req *http.Request, body []byte) (audit.Verdict, error) {
		g, _ := ctx.Value(judgeGuardKey{}).(*privacy.Guard)
		if g == nil {
			return audit.Verdict{}, nil
		}
		rules, err := g.CheckEgress(body, nil)
		if err != nil {
			return audit.Verdict{Verdict: audit.VerdictPrivate, Rules: rules}, nil
		}
		return audit.Verdict{}, nil
	}
	c, err := openaiapi.New(openaiapi.Config{
		BaseURL: ep.url, Kind: ep.kind, Model: ep.model, APIKey: ep.key, Timeout: 10 * time.Minute,
		HTTPClient: &http.Client{Transport: tr}, Logger: r.logger.With("component", "judge"),
	})
	if err != nil {
		log.Close()
		return nil, nil, err
	}
	return c, func() { log.Close() }, nil
}

// refused reports whether an HTTP status says the request itself is
// unacceptable, so that a retry cannot help.
func refused(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge || status == http.StatusUnprocessableEntity
}

// ratingGrammar is the GBNF grammar of a rating answer: an explanation
// without brackets of at most n characters, then "Rating: [[r]]" with r
// from 1 to 10. Any answer it admits has exactly one rating, which
// judge.ParseRating reads.
func ratingGrammar(n int) string {
	return `root ::= expl "Rating: [[" rating "]]"` + "\n" +
		`expl ::= [^\[\]]{0,` + strconv.Itoa(n) + `}` + "\n" +
		`rating ::= "10" | [1-9]` + "\n"
}

// verdictGrammar is the GBNF grammar of a pairwise answer.
func verdictGrammar(n int) string {
	return `root ::= expl "[[" ("A" | "B" | "C") "]]"` + "\n" +
		`expl ::= [^\[\]]{0,` + strconv.Itoa(n) + `}` + "\n"
}

// judgeOne asks the judge until its answer holds a rating (or verdict), at
// most 1 + max_retries times, with a different seed each time. An answer
// that never holds one is recorded as unrated: never guessed.
func (r *runner) judgeOne(ctx context.Context, c *openaiapi.Client, j *judgeJob) (*judgeResult, error) {
	cfg := r.cfg.Judge
	task := j.gen.rec.task
	in := judge.Input{
		Question: judgeQuestion(task), Answer: j.gen.result.Text,
		Profile: task.Profile.UnsafeText(), WritingHistory: task.History.UnsafeText(),
	}
	var system, user, gram string
	strategy := "judge:" + j.kind.String()
	if j.base == nil {
		system, user = judge.Prompt(j.kind, in)
		gram = ratingGrammar(cfg.MaxTokens - minGrammarTokens)
	} else {
		a, b := j.gen.result.Text, j.base.result.Text
		if j.swapped {
			a, b = b, a
		}
		system, user = judge.PairPrompt(judge.PairInput{Question: in.Question, Profile: in.Profile, WritingHistory: in.WritingHistory, AnswerA: a, AnswerB: b})
		gram = verdictGrammar(cfg.MaxTokens - minGrammarTokens)
		strategy = "judge:pairwise"
	}
	ctx = audit.WithStrategy(ctx, strategy)
	res := &judgeResult{Answers: []string{}}
	for attempt := 0; attempt <= cfg.MaxRetries; attempt++ {
		seed := int64(j.repeat) + int64(attempt)*1000
		temp, maxTok := cfg.Temperature, cfg.MaxTokens
		req := openaiapi.ChatCompletionRequest{
			Messages:    []openaiapi.ChatMessage{{Role: llm.RoleSystem, Content: system}, {Role: llm.RoleUser, Content: user}},
			Temperature: &temp, MaxTokens: &maxTok, Seed: &seed,
		}
		if cfg.Grammar {
			if openaiapi.Kind(cfg.Kind) == openaiapi.KindLlamaCpp {
				req.Grammar = gram
			} else {
				req.GuidedGrammar = gram
			}
		}
		r.judgeRequests.Add(1)
		resp, err := c.Chat(ctx, req)
		if ae, ok := errors.AsType[*openaiapi.APIError](err); ok && refused(ae.Status) {
			// The judge refuses this request as it is (too long for its
			// context, say): asking again would fail again. Unrated.
			res.Attempts++
			res.Refused = fmt.Sprintf("status %d %s", ae.Status, ae.Type)
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		res.Attempts++
		if resp.Usage != nil {
			res.PromptTokens += resp.Usage.PromptTokens
			res.CompletionTokens += resp.Usage.CompletionTokens
		}
		answer := ""
		if len(resp.Choices) > 0 {
			answer = resp.Choices[0].Message.Content
		}
		res.Answers = append(res.Answers, answer)
		if j.base == nil {
			if v, err := judge.ParseRating(answer); err == nil {
				res.Rating = &v
				return res, nil
			}
		} else if v, err := judge.ParseVerdict(answer); err == nil {
			res.Verdict = v.String()
			return res, nil
		}
	}
	return res, nil
}
