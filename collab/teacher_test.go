//go:build cgo

package collab_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

func TestTeacherForce(t *testing.T) {
	recs := devRecords(t)
	e := setup(t, "qwen2")
	rec := recs[0]
	task := collab.TaskFromRecord(rec)
	r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault)}

	// The reference holds private content: refused, nothing sent.
	e.rec.mu.Lock()
	before := len(e.rec.bodies)
	e.rec.mu.Unlock()
	_, _, err := r.TeacherForce(t.Context(), task, rec.Reference, 5)
	var leak *privacy.LeakError
	if !errors.As(err, &leak) || !strings.Contains(err.Error(), "--allow-private-egress") {
		t.Fatalf("without opt-in: err = %v, want a leak error naming --allow-private-egress", err)
	}
	e.rec.mu.Lock()
	for _, b := range e.rec.bodies[before:] {
		if strings.Contains(string(b.body), `"prompt_logprobs"`) {
			t.Errorf("a scoring request was sent without opt-in")
		}
	}
	e.rec.mu.Unlock()

	const k = 5
	r.Private = e.grant
	ps, st, err := r.TeacherForce(t.Context(), task, rec.Reference, k)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := e.slm.Tokenize(rec.Reference.UnsafeText(), false, false)
	if len(ps) != len(ref) || st.Reference != len(ref) {
		t.Fatalf("%d positions (stats %d) for %d reference tokens", len(ps), st.Reference, len(ref))
	}
	if st.SLMTokens < len(ref) {
		t.Errorf("the local model evaluated %d tokens, fewer than the reference", st.SLMTokens)
	}
	var nllQ, nllPL float64
	for j, p := range ps {
		if p.Token != ref[j] {
			t.Fatalf("position %d: token %d, reference %d", j, p.Token, ref[j])
		}
		for _, x := range []float64{p.QY, p.PLY, p.MaxY} {
			if !(x > 0 && x <= 1) {
				t.Fatalf("position %d: probability %g", j, x)
			}
		}
		if len(p.Cands) < k+1 || len(p.Cands) > 2*k+1 {
			t.Errorf("position %d: %d candidates", j, len(p.Cands))
		}
		nllQ -= math.Log(p.QY)
		nllPL -= math.Log(p.PLY)
	}
	// The cloud is a random-weight model: its completed distribution must
	// be far worse on the reference than the real model with context.
	if nllPL <= nllQ {
		t.Errorf("random cloud NLL %.2f is not above the local model's %.2f", nllPL/float64(len(ps)), nllQ/float64(len(ps)))
	}
	t.Logf("%d positions: NLL per token local %.3f, random cloud %.3f", len(ps), nllQ/float64(len(ps)), nllPL/float64(len(ps)))

	// The scoring request is in the audit log with the verdict "private".
	found := false
	for lr, err := range audit.Records(mustOpen(t, e.log.Path())) {
		if err != nil {
			t.Fatal(err)
		}
		if lr.Strategy == "teacher-forcing" && lr.Verdict == audit.VerdictPrivate {
			found = true
		}
	}
	if !found {
		t.Errorf("no teacher-forcing request recorded as private in the audit log")
	}

	// A cloud kind that cannot score a sequence is refused by name.
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: e.log, Private: e.grant},
		openaiapi.Config{BaseURL: "http://127.0.0.1:1/v1", Kind: openaiapi.KindLlamaCpp, Model: "x"})
	if err != nil {
		t.Fatal(err)
	}
	r2 := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: collab.NewCloud(c), Guard: privacy.NewGuard(rec.Vault), Private: e.grant}
	if _, _, err := r2.TeacherForce(t.Context(), task, rec.Reference, k); !errors.Is(err, openaiapi.ErrUnsupported) || !strings.Contains(err.Error(), string(openaiapi.CapSequenceTopK)) {
		t.Errorf("llama.cpp kind: err = %v, want ErrUnsupported naming %q", err, openaiapi.CapSequenceTopK)
	}
}

// BenchmarkTeacherForce measures extraction against the engine's own
// prompt speed on the same tokens: the local model's tokens per second in
// TeacherForce (which also waits for the cloud's scoring request), and a
// fresh sequence evaluating the same with-context prompt and reference.
// The ratio is extraction / engine.
func BenchmarkTeacherForce(b *testing.B) {
	recs := devRecords(b)
	e := setup(b, "")
	rec := recs[1]
	task := collab.TaskFromRecord(rec)
	r := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(rec.Vault), Private: e.grant}
	var tokens, engineTokens int
	var extract, engine float64
	for b.Loop() {
		// Two other records in between (the pool keeps two sequences), so
		// that the prompt is evaluated afresh.
		for _, o := range recs[2:4] {
			other := &collab.Runner{SLM: collab.Engine(e.slm), Cloud: e.cloud, Guard: privacy.NewGuard(o.Vault), Private: e.grant}
			if _, _, err := other.TeacherForce(b.Context(), collab.TaskFromRecord(o), o.Reference, 10); err != nil {
				b.Fatal(err)
			}
		}
		start := time.Now()
		_, st, err := r.TeacherForce(b.Context(), task, rec.Reference, 10)
		if err != nil {
			b.Fatal(err)
		}
		extract += time.Since(start).Seconds()
		tokens += st.SLMTokens

		toks, err := collab.LocalPromptTokens(r, task)
		if err != nil {
			b.Fatal(err)
		}
		ref, _ := e.slm.Tokenize(rec.Reference.UnsafeText(), false, false)
		seq, err := e.slm.NewSequence(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		if err := seq.ScoreFunc(b.Context(), append(toks, ref...), func(int, []float32) {}); err != nil {
			b.Fatal(err)
		}
		engine += time.Since(start).Seconds()
		engineTokens += len(toks) + len(ref)
		seq.Close()
	}
	x, g := float64(tokens)/extract, float64(engineTokens)/engine
	b.ReportMetric(x, "extract-tok/s")
	b.ReportMetric(g, "engine-tok/s")
	b.ReportMetric(x/g, "ratio")
}
