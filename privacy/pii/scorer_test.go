package pii

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var updateScorer = flag.Bool("update-scorer", false, "retrain the name scorer on the Even half of PUPA and rewrite scorer_weights.go")

// The training settings of the name scorer.
const (
	scorerLambda = 1e-2 // L2 penalty on every weight but the bias
	scorerRate   = 0.5  // gradient descent step
	scorerIters  = 1000 // full-batch steps
	scorerFolds  = 5    // cross-validation folds of the Even half, for the thresholds
	// targetFalse and preciseFalse are the false findings per prompt on
	// the Even half (out of fold, and with the final weights) that the
	// default and the precise threshold may not exceed.
	targetFalse  = 0.2
	preciseFalse = 0.1
)

// example is one training example: the non-zero features of a candidate
// and its label.
type example struct {
	idx []feature
	val []float64
	y   float64
	wt  float64 // its weight in the loss
}

func sparse(x *features, y, wt float64) example {
	e := example{wt: wt}
	for i, v := range x {
		if v != 0 {
			e.idx = append(e.idx, feature(i))
			e.val = append(e.val, v)
		}
	}
	e.y = y
	return e
}

func (e *example) logit(w *features) float64 {
	z := 0.0
	for k, i := range e.idx {
		z += float64(w[i] * e.val[k])
	}
	return z
}

// train fits a logistic regression to xs by full-batch gradient descent
// on the mean log loss plus lambda/2 times the squared weights (the bias
// excepted), from zero weights, for iters steps of size rate. It is
// deterministic: the same examples in the same order give the same
// weights.
func train(xs []example, lambda, rate float64, iters int) logistic {
	var m logistic
	var g features
	n := 0.0
	for i := range xs {
		n += xs[i].wt
	}
	for range iters {
		g = features{}
		for i := range xs {
			e := &xs[i]
			d := e.wt * (sigmoid(e.logit(&m.w)) - e.y)
			for k, j := range e.idx {
				g[j] += float64(d * e.val[k])
			}
		}
		for j := range g {
			g[j] /= n
			if feature(j) != fBias {
				g[j] += float64(lambda * m.w[j])
			}
			m.w[j] -= float64(rate * g[j])
		}
	}
	return m
}

// loss is train's objective.
func loss(m *logistic, xs []example, lambda float64) float64 {
	l, n := 0.0, 0.0
	for i := range xs {
		z := xs[i].logit(&m.w)
		// log(1+e^z) - y z, computed stably.
		l += xs[i].wt * (math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) - xs[i].y*z)
		n += xs[i].wt
	}
	l /= n
	for j, w := range m.w {
		if feature(j) != fBias {
			l += lambda / 2 * w * w
		}
	}
	return l
}

// pupaPrompt is one PUPA prompt with its candidates, ready for training
// and for sweeping thresholds.
type pupaPrompt struct {
	even  bool
	fold  int
	truth *truth
	pats  candidates
	names []nameCand
	xs    []features
	// ys holds each name candidate's label: 1 when it is true (on a
	// unit or a mention of one), 0 when false, -1 on a placeholder.
	ys []float64
}

// pupaPrompts reads the PUPA file and generates every prompt's
// candidates, labelled as EvalPUPA would count them.
func pupaPrompts(tb testing.TB, data []byte) []pupaPrompt {
	tb.Helper()
	var ps []pupaPrompt
	err := eachPUPA(bytes.NewReader(data), func(hash string, h int, query, units string) {
		p := pupaPrompt{even: h%2 == 0, truth: newTruth(query, units)}
		if len(hash) >= 8 {
			v, _ := strconv.ParseUint(hash[1:8], 16, 32)
			p.fold = int(v % scorerFolds)
		}
		findPatterns(query, &p.pats)
		d, names := nameCandidates(query, p.pats.taken())
		p.names = names
		p.xs = make([]features, len(names))
		p.ys = make([]float64, len(names))
		for i := range names {
			d.features(&names[i], len(names), &p.xs[i])
			switch p.truth.judge(Span{Kind: names[i].kind, Start: names[i].start, End: names[i].end}) {
			case vOccurrence, vMention:
				p.ys[i] = 1
			case vPlaceholder:
				p.ys[i] = -1
			}
		}
		ps = append(ps, p)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

// examples returns the labelled candidates of the prompts keep accepts.
func examples(ps []pupaPrompt, keep func(*pupaPrompt) bool) []example {
	var xs []example
	for i := range ps {
		p := &ps[i]
		if !keep(p) {
			continue
		}
		size := make([]int, len(p.names))
		for _, c := range p.names {
			size[c.group]++
		}
		for j, c := range p.names {
			if p.ys[j] >= 0 {
				// Each name counts once, however often it recurs.
				xs = append(xs, sparse(&p.xs[j], p.ys[j], 1/float64(size[c.group])))
			}
		}
	}
	return xs
}

// score sets every name candidate's probability under m.
func score(ps []pupaPrompt, m *logistic, keep func(*pupaPrompt) bool) {
	for i := range ps {
		p := &ps[i]
		if !keep(p) {
			continue
		}
		z := make([]float64, len(p.names))
		for j := range p.names {
			z[j] = m.logit(&p.xs[j])
		}
		setScores(p.names, z)
	}
}

// tallyAt counts what the detector with name threshold th finds in the
// prompts keep accepts, with the candidates' current scores.
func tallyAt(ps []pupaPrompt, th float64, keep func(*pupaPrompt) bool) Tally {
	want := Detector{}.wants()
	var t Tally
	for i := range ps {
		p := &ps[i]
		if !keep(p) {
			continue
		}
		cs := pick(p.pats, p.names, th, want)
		spans := make([]Span, len(cs))
		for k, c := range cs {
			spans[k] = c.Span
		}
		t.add(p.truth.tally(spans))
	}
	return t
}

// scores returns the name candidates' current scores.
func scores(ps []pupaPrompt) [][]float64 {
	out := make([][]float64, len(ps))
	for i := range ps {
		for _, c := range ps[i].names {
			out[i] = append(out[i], c.p)
		}
	}
	return out
}

// setScoresTo sets the name candidates' scores to ss.
func setScoresTo(ps []pupaPrompt, ss [][]float64) {
	for i := range ps {
		for j := range ps[i].names {
			ps[i].names[j].p = ss[i][j]
		}
	}
}

// chooseThreshold returns the threshold, on a grid of hundredths, that
// recalls the most units of the prompts keep accepts, with the scores
// oof, and keeps the false findings per prompt at most maxFalse with
// oof and with every score set of also; of equals, the highest. It
// returns the tally with oof. It leaves the scores oof in ps.
func chooseThreshold(ps []pupaPrompt, maxFalse float64, keep func(*pupaPrompt) bool, oof [][]float64, also ...[][]float64) (float64, Tally) {
	setScoresTo(ps, oof)
	best, bestT := 1.0, tallyAt(ps, 1, keep)
	for k := 99; k >= 1; k-- {
		th := float64(k) / 100
		setScoresTo(ps, oof)
		t := tallyAt(ps, th, keep)
		ok := t.FalsePerPrompt() <= maxFalse && t.UnitsRecalled > bestT.UnitsRecalled
		for _, ss := range also {
			if !ok {
				break
			}
			setScoresTo(ps, ss)
			ok = tallyAt(ps, th, keep).FalsePerPrompt() <= maxFalse
		}
		if ok {
			best, bestT = th, t
		}
	}
	setScoresTo(ps, oof)
	return best, bestT
}

func isEven(p *pupaPrompt) bool { return p.even }

// trainedScorer is what training on the Even half gives.
type trainedScorer struct {
	model            logistic
	th, preciseTh    float64
	oofDefault       Tally // out of fold, on Even, at th
	oofPrecise       Tally
	trainExamples    int
	positiveExamples int
}

// trainScorer trains the scorer on the Even half: the weights on all of
// Even; the thresholds on out-of-fold scores (each fold scored by a
// model trained on the other folds), which must also keep the final
// model within the false findings allowed on Even.
func trainScorer(ps []pupaPrompt) trainedScorer {
	var ts trainedScorer
	xs := examples(ps, isEven)
	ts.trainExamples = len(xs)
	for _, x := range xs {
		ts.positiveExamples += int(x.y)
	}
	ts.model = train(xs, scorerLambda, scorerRate, scorerIters)
	score(ps, &ts.model, isEven)
	final := scores(ps)
	for f := range scorerFolds {
		m := train(examples(ps, func(p *pupaPrompt) bool { return p.even && p.fold != f }), scorerLambda, scorerRate, scorerIters)
		score(ps, &m, func(p *pupaPrompt) bool { return p.even && p.fold == f })
	}
	oof := scores(ps)
	ts.th, ts.oofDefault = chooseThreshold(ps, targetFalse, isEven, oof, final)
	ts.preciseTh, ts.oofPrecise = chooseThreshold(ps, preciseFalse, isEven, oof, final)
	return ts
}

// TestTrainScorer retrains the name scorer on the Even half of PUPA and
// checks that scorer_weights.go holds what training gives; with
// -update-scorer it rewrites the file instead. Training and the choice
// of thresholds read the Even half only; Odd stays held out for
// TestPUPA.
func TestTrainScorer(t *testing.T) {
	data := readPUPA(t)
	ps := pupaPrompts(t, data)
	ts := trainScorer(ps)
	t.Logf("trained on %d candidates of Even (%d true); thresholds %.2f, precise %.2f", ts.trainExamples, ts.positiveExamples, ts.th, ts.preciseTh)
	t.Logf("out of fold, Even, default: %v", ts.oofDefault)
	t.Logf("out of fold, Even, precise: %v", ts.oofPrecise)
	for i, w := range ts.model.w {
		t.Logf("weight %-30s %+.3f", featureNames[i], w)
	}
	if *updateScorer {
		src, err := format.Source([]byte(scorerSource(ts)))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("scorer_weights.go", src, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if len(nameWeights) != int(numFeatures) {
		t.Fatalf("scorer_weights.go has %d weights for %d features (run with -update-scorer)", len(nameWeights), numFeatures)
	}
	for i, w := range ts.model.w {
		if got := nameModel.w[i]; math.Abs(got-w) > 1e-6*math.Max(1, math.Abs(w)) {
			t.Errorf("weight %s: committed %v, training gives %v (run with -update-scorer)", featureNames[i], got, w)
		}
	}
	if nameThreshold != ts.th || preciseThreshold != ts.preciseTh {
		t.Errorf("thresholds: committed %v and %v, training gives %v and %v (run with -update-scorer)", nameThreshold, preciseThreshold, ts.th, ts.preciseTh)
	}
}

// scorerSource is the Go source of scorer_weights.go.
func scorerSource(ts trainedScorer) string {
	var b strings.Builder
	b.WriteString("// Code generated by go test -run TestTrainScorer -update-scorer; DO NOT EDIT.\n\n")
	b.WriteString("package pii\n\n")
	fmt.Fprintf(&b, "// The name scorer was trained on %d candidates of the Even\n", ts.trainExamples)
	fmt.Fprintf(&b, "// half of PUPA (%d of them true) with lambda %v, step %v, %d steps.\n", ts.positiveExamples, scorerLambda, scorerRate, scorerIters)
	b.WriteString("// Its weights, in the order of the features (see scorer.go).\n")
	b.WriteString("var nameWeights = []float64{\n")
	for i, w := range ts.model.w {
		fmt.Fprintf(&b, "\t%s, // %s\n", strconv.FormatFloat(w, 'g', -1, 64), featureNames[i])
	}
	b.WriteString("}\n\n")
	b.WriteString("// The thresholds on the scorer's probability, chosen on out-of-fold\n")
	b.WriteString("// scores of the Even half: the most units recalled with at most\n")
	fmt.Fprintf(&b, "// %v false findings per prompt by default, %v when Precise.\n", targetFalse, preciseFalse)
	b.WriteString("const (\n")
	fmt.Fprintf(&b, "\tnameThreshold    = %v\n", ts.th)
	fmt.Fprintf(&b, "\tpreciseThreshold = %v\n", ts.preciseTh)
	b.WriteString(")\n")
	return b.String()
}

// TestTrainGradient checks train's objective against its gradient
// numerically: after a few steps, a small move along each weight changes
// the loss by what the gradient says.
func TestTrainGradient(t *testing.T) {
	xs := syntheticExamples(200, 1)
	m := train(xs, 0.01, 0.5, 5)
	// The gradient, as train computes it.
	var g features
	for i := range xs {
		d := xs[i].wt * (sigmoid(xs[i].logit(&m.w)) - xs[i].y)
		for k, j := range xs[i].idx {
			g[j] += d * xs[i].val[k]
		}
	}
	n := 0.0
	for i := range xs {
		n += xs[i].wt
	}
	for j := range g {
		g[j] /= n
		if feature(j) != fBias {
			g[j] += 0.01 * m.w[j]
		}
	}
	const h = 1e-5
	for _, j := range []feature{fBias, fRuleTitle, fSentStart, fRepeat} {
		up, down := m, m
		up.w[j] += h
		down.w[j] -= h
		num := (loss(&up, xs, 0.01) - loss(&down, xs, 0.01)) / (2 * h)
		if math.Abs(num-g[j]) > 1e-6 {
			t.Errorf("feature %s: numeric gradient %v, analytic %v", featureNames[j], num, g[j])
		}
	}
}

// TestTrainRecovers checks that train recovers the weights of a known
// logistic model from enough samples drawn from it, and is
// reproducible.
func TestTrainRecovers(t *testing.T) {
	xs := syntheticExamples(5000, 2)
	m := train(xs, 0, 2, 1000)
	want := syntheticWeights()
	for _, j := range []feature{fBias, fRuleTitle, fSentStart, fRepeat} {
		if math.Abs(m.w[j]-want[j]) > 0.3 {
			t.Errorf("feature %s: weight %.3f, want %.3f", featureNames[j], m.w[j], want[j])
		}
	}
	if again := train(xs, 0, 2, 1000); again != m {
		t.Error("training twice on the same examples gives different weights")
	}
}

func syntheticWeights() features {
	var w features
	w[fBias], w[fRuleTitle], w[fSentStart], w[fRepeat] = -0.5, 2, -1.5, 1
	return w
}

// syntheticExamples draws n examples of the features bias, title, sentence
// start and repeat from the logistic model syntheticWeights, with a
// fixed-seed generator.
func syntheticExamples(n int, seed uint64) []example {
	w := syntheticWeights()
	m := logistic{w: w}
	s := seed*0x9E3779B97F4A7C15 + 1
	next := func() float64 { // xorshift64*, in [0, 1)
		s ^= s >> 12
		s ^= s << 25
		s ^= s >> 27
		return float64((s*0x2545F4914F6CDD1D)>>11) / (1 << 53)
	}
	xs := make([]example, n)
	for i := range xs {
		var x features
		x[fBias] = 1
		x[fRuleTitle] = b2f(next() < 0.3)
		x[fSentStart] = b2f(next() < 0.5)
		x[fRepeat] = next()
		y := b2f(next() < m.prob(&x))
		xs[i] = sparse(&x, y, 1+float64(i%3))
	}
	return xs
}

// TestScorerFeatures checks a few features of hand-made candidates.
func TestScorerFeatures(t *testing.T) {
	text := `Dear Melissa, I met "Tanya Wasilew" at Napco Inc. Then Melissa left.`
	d, cs := nameCandidates(text, nil)
	byText := map[string]features{}
	for i := range cs {
		var x features
		d.features(&cs[i], len(cs), &x)
		if k := text[cs[i].start:cs[i].end]; byText[k] == (features{}) {
			byText[k] = x // the first candidate of each text
		}
	}
	for _, tc := range []struct {
		cand string
		f    feature
		want float64
	}{
		{"Melissa", fRuleGreeting, 1},
		{"Tanya Wasilew", fQuoted, 1},
		{"Tanya Wasilew", fWords2, 1},
		{"Tanya Wasilew", fPrevVerb, 1},
		{"Napco Inc", fRuleOrgStrong, 1},
		{"Napco Inc", fOrgRule, 1},
		{"Napco Inc", fPrevPrep, 1},
		{"Melissa", fRepeat, math.Log(2) / 3},
		{"Melissa", fPersonCue, 1},
		{"Melissa", fDocLetter, 1},
	} {
		x, ok := byText[tc.cand]
		if !ok {
			t.Errorf("no candidate %q; have %v", tc.cand, slices.Sorted(func(yield func(string) bool) {
				for k := range byText {
					if !yield(k) {
						return
					}
				}
			}))
			continue
		}
		if x[tc.f] != tc.want {
			t.Errorf("%q: feature %s = %v, want %v", tc.cand, featureNames[tc.f], x[tc.f], tc.want)
		}
	}
}
