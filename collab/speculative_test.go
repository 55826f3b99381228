//go:build cgo

package collab_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// smallRunner serves cloudPath on loopback and returns a runner with a
// short context (fast prompts), for tests that need many runs.
func smallRunner(t *testing.T, cloudPath string) (*collab.Runner, collab.Task) {
	t.Helper()
	slmPath := enginetest.SharedModel(t)
	slm := openShared(t, slmPath, llamacpp.Options{ContextSize: 512, Threads: 2, Precise: true, Parallel: 2})
	cm := openShared(t, cloudPath, llamacpp.Options{ContextSize: 512, Threads: 2, Precise: true})
	srv := httptest.NewServer((&cloud.Server{Model: cm, Name: "cloud"}).Handler())
	t.Cleanup(srv.Close)
	c := dialEgress(t, srv.URL+"/v1", slm.Detokenize, nil, nil)
	v := &privacy.Vault{
		Name:         privacy.NewPrivate("Ada Quill"),
		PrivateFacts: []privacy.Private{privacy.NewPrivate("keeps bees on the roof of the old mill")},
		History:      []privacy.HistoryItem{{Title: privacy.NewPrivate("A note"), Text: privacy.NewPrivate("Echoes of vectors unfold.")}},
		Profile:      privacy.NewPrivate("Name: Ada Quill"),
	}
	task := collab.TaskFromVault(v, privacy.SplitTask("Write a poem: about the sea"))
	return &collab.Runner{SLM: collab.Engine(slm), Cloud: c, Guard: privacy.NewGuard(v)}, task
}

func TestSpeculativeGreedyEqualsPerToken(t *testing.T) {
	slmPath := enginetest.SharedModel(t)
	tiny, _ := enginetest.ShapeByName("tiny")
	random := writeShared(t, "random-2-0.gguf", enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: slmPath, Seed: 2})
	// A sharp random cloud disagrees with the local model most of the
	// time: blocks are short and the per-token fall-back takes over.
	sharp := writeShared(t, "random-7-1.gguf", enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: slmPath, Seed: 7, Scale: 1})
	for _, tc := range []struct{ name, cloud string }{{"same weights", slmPath}, {"random cloud", random}, {"sharp random cloud", sharp}} {
		t.Run(tc.name, func(t *testing.T) {
			r, task := smallRunner(t, tc.cloud)
			per, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.Logits, MaxTokens: 40})
			if err != nil {
				t.Fatal(err)
			}
			calls := map[bool]int{}
			for _, noProxy := range []bool{true, false} {
				spec, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.Speculative, MaxTokens: 40, NoProxy: noProxy})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(per.Tokens, spec.Tokens); diff != "" {
					t.Errorf("greedy speculative (no stand-in: %v) differs from per-token (-per-token +speculative):\n%s", noProxy, diff)
				}
				t.Logf("%d tokens: per-token %d cloud calls, speculative (stand-in: %v) %d (acceptance %.2f, mean γ %.1f, %d per-token steps)",
					len(per.Tokens), per.CloudCalls, !noProxy, spec.CloudCalls, spec.Spec.AcceptanceRate(), spec.Spec.MeanGamma(), spec.Spec.PerTokenSteps)
				calls[noProxy] = spec.CloudCalls
			}
			if tc.name == "same weights" {
				if calls[true]*2 > per.CloudCalls {
					t.Errorf("speculative made %d cloud calls for %d per-token ones", calls[true], per.CloudCalls)
				}
				// The local stand-in is the cloud itself here: drafts are
				// accepted whole, so blocks are as long as γ allows.
				if calls[false] >= calls[true] {
					t.Errorf("with the stand-in %d cloud calls, without %d", calls[false], calls[true])
				}
			}
		})
	}
}

// TestSpeculativeDistribution compares the empirical distribution of short
// sampled continuations of speculative fusion with per-token fusion.
func TestSpeculativeDistribution(t *testing.T) {
	if testing.Short() {
		t.Skip("thousands of draws")
	}
	slmPath := enginetest.SharedModel(t)
	tiny, _ := enginetest.ShapeByName("tiny")
	// A flat random cloud (long blocks, many rejections with residual
	// draws) and a sharp one (short blocks and per-token fall-back steps).
	for _, tc := range []struct {
		name  string
		scale float32
	}{{"flat cloud", 0}, {"sharp cloud", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			cloudPath := writeShared(t, fmt.Sprintf("random-2-%g.gguf", tc.scale), enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: slmPath, Seed: 2, Scale: tc.scale})
			testSpeculativeDistribution(t, cloudPath)
		})
	}
}

func testSpeculativeDistribution(t *testing.T, cloudPath string) {
	r, task := smallRunner(t, cloudPath)
	// 600 draws a side find a difference in a few outcome probabilities of
	// 0.05; the long suite draws 1500.
	n := 600
	if longSuite {
		n = 1500
	}
	const length = 2
	fallback := 0
	draw := func(st collab.Strategy, seed0 uint64) map[[length]int32]int {
		counts := map[[length]int32]int{}
		for i := range uint64(n) {
			res, err := r.Run(t.Context(), task, collab.Options{Strategy: st, MaxTokens: length, Gamma: 2,
				Sample: sample.Params{Temperature: 1, Seed: seed0 + i}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Spec != nil {
				fallback += res.Spec.PerTokenSteps
			}
			var k [length]int32
			for j := range k {
				k[j] = -1
			}
			copy(k[:], res.Tokens)
			counts[k]++
		}
		return counts
	}
	a := draw(collab.Logits, 1)
	b := draw(collab.Speculative, 1_000_000)
	// Two-sample chi-square over outcomes with enough mass; the rest pooled.
	var stat float64
	dof := -1
	var poolA, poolB int
	keys := map[[length]int32]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	for k := range keys {
		x, y := a[k], b[k]
		if x+y < 10 {
			poolA += x
			poolB += y
			continue
		}
		stat += float64((x-y)*(x-y)) / float64(x+y)
		dof++
	}
	if poolA+poolB >= 10 {
		stat += float64((poolA-poolB)*(poolA-poolB)) / float64(poolA+poolB)
		dof++
	}
	// Total variation distance, for the log.
	var tv float64
	for k := range keys {
		tv += math.Abs(float64(a[k]-b[k])) / float64(n)
	}
	t.Logf("%d outcomes, chi-square %.1f with %d dof, total variation %.3f; %d per-token fall-back steps", len(keys), stat, dof, tv/2, fallback)
	if limit := float64(dof) + 3.3*math.Sqrt(2*float64(dof)) + 10; stat > limit {
		t.Errorf("chi-square %.1f with %d dof exceeds %.1f: the distributions differ", stat, dof, limit)
	}
}

// TestTopKAndMinPShapeFusion checks that --top-k and --min-p reach the
// fused distribution of logits and speculative: top-k 1 and min-p 1 keep
// only the most likely fused token, so a sampled run gives the greedy
// run's tokens, while the same seed without them does not.
func TestTopKAndMinPShapeFusion(t *testing.T) {
	slmPath := enginetest.SharedModel(t)
	tiny, _ := enginetest.ShapeByName("tiny")
	random := writeShared(t, "random-2-0.gguf", enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: slmPath, Seed: 2})
	r, task := smallRunner(t, random)
	for _, st := range []collab.Strategy{collab.Logits, collab.Speculative} {
		run := func(p sample.Params) []int32 {
			t.Helper()
			res, err := r.Run(t.Context(), task, collab.Options{Strategy: st, MaxTokens: 32, IgnoreEOG: true, Sample: p})
			if err != nil {
				t.Fatal(err)
			}
			return res.Tokens
		}
		greedy := run(sample.Params{})
		free := run(sample.Params{Temperature: 1.5, Seed: 9})
		if cmp.Equal(free, greedy) {
			t.Fatalf("%s: sampling at temperature 1.5 gave the greedy tokens: the check below would prove nothing", st)
		}
		if got := run(sample.Params{Temperature: 1.5, TopK: 1, Seed: 9}); !cmp.Equal(got, greedy) {
			t.Errorf("%s: top-k 1 differs from greedy (-greedy +top-k 1):\n%s", st, cmp.Diff(greedy, got))
		}
		if got := run(sample.Params{Temperature: 1.5, MinP: 1, Seed: 9}); !cmp.Equal(got, greedy) {
			t.Errorf("%s: min-p 1 differs from greedy (-greedy +min-p 1):\n%s", st, cmp.Diff(greedy, got))
		}
	}
}

// TestSpeculativeAgainstCloudWithoutSequenceScoring points speculative
// fusion at a cloud of a kind that cannot score a sequence in one request
// (llama.cpp's server, here a stand-in answering /completion). Without
// PerTokenFallback the run is refused before any request, as unsupported,
// naming the capability and the option; with it, per-token fusion runs
// and says so, with the tokens per-token fusion gives.
func TestSpeculativeAgainstCloudWithoutSequenceScoring(t *testing.T) {
	slmPath := enginetest.SharedModel(t)
	slm := openShared(t, slmPath, llamacpp.Options{ContextSize: 512, Threads: 2, Precise: true, Parallel: 2})
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path != "/completion" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"content":"x","tokens":[100],"stop":true,"completion_probabilities":[{"id":100,"token":"x","logprob":-0.5,"top_logprobs":[{"id":100,"token":"x","logprob":-0.5},{"id":101,"token":"y","logprob":-1.5}]}]}`)
	}))
	t.Cleanup(srv.Close)
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Detokenize: slm.Detokenize},
		openaiapi.Config{BaseURL: srv.URL + "/v1", Kind: openaiapi.KindLlamaCpp, Model: "cloud"})
	if err != nil {
		t.Fatal(err)
	}
	v := &privacy.Vault{Name: privacy.NewPrivate("Ada Quill"), Profile: privacy.NewPrivate("Name: Ada Quill")}
	r := &collab.Runner{SLM: collab.Engine(slm), Cloud: collab.NewCloud(c), Guard: privacy.NewGuard(v)}
	task := collab.TaskFromVault(v, privacy.SplitTask("Write a poem: about the sea"))

	_, err = r.Run(t.Context(), task, collab.Options{Strategy: collab.Speculative, MaxTokens: 12, IgnoreEOG: true})
	if ue, ok := errors.AsType[*openaiapi.UnsupportedError](err); !ok || !errors.Is(err, openaiapi.ErrUnsupported) ||
		ue.Capability != openaiapi.CapSequenceTopK || !strings.Contains(err.Error(), string(openaiapi.CapSequenceTopK)) ||
		!strings.Contains(err.Error(), "--per-token-fallback") {
		t.Fatalf("speculative without PerTokenFallback: err = %v, want ErrUnsupported naming %q and --per-token-fallback", err, openaiapi.CapSequenceTopK)
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("the refused run sent %d requests", n)
	}

	per, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.Logits, MaxTokens: 12, IgnoreEOG: true})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := r.Run(t.Context(), task, collab.Options{Strategy: collab.Speculative, MaxTokens: 12, IgnoreEOG: true, PerTokenFallback: true})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Fallback != collab.Logits || spec.Label() != "speculative→logits" || spec.Spec != nil {
		t.Errorf("fallback %q, label %q, spec stats %v: want per-token fusion, labelled speculative→logits", spec.Fallback, spec.Label(), spec.Spec)
	}
	if !cmp.Equal(per.Tokens, spec.Tokens) || spec.CloudCalls != per.CloudCalls {
		t.Errorf("speculative→logits gave %v in %d calls, logits %v in %d", spec.Tokens, spec.CloudCalls, per.Tokens, per.CloudCalls)
	}
}
