package fusion

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogenesis/cogenesis/llm"
)

// combRefFeatures computes the features the slow, obvious way: full sorts
// and a direct pass over pl for its entropy.
func combRefFeatures(q, pl []float64, top []llm.TopLogprob, k, step int) []float64 {
	ids := make([]int, len(q))
	for i := range ids {
		ids[i] = i
	}
	slices.SortStableFunc(ids, func(a, b int) int { return cmp.Compare(q[b], q[a]) })
	ids = ids[:min(k, len(ids))]
	cl := slices.Clone(top)
	slices.SortStableFunc(cl, func(a, b llm.TopLogprob) int {
		if c := cmp.Compare(b.Logprob, a.Logprob); c != 0 {
			return c
		}
		return cmp.Compare(a.Token, b.Token)
	})
	cl = cl[:min(k, len(cl))]
	lg := func(x float64) float64 { return max(math.Log(x), LogFloor) }
	var f []float64
	for i := range k {
		v := LogFloor
		if i < len(ids) {
			v = lg(q[ids[i]])
		}
		f = append(f, v)
	}
	for i := range k {
		v := LogFloor
		if i < len(cl) {
			v = max(cl[i].Logprob, LogFloor)
		}
		f = append(f, v)
	}
	shared := 0
	for _, s := range ids {
		if slices.ContainsFunc(cl, func(t llm.TopLogprob) bool { return int(t.Token) == s }) {
			shared++
		}
	}
	var qT, plS, hq, hp float64
	for _, t := range top {
		qT += q[t.Token]
	}
	for _, s := range ids {
		plS += pl[s]
	}
	for i := range q {
		if q[i] > 0 {
			hq -= q[i] * math.Log(q[i])
		}
		if pl[i] > 0 {
			hp -= pl[i] * math.Log(pl[i])
		}
	}
	cf, sf := LogFloor, LogFloor
	if len(cl) > 0 {
		cf = lg(q[cl[0].Token])
	}
	if len(ids) > 0 {
		sf = lg(pl[ids[0]])
	}
	return append(f, float64(shared)/float64(k), qT, plS, hq, hp, cf, sf, math.Log(1+float64(step)))
}

// combTop returns the n most likely tokens of p as cloud log-probabilities
// (ties to the lower id), found without sorting the whole vocabulary.
func combTop(p []float64, n int) []llm.TopLogprob {
	var sel topSel
	sel.k, sel.thr = n, -1
	for i, x := range p {
		if x > sel.thr {
			sel.add(int32(i), x)
		}
	}
	top := make([]llm.TopLogprob, sel.n)
	for i := range top {
		top[i] = llm.TopLogprob{Token: sel.id[i], Logprob: math.Log(sel.val[i])}
	}
	return top
}

func combDist(r *rand.Rand, n int, scale float64) []float64 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * scale)
	}
	return Softmax(nil, l)
}

func TestFeatures(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	type tc struct {
		name string
		q    []float64
		top  []llm.TopLogprob
		k    int
		step int
	}
	tests := []tc{
		{"no cloud tokens", []float64{0.1, 0.2, 0.3, 0.4}, nil, 2, 0},
		{"vocabulary smaller than k", []float64{0.25, 0.75}, []llm.TopLogprob{{Token: 1, Logprob: math.Log(0.9)}}, 4, 3},
		{"cloud mass above 1", []float64{0.25, 0.25, 0.25, 0.25}, []llm.TopLogprob{{Token: 2, Logprob: math.Log(0.7)}, {Token: 1, Logprob: math.Log(0.5)}}, 2, 1},
		{"q has no mass outside T", []float64{0.5, 0.5, 0, 0}, []llm.TopLogprob{{Token: 0, Logprob: math.Log(0.3)}, {Token: 1, Logprob: math.Log(0.1)}}, 3, 5},
		{"zero-probability cloud token", []float64{0.25, 0.25, 0.25, 0.25}, []llm.TopLogprob{{Token: 2, Logprob: math.Inf(-1)}}, 1, 0},
		{"ties in q and in the cloud", []float64{0.2, 0.2, 0.2, 0.2, 0.2}, []llm.TopLogprob{{Token: 4, Logprob: math.Log(0.3)}, {Token: 0, Logprob: math.Log(0.3)}}, 2, 0},
		{"tiny probabilities floored", []float64{1 - 2e-20, 1e-20, 1e-20}, []llm.TopLogprob{{Token: 2, Logprob: math.Log(1e-15)}}, 3, 9},
		{"first and last token in T", combDist(r, 50, 2), []llm.TopLogprob{{Token: 49, Logprob: -1}, {Token: 0, Logprob: -2}}, 5, 2},
	}
	for i := range 20 {
		n := 2 + r.IntN(3000)
		q := combDist(r, n, 1+4*r.Float64())
		top := combTop(combDist(r, n, 1+4*r.Float64()), 1+r.IntN(min(20, n)))
		r.Shuffle(len(top), func(i, j int) { top[i], top[j] = top[j], top[i] })
		tests = append(tests, tc{"random " + string(rune('a'+i)), q, top, 1 + r.IntN(20), r.IntN(1000)})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := Complete(nil, tt.q, tt.top)
			if err != nil {
				t.Fatalf("complete: %v", err)
			}
			want := combRefFeatures(tt.q, pl, tt.top, tt.k, tt.step)
			got := Features(nil, tt.q, pl, tt.top, tt.k, tt.step)
			if diff := gocmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("features (-want +got):\n%s", diff)
			}
			for i, x := range got {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					t.Errorf("feature %s = %v", FeatureNames(tt.k)[i], x)
				}
			}
		})
	}
}

func TestFeatureNames(t *testing.T) {
	for _, k := range []int{1, 10, MaxK} {
		names := FeatureNames(k)
		if len(names) != NumFeatures(k) {
			t.Errorf("k=%d: %d names, want %d", k, len(names), NumFeatures(k))
		}
		if u := len(slices.Compact(slices.Sorted(slices.Values(names)))); u != len(names) {
			t.Errorf("k=%d: %d unique names of %d", k, u, len(names))
		}
	}
	want := []string{"slm_top_logprob_0", "slm_top_logprob_1", "cloud_top_logprob_0", "cloud_top_logprob_1",
		"top_overlap", "slm_mass_on_cloud_top", "cloud_mass_on_slm_top", "slm_entropy", "cloud_entropy",
		"slm_logprob_of_cloud_first", "cloud_logprob_of_slm_first", "log1p_step"}
	if diff := gocmp.Diff(want, FeatureNames(2)); diff != "" {
		t.Errorf("FeatureNames(2) (-want +got):\n%s", diff)
	}
}

func TestNoAllocations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	q := combDist(r, 5000, 3)
	top := combTop(combDist(r, 5000, 3), 10)
	pl, err := Complete(nil, q, top)
	if err != nil {
		t.Fatal(err)
	}
	m := NewCombModel(10, 1)
	f := Features(nil, q, pl, top, 10, 0)
	tests := []struct {
		name string
		fn   func()
	}{
		{"Features", func() { f = Features(f, q, pl, top, 10, 3) }},
		{"Weight", func() { _ = m.Weight(f) }},
		{"Loss", func() { _ = m.Loss(f, 0.1, 0.2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := testing.AllocsPerRun(20, tt.fn); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

// combBatchLoss returns the summed loss of exs and, when grad is not nil,
// adds its analytic gradient there.
func combBatchLoss(m *CombModel, exs []Example, grad []float64) float64 {
	nIn := len(m.mean)
	z, h1, h2, d1 := make([]float64, nIn), make([]float64, hidden1), make([]float64, hidden2), make([]float64, hidden1)
	var sum float64
	for _, ex := range exs {
		l, dA := mixLoss(m.forward(ex.Features, z, h1, h2), ex.QY, ex.PLY)
		sum += l
		if grad != nil {
			m.backward(z, h1, h2, dA, grad, d1)
		}
	}
	return sum
}

func TestGradientCheck(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const k = 2
	m := NewCombModel(k, 3)
	// Non-trivial standardization and biases, so every term is exercised.
	for i := range m.mean {
		m.mean[i], m.std[i] = r.NormFloat64(), 0.5+r.Float64()
	}
	for _, b := range [][]float64{m.b1, m.b2, m.b3} {
		for i := range b {
			b[i] = 0.1 * r.NormFloat64()
		}
	}
	exs := make([]Example, 3)
	for i := range exs {
		f := make([]float64, NumFeatures(k))
		for j := range f {
			f[j] = m.mean[j] + m.std[j]*r.NormFloat64()
		}
		exs[i] = Example{Features: f, QY: 0.05 + 0.9*r.Float64(), PLY: 0.05 + 0.9*r.Float64()}
	}
	grad := make([]float64, len(m.params))
	combBatchLoss(m, exs, grad)

	// Every parameter; under -short every 4th of the two weight matrices
	// (and all of the rest).
	nW1, nW2 := len(m.w1), len(m.w2)
	stride := 1
	if testing.Short() {
		stride = 4
	}
	var idx []int
	for i := range m.params {
		if i >= nW1 && i < nW1+hidden1 || i >= nW1+hidden1+nW2 || i%stride == 0 {
			idx = append(idx, i)
		}
	}
	num := make([]float64, len(m.params))
	const h = 1e-5
	for _, i := range idx {
		p := m.params[i]
		m.params[i] = p + h
		lp := combBatchLoss(m, exs, nil)
		m.params[i] = p - h
		lm := combBatchLoss(m, exs, nil)
		m.params[i] = p
		num[i] = (lp - lm) / (2 * h)
	}
	var diff2, a2, n2, worst float64
	for _, i := range idx {
		d := grad[i] - num[i]
		diff2 += d * d
		a2 += grad[i] * grad[i]
		n2 += num[i] * num[i]
		worst = max(worst, math.Abs(d)/max(math.Abs(grad[i])+math.Abs(num[i]), 1e-4))
	}
	rel := math.Sqrt(diff2) / max(math.Sqrt(a2), math.Sqrt(n2))
	t.Logf("gradient check over %d of %d parameters: relative error %.3g (norm), worst element %.3g", len(idx), len(grad), rel, worst)
	if a2 == 0 {
		t.Fatal("gradient is zero")
	}
	if rel > 1e-5 {
		t.Errorf("relative gradient error %.3g, want < 1e-5", rel)
	}
	if worst > 1e-5 {
		t.Errorf("worst element-wise gradient error %.3g, want < 1e-5", worst)
	}
}

func TestMixLoss(t *testing.T) {
	tests := []struct {
		name     string
		a        float64
		qy, ply  float64
		wantLoss float64
	}{
		{"even", 0, 0.2, 0.4, -math.Log(0.3)},
		{"slm only", 50, 0.2, 0.4, -math.Log(0.2)},
		{"cloud only", -50, 0.2, 0.4, -math.Log(0.4)},
		{"cloud gave y nothing", 800, 0.5, 0, -math.Log(0.5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, dA := mixLoss(tt.a, tt.qy, tt.ply)
			if math.Abs(l-tt.wantLoss) > 1e-12 {
				t.Errorf("loss %v, want %v", l, tt.wantLoss)
			}
			num := (func() float64 {
				lp, _ := mixLoss(tt.a+1e-6, tt.qy, tt.ply)
				lm, _ := mixLoss(tt.a-1e-6, tt.qy, tt.ply)
				return (lp - lm) / 2e-6
			})()
			if math.IsNaN(dA) || math.Abs(dA-num) > 1e-7 {
				t.Errorf("dloss/da %v, numeric %v", dA, num)
			}
		})
	}
}

func BenchmarkWeight(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	q := combDist(r, 151936, 3)
	top := combTop(combDist(r, 151936, 3), 10)
	pl, err := Complete(nil, q, top)
	if err != nil {
		b.Fatal(err)
	}
	f := Features(nil, q, pl, top, 10, 7)
	m := NewCombModel(10, 1)
	var w float64
	for b.Loop() {
		w += m.Weight(f)
	}
	if !(w > 0) {
		b.Fatal(w)
	}
}

func BenchmarkFeatures(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	q := combDist(r, 151936, 3)
	top := combTop(combDist(r, 151936, 3), 10)
	pl, err := Complete(nil, q, top)
	if err != nil {
		b.Fatal(err)
	}
	var f []float64
	for b.Loop() {
		f = Features(f, q, pl, top, 10, 7)
	}
}
