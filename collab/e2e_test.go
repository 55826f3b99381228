//go:build cgo

package collab_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// recorder keeps every request body the cloud server receives.
type recorder struct {
	mu     sync.Mutex
	bodies []recorded
}

type recorded struct {
	strategy string
	body     []byte
}

func (rc *recorder) wrap(h http.Handler, strategy *string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, recorded{*strategy, b})
		rc.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		h.ServeHTTP(w, r)
	})
}

type env struct {
	slm    *llamacpp.Model
	cloud  *collab.Cloud
	rec    *recorder
	strat  string
	log    *audit.Log
	guardp **privacy.Guard
}

func setup(t testing.TB, cloudArch string) *env {
	t.Helper()
	slmPath := enginetest.SharedModel(t)
	slm := openShared(t, slmPath, llamacpp.Options{ContextSize: 8192, Threads: 2, Parallel: 2})
	cloudPath := slmPath
	if cloudArch != "" {
		tiny, _ := enginetest.ShapeByName("tiny")
		cloudPath = writeShared(t, "cloud-"+cloudArch+".gguf", enginetest.Options{Arch: cloudArch, Shape: tiny, Type: "f32", TokenizerFrom: slmPath, Seed: 11})
	}
	cm := openShared(t, cloudPath, llamacpp.Options{ContextSize: 8192, Threads: 2, Parallel: 2, Precise: true})
	e := &env{slm: slm, rec: &recorder{}}
	srv := httptest.NewServer(e.rec.wrap((&cloud.Server{Model: cm, Name: "cloud"}).Handler(), &e.strat))
	t.Cleanup(srv.Close)
	var err error
	e.log, err = audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.log.Close() })
	var g *privacy.Guard
	e.guardp = &g
	c, _, err := collab.DialCloud(collab.CloudConfig{Target: srv.URL + "/v1", Model: "cloud", Audit: e.log, Detokenize: slm.Detokenize, AllowPrivateEgress: true})
	if err != nil {
		t.Fatal(err)
	}
	e.cloud = c
	return e
}

func devRecords(t testing.TB) []privacy.Record {
	t.Helper()
	p := enginetest.SharedPath("data", "cogenesis", "context_dev.json")
	recs, err := privacy.LoadContextFile(p)
	if err != nil {
		deptest.Missing(t, "dev data not available: %v", err)
	}
	return recs
}

var e2eRecords = flag.Int("e2e-records", 0, "dev records TestAllStrategiesAllRecords runs, spread evenly over the file (0: 8, or all 150 in the long suite, -tags long)")

// recordsToRun is how many dev records the end-to-end sweep runs: a spread
// sample of 8 by default, all of them in the long suite (make test-long).
func recordsToRun() int {
	switch {
	case *e2eRecords > 0:
		return *e2eRecords
	case longSuite:
		return 0
	}
	return 8
}

// spread returns n of recs spread evenly (all when n <= 0 or n >= len).
func spread(recs []privacy.Record, n int) []privacy.Record {
	if n <= 0 || n >= len(recs) {
		return recs
	}
	out := make([]privacy.Record, n)
	for i := range out {
		out[i] = recs[i*len(recs)/n]
	}
	return out
}

// TestAllStrategiesAllRecords runs every strategy on dev records against a
// recording cloud server, and checks that no request of any strategy but
// llm-context carries a private entity or fact shingle. It runs 8 records
// spread over the file; all 150 (about ten minutes on two cores) run in
// the long suite:
//
//	go test -tags long ./collab -run AllStrategies
func TestAllStrategiesAllRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a hundred generations")
	}
	recs := spread(devRecords(t), recordsToRun())
	e := setup(t, "qwen2")
	leaks := map[collab.Strategy]int{}
	requests := map[collab.Strategy]int{}
	for i, rec := range recs {
		g := privacy.NewGuard(rec.Vault)
		r := &collab.Runner{SLM: e.slm, Cloud: e.cloud, Guard: g, AllowPrivateEgress: true}
		for _, st := range collab.Strategies {
			e.rec.mu.Lock()
			start := len(e.rec.bodies)
			e.strat = string(st)
			e.rec.mu.Unlock()
			res, err := r.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{
				Strategy: st, MaxTokens: 6, CloudMaxTokens: 6, Schedule: collab.ScheduleAll,
				Sample: sample.Params{Temperature: 0.8, Seed: uint64(i)},
			})
			if err != nil {
				t.Fatalf("record %d strategy %s: %v", i, st, err)
			}
			if st != collab.SLM && res.CloudCalls == 0 && st != collab.Logits {
				t.Errorf("record %d strategy %s: no cloud call", i, st)
			}
			e.rec.mu.Lock()
			for _, b := range e.rec.bodies[start:] {
				requests[st]++
				if rules, err := g.CheckEgress(b.body, e.slm.Detokenize); err != nil {
					leaks[st]++
					if st != collab.LLMContext {
						t.Logf("record %d strategy %s: request holds private content (rules %v)", i, st, rules)
					}
				}
			}
			e.rec.mu.Unlock()
		}
	}
	for _, st := range collab.Strategies {
		t.Logf("%-12s %5d requests, %4d with private content", st, requests[st], leaks[st])
		if st != collab.LLMContext && leaks[st] != 0 {
			t.Errorf("strategy %s leaked in %d requests", st, leaks[st])
		}
	}
	if leaks[collab.LLMContext] == 0 {
		t.Errorf("llm-context sent no private content: the recording check is blind")
	}
	if requests[collab.SLM] != 0 {
		t.Errorf("slm made %d cloud requests", requests[collab.SLM])
	}
	if n, err := audit.Verify(mustOpen(t, e.log.Path())); err != nil || n == 0 {
		t.Errorf("audit log: %d records, %v", n, err)
	}
}

func mustOpen(t *testing.T, p string) io.Reader {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

// TestNoWithContextPromptInCloudRequests fails if any cloud request of
// logits or sketch carries the with-context prompt: the paper code's bug
// (it sent input_ids, the with-context tokens, where input_ids_wo was meant).
func TestNoWithContextPromptInCloudRequests(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "")
	for _, rec := range recs[:3] {
		task := collab.TaskFromRecord(rec)
		r := &collab.Runner{SLM: e.slm, Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault)}
		for _, st := range []collab.Strategy{collab.Logits, collab.Sketch, collab.SketchFull} {
			e.rec.mu.Lock()
			start := len(e.rec.bodies)
			e.rec.mu.Unlock()
			if _, err := r.Run(t.Context(), task, collab.Options{Strategy: st, MaxTokens: 5, CloudMaxTokens: 5}); err != nil {
				t.Fatal(err)
			}
			// The with-context prompt as the local model sees it, and its tokens.
			history := rec.Vault.HistoryText().UnsafeText()
			histToks, err := e.slm.Tokenize(history[:200], false, false)
			if err != nil {
				t.Fatal(err)
			}
			e.rec.mu.Lock()
			for _, b := range e.rec.bodies[start:] {
				body := string(b.body)
				if strings.Contains(body, history[:60]) || strings.Contains(body, "## User Writing History") {
					t.Errorf("%s: a cloud request holds the with-context prompt text", st)
				}
				var req struct {
					Prompt json.RawMessage `json:"prompt"`
				}
				if json.Unmarshal(b.body, &req) == nil && len(req.Prompt) > 0 && req.Prompt[0] == '[' {
					var ids []int32
					if json.Unmarshal(req.Prompt, &ids) == nil && containsRun(ids, histToks[5:25]) {
						t.Errorf("%s: a cloud request holds the with-context token ids", st)
					}
				}
			}
			e.rec.mu.Unlock()
		}
	}
}

func containsRun(hay, needle []int32) bool {
	for i := 0; i+len(needle) <= len(hay); i++ {
		match := true
		for j := range needle {
			if hay[i+j] != needle[j] {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func TestLLMContextRefusesWithoutOptIn(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "")
	r := &collab.Runner{SLM: e.slm, Cloud: e.cloud, Guard: privacy.NewGuard(recs[0].Vault)}
	_, err := r.Run(t.Context(), collab.TaskFromRecord(recs[0]), collab.Options{Strategy: collab.LLMContext, MaxTokens: 4})
	if !errors.Is(err, collab.ErrPrivateEgressNotAllowed) {
		t.Errorf("err = %v, want ErrPrivateEgressNotAllowed", err)
	}
	if len(e.rec.bodies) != 0 {
		t.Errorf("%d requests sent", len(e.rec.bodies))
	}
}

func TestLeakAwareStop(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "")
	// A vault whose private fact is what the model is about to write:
	// after the first tokens the prefix holds it, and the cloud must not be
	// consulted again.
	rec := recs[0]
	r0 := &collab.Runner{SLM: e.slm, Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault)}
	base, err := r0.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{Strategy: collab.Logits, MaxTokens: 48, Fusion: fusion.Mean, IgnoreEOG: true, Sample: sample.Params{Temperature: 1, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	words := strings.Fields(base.Text)
	if len(words) < 8 {
		t.Fatalf("too little text to plant a fact: %q", base.Text)
	}
	// Words 1-6 (the first may be a partial piece): enough content words
	// for a fact shingle, written early enough to stop the cloud.
	v := *rec.Vault
	v.PrivateFacts = append(slices.Clone(v.PrivateFacts), privacy.NewPrivate(strings.Join(words[1:7], " ")))
	r := &collab.Runner{SLM: e.slm, Cloud: e.cloud, Guard: privacy.NewGuard(&v)}
	res, err := r.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{Strategy: collab.Logits, MaxTokens: 48, Fusion: fusion.Mean, Trace: true, IgnoreEOG: true, Sample: sample.Params{Temperature: 1, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Trace.CloudStopped < 0 {
		t.Fatalf("the cloud was never stopped (text %q)", res.Text)
	}
	for _, s := range res.Trace.Steps[res.Trace.CloudStopped+1:] {
		if s.Consulted {
			t.Errorf("step %d consulted the cloud after the stop", s.Index)
		}
	}
	if res.CloudCalls >= base.CloudCalls {
		t.Errorf("%d cloud calls with the stop, %d without", res.CloudCalls, base.CloudCalls)
	}
}

// TestOnTokenStreamsResultText runs every strategy greedily with a
// streaming callback and checks that the pieces join to Result.Text and
// carry weights in [0, 1].
func TestOnTokenStreamsResultText(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "")
	rec := recs[1]
	r := &collab.Runner{SLM: e.slm, Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault), AllowPrivateEgress: true}
	for _, st := range collab.Strategies {
		t.Run(string(st), func(t *testing.T) {
			var pieces []collab.Piece
			res, err := r.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{
				Strategy: st, MaxTokens: 24, CloudMaxTokens: 8, IgnoreEOG: true,
				OnToken: func(p collab.Piece) { pieces = append(pieces, p) },
			})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, p := range pieces {
				b.WriteString(p.Text)
				if p.W < 0 || p.W > 1 {
					t.Errorf("piece %q: weight %v outside [0, 1]", p.Text, p.W)
				}
			}
			if b.String() != res.Text {
				t.Errorf("pieces join to %q, Result.Text is %q", b.String(), res.Text)
			}
			if res.Text != "" && len(pieces) == 0 {
				t.Errorf("no pieces for %q", res.Text)
			}
			switch st {
			case collab.SLM, collab.Sketch, collab.SketchFull:
				for _, p := range pieces {
					if p.W != 1 || p.Consulted {
						t.Errorf("%s piece %q: W %v consulted %v, want 1 false", st, p.Text, p.W, p.Consulted)
					}
				}
			case collab.Logits, collab.Speculative:
				if len(pieces) > 0 && !pieces[0].Consulted {
					t.Errorf("%s: first piece did not consult the cloud", st)
				}
			}
		})
	}
}
