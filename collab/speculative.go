package collab

import (
	"context"

	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// Speculative is speculative fusion (DESIGN §5): the local model drafts γ
// tokens, one cloud request scores them, and each is accepted with
// probability min(1, P(x)/d(x)), P being the sampling distribution
// per-token fusion would draw from. The output is distributed exactly as
// per-token fusion's, with one round trip per block, for every schedule,
// sampling setting and fusion rule, and across a guard stop inside a block
// (see fuser; core_test.go enumerates every accept/reject branch to show
// it).
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

// speculative runs speculative fusion; see [Speculative]. A cloud that
// cannot score a sequence in one request (CapSequenceTopK) gets per-token
// fusion instead when o.PerTokenFallback allows it (Run refuses it
// otherwise), with the same output distribution, and the result says so
// (Result.Fallback, shown as "speculative→logits").
func (r *Runner) speculative(ctx context.Context, res Result, public privacy.Public, system, private string, o Options) (Result, error) {
	if err := r.Cloud.Can(openaiapi.CapSequenceTopK); err != nil {
		r.logger().Info("speculative fusion unavailable here; running per-token fusion", "reason", err)
		res.Fallback = Logits
		return r.fuse(ctx, res, public, system, private, o, false)
	}
	return r.fuse(ctx, res, public, system, private, o, true)
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
