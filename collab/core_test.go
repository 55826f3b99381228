package collab

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/privacy"
)

// The strategy core on synthetic models: distributions that depend on the
// whole token history through a hash, a cloud that answers top-k and
// sequence scoring from its own such distributions, and a guard whose vault
// names a person the vocabulary can spell. No engine, no HTTP.

const (
	synthEOG    = 0 // the end-of-generation token
	synthSecret = 1 // spells the vault's name: a leak once generated
)

// synthLogits returns pseudo-random logits over v tokens that depend on
// salt and every token of hist.
func synthLogits(salt string, hist []int32, v int, spread float64) []float32 {
	h := fnv.New64a()
	io.WriteString(h, salt)
	for _, t := range hist {
		fmt.Fprintf(h, ",%d", t)
	}
	r := rand.New(rand.NewPCG(h.Sum64(), 7))
	out := make([]float32, v)
	for i := range out {
		out[i] = float32(spread * (2*r.Float64() - 1))
	}
	return out
}

// synthSeq is a local sequence whose next-token logits are synthLogits of
// its tokens.
type synthSeq struct {
	salt   string
	v      int
	tokens []int32
}

func (s *synthSeq) Logits() []float32 { return synthLogits(s.salt, s.tokens, s.v, 2.5) }
func (s *synthSeq) Len() int          { return len(s.tokens) }

func (s *synthSeq) Append(_ context.Context, toks []int32) error {
	s.tokens = append(s.tokens, toks...)
	return nil
}

func (s *synthSeq) Truncate(_ context.Context, n int) error {
	if n > len(s.tokens) {
		return fmt.Errorf("truncate to %d of %d", n, len(s.tokens))
	}
	s.tokens = s.tokens[:n]
	return nil
}

// synthCloud answers from synthLogits with its own salt. Each request
// moves a virtual clock, so that speculative fusion's cost model (which
// decides when to take per-token steps) is deterministic.
type synthCloud struct {
	v            int
	clock        *time.Time
	next, scored time.Duration // what each request costs on the clock
	requests     [][]int32
}

func (c *synthCloud) top(prefix []int32, k int) []llm.TopLogprob {
	logits := synthLogits("cloud", prefix, c.v, 3)
	z := sample.LogSumExp(logits)
	var out []llm.TopLogprob
	for _, t := range sample.TopK(nil, logits, k) {
		out = append(out, llm.TopLogprob{Token: t.Token, Logprob: float64(t.Score) - z})
	}
	return out
}

func (c *synthCloud) NextTopK(_ context.Context, prefix privacy.PublicTokens, k int) ([]llm.TopLogprob, error) {
	*c.clock = c.clock.Add(c.next)
	c.requests = append(c.requests, slices.Clone(prefix.IDs()))
	return c.top(prefix.IDs(), k), nil
}

func (c *synthCloud) ScoreWithNext(_ context.Context, seq privacy.PublicTokens, k int) ([]llm.TokenLogprob, []llm.TopLogprob, error) {
	*c.clock = c.clock.Add(c.scored)
	ids := seq.IDs()
	c.requests = append(c.requests, slices.Clone(ids))
	var scored []llm.TokenLogprob
	for j := 1; j < len(ids); j++ {
		scored = append(scored, llm.TokenLogprob{Token: ids[j], Top: c.top(ids[:j], k)})
	}
	return scored, c.top(ids, k), nil
}

// synthVocab spells token 1 as the vault's name; every other token is a
// harmless word.
type synthVocab struct{}

func (synthVocab) IsEOG(t int32) bool { return t == synthEOG }

func (synthVocab) Detokenize(toks []int32) string {
	var b strings.Builder
	for _, t := range toks {
		switch {
		case t == synthSecret:
			b.WriteString(" Zorblax")
		case t >= 100:
			b.WriteString(" please write")
		default:
			fmt.Fprintf(&b, " word%c", 'a'+t)
		}
	}
	return b.String()
}

// choicePoint is one random choice on an enumerated path.
type choicePoint struct {
	probs  []float64 // of the options with positive probability
	chosen int
}

// enumerator is a chooser that follows a script of choices and records
// every choice point, so that all paths can be walked depth first.
type enumerator struct {
	script []int
	points []choicePoint
	p      float64
}

func (e *enumerator) choose(probs []float64) int {
	i := 0
	if n := len(e.points); n < len(e.script) {
		i = e.script[n]
	}
	e.points = append(e.points, choicePoint{probs: probs, chosen: i})
	e.p *= probs[i]
	return i
}

func (e *enumerator) draw(p []float64) int32 {
	var toks []int32
	var probs []float64
	for i, x := range p {
		if x > 0 {
			toks, probs = append(toks, int32(i)), append(probs, x)
		}
	}
	return toks[e.choose(probs)]
}

func (e *enumerator) accept(a float64) bool {
	switch {
	case a >= 1:
		return true
	case a <= 0:
		return false
	}
	return e.choose([]float64{a, 1 - a}) == 0
}

// next returns the script of the next path in depth-first order, or false
// after the last.
func (e *enumerator) next() ([]int, bool) {
	for i := len(e.points) - 1; i >= 0; i-- {
		if c := e.points[i]; c.chosen+1 < len(c.probs) {
			s := make([]int, i+1)
			for j := range i {
				s[j] = e.points[j].chosen
			}
			s[i] = c.chosen + 1
			return s, true
		}
	}
	return nil, false
}

// synthCase is one setting of the strategy core.
type synthCase struct {
	name     string
	v        int // vocabulary size
	o        Options
	proxy    bool
	slowScan bool // sequence scoring costs more than per-token steps: the per-token fall-back runs
	leak     bool // the guard's vault names the person token 1 spells
}

func (c synthCase) guard(t *testing.T) *privacy.Guard {
	if !c.leak {
		return privacy.NewGuard(&privacy.Vault{})
	}
	g := privacy.NewGuard(&privacy.Vault{Name: privacy.NewPrivate("Zorblax")})
	if len(g.Check(synthVocab{}.Detokenize([]int32{2, synthSecret}))) == 0 {
		t.Fatal("the guard does not find the vault's name in the synthetic text: the guard-stop cases would test nothing")
	}
	return g
}

var cloudPromptIDs = []int32{100, 101, 102}

// runSynth runs the core once with chooser pick and returns its output
// (ending in "|" when it stopped at end-of-generation) and the cloud.
func runSynth(t *testing.T, c synthCase, g *privacy.Guard, pick chooser, blocks bool) (string, *synthCloud, *fuser) {
	clock := time.Unix(0, 0)
	cloud := &synthCloud{v: c.v, clock: &clock, next: time.Second, scored: time.Millisecond}
	if c.slowScan {
		cloud.scored = 10 * time.Second
	}
	prompt, leak := g.PublicTokens(cloudPromptIDs, synthVocab{}.Detokenize)
	if leak != nil {
		t.Fatal(leak)
	}
	f := newFuser(c.o.withDefaults())
	f.seq = &synthSeq{salt: "local", v: c.v, tokens: []int32{200, 201}}
	if c.proxy {
		f.proxy = &synthSeq{salt: "standin", v: c.v, tokens: slices.Clone(cloudPromptIDs)}
	}
	f.cloud, f.guard, f.voc, f.prompt, f.pick, f.blocks = cloud, g, synthVocab{}, prompt, pick, blocks
	f.now = func() time.Time { return clock }
	f.log = slog.New(slog.DiscardHandler)
	if err := f.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := fmt.Sprint(f.generated)
	if f.done {
		out += "|"
	}
	return out, cloud, f
}

// enumerate walks every path of the core's random choices and returns the
// probability of each output.
func enumerate(t *testing.T, c synthCase, blocks bool) (map[string]float64, int) {
	g := c.guard(t)
	dist := map[string]float64{}
	var script []int
	paths := 0
	for {
		e := &enumerator{script: script, p: 1}
		out, _, _ := runSynth(t, c, g, e, blocks)
		dist[out] += e.p
		paths++
		var more bool
		if script, more = e.next(); !more {
			return dist, paths
		}
		if paths > 3_000_000 {
			t.Fatalf("more than %d paths: make the case smaller", paths)
		}
	}
}

// perTokenReference computes per-token fusion's output distribution from
// the definition, without the fuser: at each step the target is
// shape(fuse(q, complete(top))) when the schedule consults the cloud and the
// guard has not stopped it (the guard checking the prefix at that step),
// shape(q) otherwise.
func perTokenReference(t *testing.T, c synthCase) map[string]float64 {
	o := c.o.withDefaults()
	g := c.guard(t)
	cloud := &synthCloud{v: c.v}
	dist := map[string]float64{}
	var walk func(hist []int32, p float64, stopped bool)
	walk = func(hist []int32, p float64, stopped bool) {
		if len(hist) == o.MaxTokens {
			dist[fmt.Sprint(hist)] += p
			return
		}
		k := len(hist)
		q := fusion.Softmax(nil, synthLogits("local", append([]int32{200, 201}, hist...), c.v, 2.5))
		P := slices.Clone(q)
		if !stopped && o.Schedule.Consult(k) {
			ids := slices.Concat(cloudPromptIDs, hist)
			if _, leak := g.PublicTokens(ids, synthVocab{}.Detokenize); leak != nil {
				stopped = true
			} else {
				top := cloud.top(ids, o.TopK)
				pl, err := fusion.Complete(nil, q, top)
				if err != nil {
					t.Fatal(err)
				}
				w := 0.5
				if o.Fusion == fusion.Learned {
					w = o.Comb.Weight(fusion.Features(nil, q, pl, top, o.Comb.K(), k))
				}
				P = fusion.Fuse(nil, q, pl, o.Fusion, w)
			}
		}
		o.Sample.Shape(P)
		for x, px := range P {
			if px == 0 {
				continue
			}
			if x == synthEOG {
				dist[fmt.Sprint(hist)+"|"] += p * px
				continue
			}
			walk(append(slices.Clone(hist), int32(x)), p*px, stopped)
		}
	}
	walk(nil, 1, false)
	return dist
}

func compareDists(t *testing.T, name string, got, want map[string]float64) {
	t.Helper()
	var sum float64
	for _, p := range got {
		sum += p
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("%s: probabilities sum to %.15g", name, sum)
	}
	worst, at := 0.0, ""
	for k := range mergeKeys(got, want) {
		if d := math.Abs(got[k] - want[k]); d > worst {
			worst, at = d, k
		}
	}
	if worst > 1e-12 {
		t.Errorf("%s: output %s has probability %.15g, per-token fusion gives %.15g (difference %.3g)", name, at, got[at], want[at], worst)
	}
}

func mergeKeys(a, b map[string]float64) map[string]bool {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return m
}

func synthCases(t *testing.T) []synthCase {
	comb := fusion.NewCombModel(3, 5)
	first2, err := ParseSchedule("first:2")
	if err != nil {
		t.Fatal(err)
	}
	pkt, err := ParseSchedule("pkt:2,1,0")
	if err != nil {
		t.Fatal(err)
	}
	samplings := []struct {
		name string
		p    sample.Params
	}{
		{"T=1", sample.Params{Temperature: 1}},
		{"T=0.7 top-p=0.8", sample.Params{Temperature: 0.7, TopP: 0.8}},
		{"T=1.3 top-k=3", sample.Params{Temperature: 1.3, TopK: 3}},
		{"T=1 min-p=0.3", sample.Params{Temperature: 1, MinP: 0.3}},
		{"greedy", sample.Params{}},
	}
	var cs []synthCase
	for _, gamma := range []int{1, 2, 4} {
		for _, m := range []fusion.Method{fusion.Mean, fusion.Max, fusion.Learned} {
			for _, s := range samplings {
				o := Options{MaxTokens: 3, TopK: 3, Gamma: gamma, Fusion: m, Sample: s.p}
				if m == fusion.Learned {
					o.Comb = comb
				}
				cs = append(cs, synthCase{name: fmt.Sprintf("γ=%d %s %s", gamma, m, s.name), v: 5, o: o, proxy: true})
			}
		}
	}
	base := Options{MaxTokens: 4, TopK: 2, Fusion: fusion.Mean, Sample: sample.Params{Temperature: 1}}
	with := func(f func(*Options)) Options { o := base; f(&o); return o }
	cs = append(cs,
		synthCase{name: "γ=2 horizon 4 no stand-in", v: 4, o: with(func(o *Options) { o.Gamma = 2 })},
		synthCase{name: "γ=4 horizon 4 stand-in", v: 4, o: with(func(o *Options) { o.Gamma = 4 }), proxy: true},
		synthCase{name: "γ=2 schedule first:2", v: 4, o: with(func(o *Options) { o.Gamma = 2; o.Schedule = first2 }), proxy: true},
		synthCase{name: "γ=2 schedule pkt:2,1,0", v: 4, o: with(func(o *Options) { o.Gamma = 2; o.Schedule = pkt }), proxy: true},
		synthCase{name: "γ=1 per-token fall-back", v: 4, o: with(func(o *Options) { o.Gamma = 1 }), proxy: true, slowScan: true},
		synthCase{name: "γ=2 guard stop", v: 4, o: with(func(o *Options) { o.Gamma = 2 }), proxy: true, leak: true},
		synthCase{name: "γ=4 guard stop mid-block", v: 4, o: with(func(o *Options) { o.Gamma = 4 }), proxy: true, leak: true},
		synthCase{name: "γ=2 guard stop top-p", v: 4, o: with(func(o *Options) { o.Gamma = 2; o.Sample.TopP = 0.7 }), proxy: true, leak: true},
		synthCase{name: "γ=2 horizon 3 vocabulary 6 max", v: 6, o: with(func(o *Options) { o.Gamma = 2; o.MaxTokens = 3; o.Fusion = fusion.Max; o.TopK = 3 }), proxy: true},
	)
	return cs
}

// TestSpeculativeExactByEnumeration computes the probability of every
// output under speculative fusion by walking all of its accept/reject
// branches, and compares it with per-token fusion's, computed from the
// definition: they agree within 1e-12 for every γ, fusion rule, sampling
// setting, schedule, the per-token fall-back and a guard stop inside a
// block. Per-token fusion as the fuser runs it is checked against the same
// definition.
func TestSpeculativeExactByEnumeration(t *testing.T) {
	for _, c := range synthCases(t) {
		t.Run(c.name, func(t *testing.T) {
			want := perTokenReference(t, c)
			spec, paths := enumerate(t, c, true)
			compareDists(t, "speculative", spec, want)
			perTok, _ := enumerate(t, c, false)
			compareDists(t, "per-token", perTok, want)
			t.Logf("%d outputs, %d speculative paths", len(want), paths)
		})
	}
}

// TestSpeculativeCasesExercise checks that the cases above reach what they
// claim to: blocks with rejections, the per-token fall-back, a guard stop
// inside a block, and a schedule that ends consultation, so that the
// enumeration test cannot pass by never leaving the easy path.
func TestSpeculativeCasesExercise(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range synthCases(t) {
		g := c.guard(t)
		for seed := range uint64(30) {
			_, cloud, f := runSynth(t, c, g, seeded{sample.New(sample.Params{Temperature: 1, Seed: seed})}, true)
			if f.stats.Drafted > f.stats.Accepted {
				seen["rejection"] = true
			}
			if f.stats.PerTokenSteps > 0 {
				seen["per-token fall-back"] = true
			}
			if f.stoppedAt > 0 && f.stats.Blocks > 0 {
				seen["guard stop after a block"] = true
			}
			if f.stoppedAt >= 0 && f.stoppedAt%max(c.o.Gamma, 1) != 0 {
				seen["guard stop inside a block"] = true
			}
			if c.o.Schedule.String() == "first:2" && len(f.generated) > 2 {
				for _, r := range cloud.requests {
					if len(r) > len(cloudPromptIDs)+2 {
						t.Fatalf("%s: the cloud saw %d generated tokens, the schedule allows 2", c.name, len(r)-len(cloudPromptIDs))
					}
				}
				seen["schedule end"] = true
			}
			if c.leak {
				for _, r := range cloud.requests {
					if slices.Contains(r, synthSecret) {
						t.Fatalf("%s: a request carried the token that spells the vault's name", c.name)
					}
				}
			}
		}
	}
	for _, want := range []string{"rejection", "per-token fall-back", "guard stop after a block", "guard stop inside a block", "schedule end"} {
		if !seen[want] {
			t.Errorf("no case reached: %s", want)
		}
	}
}

// TestSpeculativeSampledLargeVocabulary draws many outputs of speculative
// and per-token fusion over a 64-token vocabulary (too large to enumerate)
// and compares the frequencies of each output's first two tokens.
func TestSpeculativeSampledLargeVocabulary(t *testing.T) {
	c := synthCase{v: 64, o: Options{MaxTokens: 2, TopK: 8, Gamma: 3, Fusion: fusion.Mean, Sample: sample.Params{Temperature: 0.9, TopP: 0.95}}, proxy: true}
	g := c.guard(t)
	want := perTokenReference(t, c)
	const n = 30000
	got := map[string]float64{}
	for seed := range uint64(n) {
		out, _, _ := runSynth(t, c, g, seeded{sample.New(sample.Params{Temperature: 1, Seed: seed})}, true)
		got[out] += 1.0 / n
	}
	// Total variation distance between the empirical and exact
	// distributions; with ~4,000 outcomes and 30,000 draws its expectation
	// is about 0.25, and a wrong acceptance rule moves it well above.
	var tv float64
	for k := range mergeKeys(got, want) {
		tv += math.Abs(got[k]-want[k]) / 2
	}
	// A reference: the same statistic for draws from the exact
	// distribution itself.
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	r := rand.New(rand.NewPCG(1, 2))
	ref := map[string]float64{}
	for range n {
		u := r.Float64()
		for _, k := range keys {
			if u -= want[k]; u < 0 {
				ref[k] += 1.0 / n
				break
			}
		}
	}
	var tvRef float64
	for k := range mergeKeys(ref, want) {
		tvRef += math.Abs(ref[k]-want[k]) / 2
	}
	t.Logf("total variation: speculative %.4f, exact sampler %.4f (%d outputs)", tv, tvRef, len(want))
	if tv > tvRef*1.15+0.01 {
		t.Errorf("speculative fusion's outputs are %.4f from per-token fusion's distribution; draws from that distribution itself are %.4f from it", tv, tvRef)
	}
}
