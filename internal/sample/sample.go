// Package sample turns next-token logits into tokens: greedy, temperature,
// top-k, top-p and min-p sampling with a seeded, reproducible source, plus
// the log-space helpers (top-k selection, log-sum-exp) that scoring needs.
//
// Everything here works on float32 logits as the engine returns them and
// keeps per-token work small: candidates far below the best logit, whose
// probability cannot change a float32 result, are skipped before any
// exponential is taken, and top-k uses partial selection, not a sort of the
// whole vocabulary.
package sample

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// cutoff is how far below the best (temperature-scaled) logit a candidate
// may lie and still be considered. exp(-cutoff) times any vocabulary size
// is far below float32 resolution, so dropping those candidates does not
// change any probability that a float32 or float64 consumer can observe at
// the tolerances used here.
const cutoff = 40

// Params configures a [Sampler]. The zero value means greedy decoding.
type Params struct {
	// Temperature scales the logits; 0 or less means greedy (argmax).
	Temperature float64
	// TopK keeps only the K most likely tokens; 0 means no limit.
	TopK int
	// TopP keeps the smallest set of tokens whose probability reaches P;
	// 0 or 1 means no limit.
	TopP float64
	// MinP drops tokens whose probability is below MinP times the most
	// likely token's; 0 means no limit.
	MinP float64
	// Seed seeds the random source, so the same seed and logits give the
	// same tokens.
	Seed uint64
}

// Validate reports the first out-of-range field.
func (p Params) Validate() error {
	switch {
	case math.IsNaN(p.Temperature) || p.Temperature < 0:
		return fmt.Errorf("sample: temperature %v: must be >= 0", p.Temperature)
	case p.TopK < 0:
		return fmt.Errorf("sample: top_k %d: must be >= 0", p.TopK)
	case math.IsNaN(p.TopP) || p.TopP < 0 || p.TopP > 1:
		return fmt.Errorf("sample: top_p %v: must be in [0, 1]", p.TopP)
	case math.IsNaN(p.MinP) || p.MinP < 0 || p.MinP > 1:
		return fmt.Errorf("sample: min_p %v: must be in [0, 1]", p.MinP)
	}
	return nil
}

// Greedy reports whether p selects the argmax.
func (p Params) Greedy() bool { return p.Temperature <= 0 }

// Candidate is a token and a score: a logit or a log-probability,
// depending on who made it.
type Candidate struct {
	Token int32
	Score float32
}

// Sampler draws tokens from logits. It is not safe for concurrent use;
// give each generation its own.
type Sampler struct {
	p    Params
	rng  *rand.Rand
	cand []cand // reused between calls
}

type cand struct {
	tok int32
	p   float64
}

// New returns a sampler for p. It panics if p is invalid; call
// [Params.Validate] on user input first.
func New(p Params) *Sampler {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return &Sampler{p: p, rng: rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))}
}

// Float64 returns a uniform number in [0, 1) from the sampler's seeded
// source, for callers (such as speculative acceptance) that must share the
// same reproducible stream.
func (s *Sampler) Float64() float64 { return s.rng.Float64() }

// Sample picks a token from logits, one entry per vocabulary token, with
// the pipeline that [Params.Shape] applies to probabilities: temperature,
// then top-k, then min-p, then top-p.
func (s *Sampler) Sample(logits []float32) int32 {
	if s.p.Greedy() || len(logits) == 1 {
		return Argmax(logits)
	}
	invT := 1 / s.p.Temperature
	maxl := float64(logits[Argmax(logits)]) * invT
	c := s.cand[:0]
	for i, l := range logits {
		if x := float64(l)*invT - maxl; x >= -cutoff {
			c = append(c, cand{tok: int32(i), p: x})
		}
	}
	c, total := s.p.filter(c)
	s.cand = c
	u := s.rng.Float64() * total
	for _, x := range c {
		u -= x.p
		if u < 0 {
			return x.tok
		}
	}
	return c[len(c)-1].tok
}

// filter is the sampling pipeline after temperature. c holds the
// candidates with their temperature-scaled log-weights relative to the
// best (the best is 0); filter keeps the top-k, exponentiates, drops those
// below min-p times the best and keeps the top-p nucleus. It returns the
// kept candidates with their (unnormalised) weights, and the weights' sum.
func (p Params) filter(c []cand) ([]cand, float64) {
	if k := p.TopK; k > 0 && k < len(c) {
		// Partial selection: the k largest to the front, in any order.
		selectTop(c, k)
		c = c[:k]
	}
	var total float64
	for i := range c {
		c[i].p = math.Exp(c[i].p)
		total += c[i].p
	}
	if mp := p.MinP; mp > 0 {
		// The best candidate has weight exp(0) = 1.
		keep := c[:0]
		total = 0
		for _, x := range c {
			if x.p >= mp {
				keep = append(keep, x)
				total += x.p
			}
		}
		c = keep
	}
	if tp := p.TopP; tp > 0 && tp < 1 {
		n, acc := nucleus(c, tp*total)
		c = c[:n]
		total = acc
	}
	return c, total
}

// Shape turns the probability distribution dist into the distribution that
// sampling with p draws from, in place: greedy leaves a one-hot on the
// argmax (ties to the lowest token, as [Argmax]); otherwise temperature,
// top-k, min-p and top-p are applied as [Sampler.Sample] applies them to
// logits, and the result is normalised. It is how fused distributions
// (which have no logits) are sampled, so that the engine and fusion share
// one sampling pipeline, and so that speculative acceptance tests see the
// distribution that sampling uses. dist must have positive mass.
func (p Params) Shape(dist []float64) {
	best := 0
	for i, x := range dist {
		if x > dist[best] {
			best = i
		}
	}
	if p.Greedy() || len(dist) == 1 {
		clear(dist)
		dist[best] = 1
		return
	}
	invT := 1 / p.Temperature
	maxl := math.Log(dist[best]) * invT
	if p.TopK <= 0 && p.MinP <= 0 && (p.TopP <= 0 || p.TopP >= 1) {
		// Temperature alone: in place, the same weights filter would
		// keep.
		var total float64
		if invT == 1 {
			floor := dist[best] * math.Exp(-cutoff)
			for i, x := range dist {
				if x < floor {
					x = 0
				}
				dist[i] = x
				total += x
			}
		} else {
			for i, x := range dist {
				w := 0.0
				if x > 0 {
					if l := math.Log(x)*invT - maxl; l >= -cutoff {
						w = math.Exp(l)
					}
				}
				dist[i] = w
				total += w
			}
		}
		for i := range dist {
			dist[i] /= total
		}
		return
	}
	c := make([]cand, 0, len(dist))
	for i, x := range dist {
		if x <= 0 {
			continue
		}
		if l := math.Log(x)*invT - maxl; l >= -cutoff {
			c = append(c, cand{tok: int32(i), p: l})
		}
	}
	c, total := p.filter(c)
	clear(dist)
	for _, x := range c {
		dist[x.tok] = x.p / total
	}
}

// nucleus reorders c so that c[:n] is the smallest set of highest-weight
// candidates whose weight reaches target, and returns n and that weight. It
// partitions instead of sorting, so it stays linear even when the whole
// vocabulary is a candidate (as with random-weight models).
func nucleus(c []cand, target float64) (n int, acc float64) {
	lo, hi := 0, len(c)
	for hi-lo > 32 {
		a, b, m := c[lo].p, c[hi-1].p, c[(lo+hi)/2].p
		pivot := max(min(a, b), min(max(a, b), m))
		// Three-way partition of c[lo:hi]: greater, equal, less.
		g, i, l := lo, lo, hi
		for i < l {
			switch {
			case c[i].p > pivot:
				c[g], c[i] = c[i], c[g]
				g++
				i++
			case c[i].p < pivot:
				l--
				c[i], c[l] = c[l], c[i]
			default:
				i++
			}
		}
		var sumG float64
		for _, x := range c[lo:g] {
			sumG += x.p
		}
		if acc+sumG >= target {
			hi = g
			continue
		}
		acc += sumG
		for j := g; j < l; j++ {
			acc += c[j].p
			if acc >= target {
				return j + 1, acc
			}
		}
		lo = l
	}
	slices.SortFunc(c[lo:hi], func(a, b cand) int {
		if r := cmp.Compare(b.p, a.p); r != 0 {
			return r
		}
		return cmp.Compare(a.tok, b.tok)
	})
	for j := lo; j < hi; j++ {
		acc += c[j].p
		if acc >= target {
			return j + 1, acc
		}
	}
	return hi, acc
}

// selectTop reorders c so that its k highest-weight entries come first.
func selectTop(c []cand, k int) {
	lo, hi := 0, len(c)-1
	for lo < hi {
		pivot := c[(lo+hi)/2].p
		i, j := lo, hi
		for i <= j {
			for c[i].p > pivot {
				i++
			}
			for c[j].p < pivot {
				j--
			}
			if i <= j {
				c[i], c[j] = c[j], c[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}

// Argmax returns the index of the largest logit; ties go to the lowest
// index, so greedy decoding is deterministic.
func Argmax(logits []float32) int32 {
	best := 0
	for i, l := range logits {
		if l > logits[best] {
			best = i
		}
	}
	return int32(best)
}

// LogSumExp returns log(sum(exp(logits))) computed in float64 with the
// maximum factored out, so it never overflows.
func LogSumExp(logits []float32) float64 {
	if len(logits) == 0 {
		return math.Inf(-1)
	}
	maxl := logits[0]
	for _, l := range logits[1:] {
		if l > maxl {
			maxl = l
		}
	}
	m := float64(maxl)
	var s float64
	for _, l := range logits {
		if d := float64(l) - m; d >= -cutoff {
			s += math.Exp(d)
		}
	}
	return m + math.Log(s)
}

// TopK returns the k largest logits, best first (ties by lower token), using
// a bounded min-heap: O(V log k), no allocation beyond dst's growth. It
// appends to dst[:0] and returns it.
func TopK(dst []Candidate, logits []float32, k int) []Candidate {
	dst = dst[:0]
	if k <= 0 {
		return dst
	}
	k = min(k, len(logits))
	// less reports whether a ranks below b.
	less := func(a, b Candidate) bool {
		if a.Score != b.Score {
			return a.Score < b.Score
		}
		return a.Token > b.Token
	}
	down := func(h []Candidate, i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			m := l
			if r := l + 1; r < len(h) && less(h[r], h[l]) {
				m = r
			}
			if !less(h[m], h[i]) {
				return
			}
			h[i], h[m] = h[m], h[i]
			i = m
		}
	}
	for i, l := range logits {
		c := Candidate{Token: int32(i), Score: l}
		if len(dst) < k {
			dst = append(dst, c)
			for j := len(dst) - 1; j > 0; {
				p := (j - 1) / 2
				if !less(dst[j], dst[p]) {
					break
				}
				dst[j], dst[p] = dst[p], dst[j]
				j = p
			}
			continue
		}
		if less(dst[0], c) {
			dst[0] = c
			down(dst, 0)
		}
	}
	slices.SortFunc(dst, func(a, b Candidate) int {
		switch {
		case less(b, a):
			return -1
		case less(a, b):
			return 1
		}
		return 0
	})
	return dst
}
