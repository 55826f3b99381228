package collab_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/internal/statecache"
	"github.com/cogenesis/cogenesis/privacy"
)

// openFresh opens a model of its own (no sequence of another test's run
// to reuse), closed when the test ends.
func openFresh(t *testing.T, opts llamacpp.Options) *llamacpp.Model {
	t.Helper()
	m, err := llamacpp.Open(enginetest.SharedModel(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestSavedContextStates runs a dev record's user with saved states: the
// first run evaluates the context and saves it, a run on a freshly opened
// model restores it and writes the same text (slm, then logits, which
// restores what slm saved; sampling at T = 0.8), a restore evaluates only
// the task, a damaged file is rebuilt, and a vault edit, another model or
// other engine settings miss.
func TestSavedContextStates(t *testing.T) {
	recs := devRecords(t)
	rec := recs[5]
	e := setup(t, "")
	dir := filepath.Join(t.TempDir(), "states")
	store, err := statecache.Open(dir, statecache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts := llamacpp.Options{ContextSize: 8192, Threads: 2, Parallel: 2}
	run := func(m *llamacpp.Model, v *privacy.Vault, st collab.Strategy) string {
		t.Helper()
		r := &collab.Runner{SLM: collab.EngineWithStates(m, store), Cloud: e.cloud, Guard: privacy.NewGuard(v)}
		res, err := r.Run(t.Context(), collab.TaskFromVault(v, rec.Task), collab.Options{Strategy: st, MaxTokens: 16, Sample: sample.Params{Temperature: 0.8, Seed: 3}})
		if err != nil {
			t.Fatal(err)
		}
		return res.Text
	}
	stats := func() statecache.Stats {
		t.Helper()
		s, err := store.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	for _, st := range []collab.Strategy{collab.SLM, collab.Logits} {
		before := stats()
		cold := run(openFresh(t, opts), rec.Vault, st)
		warm := run(openFresh(t, opts), rec.Vault, st)
		after := stats()
		if cold != warm {
			t.Errorf("%s: %q evaluated, %q restored", st, cold, warm)
		}
		// slm's first run saves the context; its second run restores it,
		// and so do both logits runs: the strategies share the prompt's
		// context.
		want := int64(2)
		if st == collab.SLM {
			want = 1
		}
		if after.Hits-before.Hits != want {
			t.Errorf("%s: %d hits, want %d; stats %+v", st, after.Hits-before.Hits, want, after)
		}
	}
	if s := stats(); s.Files != 1 || s.Users != 1 {
		t.Errorf("one user's one context: %d files of %d users", s.Files, s.Users)
	}

	// A restore evaluates only the task.
	r := &collab.Runner{SLM: collab.EngineWithStates(openFresh(t, opts), store)}
	prompt, prefix, err := collab.ContextPrompt(r, collab.TaskFromVault(rec.Vault, rec.Task))
	if err != nil {
		t.Fatal(err)
	}
	if prefix < len(prompt)/2 || prefix >= len(prompt) {
		t.Fatalf("context prefix %d of a %d-token prompt", prefix, len(prompt))
	}
	ul := r.SLM.(interface {
		LoadUser(ctx context.Context, prompt []int32, user string, prefix int, wait bool) (collab.LocalSequence, func(bool), int, bool, error)
	})
	seq, release, evaluated, _, err := ul.LoadUser(t.Context(), prompt, rec.Vault.ID, prefix, true)
	if err != nil {
		t.Fatal(err)
	}
	release(true)
	if evaluated != len(prompt)-prefix || seq.Len() != len(prompt) {
		t.Errorf("restored: evaluated %d of %d tokens (context %d), holds %d", evaluated, len(prompt), prefix, seq.Len())
	}

	// A damaged file is rebuilt, with the same output.
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(p) != "key" {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("state files %v", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x40
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	want := run(openFresh(t, opts), rec.Vault, collab.SLM)
	if s := stats(); s.Rejects != 1 || s.Files != 1 {
		t.Errorf("after a flipped byte: %+v, want 1 reject and the file rebuilt", s)
	}
	if got := run(openFresh(t, opts), rec.Vault, collab.SLM); got != want {
		t.Errorf("rebuilt state: %q, evaluated %q", got, want)
	}

	// A vault edit changes the context: a miss, a second file.
	edited := *rec.Vault
	edited.History = append(slices.Clone(edited.History), privacy.HistoryItem{Title: privacy.NewPrivate("A note"), Text: privacy.NewPrivate("Short and warm.")})
	hits := stats().Hits
	run(openFresh(t, opts), &edited, collab.SLM)
	if s := stats(); s.Hits != hits || s.Files != 2 {
		t.Errorf("after a vault edit: %+v, want no hit and a second file", s)
	}
	// Another model with the same tokenizer (so the same context tokens)
	// misses.
	tiny, _ := enginetest.ShapeByName("tiny")
	other := writeShared(t, "states-other.gguf", enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: enginetest.SharedModel(t), Seed: 21})
	om, err := llamacpp.Open(other, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { om.Close() })
	hits = stats().Hits
	run(om, rec.Vault, collab.SLM)
	if s := stats(); s.Hits != hits || s.Files != 3 {
		t.Errorf("with another model: %+v, want no hit and a third file", s)
	}
	// Other engine settings (an F32 KV cache) miss too.
	hits = stats().Hits
	run(openFresh(t, llamacpp.Options{ContextSize: 8192, Threads: 2, Parallel: 2, Precise: true}), rec.Vault, collab.SLM)
	if s := stats(); s.Hits != hits || s.Files != 4 {
		t.Errorf("with other settings: %+v, want no hit and a fourth file", s)
	}
}

// BenchmarkContextFirstToken measures the time to the first token of an
// slm request whose with-context prompt is about 6,000 tokens (a dev
// user's profile with the writing history of enough other dev records to
// reach it, on a 0.5B-shape Q8_0 random model with LLaMA's tokenizer, 2
// threads, one sequence), right after another user's request took the
// sequence: cold (the context evaluated, and saved) against cached
// (restored from the saved state), and their ratio; held is the same
// request again while the sequence still holds the whole prompt.
func BenchmarkContextFirstToken(b *testing.B) {
	recs := devRecords(b)
	shape, _ := enginetest.ShapeByName("0.5b")
	vocab := filepath.Join(filepath.Dir(enginetest.SharedModel(b)), "ggml-vocab-llama-spm.gguf")
	path := writeShared(b, "q05-llama.gguf", enginetest.Options{Arch: "qwen2", Shape: shape, Type: "q8_0", TokenizerFrom: vocab, Seed: 5})
	m, err := llamacpp.Open(path, llamacpp.Options{ContextSize: 8192, Threads: 2, Parallel: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	store, err := statecache.Open(filepath.Join(b.TempDir(), "states"), statecache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	slm := collab.EngineWithStates(m, store)
	// User a: record 0's profile and task, with the history items of
	// records 0, 1, 2 ... until the prompt holds 6,000 tokens.
	a := *recs[0].Vault
	a.History = nil
	var prompt []int32
	var prefix int
fill:
	for _, r := range recs {
		for _, h := range r.Vault.History {
			a.History = append(a.History, h)
			prompt, prefix, err = collab.ContextPrompt(&collab.Runner{SLM: slm}, collab.TaskFromVault(&a, recs[0].Task))
			if err != nil {
				b.Fatal(err)
			}
			if len(prompt) >= 6000 {
				break fill
			}
		}
	}
	other := recs[1]
	run := func(v *privacy.Vault, task privacy.Task) float64 {
		r := &collab.Runner{SLM: slm, Guard: privacy.NewGuard(v)}
		start := time.Now()
		var first time.Duration
		_, err := r.Run(b.Context(), collab.TaskFromVault(v, task), collab.Options{Strategy: collab.SLM, MaxTokens: 1, IgnoreEOG: true,
			OnToken: func(collab.Piece) {
				if first == 0 {
					first = time.Since(start)
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		return first.Seconds()
	}
	run(other.Vault, other.Task) // the model files' hashes, once per process
	// held is the same request again while the sequence holds the whole
	// prompt: nothing to evaluate.
	var cold, cached, held float64
	var n int
	for b.Loop() {
		if err := store.Clear(); err != nil {
			b.Fatal(err)
		}
		run(other.Vault, other.Task) // the other user takes the sequence
		cold += run(&a, recs[0].Task)
		run(other.Vault, other.Task)
		cached += run(&a, recs[0].Task)
		held += run(&a, recs[0].Task)
		n++
	}
	b.ReportMetric(float64(len(prompt)), "prompt-tokens")
	b.ReportMetric(float64(prefix), "context-tokens")
	b.ReportMetric(cold/float64(n), "cold-s")
	b.ReportMetric(cached/float64(n), "cached-s")
	b.ReportMetric(held/float64(n), "held-s")
	b.ReportMetric(cold/cached, "x-faster")
}
