package fusion

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Example is one training step for a [CombModel]: the step's [Features] and
// the probabilities that the small model (QY = q(y)) and the completed cloud
// distribution (PLY = p_l(y)) give the reference token y.
type Example struct {
	Features []float64
	QY, PLY  float64
}

// TrainConfig sets up [Train]. Zero fields take the paper's values where it
// gives them.
type TrainConfig struct {
	// Epochs is the most passes over the training set (default 10).
	Epochs int
	// BatchSize is the number of examples per Adam step (default 2, the
	// paper's).
	BatchSize int
	// LR is the peak learning rate (default 2e-3, the paper's).
	LR float64
	// WarmupSteps is the number of steps over which the learning rate
	// rises linearly from 0 to LR; after it, the rate falls linearly to 0
	// at the last step. When it is 0, WarmupFrac of all steps is used, and
	// when that is 0 too, a tenth. A negative value means no warm-up.
	WarmupSteps int
	// WarmupFrac is the warm-up as a fraction of all steps; see
	// WarmupSteps.
	WarmupFrac float64
	// Seed makes training reproducible: the same data, config and seed
	// give bit-identical weights (on one platform and build).
	Seed uint64
	// Patience stops training when the dev loss has not improved for this
	// many epochs; 0 means run every epoch. The best epoch's weights are
	// kept either way.
	Patience int
	// Logf, when set, receives one line per epoch.
	Logf func(format string, args ...any)
}

// TrainReport says how [Train] went.
type TrainReport struct {
	// K is the top-K size inferred from the features.
	K int
	// Steps is the number of Adam steps taken.
	Steps int
	// TrainLoss and DevLoss are the mean loss per epoch run (TrainLoss
	// averaged while the epoch trained).
	TrainLoss, DevLoss []float64
	// BestEpoch (1-based) is the epoch whose weights were kept, and
	// BestDevLoss its dev loss.
	BestEpoch   int
	BestDevLoss float64
	// BaselineDevLoss is the dev loss of the mean rule, w = 0.5.
	BaselineDevLoss float64
	// EarlyStopped says that Patience ended training before Epochs.
	EarlyStopped bool
}

// errNoExamples reports an empty training or dev set.
var errNoExamples = errors.New("no examples")

func (c TrainConfig) withDefaults() TrainConfig {
	if c.Epochs <= 0 {
		c.Epochs = 10
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 2
	}
	if c.LR <= 0 {
		c.LR = 2e-3
	}
	if c.WarmupSteps == 0 && c.WarmupFrac <= 0 {
		c.WarmupFrac = 0.1
	}
	return c
}

// Train fits a [CombModel] on train with Adam (β1 0.9, β2 0.999, ε 1e-8),
// warm-up then linear decay of the learning rate, minimising the mean of
// −log(w·q(y) + (1 − w)·p_l(y)). It standardizes the inputs with the
// training set's mean and standard deviation, evaluates on dev after each
// epoch and returns the weights of the epoch with the lowest dev loss. All
// examples must have the same number of features, 2K + 8 for some K (see
// [Features]). Train checks ctx between steps; a cancelled ctx returns its
// error and no model.
func Train(ctx context.Context, train, dev []Example, cfg TrainConfig) (*CombModel, TrainReport, error) {
	var rep TrainReport
	cfg = cfg.withDefaults()
	if len(train) == 0 {
		return nil, rep, fmt.Errorf("train combmodel: training set: %w", errNoExamples)
	}
	if len(dev) == 0 {
		return nil, rep, fmt.Errorf("train combmodel: dev set: %w", errNoExamples)
	}
	nIn := len(train[0].Features)
	k := (nIn - 8) / 2
	if k < 1 || k > MaxK || NumFeatures(k) != nIn {
		return nil, rep, fmt.Errorf("train combmodel: %d features is not 2K+8 for K in 1..%d", nIn, MaxK)
	}
	rep.K = k
	if err := checkExamples("training", train, nIn); err != nil {
		return nil, rep, fmt.Errorf("train combmodel: %w", err)
	}
	if err := checkExamples("dev", dev, nIn); err != nil {
		return nil, rep, fmt.Errorf("train combmodel: %w", err)
	}

	m := newCombModel(k)
	m.fitStandardization(train)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7472616e))
	m.init(rng)

	perEpoch := (len(train) + cfg.BatchSize - 1) / cfg.BatchSize
	total := cfg.Epochs * perEpoch
	warmup := cfg.WarmupSteps
	switch {
	case warmup < 0:
		warmup = 0
	case warmup == 0:
		warmup = int(math.Round(cfg.WarmupFrac * float64(total)))
	}
	warmup = min(warmup, total)

	for _, ex := range dev {
		l, _ := mixLoss(0, ex.QY, ex.PLY)
		rep.BaselineDevLoss += l
	}
	rep.BaselineDevLoss /= float64(len(dev))

	n := len(m.params)
	grad := make([]float64, n)
	opt := adam{m: make([]float64, n), v: make([]float64, n)}
	best := make([]float64, n)
	copy(best, m.params)
	rep.BestDevLoss = math.Inf(1)
	z := make([]float64, nIn)
	h1 := make([]float64, hidden1)
	h2 := make([]float64, hidden2)
	d1 := make([]float64, hidden1)
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	stale := 0
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var sum float64
		for start := 0; start < len(order); start += cfg.BatchSize {
			if err := ctx.Err(); err != nil {
				return nil, rep, fmt.Errorf("train combmodel: epoch %d: %w", epoch, err)
			}
			batch := order[start:min(start+cfg.BatchSize, len(order))]
			clear(grad)
			for _, i := range batch {
				ex := train[i]
				l, dA := mixLoss(m.forward(ex.Features, z, h1, h2), ex.QY, ex.PLY)
				sum += l
				m.backward(z, h1, h2, dA/float64(len(batch)), grad, d1)
			}
			rep.Steps++
			opt.step(m.params, grad, cfg.LR*lrFactor(rep.Steps, warmup, total))
		}
		trainLoss := sum / float64(len(train))
		devLoss := m.meanLoss(dev, z, h1, h2)
		rep.TrainLoss = append(rep.TrainLoss, trainLoss)
		rep.DevLoss = append(rep.DevLoss, devLoss)
		if cfg.Logf != nil {
			cfg.Logf("combmodel epoch %d/%d: train loss %.5f, dev loss %.5f (mean rule %.5f), step %d", epoch, cfg.Epochs, trainLoss, devLoss, rep.BaselineDevLoss, rep.Steps)
		}
		if devLoss < rep.BestDevLoss {
			rep.BestDevLoss, rep.BestEpoch = devLoss, epoch
			copy(best, m.params)
			stale = 0
			continue
		}
		stale++
		if cfg.Patience > 0 && stale >= cfg.Patience && epoch < cfg.Epochs {
			rep.EarlyStopped = true
			break
		}
	}
	copy(m.params, best)
	return m, rep, nil
}

// lrFactor is the schedule: linear warm-up over warmup steps, then linear
// decay to 0 at step total (steps count from 1).
func lrFactor(step, warmup, total int) float64 {
	if step <= warmup {
		return float64(step) / float64(warmup)
	}
	return max(float64(total-step+1)/float64(total-warmup), 0)
}

// checkExamples rejects examples the loss cannot use.
func checkExamples(set string, exs []Example, nIn int) error {
	for i, ex := range exs {
		if len(ex.Features) != nIn {
			return fmt.Errorf("%s example %d: %d features, want %d", set, i, len(ex.Features), nIn)
		}
		for j, x := range ex.Features {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%s example %d: feature %d is %v", set, i, j, x)
			}
		}
		if !(ex.QY >= 0 && ex.QY <= 1 && ex.PLY >= 0 && ex.PLY <= 1) {
			return fmt.Errorf("%s example %d: q(y) = %v, p_l(y) = %v, want both in [0, 1]", set, i, ex.QY, ex.PLY)
		}
		if ex.QY == 0 && ex.PLY == 0 {
			return fmt.Errorf("%s example %d: q(y) and p_l(y) are both 0, so no weight can explain the token", set, i)
		}
	}
	return nil
}

// fitStandardization sets mean and std from the examples' features; a
// constant feature gets std 1.
func (m *CombModel) fitStandardization(exs []Example) {
	n := float64(len(exs))
	for i := range m.mean {
		var s float64
		for _, ex := range exs {
			s += ex.Features[i]
		}
		mu := s / n
		var v float64
		for _, ex := range exs {
			d := ex.Features[i] - mu
			v += d * d
		}
		sd := math.Sqrt(v / n)
		if !(sd > 1e-8*max(1, math.Abs(mu))) {
			sd = 1
		}
		m.mean[i], m.std[i] = mu, sd
	}
}

// meanLoss returns the mean loss over exs, using z, h1, h2 as scratch.
func (m *CombModel) meanLoss(exs []Example, z, h1, h2 []float64) float64 {
	var s float64
	for _, ex := range exs {
		l, _ := mixLoss(m.forward(ex.Features, z, h1, h2), ex.QY, ex.PLY)
		s += l
	}
	return s / float64(len(exs))
}

// adam is the optimiser state (Kingma and Ba, β1 0.9, β2 0.999, ε 1e-8).
type adam struct {
	m, v []float64
	t    int
	// b1t and b2t are β1^t and β2^t.
	b1t, b2t float64
}

func (a *adam) step(params, grad []float64, lr float64) {
	const b1, b2, eps = 0.9, 0.999, 1e-8
	if a.t == 0 {
		a.b1t, a.b2t = 1, 1
	}
	a.t++
	a.b1t *= b1
	a.b2t *= b2
	c1, c2 := 1/(1-a.b1t), 1/(1-a.b2t)
	m, v := a.m[:len(params)], a.v[:len(params)]
	grad = grad[:len(params)]
	for i, g := range grad {
		mi := b1*m[i] + (1-b1)*g
		vi := b2*v[i] + (1-b2)*g*g
		m[i], v[i] = mi, vi
		params[i] -= lr * (mi * c1) / (math.Sqrt(vi*c2) + eps)
	}
}
