package collab

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/privacy"
)

// localSeq is a local model's sequence as fusion drives it: the
// next-token logits after its tokens, and appending and truncating tokens.
// *llamacpp.Sequence is one.
type localSeq interface {
	Logits() []float32
	Append(ctx context.Context, toks []int32) error
	Truncate(ctx context.Context, n int) error
	Len() int
}

// scorer is the cloud as fusion consults it, with public tokens only.
// *Cloud is one.
type scorer interface {
	NextTopK(ctx context.Context, prefix privacy.PublicTokens, k int) ([]llm.TopLogprob, error)
	ScoreWithNext(ctx context.Context, seq privacy.PublicTokens, k int) ([]llm.TokenLogprob, []llm.TopLogprob, error)
}

// vocab is the tokenizer both models share, as fusion needs it.
type vocab interface {
	IsEOG(tok int32) bool
	Detokenize(toks []int32) string
}

// chooser makes fusion's random choices: a draw from a normalised
// distribution, and an acceptance that holds with probability a.
type chooser interface {
	draw(p []float64) int32
	accept(a float64) bool
}

// seeded is the chooser of a run: one seeded stream of uniform numbers.
type seeded struct{ s *sample.Sampler }

func (c seeded) draw(p []float64) int32 { return fusion.Draw(p, c.s.Float64()) }

func (c seeded) accept(a float64) bool { return a >= 1 || c.s.Float64() < a }

// emitted is one output token of a fusion run, with what it was drawn
// from (for traces and the stream).
type emitted struct {
	Step
	q   []float64        // the local model's distribution at the token
	top []llm.TopLogprob // the cloud's top-k there; nil when not consulted
}

// fuser runs logit fusion (DESIGN §4) and speculative fusion (§5) over a
// local sequence holding the private prompt, an optional stand-in
// sequence (the local model on the public prompt) and the cloud.
//
// Both produce the same output distribution. At step k the target is
// P_k = shape(fuse(q_k, p_l,k)) when the cloud is consulted at k (the
// schedule says so and the guard has not stopped consultation), and
// shape(q_k) otherwise, where shape is the sampling pipeline
// ([sample.Params.Shape]). Per-token fusion draws every token from its
// target. Speculative fusion drafts up to γ tokens from a draft
// distribution d (shape(q), or the fusion of q with the stand-in), makes
// one request that scores the draft, and accepts draft token x with
// probability min(1, P(x)/d(x)); the first rejection is replaced by a
// draw from norm(max(0, P − d)). Every choice that is not random (γ, the
// draft distribution, when to take per-token steps, the schedule and the
// guard's stop) depends only on the tokens before it, so each output
// token is distributed as its target given the tokens before it: the
// output is distributed exactly as per-token fusion's. The guard's stop
// included: the guard checks each consulted position's prefix in order,
// as per-token fusion would, and positions from the first leaking prefix
// on take shape(q) as target, with no cloud request for them.
type fuser struct {
	seq   localSeq
	proxy localSeq // the stand-in for the cloud; nil for none
	cloud scorer
	guard *privacy.Guard
	voc   vocab
	// prompt is the cloud's prompt (public).
	prompt privacy.PublicTokens
	o      Options
	pick   chooser
	now    func() time.Time
	log    *slog.Logger
	// blocks makes the run speculative; without it every step is a
	// per-token step.
	blocks bool
	// emit receives each output token in order.
	emit func(emitted)

	generated []int32
	stopped   bool // the guard ended cloud consultation
	stoppedAt int  // the step at which it did; -1 for never
	stopRule  string
	done      bool // an end-of-generation token was drawn
	calls     int
	stats     SpecStats
	wt        *weigher
	q, pl, pc []float64 // buffers reused between steps
}

func newFuser(o Options) *fuser {
	return &fuser{o: o, now: time.Now, log: slog.Default(), stoppedAt: -1, wt: newWeigher(o)}
}

// run generates until an end-of-generation token or o.MaxTokens tokens.
func (f *fuser) run(ctx context.Context) error {
	gamma := f.o.Gamma
	if gamma <= 0 {
		gamma = DefaultGamma
	}
	var (
		perToken int // per-token steps to take before the next block
		cost     specCost
		bs       = blockState{matchQ: 0.5, matchS: 0.5, useStandIn: true}
	)
	for !f.done && len(f.generated) < f.o.MaxTokens {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !f.blocks || perToken > 0 {
			perToken--
			start := f.now()
			consulted, err := f.step(ctx)
			if err != nil {
				return err
			}
			if consulted && f.blocks {
				cost.perToken.add(f.now().Sub(start).Seconds())
				f.stats.PerTokenSteps++
			}
			continue
		}
		n, accepted, secs, err := f.block(ctx, &bs, gamma)
		if err != nil {
			return err
		}
		switch {
		case secs < 0: // no request: nothing to learn about cost or γ
		case accepted < n:
			gamma = max(MinGamma, min(gamma, accepted+1))
		default:
			gamma = min(MaxGamma, gamma+1)
		}
		if secs >= 0 {
			cost.block.add(secs)
			cost.perBlock.add(float64(accepted + 1))
			perToken = cost.fallback()
		}
	}
	return nil
}

// consult reports whether the cloud would be asked at step k if the guard
// allows it.
func (f *fuser) consult(k int) bool { return !f.stopped && f.o.Schedule.Consult(k) }

// check runs the guard on the cloud prompt followed by the generated
// tokens and toks: the prefix the cloud would see at the step after them.
func (f *fuser) check(toks []int32) (privacy.PublicTokens, *privacy.LeakError) {
	return f.guard.PublicTokens(slices.Concat(f.prompt.IDs(), f.generated, toks), f.voc.Detokenize)
}

// stop ends cloud consultation at step k (the leak-aware stop: the text
// now holds something private; the cloud is not consulted again).
func (f *fuser) stop(k int, leak *privacy.LeakError) {
	f.stopped, f.stoppedAt, f.stopRule = true, k, leak.RuleID
	f.log.Info("cloud consultation stopped by the guard", "step", k, "rule", leak.RuleID)
}

// target returns the sampling distribution at step k from the local
// distribution q and the cloud's top-k (nil: not consulted), and the
// small model's weight in it. The result is f.pc, reused by the next call.
func (f *fuser) target(q []float64, top []llm.TopLogprob, k int) ([]float64, float64, error) {
	if top == nil {
		f.pc = append(f.pc[:0], q...)
		f.o.Sample.Shape(f.pc)
		return f.pc, 1, nil
	}
	var err error
	if f.pl, err = fusion.Complete(f.pl, q, top); err != nil {
		return nil, 0, err
	}
	var w float64
	f.pc, w = f.wt.fuse(f.pc, q, f.pl, top, k)
	f.o.Sample.Shape(f.pc)
	return f.pc, w, nil
}

// put ends the output at an end-of-generation token or appends tok to it.
func (f *fuser) put(tok int32, w float64, q []float64, top []llm.TopLogprob) {
	if f.voc.IsEOG(tok) && !f.o.IgnoreEOG {
		f.done = true
		return
	}
	k := len(f.generated)
	f.generated = append(f.generated, tok)
	if f.emit != nil {
		e := emitted{Step: Step{Index: k, Token: tok, W: w, Consulted: top != nil}, q: q, top: top}
		if k == f.stoppedAt {
			e.Guard = "stop-cloud: " + f.stopRule
		}
		f.emit(e)
	}
}

// more reports whether another token will be generated after the ones so
// far: the local sequences then need the last one.
func (f *fuser) more() bool { return !f.done && len(f.generated) < f.o.MaxTokens }

// appendBoth appends tok to the sequence and to the stand-in.
func (f *fuser) appendBoth(ctx context.Context, tok int32) error {
	if err := f.seq.Append(ctx, []int32{tok}); err != nil {
		return err
	}
	if f.proxy == nil {
		return nil
	}
	return f.proxy.Append(ctx, []int32{tok})
}

// step takes one per-token fusion step and reports whether the cloud was
// consulted.
func (f *fuser) step(ctx context.Context) (bool, error) {
	k := len(f.generated)
	f.q = fusion.Softmax(f.q, f.seq.Logits())
	q := f.q
	var top []llm.TopLogprob
	if f.consult(k) {
		if prefix, leak := f.check(nil); leak != nil {
			f.stop(k, leak)
		} else {
			var err error
			top, err = f.cloud.NextTopK(ctx, prefix, f.o.TopK)
			f.calls++
			if err != nil {
				return false, err
			}
			if top == nil {
				top = []llm.TopLogprob{}
			}
		}
	}
	P, w, err := f.target(q, top, k)
	if err != nil {
		return false, err
	}
	f.put(f.pick.draw(P), w, q, top)
	if f.more() {
		return top != nil, f.appendBoth(ctx, f.generated[len(f.generated)-1])
	}
	return top != nil, nil
}

// blockState holds speculative fusion's buffers and its running choice of
// draft distribution between blocks.
type blockState struct {
	qs, dq, ds [][]float64 // per draft position: q, shape(q), the stand-in draft (nil: none)
	d          [][]float64 // the draft distribution used
	draft      []int32
	ptop       []llm.TopLogprob
	ppl        []float64
	// matchQ and matchS track how well shape(q) and the stand-in draft
	// matched the target so far; the better one drafts the next block
	// (a choice on the past alone keeps the output exact).
	matchQ, matchS float64
	useStandIn     bool
}

// block drafts up to gamma tokens, scores them in one request and keeps
// the accepted prefix and one more token. It returns the draft length n,
// the accepted count, and the request's duration in seconds (-1 when no
// request was needed).
func (f *fuser) block(ctx context.Context, bs *blockState, gamma int) (n, accepted int, secs float64, err error) {
	k0 := len(f.generated)
	base := f.seq.Len()
	pbase := 0
	if f.proxy != nil {
		pbase = f.proxy.Len()
	}
	n = min(gamma, f.o.MaxTokens-k0)
	bs.qs, bs.dq, bs.ds, bs.d, bs.draft = bs.qs[:0], bs.dq[:0], bs.ds[:0], bs.d[:0], bs.draft[:0]
	eog := false
	for i := range n {
		q := fusion.Softmax(nil, f.seq.Logits())
		dq := append([]float64(nil), q...)
		f.o.Sample.Shape(dq)
		var dStand []float64
		if f.proxy != nil && f.consult(k0+i) {
			bs.ptop = standInTop(bs.ptop, f.proxy.Logits(), f.o.TopK)
			if bs.ppl, err = fusion.Complete(bs.ppl, q, bs.ptop); err != nil {
				return 0, 0, 0, err
			}
			dStand = fusion.Fuse(nil, q, bs.ppl, f.o.Fusion, f.wt.weight(q, bs.ppl, bs.ptop, k0+i))
			f.o.Sample.Shape(dStand)
		}
		d := dq
		if dStand != nil && bs.useStandIn {
			d = dStand
		}
		x := f.pick.draw(d)
		bs.qs, bs.dq, bs.ds, bs.d = append(bs.qs, q), append(bs.dq, dq), append(bs.ds, dStand), append(bs.d, d)
		bs.draft = append(bs.draft, x)
		if f.voc.IsEOG(x) && !f.o.IgnoreEOG {
			eog = true
			break
		}
		if err := f.seq.Append(ctx, []int32{x}); err != nil {
			return 0, 0, 0, err
		}
		if f.proxy != nil {
			if err := f.proxy.Append(ctx, []int32{x}); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	draft := bs.draft
	n = len(draft)
	// The positions that consult the cloud: the draft's, and the one after
	// it when the whole draft may be accepted. The guard checks each
	// prefix in order, as per-token fusion would.
	last := n
	if eog || k0+n >= f.o.MaxTokens {
		last = n - 1
	}
	// A leak at position j stops consultation only if the output reaches
	// j: when a draft token before j is rejected, the leaking prefix is
	// never written, and per-token fusion would not have stopped.
	cloudAt := make([]bool, last+1)
	m := -1 // the last consulted position
	var pt privacy.PublicTokens
	leakAt, leak := -1, (*privacy.LeakError)(nil)
	for i := 0; i <= last; i++ {
		if !f.consult(k0 + i) {
			continue
		}
		p, l := f.check(draft[:i])
		if l != nil {
			leakAt, leak = i, l
			break
		}
		cloudAt[i], m, pt = true, i, p
	}
	tops := make([][]llm.TopLogprob, last+1)
	secs = -1
	if m >= 0 {
		f.stats.Blocks++
		f.stats.GammaSum += n
		f.stats.Drafted += n
		start := f.now()
		scored, next, err := f.cloud.ScoreWithNext(ctx, pt, f.o.TopK)
		f.calls++
		if err != nil {
			return 0, 0, 0, err
		}
		secs = f.now().Sub(start).Seconds()
		L := f.prompt.Len() + k0
		for i := 0; i <= m; i++ {
			if !cloudAt[i] {
				continue
			}
			if i == m {
				tops[i] = next
			} else {
				tops[i] = scored[L+i-1].Top
			}
			if tops[i] == nil {
				tops[i] = []llm.TopLogprob{}
			}
		}
	}

	var repl int32 = -1
	ws := make([]float64, 0, n)
	for i, x := range draft {
		// Where the cloud is not consulted the target is shape(q), already
		// computed for the draft.
		P, w := bs.dq[i], 1.0
		if tops[i] != nil {
			if P, w, err = f.target(bs.qs[i], tops[i], k0+i); err != nil {
				return 0, 0, 0, err
			}
		}
		ws = append(ws, w)
		if tops[i] != nil && bs.ds[i] != nil {
			const a = 0.3
			bs.matchQ = (1-a)*bs.matchQ + a*overlap(bs.dq[i], P)
			bs.matchS = (1-a)*bs.matchS + a*overlap(bs.ds[i], P)
		}
		d := bs.d[i]
		if f.pick.accept(min(1, P[x]/d[x])) {
			accepted++
			continue
		}
		// Rejected: draw from norm(max(0, P − d)).
		res := make([]float64, len(P))
		var sum float64
		for j := range P {
			res[j] = max(0, P[j]-d[j])
			sum += res[j]
		}
		for j := range res {
			res[j] /= sum
		}
		repl = f.pick.draw(res)
		break
	}
	f.stats.Accepted += accepted
	bs.useStandIn = bs.matchS >= bs.matchQ
	if leak != nil && accepted >= leakAt {
		f.stop(k0+leakAt, leak)
	}
	for i, x := range draft[:accepted] {
		f.put(x, ws[i], bs.qs[i], tops[i])
	}
	switch {
	case f.done:
	case repl >= 0:
		if err := f.seq.Truncate(ctx, base+accepted); err != nil {
			return 0, 0, 0, err
		}
		if f.proxy != nil {
			if err := f.proxy.Truncate(ctx, pbase+accepted); err != nil {
				return 0, 0, 0, err
			}
		}
		f.put(repl, ws[accepted], bs.qs[accepted], tops[accepted])
		if f.more() {
			if err := f.appendBoth(ctx, repl); err != nil {
				return 0, 0, 0, err
			}
		}
	case f.more():
		// Every draft token accepted: one more from the target after
		// them.
		q := fusion.Softmax(nil, f.seq.Logits())
		P, w, err := f.target(q, tops[n], k0+n)
		if err != nil {
			return 0, 0, 0, err
		}
		f.put(f.pick.draw(P), w, q, tops[n])
		if f.more() {
			if err := f.appendBoth(ctx, f.generated[len(f.generated)-1]); err != nil {
				return 0, 0, 0, err
			}
		}
	}
	return n, accepted, secs, nil
}
