// Package collab runs the collaboration strategies of DESIGN §3: a small
// model on the device (the SLM, with the user's private context) and a
// large cloud model (the LLM, with public text only) write together.
//
// # What leaves the device
//
// The cloud sees only [privacy.Public] values and [privacy.PublicTokens]:
// the public instruction after the guard (redacted where it names private
// facts), the paper's fixed prompt templates, and in logit fusion the
// tokens generated so far, each prefix checked by the guard first (the
// leak-aware stop: once a prefix holds a private fact, the cloud is not
// consulted again for that response). The with-context prompt never
// crosses: it is built from [privacy.Private] values that only the local
// model reads. The one exception is the llm-context baseline, which sends
// everything and refuses to run without [Runner.Private], the grant that
// only the --allow-private-egress flag makes.
//
// Every cloud request leaves through the client the runner's Cloud was
// built with (internal/egress: guard, audit log, network); each run's
// requests carry the runner's guard for that check. A runner without a
// guard sends nothing.
package collab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// Strategy names a collaboration strategy (DESIGN §3).
type Strategy string

// The strategies.
const (
	LLM        Strategy = "llm"         // cloud with the public instruction only (lower bound)
	LLMContext Strategy = "llm-context" // cloud with everything (upper bound; opt-in)
	SLM        Strategy = "slm"         // local model with context, no cloud
	Sketch     Strategy = "sketch"      // cloud outline, local model writes
	SketchFull Strategy = "sketch-full" // cloud full draft, local model rewrites
	Logits     Strategy = "logits"      // per-token fusion of both distributions
)

// Strategies lists every strategy, in the order of DESIGN §3.
var Strategies = []Strategy{LLM, LLMContext, SLM, Sketch, SketchFull, Logits, Speculative}

// ParseStrategy validates a strategy name.
func ParseStrategy(s string) (Strategy, error) {
	for _, st := range Strategies {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("strategy %q: want one of llm, llm-context, slm, sketch, sketch-full, logits, speculative", s)
}

// ErrPrivateEgressNotAllowed is returned by llm-context unless the caller
// opted in.
var ErrPrivateEgressNotAllowed = errors.New("llm-context sends the private context to the cloud; pass --allow-private-egress to run this baseline")

// errNoGuard is returned by a run that would reach the cloud without a
// guard: nothing is sent.
var errNoGuard = errors.New("no guard configured: nothing is sent to the cloud without one")

// Runner runs strategies. SLM is needed by every strategy but llm and
// llm-context, Cloud by every one but slm. A Runner is safe for concurrent
// use when its parts are.
type Runner struct {
	SLM   LocalModel
	Cloud CloudModel
	// Guard is the user's guard; it checks the public instruction and the
	// logit prefixes.
	Guard *privacy.Guard
	// GuardModel, when set, is asked once per request which spans of the
	// public instruction reveal the user's context (an on-device model:
	// package guardmodel); its findings only add to the guard's. It is
	// not asked for the logit prefixes, which the guard's rules check.
	GuardModel GuardModel
	// Private is the grant of --allow-private-egress: it lets llm-context
	// and teacher forcing send private text (the cloud's egress client
	// must hold the same grant). Nil for none.
	Private *egress.Grant
	Logger  *slog.Logger

	tokOnce sync.Once
	tokErr  error
}

// GuardModel finds what a text reveals of the user's private context.
type GuardModel interface {
	Findings(ctx context.Context, text string) ([]privacy.Finding, error)
}

// publicInstruction is the task's general section after the guard (and
// the guard model, when there is one), redacted, and how many findings
// were redacted. An error of the guard model sends nothing.
func (r *Runner) publicInstruction(ctx context.Context, task Task) (privacy.Public, int, error) {
	text := task.publicCandidate()
	var extra []privacy.Finding
	if r.GuardModel != nil {
		var err error
		if extra, err = r.GuardModel.Findings(ctx, text); err != nil {
			return privacy.Public{}, 0, fmt.Errorf("guard model: %w", err)
		}
	}
	p, findings, err := r.Guard.PublicWith(text, privacy.Redact, extra)
	if err != nil {
		return privacy.Public{}, 0, fmt.Errorf("guard public instruction: %w", err)
	}
	return p, len(findings), nil
}

// userLoader is a LocalModel that keeps users' evaluated context
// prefixes (see [EngineWithStates]).
type userLoader interface {
	LoadUser(ctx context.Context, prompt []int32, user string, prefix int, wait bool) (LocalSequence, func(ok bool), int, bool, error)
}

type userKey struct{}

// withUser notes the run's user (a vault id) for loaded.
func withUser(ctx context.Context, user string) context.Context {
	if user == "" {
		return ctx
	}
	return context.WithValue(ctx, userKey{}, user)
}

// loaded returns a local sequence holding prompt, reusing an earlier
// sequence's shared prefix (runs of one task with several strategies
// evaluate the private prompt once); the first prefix tokens are the
// run's user's context, which a model with saved states restores instead
// of evaluating. Call release with whether the sequence is in a known
// state.
func (r *Runner) loaded(ctx context.Context, prompt []int32, prefix int) (LocalSequence, func(ok bool), error) {
	if ul, ok := r.SLM.(userLoader); ok {
		if user, _ := ctx.Value(userKey{}).(string); user != "" {
			seq, release, _, _, err := ul.LoadUser(ctx, prompt, user, prefix, true)
			return seq, release, err
		}
	}
	seq, release, _, _, err := r.SLM.Load(ctx, prompt, true)
	return seq, release, err
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Options configure one run.
type Options struct {
	Strategy Strategy
	// MaxTokens bounds the generated tokens (default 512).
	MaxTokens int
	// Sample is the local model's sampling (and the fused distribution's:
	// temperature and top-p).
	Sample sample.Params
	// Fusion, Schedule and TopK configure logits: the fusion rule, when to
	// consult the cloud, and how many cloud log-probabilities to ask for
	// (default 10).
	Fusion   fusion.Method
	Schedule Schedule
	TopK     int
	// Comb is the learned fusion-weight model that fusion learned uses.
	Comb *fusion.CombModel
	// IgnoreEOG keeps generating past end-of-generation tokens (for
	// benchmarks that need a fixed length).
	IgnoreEOG bool
	// Gamma is speculative fusion's first draft length (default 4; it then
	// adapts to the acceptance rate within [MinGamma, MaxGamma]).
	Gamma int
	// PerTokenFallback lets speculative fusion run per-token fusion (the
	// same output distribution, one round trip per token) against a cloud
	// that cannot score a sequence in one request; without it such a run
	// is refused before any request, as unsupported.
	PerTokenFallback bool
	// NoProxy makes speculative fusion draft from the local model alone,
	// without the local stand-in for the cloud (the local model on the
	// public prompt, in a second sequence).
	NoProxy bool
	// CloudMaxTokens bounds the cloud's outline or draft (default 512).
	CloudMaxTokens int
	// Trace, when set, records the output token by token in
	// Result.Trace, for the strategies in which the local model writes
	// (all but llm and llm-context).
	Trace bool
	// OnToken, when set, is called with each piece of the final text as
	// it is produced, in order, from the goroutine that called Run: token
	// by token for the strategies where the local model writes (slm,
	// sketch, sketch-full, logits, speculative), and once with the whole
	// answer for llm and llm-context. Joined, the pieces of a successful
	// run are Result.Text. A run that fails may have emitted some pieces.
	OnToken func(Piece)
}

// Result is the output of one run.
type Result struct {
	Strategy Strategy
	// Fallback is the strategy that ran in Strategy's place, when Strategy
	// could not run here and the options allowed it (speculative fusion
	// against a cloud that cannot score a sequence runs per-token fusion,
	// with the same output distribution, under PerTokenFallback); empty
	// otherwise. Label shows both.
	Fallback Strategy
	Text     string
	// Sketch is the cloud's outline or draft (sketch strategies).
	Sketch string
	// Redactions counts the guard's findings in the public instruction
	// (each replaced by a placeholder before it left the device).
	Redactions int
	CloudCalls int
	Usage      llm.Usage
	Trace      *Trace
	// Tokens are the generated tokens (logits and speculative).
	Tokens []int32
	// Spec describes a speculative run.
	Spec *SpecStats
}

// Label names what ran: the strategy, or "speculative→logits" when a
// fallback ran in its place.
func (r Result) Label() string {
	if r.Fallback != "" {
		return string(r.Strategy) + "→" + string(r.Fallback)
	}
	return string(r.Strategy)
}

func (o Options) withDefaults() Options {
	if o.MaxTokens <= 0 {
		o.MaxTokens = 512
	}
	if o.TopK <= 0 {
		o.TopK = 10
	}
	if o.CloudMaxTokens <= 0 {
		o.CloudMaxTokens = 512
	}
	if o.Fusion == "" {
		o.Fusion = fusion.Mean
	}
	if o.Schedule.kind == "" {
		o.Schedule = ScheduleAll
	}
	return o
}

// Run runs one task with one strategy.
func (r *Runner) Run(ctx context.Context, task Task, o Options) (Result, error) {
	o = o.withDefaults()
	ctx = withUser(egress.WithGuard(audit.WithStrategy(ctx, string(o.Strategy)), r.Guard), task.User)
	res := Result{Strategy: o.Strategy}
	needsCloud := o.Strategy != SLM
	needsSLM := o.Strategy != LLM && o.Strategy != LLMContext
	if needsCloud && r.Cloud == nil {
		return res, fmt.Errorf("strategy %s: no cloud model configured", o.Strategy)
	}
	if needsCloud && r.Guard == nil {
		return res, fmt.Errorf("strategy %s: %w", o.Strategy, errNoGuard)
	}
	if needsSLM && r.SLM == nil {
		return res, fmt.Errorf("strategy %s: no local model configured", o.Strategy)
	}
	if o.Strategy == LLMContext {
		if r.Private == nil {
			return res, ErrPrivateEgressNotAllowed
		}
		ctx = egress.WithGrant(ctx, r.Private)
	}
	if needsCloud {
		if err := r.cloudCan(o); err != nil {
			return res, fmt.Errorf("strategy %s: %w", o.Strategy, err)
		}
		if a, ok := r.Cloud.(vocabUser); ok && r.SLM != nil {
			a.UseVocab(r.SLM)
		}
	}
	if o.Fusion == fusion.Learned && (o.Strategy == Logits || o.Strategy == Speculative) {
		if o.Comb == nil {
			return res, errors.New("fusion learned: no CombModel given (train one with cogen fusion train, pass it with --comb FILE)")
		}
		if o.TopK > fusion.MaxK {
			return res, fmt.Errorf("fusion learned: top-k %d is above the CombModel's limit %d", o.TopK, fusion.MaxK)
		}
	}

	// The public instruction: the general section after the guard.
	var public privacy.Public
	if needsCloud && o.Strategy != LLMContext {
		p, redactions, err := r.publicInstruction(ctx, task)
		if err != nil {
			return res, err
		}
		public, res.Redactions = p, redactions
	}
	private := task.privateInstruction()
	sysCtx := systemFor(task.Kind)

	switch o.Strategy {
	case LLM:
		text, err := r.Cloud.Chat(ctx, privacy.PublicConst(systemWithout), public, r.cloudChat(o))
		res.Text, res.CloudCalls = text, 1
		cloudPiece(o, text, err)
		return res, err
	case LLMContext:
		sys := privacy.PublicConst(systemWithContext)
		if task.Kind != KindContext {
			sys = privacy.PublicConst(systemWithHistory)
		}
		user := privacy.DeclassifyForBaseline(privacy.NewPrivate(private))
		text, err := r.Cloud.Chat(ctx, sys, user, r.cloudChat(o))
		res.Text, res.CloudCalls = text, 1
		cloudPiece(o, text, err)
		return res, err
	case SLM:
		return r.local(ctx, res, sysCtx, private, o)
	case Sketch, SketchFull:
		return r.sketch(ctx, res, task, public, sysCtx, private, o)
	case Logits:
		return r.logits(ctx, res, public, sysCtx, private, o)
	case Speculative:
		return r.speculative(ctx, res, public, sysCtx, private, o)
	}
	return res, fmt.Errorf("strategy %q: unknown", o.Strategy)
}

// cloudCan checks, before any request, that the cloud offers what the
// strategy needs, and names what is missing.
func (r *Runner) cloudCan(o Options) error {
	switch o.Strategy {
	case Logits:
		return r.Cloud.Can(openaiapi.CapNextTokenTopK)
	case Speculative:
		err := r.Cloud.Can(openaiapi.CapSequenceTopK)
		if err == nil {
			return nil
		}
		if !o.PerTokenFallback {
			return fmt.Errorf("%w (per-token fusion, the same distribution with a round trip per token, runs when asked for: --per-token-fallback)", err)
		}
		return r.Cloud.Can(openaiapi.CapNextTokenTopK)
	}
	return r.Cloud.Can(openaiapi.CapChat)
}

// cloudPiece hands the cloud's whole answer to o.OnToken.
func cloudPiece(o Options, text string, err error) {
	if o.OnToken != nil && err == nil && text != "" {
		o.OnToken(Piece{Text: text, W: 0, Consulted: true})
	}
}

// traceTop is how many of the local model's top choices a trace keeps
// per token.
const traceTop = 3

// generate lets the local model write alone after prompt (slm, sketch):
// it streams the visible text to o.OnToken and, with o.Trace, records
// each token in res.Trace with w = 1 and the model's top choices (under
// its raw distribution; reporting them does not change the draw).
func (r *Runner) generate(ctx context.Context, seq LocalSequence, prompt []int32, res *Result, o Options) (llamacpp.Result, error) {
	gen := llamacpp.GenerateOptions{Sample: o.Sample, MaxTokens: o.MaxTokens}
	st := newStreamer(o.OnToken)
	var tr *Trace
	if o.Trace {
		tr = &Trace{Strategy: string(o.Strategy), Sketch: res.Sketch, CloudStopped: -1}
		res.Trace = tr
		gen.TopLogprobs = traceTop
	}
	var yield func(llamacpp.Token) error
	if st != nil || tr != nil {
		yield = func(t llamacpp.Token) error {
			if st != nil {
				st.text(Piece{Text: t.Text, W: 1})
			}
			if tr != nil && !r.SLM.IsEOG(t.ID) {
				s := Step{Index: len(tr.Steps), Token: t.ID, Text: r.SLM.Piece(t.ID), W: 1}
				if t.Logprob != nil {
					for _, c := range t.Logprob.Top {
						s.SLM = append(s.SLM, Choice{Token: c.Token, Text: r.SLM.Piece(c.Token), Prob: math.Exp(c.Logprob)})
					}
				}
				tr.Steps = append(tr.Steps, s)
			}
			return nil
		}
	}
	out, err := seq.Generate(ctx, prompt, gen, yield)
	st.flush()
	if tr != nil {
		tr.CloudCalls = res.CloudCalls
	}
	return out, err
}

func (r *Runner) cloudChat(o Options) ChatOptions {
	co := ChatOptions{MaxTokens: o.CloudMaxTokens, Temperature: o.Sample.Temperature}
	if o.Sample.Temperature > 0 {
		seed := int64(o.Sample.Seed)
		co.Seed = &seed
	}
	return co
}

// local generates with the local model from a system and a private user
// message.
func (r *Runner) local(ctx context.Context, res Result, system, user string, o Options) (Result, error) {
	prompt, prefix, err := r.privateTokens(system, user)
	if err != nil {
		return res, err
	}
	seq, release, err := r.loaded(ctx, prompt, prefix)
	if err != nil {
		return res, err
	}
	out, err := r.generate(ctx, seq, nil, &res, o)
	release(err == nil)
	res.Text = strings.TrimSpace(out.Text)
	res.Usage = llm.Usage{PromptTokens: len(prompt), CompletionTokens: len(out.Tokens), TotalTokens: len(prompt) + len(out.Tokens)}
	return res, err
}

// taskMarker opens the task in a with-context user turn
// ([Task.privateInstruction]); everything before it (system prompt,
// profile, history) is the user's context, the same for all their tasks.
const taskMarker = "\n\n## Task\n"

// privateTokens is chatTokens for a with-context turn, and the length of
// its context prefix: the tokens up to the task, as the whole prompt
// tokenizes them (0 when the turn has no task marker).
func (r *Runner) privateTokens(system, user string) ([]int32, int, error) {
	text, toks, err := r.chat(system, user)
	if err != nil {
		return nil, 0, err
	}
	i := strings.LastIndex(text, taskMarker)
	if i < 0 {
		return toks, 0, nil
	}
	head, err := r.SLM.Tokenize(text[:i+len(taskMarker)], false, true)
	if err != nil {
		return nil, 0, err
	}
	// A token may span the cut; the prefix is what both tokenizations
	// share.
	return toks, commonPrefix(head, toks), nil
}

// chatTokens renders a system and user turn with the local model's chat
// template and tokenizes it. The text may be private: it stays here.
func (r *Runner) chatTokens(system, user string) ([]int32, error) {
	_, toks, err := r.chat(system, user)
	return toks, err
}

// chat renders a system and user turn and tokenizes it.
func (r *Runner) chat(system, user string) (string, []int32, error) {
	text, err := r.SLM.RenderChat([]llm.Message{{Role: llm.RoleSystem, Content: system}, {Role: llm.RoleUser, Content: user}}, true)
	if err != nil {
		return "", nil, err
	}
	toks, err := r.SLM.Tokenize(text, false, true)
	return text, toks, err
}

// sketch asks the cloud for an outline (or a full draft) of the public
// instruction while the local model evaluates the private prompt, then lets
// the local model write from context plus outline.
func (r *Runner) sketch(ctx context.Context, res Result, task Task, public privacy.Public, system, private string, o Options) (Result, error) {
	full := o.Strategy == SketchFull
	user := public
	sys := privacy.PublicConst(systemWithout)
	if !full {
		user = outlinePrompt(task.Kind, public)
	}
	type answer struct {
		text string
		err  error
	}
	cloud := make(chan answer, 1)
	go func() {
		text, err := r.Cloud.Chat(ctx, sys, user, r.cloudChat(o))
		cloud <- answer{text, err}
	}()

	// Meanwhile: evaluate the private prompt up to where the outline goes.
	// The rendered prompt with an empty outline shares its prefix with the
	// final one.
	head, prefix, err := r.privateTokens(system, private)
	if err != nil {
		<-cloud
		return res, err
	}
	pre := head[:max(1, len(head)-8)] // the tail (turn end, assistant header) comes after the outline
	seq, release, prefillErr := r.loaded(ctx, pre, min(prefix, len(pre)))
	a := <-cloud
	res.CloudCalls = 1
	if prefillErr != nil {
		return res, prefillErr
	}
	ok := false
	defer func() { release(ok) }()
	if a.err != nil {
		ok = true
		return res, a.err
	}
	res.Sketch = a.text
	prompt, err := r.chatTokens(system, withSketch(private, a.text, full))
	if err != nil {
		ok = true
		return res, err
	}
	// Keep the evaluated prefix where it matches.
	n := commonPrefix(pre, prompt)
	if err := seq.Truncate(ctx, n); err != nil {
		return res, err
	}
	out, err := r.generate(ctx, seq, prompt[n:], &res, o)
	ok = err == nil
	res.Text = strings.TrimSpace(out.Text)
	res.Usage = llm.Usage{PromptTokens: len(prompt), CompletionTokens: len(out.Tokens), TotalTokens: len(prompt) + len(out.Tokens)}
	return res, err
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}
