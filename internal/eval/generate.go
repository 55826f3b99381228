package eval

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/progress"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/privacy"
)

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
	// Ran names what ran in the strategy's place when it could not run
	// here ("speculative→logits"); empty otherwise.
	Ran string `json:"ran,omitempty"`
}

// generate runs the pending generation jobs, model by model (one small
// model open at a time, opened only when one of its jobs is pending), up
// to cfg.Concurrency at once (see [genModels.openModel]).
//
// It prints how many outputs it runs, an estimate of their time once each
// strategy entry has a measured output, and on an error how far it got.
func (r *runner) generate(ctx context.Context, p *plan) error {
	pending := p.pendingGens()
	if len(pending) == 0 {
		fmt.Fprintf(r.out, "generate: %d outputs, %d cached, 0 to run: skipped\n", len(p.gens), len(p.gens))
		return nil
	}
	fmt.Fprintf(r.out, "generate: %d outputs, %d cached, %d to run\n", len(p.gens), len(p.gens)-len(pending), len(pending))
	total := len(pending)
	ratings, pairs := p.judgeCounts()
	est := newGenEstimate(r.out, r.cfg, pending, ratings+pairs)
	bar := progress.New(r.out, "generate", int64(len(pending)))
	defer bar.Done()
	g := r.newGenModels()
	defer g.close()
	var done atomic.Int64
	for len(pending) > 0 {
		n := 1
		for n < len(pending) && pending[n].model == pending[0].model {
			n++
		}
		jobs := pending[:n]
		pending = pending[n:]
		width, err := g.openModel(ctx, jobs)
		if err == nil {
			records := byRecord(jobs)
			width = min(width, len(records))
			est.setWidth(width)
			err = r.generateJobs(ctx, p, g, records, width, func(j *genJob) {
				done.Add(1)
				bar.Add(1)
				est.observe(j.strat, j.result.Seconds)
			})
		}
		if err != nil {
			bar.Done() // "stopped at": the outputs so far are kept
			fmt.Fprintf(r.out, "generate: %s after %d of %s\n", failure(ctx), done.Load(), count(total, "output"))
			return err
		}
	}
	return nil
}

// byRecord cuts jobs, in pendingGens order, into the jobs of each record.
func byRecord(jobs []*genJob) [][]*genJob {
	var records [][]*genJob
	for i, j := range jobs {
		if i == 0 || j.rec != jobs[i-1].rec {
			records = append(records, nil)
		}
		records[len(records)-1] = append(records[len(records)-1], j)
	}
	return records
}

// generateJobs runs the jobs of one small model, given record by record,
// width at once: each of width workers takes the next record and runs its
// jobs one after another, so that they share the record's with-context
// prompt, which the sequence pool keeps evaluated. With width 1 the jobs
// run in their order. The first error stops the workers; finished is
// called for each job stored.
func (r *runner) generateJobs(ctx context.Context, p *plan, g *genModels, records [][]*genJob, width int, finished func(*genJob)) error {
	var next atomic.Int64
	eg, ectx := errgroup.WithContext(ctx)
	for w := range min(width, len(records)) {
		eg.Go(func() error {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(records) {
					return nil
				}
				for _, j := range records[k] {
					if err := r.generateOne(ectx, p, g, w, j); err != nil {
						return err
					}
					finished(j)
				}
			}
		})
	}
	return eg.Wait()
}

// failure says how a stage ended early: "interrupted" when ctx was
// cancelled (a rerun resumes), "failed" otherwise.
func failure(ctx context.Context) string {
	if ctx.Err() != nil {
		return "interrupted (a rerun resumes)"
	}
	return "failed"
}

// pendingGens returns the generation jobs without a result, record by
// record: the outputs of one record share the local model's with-context
// prompt, which the sequence pool keeps evaluated.
func (p *plan) pendingGens() []*genJob {
	var pending []*genJob
	for _, j := range p.gens {
		if j.result == nil {
			pending = append(pending, j)
		}
	}
	slices.SortStableFunc(pending, func(a, b *genJob) int {
		return cmp.Or(cmp.Compare(a.model, b.model), cmp.Compare(a.rec.ds, b.rec.ds), cmp.Compare(a.rec.index, b.rec.index),
			cmp.Compare(a.strat, b.strat), cmp.Compare(a.seed, b.seed))
	})
	return pending
}

// generateOne runs one generation job on worker's clients and stores its
// result.
func (r *runner) generateOne(ctx context.Context, p *plan, g *genModels, worker int, j *genJob) error {
	c, err := g.prepare(ctx, worker, j)
	if err != nil {
		return err
	}
	if err := r.st.started(ctx, "gen", j.key); err != nil {
		return err
	}
	gr, err := r.runCall(ctx, c, j)
	if err != nil {
		return fmt.Errorf("generate %s: %w", p.label(j), err)
	}
	if err := r.st.put(ctx, "gen", j.key, gr); err != nil {
		return err
	}
	j.result = gr
	return nil
}

// usesSLM reports whether a strategy generates with the small model; the
// llm strategies generate in the cloud only.
func usesSLM(st collab.Strategy) bool { return st != collab.LLM && st != collab.LLMContext }

// genModels holds what the generation jobs share: the open small model
// (one at a time), the clouds, the combination models and the records'
// guards. Its methods but openModel and close are safe for concurrent
// use.
type genModels struct {
	r      *runner
	slm    *llamacpp.Model
	slmPtr atomic.Pointer[llamacpp.Model] // slm, for the clouds' detokenizer
	clouds *cloudPool
	// cloudBatch is whether a local cloud's logits are batch invariant,
	// once probed.
	cloudBatch *bool

	mu     sync.Mutex
	combs  map[string]*fusion.CombModel
	guards map[*record]*privacy.Guard
}

// newGenModels returns the shared state of a generation stage with no
// model open yet.
func (r *runner) newGenModels() *genModels {
	g := &genModels{r: r, combs: map[string]*fusion.CombModel{}, guards: map[*record]*privacy.Guard{}}
	g.clouds = r.newCloudPool(g.detokenize)
	return g
}

// close closes the clouds' audit logs and the small model.
func (g *genModels) close() {
	g.clouds.close()
	g.closeSLM()
}

func (g *genModels) closeSLM() {
	if g.slm != nil {
		g.slmPtr.Store(nil)
		g.slm.Close()
		g.slm = nil
	}
}

// detokenize turns tokens of the open small model into text; with none
// open it returns "".
func (g *genModels) detokenize(ids []int32) string {
	if m := g.slmPtr.Load(); m != nil {
		return m.Detokenize(ids)
	}
	return ""
}

// openModel readies what the jobs of one small model use (the model,
// closing the one open before; the clouds of their strategy entries) and
// returns how many of them may run at once: cfg.Concurrency, or 1 when a
// model they decode on, the small one or a local cloud's, gives other
// logits beside other sequences than alone (see [batchInvariant]). Then
// generations run at once would give other outputs than one at a time
// (and than one another's reruns), so they run one at a time, on the
// model opened as for concurrency 1; a line on the progress output says
// so. The small model is probed on an instance of its own with a small
// context, closed before the model opens for the jobs.
//
// At concurrency 1 the small model has two sequences, as it always had.
// Above, it has one for each job that may run at once, two where a job
// may be speculative: its with-context prompt and the local stand-in for
// the cloud, which it takes only when one is free (else it drafts from
// the local model alone, another output).
func (g *genModels) openModel(ctx context.Context, jobs []*genJob) (int, error) {
	r := g.r
	mi := jobs[0].model
	m := r.cfg.Models[mi]
	width := r.cfg.Concurrency
	slm, perJob, cloud := false, 1, map[int]bool{}
	for _, j := range jobs {
		st, _ := collab.ParseStrategy(r.cfg.Strategies[j.strat].Strategy) // validated
		slm = slm || usesSLM(st)
		if st == collab.Speculative {
			perJob = 2
		}
		if st != collab.SLM {
			cloud[j.strat] = true
		}
	}
	for si := range r.cfg.Strategies {
		if cloud[si] {
			if _, err := g.clouds.cloudFor(ctx, 0, si); err != nil {
				return 0, err
			}
		}
	}
	if ref, local := cutLocal(r.cfg.Cloud.Target); local && len(cloud) > 0 && width > 1 {
		if g.cloudBatch == nil {
			lc, err := r.localCloud(ctx, ref)
			if err != nil {
				return 0, err
			}
			ok, err := batchInvariant(ctx, lc.Model)
			if err != nil {
				return 0, fmt.Errorf("cloud.target: %w", err)
			}
			g.cloudBatch = &ok
		}
		if !*g.cloudBatch {
			fmt.Fprintf(r.out, "generate: the local cloud's %s gives other logits beside other sequences than alone (as F32 and F16 weights do): "+
				"its outputs run one at a time, so that they equal those of concurrency 1\n", filepath.Base(ref))
			width = 1
		}
	}
	g.closeSLM()
	if !slm {
		return width, nil
	}
	path, err := r.resolve(ctx, m.SLM)
	if err != nil {
		return 0, err
	}
	o := llamacpp.Options{ContextSize: 8192, Threads: r.cfg.Threads, Parallel: 2, Logger: r.logger.With("component", "llama.cpp")}
	if m.LoRA != "" {
		if o.LoRA, err = r.resolve(ctx, m.LoRA); err != nil {
			return 0, err
		}
	}
	if width > 1 {
		po := o
		po.ContextSize, po.Parallel = 64, 1
		probe, err := llamacpp.Open(path, po)
		if err != nil {
			return 0, fmt.Errorf("models[%d] %s: %w", mi, m.Name, err)
		}
		ok, err := batchInvariant(ctx, probe)
		probe.Close()
		if err != nil {
			return 0, fmt.Errorf("models[%d] %s: %w", mi, m.Name, err)
		}
		if ok {
			o.Parallel = width * perJob
		} else {
			fmt.Fprintf(r.out, "generate: models[%d] %s gives other logits beside other sequences than alone (as F32 and F16 weights do): "+
				"its outputs run one at a time, so that they equal those of concurrency 1\n", mi, m.Name)
			width = 1
		}
	}
	g.slm, err = llamacpp.Open(path, o)
	if err != nil {
		return 0, fmt.Errorf("models[%d] %s: %w", mi, m.Name, err)
	}
	g.slmPtr.Store(g.slm)
	return width, nil
}

// comb returns the combination model at path, loading it once.
func (g *genModels) comb(path string) (*fusion.CombModel, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.combs[path]; c != nil {
		return c, nil
	}
	c, err := fusion.Load(path, 0)
	if err != nil {
		return nil, err
	}
	g.combs[path] = c
	return c, nil
}

// guard returns the guard of a record, made once.
func (g *genModels) guard(rec *record) *privacy.Guard {
	g.mu.Lock()
	defer g.mu.Unlock()
	gd := g.guards[rec]
	if gd == nil {
		gd = privacy.NewGuard(rec.rec.Vault)
		g.guards[rec] = gd
	}
	return gd
}

// genCall is one generation job ready to run.
type genCall struct {
	strategy collab.Strategy
	run      *collab.Runner
	cloud    *collab.Cloud // nil for the slm strategy
	opts     collab.Options
}

// prepare returns the call that runs a job on the open small model and
// worker's cloud, loading the combination model it uses.
func (g *genModels) prepare(ctx context.Context, worker int, j *genJob) (*genCall, error) {
	cfg := g.r.cfg
	s := cfg.Strategies[j.strat]
	st, _ := collab.ParseStrategy(s.Strategy) // validated
	c := &genCall{strategy: st, run: &collab.Runner{Private: g.r.cloudGrant(), Logger: g.r.logger}}
	if usesSLM(st) {
		c.run.SLM = collab.Engine(g.slm)
	}
	if st != collab.SLM {
		cloud, err := g.clouds.cloudFor(ctx, worker, j.strat)
		if err != nil {
			return nil, err
		}
		c.run.Cloud, c.cloud = cloud, cloud
	}
	var comb *fusion.CombModel
	if s.Comb != "" {
		var err error
		if comb, err = g.comb(s.Comb); err != nil {
			return nil, err
		}
	}
	c.run.Guard = g.guard(j.rec)
	method, _ := fusion.ParseMethod(s.Fusion)
	sched, _ := collab.ParseSchedule(s.Schedule)
	c.opts = collab.Options{
		Strategy: st, MaxTokens: cfg.MaxTokens, Sample: cfg.Sampling.params(j.seed),
		Fusion: method, Schedule: sched, TopK: s.TopK, Comb: comb, Gamma: s.Gamma, PerTokenFallback: s.PerTokenFallback,
		CloudMaxTokens: cfg.CloudMaxTokens, Trace: st == collab.Logits || st == collab.Speculative,
	}
	return c, nil
}

// runCall runs a prepared job and measures it: the text, the tokens of
// the small model and of the cloud, the cloud calls and the time. It
// counts the run and its cloud requests, whether or not it fails.
func (r *runner) runCall(ctx context.Context, c *genCall, j *genJob) (*genResult, error) {
	var before llm.Usage
	var reqBefore int64
	if c.cloud != nil {
		before, reqBefore = c.cloud.Client().Usage(), c.cloud.Client().Requests()
	}
	start := time.Now()
	res, err := c.run.Run(ctx, j.rec.task, c.opts)
	r.genRuns.Add(1)
	if c.cloud != nil {
		r.cloudRequests.Add(c.cloud.Client().Requests() - reqBefore)
	}
	if err != nil {
		return nil, err
	}
	gr := &genResult{
		Text: res.Text, Redactions: res.Redactions, CloudCalls: res.CloudCalls,
		LocalPrompt: res.Usage.PromptTokens, LocalCompletion: res.Usage.CompletionTokens,
		Seconds: time.Since(start).Seconds(), Trace: res.Trace,
	}
	if res.Fallback != "" {
		gr.Ran = res.Label()
	}
	if !usesSLM(c.strategy) {
		// The llm strategies generate in the cloud only.
		gr.LocalPrompt, gr.LocalCompletion = 0, 0
	}
	if c.cloud != nil {
		after := c.cloud.Client().Usage()
		gr.CloudPrompt, gr.CloudCompletion = after.PromptTokens-before.PromptTokens, after.CompletionTokens-before.CompletionTokens
	}
	return gr, nil
}
