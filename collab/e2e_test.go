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
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/openaiapi"
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
	grant  *egress.Grant
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
	e.grant = egress.AllowPrivate("--allow-private-egress")
	e.cloud = dialEgress(t, srv.URL+"/v1", slm.Detokenize, e.log, e.grant)
	return e
}

// dialEgress returns a cloud client for url built as the CLI builds one:
// through the egress (guard, audit log, network), holding grant. A nil log
// is a fresh one in the test's directory.
func dialEgress(t testing.TB, url string, detok func([]int32) string, log *audit.Log, grant *egress.Grant) *collab.Cloud {
	t.Helper()
	if log == nil {
		var err error
		if log, err = audit.Open(filepath.Join(t.TempDir(), "audit.jsonl")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { log.Close() })
	}
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Detokenize: detok, Private: grant},
		openaiapi.Config{BaseURL: url, Kind: openaiapi.KindVLLM, Model: "cloud"})
	if err != nil {
		t.Fatal(err)
	}
	return collab.NewCloud(c)
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

// spread returns the indices of n of recs spread evenly (all when n <= 0
// or n >= len).
func spread(recs []privacy.Record, n int) []int {
	if n <= 0 || n >= len(recs) {
		n = len(recs)
	}
	out := make([]int, n)
	for i := range out {
		out[i] = i * len(recs) / n
	}
	return out
}

// knownGuardMisses are the dev records (by index in context_dev.json)
// whose cloud-bound public instruction the leak oracle finds private text
// in although the guard let it pass. They are the guard's, not the
// strategies' (the instruction leaves under every cloud strategy): reveals
// the guard's rules do not reach (README, "The guard"); the test fails on
// any other record that leaks, and on a listed one that no longer does.
var knownGuardMisses = map[int]string{
	65: `the task says "a collaboration project with the up-and-coming designer"; a private fact says "recently negotiated a collaboration with an up-and-coming designer": three of its five stems, 53% of its weight (a match needs 60%), none of them rare`,
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
	all := devRecords(t)
	e := setup(t, "qwen2")
	leaks := map[collab.Strategy]int{}
	requests := map[collab.Strategy]int{}
	for _, i := range spread(all, recordsToRun()) {
		rec := all[i]
		leaked := false
		g := privacy.NewGuard(rec.Vault)
		r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: g, Private: e.grant}
		oracle := newLeakOracle(rec.Vault)
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
				// The leak count comes from an oracle other than the guard
				// that already checked these requests at the choke point.
				what := oracle.find(requestText(t, b.body, e.slm.Detokenize))
				switch {
				case what == "":
				case st == collab.LLMContext:
					leaks[st]++
				case knownGuardMisses[i] != "":
					leaked = true
				default:
					leaks[st]++
					t.Logf("record %d strategy %s: request holds private content (%s)", i, st, what)
				}
			}
			e.rec.mu.Unlock()
		}
		if why := knownGuardMisses[i]; why != "" {
			if !leaked {
				t.Errorf("record %d is listed as a known guard miss (%s) but no longer leaks: remove it from knownGuardMisses", i, why)
			} else {
				t.Logf("record %d: known guard miss: %s", i, why)
			}
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
// logits, speculative or sketch carries the with-context prompt: the paper
// code's bug (it sent input_ids, the with-context tokens, where
// input_ids_wo was meant).
func TestNoWithContextPromptInCloudRequests(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "")
	for _, rec := range recs[:3] {
		task := collab.TaskFromRecord(rec)
		r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault)}
		for _, st := range []collab.Strategy{collab.Logits, collab.Speculative, collab.Sketch, collab.SketchFull} {
			e.rec.mu.Lock()
			start := len(e.rec.bodies)
			e.rec.mu.Unlock()
			res, err := r.Run(t.Context(), task, collab.Options{Strategy: st, MaxTokens: 5, CloudMaxTokens: 5})
			if err != nil {
				t.Fatal(err)
			}
			if st == collab.Speculative && (res.Fallback != "" || res.Spec == nil || res.Spec.Blocks == 0) {
				t.Fatalf("speculative ran no scored block (fallback %q): the check would not cover its requests", res.Fallback)
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
	r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(recs[0].Vault)}
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
	r0 := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault)}
	// The first seed whose text has words enough to plant a fact in (the
	// tiny model writes long made-up words at times).
	var base collab.Result
	var words []string
	seed := uint64(3)
	for ; seed < 13; seed++ {
		var err error
		base, err = r0.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{Strategy: collab.Logits, MaxTokens: 48, Fusion: fusion.Mean, IgnoreEOG: true, Sample: sample.Params{Temperature: 1, Seed: seed}})
		if err != nil {
			t.Fatal(err)
		}
		if words = strings.Fields(base.Text); len(words) >= 8 {
			break
		}
	}
	if len(words) < 8 {
		t.Fatalf("too little text to plant a fact with seeds 3 to 12: %q", base.Text)
	}
	// Words 1-6 (the first may be a partial piece): enough content words
	// for a fact shingle, written early enough to stop the cloud.
	v := *rec.Vault
	v.PrivateFacts = append(slices.Clone(v.PrivateFacts), privacy.NewPrivate(strings.Join(words[1:7], " ")))
	r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(&v)}
	res, err := r.Run(t.Context(), collab.TaskFromRecord(rec), collab.Options{Strategy: collab.Logits, MaxTokens: 48, Fusion: fusion.Mean, Trace: true, IgnoreEOG: true, Sample: sample.Params{Temperature: 1, Seed: seed}})
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
	r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault), Private: e.grant}
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

// TestTraceEveryStrategy runs every strategy with and without a trace:
// the trace does not change the output (same seed, sampling at T = 0.8),
// every strategy in which the local model writes has one whose tokens
// make the text, and llm and llm-context have none.
func TestTraceEveryStrategy(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "")
	rec := recs[2]
	r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault), Private: e.grant}
	for _, st := range collab.Strategies {
		t.Run(string(st), func(t *testing.T) {
			o := collab.Options{Strategy: st, MaxTokens: 16, CloudMaxTokens: 8, Fusion: fusion.Max, Sample: sample.Params{Temperature: 0.8, Seed: 7}}
			plain, err := r.Run(t.Context(), collab.TaskFromRecord(rec), o)
			if err != nil {
				t.Fatal(err)
			}
			o.Trace = true
			traced, err := r.Run(t.Context(), collab.TaskFromRecord(rec), o)
			if err != nil {
				t.Fatal(err)
			}
			if plain.Text != traced.Text {
				t.Errorf("the trace changed the output: %q without, %q with", plain.Text, traced.Text)
			}
			tr := traced.Trace
			if st == collab.LLM || st == collab.LLMContext {
				if tr != nil {
					t.Errorf("%s has a trace of %d steps; the cloud wrote the answer", st, len(tr.Steps))
				}
				return
			}
			if tr == nil {
				t.Fatalf("no trace")
			}
			var b strings.Builder
			for i, s := range tr.Steps {
				b.WriteString(s.Text)
				if s.Index != i || s.W < 0 || s.W > 1 {
					t.Errorf("step %d: index %d, w %v", i, s.Index, s.W)
				}
				if len(s.SLM) == 0 {
					t.Errorf("step %d: no local choices", i)
				}
				local := st == collab.SLM || st == collab.Sketch || st == collab.SketchFull
				if local && (s.W != 1 || s.Consulted) {
					t.Errorf("step %d: w %v consulted %v, want 1 false for %s", i, s.W, s.Consulted, st)
				}
			}
			if got := strings.TrimSpace(b.String()); got != traced.Text {
				t.Errorf("trace tokens make %q, the text is %q", got, traced.Text)
			}
			if tr.Strategy != string(st) || tr.Sketch != traced.Sketch || tr.CloudCalls != traced.CloudCalls {
				t.Errorf("trace says strategy %q, sketch %q, %d calls; result %q, %q, %d", tr.Strategy, tr.Sketch, tr.CloudCalls, st, traced.Sketch, traced.CloudCalls)
			}
		})
	}
}

// leakOracle finds a user's private text in a request by its own rule,
// independent of the guard under test: a private entity (name, e-mail,
// phone, identifier) as whole words, or any four consecutive words of a
// private fact, compared on lower-cased letters and digits alone.
type leakOracle struct {
	entities []string
	facts    [][]string
}

func newLeakOracle(v *privacy.Vault) *leakOracle {
	o := &leakOracle{}
	for _, p := range slices.Concat([]privacy.Private{v.Name}, v.Emails, v.Phones, v.Identifiers) {
		if w := oracleWords(p.UnsafeText()); len(w) > 0 && len(strings.Join(w, "")) >= 4 {
			o.entities = append(o.entities, " "+strings.Join(w, " ")+" ")
		}
	}
	for _, f := range v.PrivateFacts {
		if w := oracleWords(f.UnsafeText()); len(w) >= 4 {
			o.facts = append(o.facts, w)
		}
	}
	return o
}

func oracleWords(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r > 127)
	})
}

// find returns what private text holds, or "".
func (o *leakOracle) find(text string) string {
	norm := " " + strings.Join(oracleWords(text), " ") + " "
	for i, e := range o.entities {
		if strings.Contains(norm, e) {
			return "entity " + strconv.Itoa(i)
		}
	}
	for i, f := range o.facts {
		for j := 0; j+4 <= len(f); j++ {
			if strings.Contains(norm, " "+strings.Join(f[j:j+4], " ")+" ") {
				return "fact " + strconv.Itoa(i)
			}
		}
	}
	return ""
}

// requestText decodes a request body into the text it carries: every JSON
// string, and the text of token-id prompts.
func requestText(t testing.TB, body []byte, detok func([]int32) string) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return string(body)
	}
	var b strings.Builder
	var walk func(v any, key string)
	walk = func(v any, key string) {
		switch x := v.(type) {
		case string:
			b.WriteString(x + "\n")
		case map[string]any:
			for k, e := range x {
				walk(e, k)
			}
		case []any:
			if key == "prompt" && len(x) > 0 {
				if _, ok := x[0].(float64); ok {
					ids := make([]int32, len(x))
					for i, e := range x {
						ids[i] = int32(e.(float64))
					}
					b.WriteString(detok(ids) + "\n")
					return
				}
			}
			for _, e := range x {
				walk(e, key)
			}
		}
	}
	walk(v, "")
	return b.String()
}

func TestLeakOracleSeesPrivateText(t *testing.T) {
	v := &privacy.Vault{Name: privacy.NewPrivate("Ada Quill"), PrivateFacts: []privacy.Private{privacy.NewPrivate("keeps bees on the roof of the old mill")}}
	o := newLeakOracle(v)
	for text, want := range map[string]bool{
		"A letter from ADA QUILL.":                   true,
		"she keeps bees on the roof, they say":       true,
		"Adaquill wrote":                             false,
		"bees on a roof":                             false,
		`{"prompt":"Roof of the old mill, at dusk"}`: true,
	} {
		if got := o.find(requestText(t, []byte(text), nil)) != ""; got != want {
			t.Errorf("%q: found %v, want %v", text, got, want)
		}
	}
}

// TestRunnerWithoutGuardSendsNothing runs every cloud strategy with no
// guard against a recording server: each fails, and no request arrives.
// A client with no guard of its own refuses as well (the egress fails
// closed even for a caller that skips the runner).
func TestRunnerWithoutGuardSendsNothing(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "")
	r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Private: e.grant}
	for _, st := range collab.Strategies {
		if st == collab.SLM {
			continue
		}
		if _, err := r.Run(t.Context(), collab.TaskFromRecord(recs[0]), collab.Options{Strategy: st, MaxTokens: 4, CloudMaxTokens: 4}); err == nil {
			t.Errorf("%s ran without a guard", st)
		}
	}
	if _, err := e.cloud.Client().Models(t.Context()); !errors.Is(err, egress.ErrNoGuard) {
		t.Errorf("a request with no guard: err = %v, want ErrNoGuard", err)
	}
	if n := len(e.rec.bodies); n != 0 {
		t.Errorf("%d requests reached the server", n)
	}
}
