package eval

import (
	"math"
	"slices"

	"github.com/cogenesis/cogenesis/internal/eval/judge"
)

// Stat is a mean and standard deviation over seeds.
type Stat struct {
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation (n-1 in the denominator); 0
	// for a single value.
	Std float64 `json:"std"`
	// N is the number of values (seeds that had one).
	N int `json:"n"`
}

// Valid reports whether the stat has at least one value.
func (s Stat) Valid() bool { return s.N > 0 }

// meanStd returns the mean and the sample standard deviation of the
// non-NaN values of xs.
func meanStd(xs []float64) Stat {
	var vals []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			vals = append(vals, x)
		}
	}
	if len(vals) == 0 {
		return Stat{}
	}
	var sum float64
	for _, x := range vals {
		sum += x
	}
	m := sum / float64(len(vals))
	if len(vals) == 1 {
		return Stat{Mean: m, N: 1}
	}
	var ss float64
	for _, x := range vals {
		ss += (x - m) * (x - m)
	}
	return Stat{Mean: m, Std: math.Sqrt(ss / float64(len(vals)-1)), N: len(vals)}
}

// median returns the median of the rated repeats (nil ones are unrated
// and left out), and false when none is rated. With an even count it is
// the mean of the two middle ratings.
func median(ratings []*float64) (float64, bool) {
	var vals []float64
	for _, r := range ratings {
		if r != nil {
			vals = append(vals, *r)
		}
	}
	if len(vals) == 0 {
		return 0, false
	}
	slices.Sort(vals)
	n := len(vals)
	if n%2 == 1 {
		return vals[n/2], true
	}
	return (vals[n/2-1] + vals[n/2]) / 2, true
}

// mean returns the mean of the non-NaN values, or NaN for none.
func mean(xs []float64) float64 {
	var sum float64
	n := 0
	for _, x := range xs {
		if !math.IsNaN(x) {
			sum += x
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// WinTieLose counts pairwise outcomes against the baseline.
type WinTieLose struct {
	Win  int `json:"win"`
	Tie  int `json:"tie"`
	Lose int `json:"lose"`
	// Unrated counts pairs the judge gave no verdict or rating for (in
	// either order); they are left out of the percentages.
	Unrated int `json:"unrated"`
}

// add counts one outcome.
func (w *WinTieLose) add(o judge.Outcome) {
	switch o {
	case judge.Win:
		w.Win++
	case judge.Tie:
		w.Tie++
	case judge.Lose:
		w.Lose++
	}
}

// Percent returns win, tie and lose as percentages of the decided pairs.
func (w WinTieLose) Percent() (win, tie, lose float64) {
	n := float64(w.Win + w.Tie + w.Lose)
	if n == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	return 100 * float64(w.Win) / n, 100 * float64(w.Tie) / n, 100 * float64(w.Lose) / n
}

// parseVerdict reads a stored verdict.
func parseVerdict(s string) (judge.Verdict, bool) {
	switch s {
	case judge.VerdictA.String():
		return judge.VerdictA, true
	case judge.VerdictB.String():
		return judge.VerdictB, true
	case judge.VerdictTie.String():
		return judge.VerdictTie, true
	}
	return 0, false
}

// runningMean returns, for n = 1..len(xs), the mean of the first n rated
// samples (NaN samples are skipped: they do not count towards n) and its
// standard error; xs in sample order.
func runningMean(xs []float64) (n []int, means, stderr []float64) {
	var sum, sumsq float64
	k := 0
	for _, x := range xs {
		if math.IsNaN(x) {
			continue
		}
		k++
		sum += x
		sumsq += x * x
		m := sum / float64(k)
		se := 0.0
		if k > 1 {
			v := (sumsq - float64(k)*m*m) / float64(k-1)
			se = math.Sqrt(max(v, 0) / float64(k))
		}
		n = append(n, k)
		means = append(means, m)
		stderr = append(stderr, se)
	}
	return n, means, stderr
}
