package sample

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func randomLogits(r *rand.Rand, n int, scale float64) []float32 {
	l := make([]float32, n)
	for i := range l {
		l[i] = float32(r.NormFloat64() * scale)
	}
	return l
}

// softmax is the reference: plain float64 over every entry.
func softmax(logits []float32, t float64) []float64 {
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, float64(l)/t)
	}
	p := make([]float64, len(logits))
	var s float64
	for i, l := range logits {
		p[i] = math.Exp(float64(l)/t - m)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}

func TestArgmaxTiesGoLow(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		want   int32
	}{
		{"single", []float32{1}, 0},
		{"last", []float32{1, 2, 3}, 2},
		{"tie", []float32{1, 5, 5, 2}, 1},
		{"negative", []float32{-3, -1, -2}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Argmax(tt.logits); got != tt.want {
				t.Errorf("Argmax = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestTopKMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 5, 100, 5000} {
		for _, k := range []int{1, 3, 10, 20, n + 3} {
			logits := randomLogits(r, n, 3)
			// Plant ties.
			if n > 10 {
				logits[7] = logits[3]
			}
			want := make([]Candidate, n)
			for i, l := range logits {
				want[i] = Candidate{Token: int32(i), Score: l}
			}
			slices.SortStableFunc(want, func(a, b Candidate) int {
				if a.Score > b.Score {
					return -1
				}
				if a.Score < b.Score {
					return 1
				}
				return 0
			})
			want = want[:min(k, n)]
			got := TopK(nil, logits, k)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("n=%d k=%d: TopK mismatch (-want +got):\n%s", n, k, diff)
			}
		}
	}
}

func TestLogSumExp(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, scale := range []float64{0.01, 1, 10, 100} {
		logits := randomLogits(r, 1000, scale)
		var s float64
		m := float64(logits[Argmax(logits)])
		for _, l := range logits {
			s += math.Exp(float64(l) - m)
		}
		want := m + math.Log(s)
		if got := LogSumExp(logits); math.Abs(got-want) > 1e-9 {
			t.Errorf("scale %v: LogSumExp = %v, want %v", scale, got, want)
		}
	}
	if got := LogSumExp([]float32{1e30, 1e30}); math.IsInf(got, 0) || math.IsNaN(got) {
		t.Errorf("LogSumExp overflowed: %v", got)
	}
}

func TestGreedyIsArgmax(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	s := New(Params{})
	for range 50 {
		l := randomLogits(r, 300, 2)
		if got, want := s.Sample(l), Argmax(l); got != want {
			t.Fatalf("greedy sample = %d, want %d", got, want)
		}
	}
}

func TestSeededReproducible(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	logits := randomLogits(r, 200, 1)
	draw := func(seed uint64) []int32 {
		s := New(Params{Temperature: 1, Seed: seed})
		out := make([]int32, 100)
		for i := range out {
			out[i] = s.Sample(logits)
		}
		return out
	}
	if diff := cmp.Diff(draw(42), draw(42)); diff != "" {
		t.Errorf("same seed differs (-first +second):\n%s", diff)
	}
	if cmp.Equal(draw(42), draw(43)) {
		t.Errorf("different seeds gave identical draws")
	}
}

// chiSquare returns the statistic and degrees of freedom of observed counts
// against expected probabilities, pooling cells with small expectation.
func chiSquare(counts []int, p []float64, n int) (stat float64, dof int) {
	var poolO, poolE float64
	for i, c := range counts {
		e := p[i] * float64(n)
		if e < 5 {
			poolO += float64(c)
			poolE += e
			continue
		}
		stat += (float64(c) - e) * (float64(c) - e) / e
		dof++
	}
	if poolE >= 5 {
		stat += (poolO - poolE) * (poolO - poolE) / poolE
		dof++
	}
	return stat, dof - 1
}

// referenceCase is a sampling setting with its distribution computed
// independently of the package's pipeline (by sorting and filtering).
type referenceCase struct {
	name   string
	params Params
	// want returns the reference distribution after filtering.
	want func() []float64
}

func referenceCases(logits []float32) []referenceCase {
	return []referenceCase{
		{"temperature 1", Params{Temperature: 1, Seed: 1}, func() []float64 { return softmax(logits, 1) }},
		{"temperature 0.5", Params{Temperature: 0.5, Seed: 2}, func() []float64 { return softmax(logits, 0.5) }},
		{"top-k 5", Params{Temperature: 1, TopK: 5, Seed: 3}, func() []float64 {
			p := softmax(logits, 1)
			top := TopK(nil, logits, 5)
			q := make([]float64, len(p))
			var s float64
			for _, c := range top {
				q[c.Token] = p[c.Token]
				s += p[c.Token]
			}
			for i := range q {
				q[i] /= s
			}
			return q
		}},
		{"top-p 0.6", Params{Temperature: 1, TopP: 0.6, Seed: 4}, func() []float64 {
			p := softmax(logits, 1)
			idx := byProbability(p)
			q := make([]float64, len(p))
			var acc float64
			for _, i := range idx {
				q[i] = p[i]
				acc += p[i]
				if acc >= 0.6 {
					break
				}
			}
			for i := range q {
				q[i] /= acc
			}
			return q
		}},
		{"min-p 0.2", Params{Temperature: 1, MinP: 0.2, Seed: 5}, func() []float64 {
			p := softmax(logits, 1)
			best := p[Argmax(logits)]
			q := make([]float64, len(p))
			var s float64
			for i := range p {
				if p[i] >= 0.2*best {
					q[i] = p[i]
					s += p[i]
				}
			}
			for i := range q {
				q[i] /= s
			}
			return q
		}},
		{"temperature 0.7, top-k 8, min-p 0.05, top-p 0.9", Params{Temperature: 0.7, TopK: 8, MinP: 0.05, TopP: 0.9, Seed: 6}, func() []float64 {
			// In the engine's order: temperature, top-k, min-p, top-p.
			p := softmax(logits, 0.7)
			idx := byProbability(p)
			idx = idx[:8]
			best := p[idx[0]]
			var kept []int
			var s float64
			for _, i := range idx {
				if p[i] >= 0.05*best {
					kept = append(kept, i)
					s += p[i]
				}
			}
			q := make([]float64, len(p))
			var acc float64
			for _, i := range kept {
				q[i] = p[i]
				acc += p[i]
				if acc >= 0.9*s {
					break
				}
			}
			for i := range q {
				q[i] /= acc
			}
			return q
		}},
	}
}

func TestSampleFrequencies(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	logits := randomLogits(r, 30, 1.5)
	const n = 40000
	for _, tt := range referenceCases(logits) {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want()
			s := New(tt.params)
			counts := make([]int, len(logits))
			for range n {
				counts[s.Sample(logits)]++
			}
			for i, c := range counts {
				if want[i] == 0 && c > 0 {
					t.Fatalf("token %d drawn %d times but is filtered out", i, c)
				}
			}
			stat, dof := chiSquare(counts, want, n)
			// 99.9th percentile of chi-square is below dof + 3.3*sqrt(2 dof) + 10
			// for the dof seen here.
			if limit := float64(dof) + 3.3*math.Sqrt(2*float64(dof)) + 10; stat > limit {
				t.Errorf("chi-square %.1f with %d dof exceeds %.1f", stat, dof, limit)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		p    Params
		ok   bool
	}{
		{"zero", Params{}, true},
		{"negative temperature", Params{Temperature: -1}, false},
		{"nan temperature", Params{Temperature: math.NaN()}, false},
		{"negative top-k", Params{TopK: -1}, false},
		{"top-p above 1", Params{TopP: 1.5}, false},
		{"min-p negative", Params{MinP: -0.1}, false},
		{"full", Params{Temperature: 0.7, TopK: 40, TopP: 0.9, MinP: 0.05}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); (err == nil) != tt.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func BenchmarkSampleQwenVocab(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	logits := randomLogits(r, 151936, 3)
	for _, p := range []Params{{}, {Temperature: 0.8, TopP: 0.95, Seed: 1}} {
		s := New(p)
		b.Run(map[bool]string{true: "greedy", false: "top-p"}[p.Greedy()], func(b *testing.B) {
			for b.Loop() {
				s.Sample(logits)
			}
		})
	}
	b.Run("topk10", func(b *testing.B) {
		var dst []Candidate
		for b.Loop() {
			dst = TopK(dst, logits, 10)
		}
	})
}

func TestNucleusMatchesSort(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{10, 33, 1000, 20000} {
		for _, tp := range []float64{0.1, 0.5, 0.9, 0.999} {
			c := make([]cand, n)
			var total float64
			for i := range c {
				// Quantized weights plant many ties.
				c[i] = cand{tok: int32(i), p: math.Round(r.ExpFloat64()*8) / 8}
				total += c[i].p
			}
			sorted := slices.Clone(c)
			slices.SortStableFunc(sorted, func(a, b cand) int {
				if a.p > b.p {
					return -1
				}
				if a.p < b.p {
					return 1
				}
				return 0
			})
			var acc float64
			want := 0
			for i, x := range sorted {
				acc += x.p
				if acc >= tp*total {
					want = i + 1
					break
				}
			}
			got, gotAcc := nucleus(c, tp*total)
			if got != want {
				t.Errorf("n=%d top-p=%v: nucleus size %d, want %d", n, tp, got, want)
				continue
			}
			// Same weight multiset: the smallest kept weight equals the sorted one.
			minKept := math.Inf(1)
			for _, x := range c[:got] {
				minKept = min(minKept, x.p)
			}
			if minKept != sorted[want-1].p || math.Abs(gotAcc-acc) > 1e-9*total {
				t.Errorf("n=%d top-p=%v: nucleus min %v acc %v, want %v %v", n, tp, minKept, gotAcc, sorted[want-1].p, acc)
			}
		}
	}
}

// TestShapeMatchesReference checks Shape, which fusion samples with,
// against the independently computed distributions that Sample's
// frequencies are checked against: the engine and fusion draw from the
// same distribution for every setting.
func TestShapeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for trial := range 20 {
		logits := randomLogits(r, 30, 1.5)
		for _, tt := range referenceCases(logits) {
			p := softmax(logits, 1)
			tt.params.Shape(p)
			want := tt.want()
			for i := range p {
				if math.Abs(p[i]-want[i]) > 1e-12 {
					t.Fatalf("trial %d, %s: token %d: Shape gives %.15g, reference %.15g", trial, tt.name, i, p[i], want[i])
				}
			}
		}
	}
}

func TestShapeGreedyIsOneHotOnArgmax(t *testing.T) {
	p := []float64{0.2, 0.4, 0.4}
	Params{}.Shape(p)
	if p[0] != 0 || p[1] != 1 || p[2] != 0 {
		t.Fatalf("greedy Shape = %v, want one-hot on token 1 (ties to the lowest)", p)
	}
}

// byProbability returns the indices of p, most probable first.
func byProbability(p []float64) []int {
	idx := make([]int, len(p))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if p[a] > p[b] {
			return -1
		}
		return 1
	})
	return idx
}

func BenchmarkShapeQwenVocab(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := randomLogits(r, 151936, 3)
	p := softmax(logits, 1)
	dist := make([]float64, len(p))
	for _, params := range []Params{{Temperature: 0.8}, {Temperature: 0.8, TopK: 40, TopP: 0.95}} {
		b.Run(fmt.Sprintf("T=%g top-k=%d top-p=%g", params.Temperature, params.TopK, params.TopP), func(b *testing.B) {
			for b.Loop() {
				copy(dist, p)
				params.Shape(dist)
			}
		})
	}
}
