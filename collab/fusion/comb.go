package fusion

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/cogenesis/cogenesis/llm"
)

// FeatureVersion identifies the feature definition of [Features]. A saved
// [CombModel] records it, and [Load] refuses any other version.
const FeatureVersion = 1

// MaxK is the largest top-K size (and the largest cloud top-K list) that
// [Features] accepts.
const MaxK = 64

// LogFloor is the log-probability, log(1e-10), that stands for "absent or
// smaller" in the features: it pads short top-K lists and floors tiny
// probabilities.
const LogFloor = -23.025850929940457

// The CombModel's hidden layer widths (the paper: 512 and 16).
const (
	hidden1 = 512
	hidden2 = 16
	// maxInputs is NumFeatures(MaxK).
	maxInputs = 2*MaxK + 8
)

// NumFeatures returns the length of the feature vector for top-K size k:
// 2k + 8.
func NumFeatures(k int) int { return 2*k + 8 }

// FeatureNames returns the names of the features that [Features] writes for
// top-K size k, in order.
func FeatureNames(k int) []string {
	names := make([]string, 0, NumFeatures(k))
	for i := range k {
		names = append(names, "slm_top_logprob_"+strconv.Itoa(i))
	}
	for i := range k {
		names = append(names, "cloud_top_logprob_"+strconv.Itoa(i))
	}
	return append(names,
		"top_overlap",
		"slm_mass_on_cloud_top",
		"cloud_mass_on_slm_top",
		"slm_entropy",
		"cloud_entropy",
		"slm_logprob_of_cloud_first",
		"cloud_logprob_of_slm_first",
		"log1p_step",
	)
}

// Features writes the CombModel's input for one generation step into dst
// (grown to [NumFeatures](k)) and returns it. q is the small model's full
// next-token distribution; pl is the completed cloud distribution that
// [Complete] made from q and top (Features relies on its shape: the cloud's
// own probabilities on top, q scaled elsewhere); top is the cloud's top-K
// list, already accepted by [Complete]; k is the top-K size of the feature
// vector and step the index of the generated token (0 for the first).
//
// In order, the features are (names from [FeatureNames]):
//   - the SLM's k largest log-probabilities, descending;
//   - the cloud's k largest log-probabilities, descending;
//   - the fraction of the SLM's top k tokens that are in the cloud's top k;
//   - the SLM's mass on the cloud's set (all of top);
//   - the completed cloud's mass on the SLM's top k;
//   - the entropy of q, and of pl (nats);
//   - log q of the cloud's first choice, and log pl of the SLM's first;
//   - log(1 + step).
//
// Short lists are padded with, and log-probabilities floored at, [LogFloor].
// Features reads q once (one pass for the top k and both entropies) and
// allocates nothing beyond growing dst. It panics when k or len(top) is
// outside [1, MaxK] resp. [0, MaxK] or when len(pl) != len(q): those are
// caller bugs.
func Features(dst []float64, q, pl []float64, top []llm.TopLogprob, k, step int) []float64 {
	if k < 1 || k > MaxK {
		panic(fmt.Sprintf("fusion: features with k = %d, want 1..%d", k, MaxK))
	}
	if len(top) > MaxK {
		panic(fmt.Sprintf("fusion: features with %d cloud tokens, want at most %d", len(top), MaxK))
	}
	if len(pl) != len(q) {
		panic(fmt.Sprintf("fusion: features with len(pl) = %d, len(q) = %d", len(pl), len(q)))
	}
	dst = grow(dst, NumFeatures(k))

	// The cloud's set T by token id, so the pass over q can tell T from
	// the rest without a lookup per element.
	var tIDs [MaxK]int32
	nT := len(top)
	for i, t := range top {
		j := i
		for ; j > 0 && tIDs[j-1] > t.Token; j-- {
			tIDs[j] = tIDs[j-1]
		}
		tIDs[j] = t.Token
	}

	// One pass over q: the SLM's top k (descending, ties to the lower id),
	// Σ q log q inside and outside T, and the mass outside T.
	var sel topSel
	sel.k = k
	sel.thr = -1
	var xOut, qOut, xT float64
	pos := 0
	for j := 0; j <= nT; j++ {
		end := len(q)
		if j < nT {
			end = int(tIDs[j])
		}
		seg := q[pos:end]
		for i, x := range seg {
			if x > 0 {
				xOut += x * math.Log(x)
				qOut += x
			}
			if x > sel.thr {
				sel.add(int32(pos+i), x)
			}
		}
		if j < nT {
			x := q[end]
			if x > 0 {
				xT += x * math.Log(x)
			}
			if x > sel.thr {
				sel.add(int32(end), x)
			}
			pos = end + 1
		}
	}

	// The cloud's list, descending by log-probability, ties to the lower id.
	var cIDs [MaxK]int32
	var cVal [MaxK]float64
	for i, t := range top {
		lp := min(t.Logprob, 0)
		j := i
		for ; j > 0 && (cVal[j-1] < lp || cVal[j-1] == lp && cIDs[j-1] > t.Token); j-- {
			cVal[j], cIDs[j] = cVal[j-1], cIDs[j-1]
		}
		cVal[j], cIDs[j] = lp, t.Token
	}

	for i := range k {
		v, c := LogFloor, LogFloor
		if i < sel.n {
			v = floorLog(sel.val[i])
		}
		if i < nT {
			c = max(cVal[i], LogFloor)
		}
		dst[i], dst[k+i] = v, c
	}
	f := dst[2*k:]

	var shared int
	for _, s := range sel.id[:sel.n] {
		for _, c := range cIDs[:min(nT, k)] {
			if s == c {
				shared++
				break
			}
		}
	}
	f[0] = float64(shared) / float64(k)

	var qT, plT, yT float64
	for _, t := range top {
		qT += q[t.Token]
		p := pl[t.Token]
		plT += p
		if p > 0 {
			yT += p * math.Log(p)
		}
	}
	f[1] = qT
	var plS float64
	for _, s := range sel.id[:sel.n] {
		plS += pl[s]
	}
	f[2] = plS

	f[3] = max(-(xOut + xT), 0)
	// Outside T, pl = s·q with s = r/Σ_{∉T} q, so Σ_{∉T} pl log pl
	// = s·Σ_{∉T} q log q + r·log s: no second pass over the vocabulary.
	tail := 0.0
	if r := max(1-plT, 0); r > 0 && qOut > 0 {
		s := r / qOut
		tail = s*xOut + r*math.Log(s)
	}
	f[4] = max(-(yT + tail), 0)

	f[5], f[6] = LogFloor, LogFloor
	if nT > 0 {
		f[5] = floorLog(q[cIDs[0]])
	}
	if sel.n > 0 {
		f[6] = floorLog(pl[sel.id[0]])
	}
	f[7] = math.Log1p(float64(max(step, 0)))
	return dst
}

// floorLog returns max(log x, LogFloor).
func floorLog(x float64) float64 {
	if x <= 0 {
		return LogFloor
	}
	return max(math.Log(x), LogFloor)
}

// topSel keeps the k largest values seen, descending.
type topSel struct {
	k, n int
	thr  float64 // the value to beat: the k-th largest once full, else -1
	id   [MaxK]int32
	val  [MaxK]float64
}

func (s *topSel) add(id int32, x float64) {
	if s.n < s.k {
		s.n++
	}
	j := s.n - 1
	for ; j > 0 && s.val[j-1] < x; j-- {
		s.val[j], s.id[j] = s.val[j-1], s.id[j-1]
	}
	s.val[j], s.id[j] = x, id
	if s.n == s.k {
		s.thr = s.val[s.k-1]
	}
}

// CombModel is the learned fusion weight of DESIGN §4 (the paper's eq. 5):
// standardized [Features] → 512 → 16 → 1, ReLU between layers and a sigmoid
// out, giving the weight w of the small model in p_c = w·q + (1 − w)·p_l.
// The standardization statistics, fitted on the training set, are part of
// the model. A CombModel is safe for concurrent use by [CombModel.Weight]
// and [CombModel.Loss]; [Train] makes one and [Load] reads one.
type CombModel struct {
	k         int
	mean, std []float64 // per input, applied before the first layer

	// params holds every weight and bias in one slice (the order of the
	// saved tensors); the fields below are views into it.
	params []float64
	w1, b1 []float64 // hidden1 × nIn, row-major; hidden1
	w2, b2 []float64 // hidden2 × hidden1; hidden2
	w3, b3 []float64 // hidden2; 1
}

// paramCount returns the number of parameters for nIn inputs.
func paramCount(nIn int) int {
	return hidden1*nIn + hidden1 + hidden2*hidden1 + hidden2 + hidden2 + 1
}

// newCombModel returns a model for top-K size k with zero parameters and
// identity standardization.
func newCombModel(k int) *CombModel {
	nIn := NumFeatures(k)
	m := &CombModel{
		k:      k,
		mean:   make([]float64, nIn),
		std:    make([]float64, nIn),
		params: make([]float64, paramCount(nIn)),
	}
	for i := range m.std {
		m.std[i] = 1
	}
	m.bind()
	return m
}

// bind points the layer views into params.
func (m *CombModel) bind() {
	m.w1, m.b1, m.w2, m.b2, m.w3, m.b3 = splitParams(m.params, len(m.mean))
}

// splitParams cuts a parameter-shaped slice (parameters or gradients) into
// the layer views.
func splitParams(p []float64, nIn int) (w1, b1, w2, b2, w3, b3 []float64) {
	cut := func(n int) []float64 {
		s := p[:n:n]
		p = p[n:]
		return s
	}
	return cut(hidden1 * nIn), cut(hidden1), cut(hidden2 * hidden1), cut(hidden2), cut(hidden2), cut(1)
}

// NewCombModel returns an untrained model for top-K size k (1..[MaxK]) with
// He-initialised weights drawn from seed and identity standardization.
// [Train] is the usual way to get a model; this one is for tests and for
// training loops of one's own.
func NewCombModel(k int, seed uint64) *CombModel {
	if k < 1 || k > MaxK {
		panic(fmt.Sprintf("fusion: combmodel with k = %d, want 1..%d", k, MaxK))
	}
	m := newCombModel(k)
	m.init(rand.New(rand.NewPCG(seed, 0x636f6d62)))
	return m
}

// init draws the weights (He for the ReLU layers, Xavier for the output)
// and zeroes the biases.
func (m *CombModel) init(rng *rand.Rand) {
	nIn := len(m.mean)
	fill := func(w []float64, std float64) {
		for i := range w {
			w[i] = rng.NormFloat64() * std
		}
	}
	fill(m.w1, math.Sqrt(2/float64(nIn)))
	fill(m.w2, math.Sqrt(2/float64(hidden1)))
	fill(m.w3, math.Sqrt(1/float64(hidden2)))
	clear(m.b1)
	clear(m.b2)
	clear(m.b3)
}

// K returns the top-K size of the features the model takes.
func (m *CombModel) K() int { return m.k }

// Weight returns the fusion weight w in (0, 1) of the small model for one
// step's features (from [Features] with the model's K). It allocates
// nothing. It panics when len(features) != [NumFeatures](m.K()).
func (m *CombModel) Weight(features []float64) float64 {
	var z [maxInputs]float64
	var h1 [hidden1]float64
	var h2 [hidden2]float64
	return sigmoid(m.forward(features, z[:len(m.mean)], h1[:], h2[:]))
}

// Loss returns the loss of one step, −log(w·q(y) + (1 − w)·p_l(y)), where
// w is the model's weight for features, y the reference token, qy = q(y)
// and ply = p_l(y).
func (m *CombModel) Loss(features []float64, qy, ply float64) float64 {
	var z [maxInputs]float64
	var h1 [hidden1]float64
	var h2 [hidden2]float64
	l, _ := mixLoss(m.forward(features, z[:len(m.mean)], h1[:], h2[:]), qy, ply)
	return l
}

// forward standardizes features into z, runs the network keeping the
// hidden activations in h1 and h2, and returns the output logit.
func (m *CombModel) forward(features, z, h1, h2 []float64) float64 {
	if len(features) != len(m.mean) {
		panic(fmt.Sprintf("fusion: combmodel (K=%d) takes %d features, got %d", m.k, len(m.mean), len(features)))
	}
	for i, x := range features {
		z[i] = (x - m.mean[i]) / m.std[i]
	}
	nIn := len(z)
	for j := range h1 {
		h1[j] = max(dot(m.w1[j*nIn:(j+1)*nIn], z)+m.b1[j], 0)
	}
	for i := range h2 {
		h2[i] = max(dot(m.w2[i*hidden1:(i+1)*hidden1], h1)+m.b2[i], 0)
	}
	return dot(m.w3, h2) + m.b3[0]
}

// backward adds the gradient of the loss with respect to every parameter
// into grad (parameter-shaped), given the forward pass's z, h1 and h2 and
// dA, the loss's derivative with respect to the output logit. d1 is
// scratch of length hidden1.
func (m *CombModel) backward(z, h1, h2 []float64, dA float64, grad, d1 []float64) {
	nIn := len(z)
	gw1, gb1, gw2, gb2, gw3, gb3 := splitParams(grad, nIn)
	gb3[0] += dA
	clear(d1)
	for i, h := range h2 {
		gw3[i] += dA * h
		if h <= 0 {
			continue
		}
		d2 := dA * m.w3[i]
		gb2[i] += d2
		axpy(gw2[i*hidden1:(i+1)*hidden1], d2, h1)
		axpy(d1, d2, m.w2[i*hidden1:(i+1)*hidden1])
	}
	for j, h := range h1 {
		if h <= 0 {
			continue
		}
		gb1[j] += d1[j]
		axpy(gw1[j*nIn:(j+1)*nIn], d1[j], z)
	}
}

// mixLoss returns −log(σ(a)·qy + σ(−a)·ply) and its derivative with
// respect to a.
func mixLoss(a, qy, ply float64) (loss, dA float64) {
	w, wc := sigmoid(a), sigmoid(-a)
	p := w*qy + wc*ply
	return -math.Log(p), -(qy - ply) * w * wc / p
}

// sigmoid returns 1/(1 + e^−a) without overflow.
func sigmoid(a float64) float64 {
	if a >= 0 {
		return 1 / (1 + math.Exp(-a))
	}
	e := math.Exp(a)
	return e / (1 + e)
}

// dot returns Σ a[i]·b[i] with four accumulators (len(b) >= len(a)).
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy adds alpha·x to y (len(x) >= len(y)).
func axpy(y []float64, alpha float64, x []float64) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}
