package collab

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// Speculative is speculative fusion (DESIGN §5): the local model drafts γ
// tokens, one cloud request scores them, and each is accepted with
// probability min(1, p_c(x)/d(x)); the output is distributed exactly as
// per-token fusion's, with one round trip per block.
const Speculative Strategy = "speculative"

// Gamma bounds for speculative fusion.
const (
	MinGamma     = 1
	MaxGamma     = 16
	DefaultGamma = 4
)

// SpecStats describes a speculative run.
type SpecStats struct {
	// PerTokenSteps counts the per-token fusion steps taken where blocks
	// cost more per token than single steps (low acceptance).
	PerTokenSteps int
	Blocks        int
	Drafted       int
	Accepted      int
	// GammaSum / Blocks is the mean γ.
	GammaSum int
}

// AcceptanceRate is accepted / drafted draft tokens.
func (s SpecStats) AcceptanceRate() float64 {
	if s.Drafted == 0 {
		return 0
	}
	return float64(s.Accepted) / float64(s.Drafted)
}

// MeanGamma is the mean draft length.
func (s SpecStats) MeanGamma() float64 {
	if s.Blocks == 0 {
		return 0
	}
	return float64(s.GammaSum) / float64(s.Blocks)
}

// speculative runs speculative fusion; see [Speculative].
func (r *Runner) speculative(ctx context.Context, res Result, public privacy.Public, system, private string, o Options) (Result, error) {
	if r.Cloud.client.Kind().Require(openaiapi.CapSequenceTopK) != nil || o.Schedule != ScheduleAll {
		r.logger().Info("speculative fusion unavailable here; falling back to per-token fusion",
			"cloud_kind", string(r.Cloud.client.Kind()), "schedule", o.Schedule.String())
		res.Strategy = Logits
		return r.logits(ctx, res, public, system, private, o)
	}
	if err := r.sameTokenizer(ctx); err != nil {
		return res, err
	}
	slmPrompt, err := r.chatTokens(system, private)
	if err != nil {
		return res, err
	}
	cloudPrompt, err := r.publicChatTokens(privacy.PublicConst(systemWithout), public)
	if err != nil {
		return res, err
	}
	seq, release, err := r.loaded(ctx, slmPrompt)
	if err != nil {
		return res, err
	}
	ok := false
	defer func() { release(ok) }()
	// The local stand-in for the cloud: the local model on the public
	// prompt. Drafting from the fusion of q with it, rather than from q
	// alone, brings the draft close to p_c when the cloud resembles the
	// local model; exactness holds for any draft distribution.
	var proxy *llamacpp.Sequence
	if !o.NoProxy {
		p, releaseProxy, got, err := r.tryLoaded(ctx, cloudPrompt.IDs())
		if err != nil {
			return res, err
		}
		if got {
			proxy = p
			defer func() { releaseProxy(ok) }()
		} else {
			r.logger().Debug("speculative fusion: no second local sequence for the cloud stand-in; drafting from the local model alone")
		}
	}
	smp := sample.New(o.Sample)
	shape := fusion.Sampling{Temperature: o.Sample.Temperature, TopP: o.Sample.TopP}
	greedy := o.Sample.Greedy()
	gamma := o.Gamma
	if gamma <= 0 {
		gamma = DefaultGamma
	}
	var (
		generated []int32
		stats     SpecStats
		qs, ds    [][]float64
		// Both candidate drafts of each position: from q alone, and from
		// the fusion with the stand-in. Which one drafts the next block
		// is decided by how well each would have matched p_c so far
		// (a choice on the past alone keeps the output exact).
		dqs, dss       [][]float64
		matchQ, matchS = 0.5, 0.5
		useStandIn     = true
		pl, pc         []float64
		ppl            []float64 // the stand-in's completed distribution
		ptop           []llm.TopLogprob
		ws             []float64 // the small model's weight at each draft position
		stopped        bool
		done           bool
		// perToken counts fall-back per-token steps still to take; cost
		// decides them.
		perToken int
		cost     specCost
	)
	// fused returns the sampling distribution P = shape(fuse(q, p_l));
	// lastW is its small-model weight, for the stream.
	wt := newWeigher(o)
	st := newStreamer(o.OnToken)
	var lastW float64
	fused := func(q []float64, top []llm.TopLogprob, step int) ([]float64, error) {
		var err error
		if pl, err = fusion.Complete(pl, q, top); err != nil {
			return nil, err
		}
		pc, lastW = wt.fuse(pc, q, pl, top, step)
		shape.Transform(pc)
		return pc, nil
	}
	var piece []byte
	// emit ends the output at an end-of-generation token or appends tok
	// to it; w is the small model's weight in tok's distribution (1 when
	// the cloud was not consulted).
	emit := func(tok int32, w float64) {
		if r.SLM.IsEOG(tok) && !o.IgnoreEOG {
			done = true
			return
		}
		generated = append(generated, tok)
		if st != nil {
			piece = r.SLM.AppendPiece(piece[:0], tok)
			st.bytes(piece, w, !stopped)
		}
	}
	// take draws the next token from P (the argmax when greedy), emits it
	// and appends it to the local sequences.
	take := func(P []float64) error {
		y := fusion.Draw(P, smp.Float64())
		if greedy {
			y = fusion.Argmax(P)
		}
		emit(y, lastW)
		if done || len(generated) >= o.MaxTokens {
			return nil
		}
		return appendBoth(ctx, seq, proxy, y)
	}
	for !done && len(generated) < o.MaxTokens {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if perToken > 0 && !stopped {
			// Fall-back: one per-token fusion step, exact like a block.
			perToken--
			q := fusion.Softmax(nil, seq.Logits())
			prefix, leak := r.Guard.PublicTokens(append(slices.Clone(cloudPrompt.IDs()), generated...), r.SLM.Detokenize)
			if leak != nil {
				stopped = true
				r.logger().Info("cloud consultation stopped by the guard", "step", len(generated), "rule", leak.RuleID)
				continue
			}
			start := time.Now()
			top, err := r.Cloud.NextTopK(ctx, prefix, o.TopK)
			res.CloudCalls++
			if err != nil {
				return res, err
			}
			cost.perToken.add(time.Since(start).Seconds())
			stats.PerTokenSteps++
			P, err := fused(q, top, len(generated))
			if err != nil {
				return res, err
			}
			if err := take(P); err != nil {
				return res, err
			}
			continue
		}
		blockStart := len(generated)
		base := seq.Len()
		pbase := 0
		if proxy != nil {
			pbase = proxy.Len()
		}
		n := min(gamma, o.MaxTokens-len(generated))
		// Draft n tokens from d = shape(fuse(q, stand-in)), or shape(q)
		// without a stand-in or once the cloud is stopped (the output is
		// then q's).
		var draft []int32
		qs, ds = qs[:0], ds[:0]
		dqs, dss = dqs[:0], dss[:0]
		for i := range n {
			q := fusion.Softmax(nil, seq.Logits())
			d := append([]float64(nil), q...)
			shape.Transform(d)
			var dStand []float64
			if proxy != nil && !stopped {
				ptop = standInTop(ptop, proxy.Logits(), o.TopK)
				if ppl, err = fusion.Complete(ppl, q, ptop); err != nil {
					return res, err
				}
				dStand = fusion.Fuse(nil, q, ppl, o.Fusion, wt.weight(q, ppl, ptop, len(generated)+i))
				shape.Transform(dStand)
			}
			dqs, dss = append(dqs, d), append(dss, dStand)
			if dStand != nil && useStandIn {
				d = dStand
			}
			x := fusion.Draw(d, smp.Float64())
			if greedy {
				x = fusion.Argmax(d)
			}
			qs, ds = append(qs, q), append(ds, d)
			draft = append(draft, x)
			if r.SLM.IsEOG(x) && !o.IgnoreEOG {
				break
			}
			if err := seq.Append(ctx, []int32{x}); err != nil {
				return res, err
			}
			if proxy != nil {
				if err := proxy.Append(ctx, []int32{x}); err != nil {
					return res, err
				}
			}
		}
		if stopped {
			// The cloud is no longer consulted: the draft came from the
			// local model's own distribution, which is then the output's.
			for _, x := range draft {
				emit(x, 1)
			}
			continue
		}
		all := append(append(append([]int32(nil), cloudPrompt.IDs()...), generated...), draft...)
		pt, leak := r.Guard.PublicTokens(all, r.SLM.Detokenize)
		if leak != nil {
			// From this block on the local model writes alone: the draft
			// (perhaps drawn with the stand-in) is dropped and redrawn
			// from q.
			stopped = true
			r.logger().Info("cloud consultation stopped by the guard", "step", len(generated), "rule", leak.RuleID)
			if err := truncateBoth(ctx, seq, proxy, base, pbase); err != nil {
				return res, err
			}
			continue
		}
		reqStart := time.Now()
		scored, next, err := r.Cloud.ScoreWithNext(ctx, pt, o.TopK)
		res.CloudCalls++
		if err != nil {
			return res, err
		}
		reqTime := time.Since(reqStart).Seconds()
		stats.Blocks++
		stats.GammaSum += len(draft)
		stats.Drafted += len(draft)
		L := cloudPrompt.Len() + len(generated)
		accepted := 0
		var repl int32 = -1
		ws = ws[:0]
		for i, x := range draft {
			P, err := fused(qs[i], scored[L+i-1].Top, len(generated)+i)
			if err != nil {
				return res, err
			}
			ws = append(ws, lastW)
			if dss[i] != nil {
				const a = 0.3
				matchQ = (1-a)*matchQ + a*overlap(dqs[i], P)
				matchS = (1-a)*matchS + a*overlap(dss[i], P)
			}
			if greedy {
				if y := fusion.Argmax(P); y != x {
					repl = y
					break
				}
			} else if u := smp.Float64(); u*ds[i][x] >= P[x] {
				// Rejected: draw from norm(max(0, P - d)).
				var sum float64
				for j := range P {
					P[j] = max(0, P[j]-ds[i][j])
					sum += P[j]
				}
				for j := range P {
					P[j] /= sum
				}
				repl = fusion.Draw(P, smp.Float64())
				break
			}
			accepted++
		}
		stats.Accepted += accepted
		useStandIn = matchS >= matchQ
		for i, x := range draft[:accepted] {
			emit(x, ws[i])
		}
		switch {
		case done:
		case repl >= 0:
			if err := truncateBoth(ctx, seq, proxy, base+accepted, pbase+accepted); err != nil {
				return res, err
			}
			emit(repl, ws[accepted])
			if !done && len(generated) < o.MaxTokens {
				if err := appendBoth(ctx, seq, proxy, repl); err != nil {
					return res, err
				}
			}
			gamma = max(MinGamma, min(gamma, accepted+1))
		default:
			// Every draft token accepted: one more from p_c at γ+1.
			if len(generated) < o.MaxTokens {
				P, err := fused(fusion.Softmax(nil, seq.Logits()), next, len(generated))
				if err != nil {
					return res, err
				}
				if err := take(P); err != nil {
					return res, err
				}
			}
			gamma = min(MaxGamma, gamma+1)
		}
		cost.block.add(reqTime)
		cost.perBlock.add(float64(len(generated) - blockStart))
		perToken = cost.fallback()
	}
	st.flush()
	res.Text = strings.TrimSpace(r.SLM.Detokenize(generated))
	res.Tokens = generated
	res.Spec = &stats
	ok = true
	res.Usage = llm.Usage{PromptTokens: len(slmPrompt), CompletionTokens: len(generated), TotalTokens: len(slmPrompt) + len(generated)}
	return res, nil
}

// appendBoth appends tok to the sequence and, when there is one, to the
// cloud's stand-in.
func appendBoth(ctx context.Context, seq, proxy *llamacpp.Sequence, tok int32) error {
	if err := seq.Append(ctx, []int32{tok}); err != nil {
		return err
	}
	if proxy == nil {
		return nil
	}
	return proxy.Append(ctx, []int32{tok})
}

// standInTop writes the stand-in's top k next tokens, as the cloud would
// report them, into dst.
func standInTop(dst []llm.TopLogprob, logits []float32, k int) []llm.TopLogprob {
	z := sample.LogSumExp(logits)
	dst = dst[:0]
	for _, c := range sample.TopK(nil, logits, k) {
		dst = append(dst, llm.TopLogprob{Token: c.Token, Logprob: float64(c.Score) - z})
	}
	return dst
}

// overlap returns Σ min(d, p): the probability that a draft from d is
// accepted against p (for one-hot greedy distributions, whether their
// argmaxes agree).
func overlap(d, p []float64) float64 {
	var s float64
	for i, x := range d {
		s += min(x, p[i])
	}
	return s
}

// truncateBoth rolls the sequence back to n tokens and, when there is
// one, the stand-in to pn.
func truncateBoth(ctx context.Context, seq, proxy *llamacpp.Sequence, n, pn int) error {
	if err := seq.Truncate(ctx, n); err != nil {
		return err
	}
	if proxy == nil {
		return nil
	}
	return proxy.Truncate(ctx, pn)
}

// ema is an exponential moving average; n counts its samples.
type ema struct {
	v float64
	n int
}

func (e *ema) add(x float64) {
	const a = 0.3
	if e.n == 0 {
		e.v = x
	} else {
		e.v = (1-a)*e.v + a*x
	}
	e.n++
}

// specCost compares what a token costs through a scored block with what
// it costs through a per-token request, from measured wall times. When
// blocks yield so few tokens that they cost more (low acceptance: scoring
// a sequence also returns the log-probabilities of every prompt position),
// speculative fusion takes per-token steps for a while; either way the
// output is distributed as per-token fusion's.
type specCost struct {
	block    ema // seconds per scoring request
	perBlock ema // tokens per block
	perToken ema // seconds per per-token request
}

// Fall-back lengths: steps between re-measurements of blocks, and the
// probe that measures a per-token request.
const (
	fallbackSteps = 16
	probeSteps    = 2
)

// fallback returns how many per-token steps to take before the next block.
func (c *specCost) fallback() int {
	if c.block.n == 0 || c.perBlock.v >= 3 {
		return 0
	}
	if c.perToken.n == 0 {
		if c.perBlock.v < 2 {
			return probeSteps // measure what a per-token step costs
		}
		return 0
	}
	if c.block.v/max(c.perBlock.v, 1) > c.perToken.v {
		return fallbackSteps
	}
	return 0
}
