package fusion

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// combTargetW is the synthetic optimum: w* = σ(2·f0 − f1).
func combTargetW(f []float64) float64 { return sigmoid(2*f[0] - f[1]) }

// combSynthetic makes n examples whose reference tokens are drawn from
// w*·q + (1 − w*)·p, with q and p random distributions over a small
// vocabulary, so the loss is minimised by w = w*(features).
func combSynthetic(r *rand.Rand, n, k int) []Example {
	const vocab = 16
	exs := make([]Example, n)
	for i := range exs {
		f := make([]float64, NumFeatures(k))
		for j := range f {
			f[j] = r.NormFloat64()
		}
		q, p := combDist(r, vocab, 3), combDist(r, vocab, 3)
		w := combTargetW(f)
		mix := Mix(nil, q, p, w)
		y := Draw(mix, r.Float64())
		exs[i] = Example{Features: f, QY: q[y], PLY: p[y]}
	}
	return exs
}

func TestTrainRecoversWeight(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	const k = 2
	nTrain, epochs := 6000, 8
	if testing.Short() {
		nTrain, epochs = 3000, 6
	}
	train, dev := combSynthetic(r, nTrain, k), combSynthetic(r, 1000, k)
	m, rep, err := Train(t.Context(), train, dev, TrainConfig{Epochs: epochs, Seed: 1, Patience: 3, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	var errSum, errMean float64
	const nTest = 2000
	for range nTest {
		f := make([]float64, NumFeatures(k))
		for j := range f {
			f[j] = r.NormFloat64()
		}
		ws := combTargetW(f)
		errSum += math.Abs(m.Weight(f) - ws)
		errMean += math.Abs(0.5 - ws)
	}
	mae := errSum / nTest
	t.Logf("held-out mean |w - w*| = %.4f (w = 0.5 gives %.4f); dev loss %.4f at epoch %d, mean rule %.4f, %d steps",
		mae, errMean/nTest, rep.BestDevLoss, rep.BestEpoch, rep.BaselineDevLoss, rep.Steps)
	if mae >= 0.1 {
		t.Errorf("held-out mean |w - w*| = %.4f, want < 0.1", mae)
	}
	if rep.BestDevLoss >= rep.BaselineDevLoss {
		t.Errorf("dev loss %.5f is no better than the mean rule's %.5f", rep.BestDevLoss, rep.BaselineDevLoss)
	}
}

func TestTrainKeepsBestAndReproduces(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	train, dev := combSynthetic(r, 300, 1), combSynthetic(r, 100, 1)
	cfg := TrainConfig{Epochs: 6, LR: 5e-3, Seed: 9}
	m1, rep1, err := Train(t.Context(), train, dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m2, rep2, err := Train(t.Context(), train, dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 10
	m3, _, err := Train(t.Context(), train, dev, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff(m1.params, m2.params); diff != "" {
		t.Errorf("same seed, different weights (-first +second):\n%s", diff)
	}
	if diff := gocmp.Diff(rep1, rep2); diff != "" {
		t.Errorf("same seed, different report (-first +second):\n%s", diff)
	}
	if gocmp.Equal(m1.params, m3.params) {
		t.Errorf("seeds 9 and 10 gave the same weights")
	}
	if got := m1.meanLoss(dev, make([]float64, NumFeatures(1)), make([]float64, hidden1), make([]float64, hidden2)); got != rep1.BestDevLoss {
		t.Errorf("returned model's dev loss %v, report's best %v (epoch %d of %v)", got, rep1.BestDevLoss, rep1.BestEpoch, rep1.DevLoss)
	}
	if want := 6 * 150; rep1.Steps != want {
		t.Errorf("%d steps, want %d", rep1.Steps, want)
	}
}

func TestTrainEarlyStopping(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	// Tiny training set, unrelated dev set, high learning rate: the dev
	// loss soon stops improving.
	train, dev := combSynthetic(r, 40, 1), combSynthetic(r, 200, 1)
	const patience = 2
	_, rep, err := Train(t.Context(), train, dev, TrainConfig{Epochs: 200, LR: 2e-2, Seed: 1, Patience: patience})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.EarlyStopped {
		t.Fatalf("ran all %d epochs; dev loss %v", len(rep.DevLoss), rep.DevLoss)
	}
	if got, want := len(rep.DevLoss), rep.BestEpoch+patience; got != want {
		t.Errorf("stopped after %d epochs, want best epoch %d + patience %d", got, rep.BestEpoch, patience)
	}
}

func TestTrainCancel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := Train(ctx, combSynthetic(r, 10, 1), combSynthetic(r, 10, 1), TrainConfig{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

func TestTrainRejects(t *testing.T) {
	good := Example{Features: make([]float64, NumFeatures(1)), QY: 0.5, PLY: 0.5}
	with := func(f func(*Example)) []Example {
		ex := good
		ex.Features = make([]float64, len(good.Features))
		f(&ex)
		return []Example{good, ex}
	}
	tests := []struct {
		name       string
		train, dev []Example
	}{
		{"no training examples", nil, []Example{good}},
		{"no dev examples", []Example{good}, nil},
		{"feature count not 2K+8", []Example{{Features: make([]float64, 11), QY: 0.5, PLY: 0.5}}, []Example{good}},
		{"ragged features", with(func(e *Example) { e.Features = e.Features[:9] }), []Example{good}},
		{"nan feature", with(func(e *Example) { e.Features[3] = math.NaN() }), []Example{good}},
		{"infinite feature in dev", []Example{good}, with(func(e *Example) { e.Features[0] = math.Inf(1) })},
		{"probability above 1", with(func(e *Example) { e.QY = 1.5 }), []Example{good}},
		{"negative probability", with(func(e *Example) { e.PLY = -0.1 }), []Example{good}},
		{"both probabilities zero", with(func(e *Example) { e.QY, e.PLY = 0, 0 }), []Example{good}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := Train(t.Context(), tt.train, tt.dev, TrainConfig{Epochs: 1}); err == nil {
				t.Errorf("accepted")
			}
		})
	}
}

func TestLRSchedule(t *testing.T) {
	tests := []struct {
		name          string
		warmup, total int
		want          []float64 // for steps 1..total
	}{
		{"warm-up then decay", 2, 6, []float64{0.5, 1, 1, 0.75, 0.5, 0.25}},
		{"no warm-up", 0, 4, []float64{1, 0.75, 0.5, 0.25}},
		{"all warm-up", 4, 4, []float64{0.25, 0.5, 0.75, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []float64
			for s := 1; s <= tt.total; s++ {
				got = append(got, lrFactor(s, tt.warmup, tt.total))
			}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("schedule (-want +got):\n%s", diff)
			}
		})
	}
}
