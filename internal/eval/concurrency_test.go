//go:build cgo

package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/localcloud"
)

var benchSLM = flag.String("eval.bench-slm", "", "a further small model for BenchmarkGenerateConcurrency (a Q8_0 0.5B-shape one: cogen testmodel --arch qwen2 --shape 0.5b --type q8_0)")

// shortData is four context-aware records with short contexts: prompts
// of a few hundred tokens, so that generation, not the prompt, dominates.
const shortData = "testdata/short_context.json"

// tinyModel writes a random-weight model of the tiny shape with the
// shared tiny model's tokenizer and chat template.
func tinyModel(t testing.TB, typ string) string {
	t.Helper()
	shape, err := enginetest.ShapeByName("tiny")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny-"+typ+".gguf")
	err = enginetest.Write(path, enginetest.Options{Arch: "llama", Shape: shape, Type: typ, TokenizerFrom: enginetest.SharedModel(t), Seed: 5, Scale: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// concConfig writes and loads a config of the short records with slm as
// the small model and, when cloud is set, the local cloud cloud (also the
// judge, which judges each output once).
type concConfig struct {
	slm, cloud  string
	cloudURL    string // a cloud server's base URL, instead of cloud
	strategies  []string
	seeds       string
	maxTokens   int
	threads     int
	concurrency int
}

func (c concConfig) load(t testing.TB, out string) *Config {
	t.Helper()
	data, err := filepath.Abs(shortData)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "out = %q\nseeds = %s\nmax_tokens = %d\ncloud_max_tokens = 16\nthreads = %d\nconcurrency = %d\n\n",
		out, c.seeds, c.maxTokens, c.threads, c.concurrency)
	fmt.Fprintf(&b, "[sampling]\ntemperature = 0.7\ntop_p = 0.9\n\n[[datasets]]\nname = \"short\"\npath = %q\n\n", data)
	for _, s := range c.strategies {
		fmt.Fprintf(&b, "[[strategies]]\nstrategy = %q\n\n", s)
	}
	fmt.Fprintf(&b, "[[models]]\nname = \"m\"\nslm = %q\n\n", c.slm)
	judge := c.cloud
	switch {
	case c.cloudURL != "":
		fmt.Fprintf(&b, "[cloud]\ntarget = %q\nkind = \"vllm\"\nmodel = \"tiny\"\n\n", c.cloudURL)
	case c.cloud != "":
		fmt.Fprintf(&b, "[cloud]\ntarget = \"local:%s\"\n\n", c.cloud)
	}
	if judge == "" {
		judge = c.slm // never started: generation only
	}
	fmt.Fprintf(&b, "[judge]\ntarget = \"local:%s\"\nprompts = [\"ovl-wo\"]\npairwise = \"off\"\ngrammar = true\nmax_tokens = 24\nallow_private = true\n", judge)
	path := filepath.Join(t.TempDir(), "eval.toml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// storedGens returns the generations stored in out's job store, by key,
// without their seconds (which differ from run to run).
func storedGens(t *testing.T, out string) map[string]genResult {
	t.Helper()
	st, err := openStore(t.Context(), filepath.Join(out, "eval.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.db.QueryContext(t.Context(), `SELECT key, result FROM gen`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]genResult{}
	for rows.Next() {
		var key, raw string
		var g genResult
		if err := rows.Scan(&key, &raw); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(raw), &g); err != nil {
			t.Fatal(err)
		}
		g.Seconds = 0
		got[key] = g
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestConcurrencySameOutputs runs an evaluation with concurrency 1 and 4
// and compares every stored generation (text, token and cloud counts,
// trace), bit for bit but the seconds. On a Q8_0 model, whose logits do
// not change in a batch, four generations run at once (the estimate says
// so); on the shared F32 model, whose logits do, they run one at a time
// and the progress output says why.
func TestConcurrencySameOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("real-model evaluation")
	}
	q8 := tinyModel(t, "q8_0")
	shared := enginetest.SharedModel(t)
	tests := []struct {
		name       string
		cfg        concConfig
		oneAtATime bool
	}{
		{"q8_0", concConfig{slm: q8, cloud: q8, strategies: []string{"slm", "sketch", "logits", "speculative"}, seeds: "[1, 2]", maxTokens: 16, threads: 1}, false},
		{"shared-f32", concConfig{slm: shared, cloud: shared, strategies: []string{"slm", "logits"}, seeds: "[1, 2]", maxTokens: 16, threads: 1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			results := map[int]map[string]genResult{}
			for _, n := range []int{1, 4} {
				c := tt.cfg
				c.concurrency = n
				out := filepath.Join(t.TempDir(), "out")
				var progress bytes.Buffer
				if _, err := Run(t.Context(), c.load(t, out), Options{Progress: &progress, Logger: slog.New(slog.DiscardHandler)}); err != nil {
					t.Fatalf("concurrency %d: %v\n%s", n, err, progress.String())
				}
				results[n] = storedGens(t, out)
				if n == 1 {
					continue
				}
				note := strings.Contains(progress.String(), "its outputs run one at a time, so that they equal those of concurrency 1")
				batched := strings.Contains(progress.String(), ", 4 at once)")
				if note != tt.oneAtATime || batched == tt.oneAtATime {
					t.Errorf("concurrency 4: one-at-a-time note %v, estimate at 4 at once %v; want %v, %v\n%s", note, batched, tt.oneAtATime, !tt.oneAtATime, progress.String())
				}
			}
			if want := 4 * 2 * len(tt.cfg.strategies); len(results[1]) != want {
				t.Fatalf("%d generations stored, want %d", len(results[1]), want)
			}
			if diff := cmp.Diff(results[1], results[4]); diff != "" {
				t.Errorf("generations with concurrency 4 differ from concurrency 1 (-1 +4):\n%s", diff)
			}
			if !tt.oneAtATime {
				resumeSameOutputs(t, tt.cfg, results[1])
			}
		})
	}
}

// resumeSameOutputs interrupts a generation stage with concurrency 4
// after its fifth output, then runs the evaluation to the end: the
// outputs are want, and no job finished before the interruption runs
// again.
func resumeSameOutputs(t *testing.T, c concConfig, want map[string]genResult) {
	t.Helper()
	c.concurrency = 4
	out := filepath.Join(t.TempDir(), "out")
	cfg := c.load(t, out)
	r, p, done := planOnly(t, cfg)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	g := r.newGenModels()
	jobs := p.pendingGens()
	width, err := g.openModel(ctx, jobs)
	if err != nil {
		t.Fatal(err)
	}
	var finished atomic.Int32
	err = r.generateJobs(ctx, p, g, byRecord(jobs), width, func(*genJob) {
		if finished.Add(1) == 5 {
			cancel()
		}
	})
	g.close()
	done()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted stage: err = %v, want context.Canceled", err)
	}
	before := storedGens(t, out)
	if len(before) < 5 || len(before) == len(want) {
		t.Fatalf("%d of %d generations stored when interrupted after 5", len(before), len(want))
	}
	for k, g := range before {
		if diff := cmp.Diff(want[k], g); diff != "" {
			t.Errorf("generation %s stored when interrupted differs (-want +got):\n%s", k[:12], diff)
		}
	}
	journal, err := ReadJournal(t.Context(), filepath.Join(out, "eval.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Run(t.Context(), c.load(t, out), Options{Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, storedGens(t, out)); diff != "" {
		t.Errorf("resumed generations differ from concurrency 1 (-want +got):\n%s", diff)
	}
	after, err := ReadJournal(t.Context(), filepath.Join(out, "eval.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range after[len(journal):] {
		if _, ok := before[e.Key]; ok && e.Phase == "gen" {
			t.Errorf("resumed run generated %s again", e.Key[:12])
		}
	}
}

// TestBatchInvariant checks the probe against the engine's measured
// behaviour (TestBatchComposition in internal/engine/llamacpp): logits
// change in a batch with F32 and F16 weights, not with Q8_0 and Q4_0.
func TestBatchInvariant(t *testing.T) {
	tests := []struct {
		name string
		path string
		want bool
	}{
		{"shared-f32", enginetest.SharedModel(t), false},
		{"f16", tinyModel(t, "f16"), false},
		{"q8_0", tinyModel(t, "q8_0"), true},
		{"q4_0", tinyModel(t, "q4_0"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := llamacpp.Open(tt.path, llamacpp.Options{ContextSize: 256, Threads: 1, Parallel: 2, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			got, err := batchInvariant(t.Context(), m)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("batchInvariant = %v, want %v", got, tt.want)
			}
		})
	}
}

// BenchmarkGenerateConcurrency measures the generation stage (the short
// records, fresh output directories) with concurrency 1 and 4, in outputs
// and generated tokens per second:
//
//   - slm on the shared tiny model, which is F32: eval runs it one at a
//     time at any concurrency (the probe and its open are the cost);
//   - slm on a Q8_0 model of its shape and tokenizer, batched;
//   - logits on that model against a cloud server on loopback that waits
//     20 ms before each answer, standing in for a remote cloud: the
//     generations run at once overlap their round trips;
//   - with -eval.bench-slm=FILE, slm on that model, with fewer, shorter
//     outputs.
//
// For example (a 0.5B-shape Q8_0 model from cogen testmodel):
//
//	go test ./internal/eval -run '^$' -bench GenerateConcurrency -benchtime 1x -count 3 -eval.bench-slm /tmp/q05.gguf
func BenchmarkGenerateConcurrency(b *testing.B) {
	q8 := tinyModel(b, "q8_0")
	cm, err := llamacpp.Open(q8, llamacpp.Options{ContextSize: 8192, Threads: 1, Parallel: 4, Precise: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cm.Close() })
	srv := httptest.NewServer((&cloud.Server{Model: cm, Name: "tiny", Latency: 20 * time.Millisecond, Created: time.Now()}).Handler())
	b.Cleanup(srv.Close)
	type bench struct {
		name string
		cfg  concConfig
	}
	benches := []bench{
		{"shared-f32/slm", concConfig{slm: enginetest.SharedModel(b), strategies: []string{"slm"}, seeds: "[1, 2, 3, 4]", maxTokens: 64, threads: 1}},
		{"tiny-q8_0/slm", concConfig{slm: q8, strategies: []string{"slm"}, seeds: "[1, 2, 3, 4]", maxTokens: 64, threads: 1}},
		{"tiny-q8_0/logits-20ms-cloud", concConfig{slm: q8, cloudURL: srv.URL + "/v1", strategies: []string{"logits"}, seeds: "[1]", maxTokens: 16, threads: 1}},
	}
	if *benchSLM != "" {
		benches = append(benches, bench{filepath.Base(*benchSLM) + "/slm", concConfig{slm: *benchSLM, strategies: []string{"slm"}, seeds: "[1]", maxTokens: 16, threads: 2}})
	}
	for _, bc := range benches {
		for _, n := range []int{1, 4} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", bc.name, n), func(b *testing.B) {
				c := bc.cfg
				c.concurrency = n
				var outputs, tokens int
				var elapsed time.Duration
				for range b.N {
					b.StopTimer()
					cfg := c.load(b, filepath.Join(b.TempDir(), "out"))
					r, p, done := planOnly(b, cfg)
					b.StartTimer()
					start := time.Now()
					if err := r.generate(b.Context(), p); err != nil {
						b.Fatal(err)
					}
					elapsed += time.Since(start)
					b.StopTimer()
					for _, j := range p.gens {
						outputs++
						tokens += j.result.LocalCompletion
					}
					done()
				}
				b.ReportMetric(float64(outputs)/elapsed.Seconds(), "outputs/s")
				b.ReportMetric(float64(tokens)/elapsed.Seconds(), "tokens/s")
			})
		}
	}
}

// planOnly readies a run of cfg as Run does and plans it; done closes
// what it opened.
func planOnly(tb testing.TB, cfg *Config) (*runner, *plan, func()) {
	tb.Helper()
	ctx := context.Background()
	if err := os.MkdirAll(filepath.Join(cfg.Out, "audit"), 0o700); err != nil {
		tb.Fatal(err)
	}
	st, err := openStore(ctx, filepath.Join(cfg.Out, "eval.db"))
	if err != nil {
		tb.Fatal(err)
	}
	r := &runner{cfg: cfg, st: st, logger: slog.New(slog.DiscardHandler), out: new(bytes.Buffer),
		locals: map[string]*localcloud.Cloud{}, ids: map[string]string{}}
	p, err := r.plan(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	return r, p, func() {
		r.closeLocals()
		st.Close()
	}
}
