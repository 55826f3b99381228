// Package fusion combines the small model's full next-token distribution
// with the cloud model's top-K log-probabilities (DESIGN §4, the paper's
// eq. 6), and holds the learned fusion weight (CombModel).
//
// Everything is computed in float64 from log-space inputs, so no step can
// produce NaN or a negative probability. Distributions are dense slices over
// the shared vocabulary; callers reuse them between steps.
package fusion

import (
	"errors"
	"fmt"
	"math"

	"github.com/cogenesis/cogenesis/llm"
)

// Method names a fusion rule.
type Method string

// The fusion rules.
const (
	// Mean mixes with w = 0.5.
	Mean Method = "mean"
	// Max takes p ∝ max(q, p_l).
	Max Method = "max"
	// Learned mixes with w from a CombModel.
	Learned Method = "learned"
)

// ParseMethod validates a method name.
func ParseMethod(s string) (Method, error) {
	switch m := Method(s); m {
	case Mean, Max, Learned:
		return m, nil
	}
	return "", fmt.Errorf("fusion %q: want mean, max or learned", s)
}

// ErrBadTop reports cloud log-probabilities that cannot be used: a token
// outside the vocabulary, a repeated token, or a NaN.
var ErrBadTop = errors.New("fusion: unusable cloud top-k")

// Softmax writes softmax(logits) into dst (grown to len(logits)) in float64
// and returns it.
func Softmax(dst []float64, logits []float32) []float64 {
	dst = grow(dst, len(logits))
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, float64(l))
	}
	var s float64
	for i, l := range logits {
		e := math.Exp(float64(l) - m)
		dst[i] = e
		s += e
	}
	for i := range dst {
		dst[i] /= s
	}
	return dst
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// Complete writes the completed cloud distribution p_l into dst: the cloud's
// own probability on its top-K set T, and the rest of the mass,
// r = max(0, 1 − Σ_T exp(l)), spread over the other tokens in proportion to
// the small model's q. When q has no mass outside T, r is spread over T in
// proportion. When the top-K mass exceeds 1 (rounding), T is normalised and
// r is 0. The result sums to 1.
func Complete(dst, q []float64, top []llm.TopLogprob) ([]float64, error) {
	n := len(q)
	dst = grow(dst, n)
	if len(top) == 0 {
		copy(dst, q)
		return dst, nil
	}
	var massT, qT float64
	for i, t := range top {
		if t.Token < 0 || int(t.Token) >= n {
			return nil, fmt.Errorf("%w: entry %d token %d outside vocabulary [0, %d)", ErrBadTop, i, t.Token, n)
		}
		if math.IsNaN(t.Logprob) || t.Logprob > 1e-9 {
			return nil, fmt.Errorf("%w: entry %d log-probability %v", ErrBadTop, i, t.Logprob)
		}
		for _, u := range top[:i] {
			if u.Token == t.Token {
				return nil, fmt.Errorf("%w: token %d appears twice", ErrBadTop, t.Token)
			}
		}
		massT += math.Exp(min(t.Logprob, 0))
		qT += q[t.Token]
	}
	var qAll float64
	for _, x := range q {
		qAll += x
	}
	qOut := max(qAll-qT, 0)
	r := max(1-massT, 0)
	switch {
	case r > 0 && qOut > 0:
		scale := r / qOut
		for i, x := range q {
			dst[i] = scale * x
		}
		for _, t := range top {
			dst[t.Token] = math.Exp(min(t.Logprob, 0))
		}
	case massT > 0:
		// Nothing left to spread, or nowhere to spread it: T alone,
		// normalised.
		clear(dst)
		for _, t := range top {
			dst[t.Token] = math.Exp(min(t.Logprob, 0)) / massT
		}
	default:
		// Every listed token has probability 0: uniform over T.
		clear(dst)
		for _, t := range top {
			dst[t.Token] = 1 / float64(len(top))
		}
	}
	return dst, nil
}

// Mix writes p_c = w·q + (1 − w)·p_l into dst. w is clamped to [0, 1].
func Mix(dst, q, pl []float64, w float64) []float64 {
	w = min(max(w, 0), 1)
	dst = grow(dst, len(q))
	for i := range q {
		dst[i] = w*q[i] + (1-w)*pl[i]
	}
	return dst
}

// MaxOf writes p ∝ max(q, p_l) into dst.
func MaxOf(dst, q, pl []float64) []float64 {
	dst = grow(dst, len(q))
	var s float64
	for i := range q {
		dst[i] = max(q[i], pl[i])
		s += dst[i]
	}
	for i := range dst {
		dst[i] /= s
	}
	return dst
}

// Fuse applies method with weight w (used by Mean as 0.5 and by Learned).
func Fuse(dst, q, pl []float64, method Method, w float64) []float64 {
	switch method {
	case Max:
		return MaxOf(dst, q, pl)
	case Mean:
		return Mix(dst, q, pl, 0.5)
	}
	return Mix(dst, q, pl, w)
}

// Argmax returns the most likely token; ties go to the lowest id.
func Argmax(p []float64) int32 {
	best := 0
	for i, x := range p {
		if x > p[best] {
			best = i
		}
	}
	return int32(best)
}

// Draw picks a token from the normalised distribution p with the uniform
// number u in [0, 1).
func Draw(p []float64, u float64) int32 {
	last := int32(-1)
	for i, x := range p {
		if x <= 0 {
			continue
		}
		u -= x
		last = int32(i)
		if u < 0 {
			return int32(i)
		}
	}
	return last
}
