package fusion

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cogenesis/cogenesis/llm"
)

func randomLogits(r *rand.Rand, n int, scale float64) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * scale)
	}
	return l
}

// topOf returns the k most likely tokens of p as cloud log-probabilities.
func topOf(p []float64, k int) []llm.TopLogprob {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if p[a] > p[b] {
			return -1
		}
		if p[a] < p[b] {
			return 1
		}
		return a - b
	})
	top := make([]llm.TopLogprob, k)
	for i := range k {
		top[i] = llm.TopLogprob{Token: int32(idx[i]), Logprob: math.Log(p[idx[i]])}
	}
	return top
}

func checkDist(t *testing.T, name string, p []float64) {
	t.Helper()
	var s float64
	for i, x := range p {
		if x < 0 || math.IsNaN(x) {
			t.Fatalf("%s: p[%d] = %v", name, i, x)
		}
		s += x
	}
	if math.Abs(s-1) > 1e-9 {
		t.Errorf("%s: sums to %.15f", name, s)
	}
}

func TestFusionProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		n := 2 + r.IntN(500)
		q := Softmax(nil, randomLogits(r, n, 1+r.Float64()*5))
		cloud := Softmax(nil, randomLogits(r, n, 1+r.Float64()*5))
		k := 1 + r.IntN(min(20, n))
		top := topOf(cloud, k)
		pl, err := Complete(nil, q, top)
		if err != nil {
			t.Fatal(err)
		}
		checkDist(t, "completed", pl)
		checkDist(t, "q", q)
		for _, tp := range top {
			if math.Abs(pl[tp.Token]-math.Exp(tp.Logprob)) > 1e-12 {
				t.Fatalf("trial %d: p_l keeps %v on a top token, cloud said %v", trial, pl[tp.Token], math.Exp(tp.Logprob))
			}
		}
		w := r.Float64()
		checkDist(t, "mix", Mix(nil, q, pl, w))
		checkDist(t, "max", MaxOf(nil, q, pl))
		if d := maxDiff(Mix(nil, q, pl, 1), q); d != 0 {
			t.Errorf("w=1 differs from q by %g", d)
		}
		if d := maxDiff(Mix(nil, q, pl, 0), pl); d != 0 {
			t.Errorf("w=0 differs from p_l by %g", d)
		}
	}
}

func maxDiff(a, b []float64) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}

func TestCompleteEdgeCases(t *testing.T) {
	q := []float64{0.5, 0.5, 0, 0}
	tests := []struct {
		name string
		q    []float64
		top  []llm.TopLogprob
		want []float64
	}{
		{"rest by q", []float64{0.1, 0.2, 0.3, 0.4}, []llm.TopLogprob{{Token: 3, Logprob: math.Log(0.5)}},
			[]float64{0.5 * 0.1 / 0.6, 0.5 * 0.2 / 0.6, 0.5 * 0.3 / 0.6, 0.5}},
		{"q has no mass outside T", q, []llm.TopLogprob{{Token: 0, Logprob: math.Log(0.3)}, {Token: 1, Logprob: math.Log(0.1)}},
			[]float64{0.75, 0.25, 0, 0}},
		{"top mass above 1", []float64{0.25, 0.25, 0.25, 0.25}, []llm.TopLogprob{{Token: 2, Logprob: math.Log(0.7)}, {Token: 1, Logprob: math.Log(0.5)}},
			[]float64{0, 0.5 / 1.2, 0.7 / 1.2, 0}},
		{"zero-probability top", []float64{0.25, 0.25, 0.25, 0.25}, []llm.TopLogprob{{Token: 2, Logprob: math.Inf(-1)}},
			[]float64{1.0 / 3, 1.0 / 3, 0, 1.0 / 3}},
		{"no top", []float64{0.1, 0.2, 0.3, 0.4}, nil, []float64{0.1, 0.2, 0.3, 0.4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Complete(nil, tt.q, tt.top)
			if err != nil {
				t.Fatal(err)
			}
			if d := maxDiff(got, tt.want); d > 1e-12 {
				t.Errorf("Complete = %v, want %v", got, tt.want)
			}
		})
	}
	bad := []struct {
		name string
		top  []llm.TopLogprob
	}{
		{"out of range", []llm.TopLogprob{{Token: 9, Logprob: -1}}},
		{"negative id", []llm.TopLogprob{{Token: -1, Logprob: -1}}},
		{"duplicate", []llm.TopLogprob{{Token: 1, Logprob: -1}, {Token: 1, Logprob: -2}}},
		{"nan", []llm.TopLogprob{{Token: 1, Logprob: math.NaN()}}},
		{"positive", []llm.TopLogprob{{Token: 1, Logprob: 0.5}}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Complete(nil, q, tt.top); err == nil {
				t.Errorf("accepted")
			}
		})
	}
}

func TestSamplingFrequencies(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	q := Softmax(nil, randomLogits(r, 40, 2))
	pl, err := Complete(nil, q, topOf(Softmax(nil, randomLogits(r, 40, 2)), 10))
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []Method{Mean, Max} {
		t.Run(string(method), func(t *testing.T) {
			pc := Fuse(nil, q, pl, method, 0)
			rng := rand.New(rand.NewPCG(5, 6))
			const n = 50000
			counts := make([]int, len(pc))
			for range n {
				counts[Draw(pc, rng.Float64())]++
			}
			var stat float64
			dof := -1
			for i, c := range counts {
				e := pc[i] * n
				if e < 5 {
					continue
				}
				stat += (float64(c) - e) * (float64(c) - e) / e
				dof++
			}
			if limit := float64(dof) + 3.3*math.Sqrt(2*float64(dof)) + 10; stat > limit {
				t.Errorf("chi-square %.1f with %d dof exceeds %.1f", stat, dof, limit)
			}
		})
	}
}

func BenchmarkFuseQwenVocab(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	logits := randomLogits(r, 151936, 3)
	q := Softmax(nil, logits)
	top := topOf(Softmax(nil, randomLogits(r, 151936, 3)), 10)
	var pl, pc []float64
	for b.Loop() {
		q = Softmax(q, logits)
		pl, _ = Complete(pl, q, top)
		pc = Mix(pc, q, pl, 0.5)
	}
}
