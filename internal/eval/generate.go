package eval

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

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

// generate runs the pending generation jobs one at a time (the local model
// is the bottleneck), opening each local model only when one of its jobs
// is pending.
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
	ratings, pairs := p.judgeCounts()
	est := newGenEstimate(r.out, r.cfg, pending, ratings+pairs)
	bar := progress.New(r.out, "generate", int64(len(pending)))
	defer bar.Done()
	g := r.newGenModels()
	defer g.close()
	for i, j := range pending {
		if err := r.generateOne(ctx, p, g, j); err != nil {
			bar.Done() // "stopped at": the outputs so far are kept
			fmt.Fprintf(r.out, "generate: %s after %d of %s\n", failure(ctx), i, count(len(pending), "output"))
			return err
		}
		bar.Add(1)
		est.observe(j.strat, j.result.Seconds)
	}
	return nil
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

// generateOne runs one generation job and stores its result.
func (r *runner) generateOne(ctx context.Context, p *plan, g *genModels, j *genJob) error {
	c, err := g.prepare(ctx, j)
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
// guards. It is not safe for concurrent use.
type genModels struct {
	r        *runner
	curModel int // index of slm in cfg.Models; -1 for none
	slm      *llamacpp.Model
	slmPtr   atomic.Pointer[llamacpp.Model] // slm, for the clouds' detokenizer
	clouds   *cloudPool
	combs    map[string]*fusion.CombModel
	guards   map[*record]*privacy.Guard
}

// newGenModels returns the shared state of a generation stage with no
// model open yet.
func (r *runner) newGenModels() *genModels {
	g := &genModels{r: r, curModel: -1, combs: map[string]*fusion.CombModel{}, guards: map[*record]*privacy.Guard{}}
	g.clouds = r.newCloudPool(g.detokenize)
	return g
}

// close closes the clouds' audit logs and the small model.
func (g *genModels) close() {
	g.clouds.close()
	if g.slm != nil {
		g.slm.Close()
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

// smallModel returns the small model (with its LoRA) of models[mi],
// closing the one open before.
func (g *genModels) smallModel(ctx context.Context, mi int) (*llamacpp.Model, error) {
	if g.curModel == mi {
		return g.slm, nil
	}
	if g.slm != nil {
		g.slmPtr.Store(nil)
		g.slm.Close()
		g.slm = nil
	}
	r := g.r
	m := r.cfg.Models[mi]
	path, err := r.resolve(ctx, m.SLM)
	if err != nil {
		return nil, err
	}
	lora := ""
	if m.LoRA != "" {
		if lora, err = r.resolve(ctx, m.LoRA); err != nil {
			return nil, err
		}
	}
	slm, err := llamacpp.Open(path, llamacpp.Options{ContextSize: 8192, Threads: r.cfg.Threads, Parallel: 2, LoRA: lora, Logger: r.logger.With("component", "llama.cpp")})
	if err != nil {
		return nil, fmt.Errorf("models[%d] %s: %w", mi, m.Name, err)
	}
	g.slm, g.curModel = slm, mi
	g.slmPtr.Store(slm)
	return slm, nil
}

// comb returns the combination model at path, loading it once.
func (g *genModels) comb(path string) (*fusion.CombModel, error) {
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

// prepare opens what a job's strategy uses (the small model, the cloud,
// the combination model) and returns the call that runs it.
func (g *genModels) prepare(ctx context.Context, j *genJob) (*genCall, error) {
	cfg := g.r.cfg
	s := cfg.Strategies[j.strat]
	st, _ := collab.ParseStrategy(s.Strategy) // validated
	c := &genCall{strategy: st, run: &collab.Runner{Private: g.r.cloudGrant(), Logger: g.r.logger}}
	if usesSLM(st) {
		slm, err := g.smallModel(ctx, j.model)
		if err != nil {
			return nil, err
		}
		c.run.SLM = collab.Engine(slm)
	}
	if st != collab.SLM {
		cloud, err := g.clouds.cloudFor(ctx, j.strat)
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
