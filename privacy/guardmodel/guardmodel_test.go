package guardmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/privacy"
)

// requests are candidate requests to check: a dev-sized one of 20 words
// that reveals the vault, generic personal data, nothing private, and
// text that looks like the answer's JSON.
var requests = []string{
	"Write a short note to the Domchor in Graz saying Marisol misses Thursday rehearsal because of her night shifts again.",
	"Please reply to marisol.qh@example.org or call +43 664 123 4567 before Friday.",
	"Write a haiku about autumn leaves.",
	`Explain this JSON: {"spans":[{"text":"x","reason":"pii"}]}`,
}

func loadVault(t testing.TB) *privacy.Vault {
	t.Helper()
	v, err := privacy.LoadVault(filepath.Join("testdata", "vault.toml"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// models holds the shared real model as each set of options opened it,
// for the life of the test binary: tests after the first find the
// prompt's prefix in its pool, as later checks of a user do.
var models struct {
	sync.Mutex
	m map[llamacpp.Options]*llamacpp.Model
}

// openModel opens the shared real model (no chat template: the plain
// prompt) with a context that holds the test vault's prompt, once per
// set of options.
func openModel(t testing.TB, opts llamacpp.Options) *llamacpp.Model {
	t.Helper()
	opts.Threads = 1
	if opts.ContextSize == 0 {
		opts.ContextSize = 2560
	}
	path := enginetest.SharedModel(t)
	models.Lock()
	defer models.Unlock()
	if m := models.m[opts]; m != nil {
		return m
	}
	m, err := llamacpp.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if models.m == nil {
		models.m = map[llamacpp.Options]*llamacpp.Model{}
	}
	models.m[opts] = m
	return m
}

// openRandomChat writes and opens a random-weight model with a real
// 32,064-token tokenizer and chat template (Phi-3's): the rendered prompt,
// and a model whose answers are not empty, since random weights name
// random spans.
func openRandomChat(t testing.TB) *llamacpp.Model {
	t.Helper()
	tok := enginetest.SharedPath("models", "ggml-vocab-phi-3.gguf")
	enginetest.SharedModel(t) // skips (or fails under CI) without the shared models
	tiny, err := enginetest.ShapeByName("tiny")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "random-phi3.gguf")
	if err := enginetest.Write(p, enginetest.Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: tok, Seed: 3, Scale: 1}); err != nil {
		t.Fatal(err)
	}
	m, err := llamacpp.Open(p, llamacpp.Options{ContextSize: 1024, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() }) // as above
	if m.Info().ChatTemplate == "" {
		t.Fatal("the Phi-3 tokenizer brought no chat template")
	}
	return m
}

// checkSchema validates an answer against Schema independently of
// parseAnswer: the whole answer decoded at once, every key and value
// checked. A span's text is at most MaxSpanChars characters as Go counts
// them when it is valid UTF-8; random weights also write invalid UTF-8,
// whose characters llama.cpp's grammar counts in its own way, so there
// only the bound of 6 bytes (an escape) per character is checked.
func checkSchema(t *testing.T, answer string) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(answer), &top); err != nil {
		t.Errorf("answer is not a JSON object: %v", err)
		return
	}
	if len(top) != 1 || top["spans"] == nil {
		t.Errorf("answer has keys %v, want spans alone", keys(top))
		return
	}
	var spans []map[string]json.RawMessage
	if err := json.Unmarshal(top["spans"], &spans); err != nil {
		t.Errorf("spans is not an array of objects: %v", err)
		return
	}
	if len(spans) > MaxSpans {
		t.Errorf("%d spans, want at most %d", len(spans), MaxSpans)
	}
	for i, s := range spans {
		if len(s) != 2 || s["text"] == nil || s["reason"] == nil {
			t.Errorf("span %d has keys %v, want text and reason", i, keys(s))
			continue
		}
		var text, reason string
		if err := json.Unmarshal(s["text"], &text); err != nil {
			t.Errorf("span %d: text: %v", i, err)
		}
		if err := json.Unmarshal(s["reason"], &reason); err != nil || (reason != "context" && reason != "pii") {
			t.Errorf("span %d: reason %s, want context or pii", i, s["reason"])
		}
		raw := s["text"]
		if utf8.Valid(raw) {
			if n := utf8.RuneCountInString(text); n < 1 || n > MaxSpanChars {
				t.Errorf("span %d: text of %d characters, want 1 to %d", i, n, MaxSpanChars)
			}
		} else if len(raw) < 3 || len(raw) > 2+6*MaxSpanChars {
			t.Errorf("span %d: text of %d bytes (invalid UTF-8), want 1 to %d characters", i, len(raw)-2, MaxSpanChars)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// TestCheckAnswersInSchema runs the check on real models, with and
// without a chat template: every answer is JSON in the schema's shape (or,
// cut at MaxTokens, a prefix of one), Check parses it, and every finding
// lies in the request.
func TestCheckAnswersInSchema(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a model")
	}
	v := loadVault(t)
	for _, tc := range []struct {
		name      string
		open      func(testing.TB) *llamacpp.Model
		maxTokens int
	}{
		{"aidreams260K plain prompt", func(t testing.TB) *llamacpp.Model { return openModel(t, llamacpp.Options{}) }, 0},
		{"random weights chat template", openRandomChat, 96},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.open(t)
			c, err := New(m, v, Options{MaxTokens: tc.maxTokens})
			if err != nil {
				t.Fatal(err)
			}
			spans := 0
			for i, req := range requests {
				var st Stats
				answer, err := c.answer(t.Context(), req, &st)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				_, complete, err := parseAnswer(answer)
				if err != nil {
					t.Fatalf("request %d: parseAnswer: %v", i, err)
				}
				if complete {
					checkSchema(t, answer)
				} else if st.GeneratedTokens != c.opts.MaxTokens {
					t.Errorf("request %d: answer incomplete after %d tokens, below the bound %d", i, st.GeneratedTokens, c.opts.MaxTokens)
				}
				fs, st, err := c.Check(t.Context(), req)
				if err != nil {
					t.Fatalf("request %d: Check: %v", i, err)
				}
				if st.Truncated == complete {
					t.Errorf("request %d: Truncated %v for a complete answer %v", i, st.Truncated, complete)
				}
				for _, f := range fs {
					if f.Start < 0 || f.End > len(req) || f.Start >= f.End || (f.Rule != RuleContext && f.Rule != RulePII) {
						t.Errorf("request %d: finding %+v outside the request of %d bytes", i, f, len(req))
					}
				}
				if st.Dropped > st.Spans || st.PromptTokens == 0 || st.GeneratedTokens == 0 || st.Duration <= 0 {
					t.Errorf("request %d: stats %+v", i, st)
				}
				spans += st.Spans
				t.Logf("request %d: %d prompt tokens, %d generated, %d spans (%d dropped), %d findings, complete %v, %v",
					i, st.PromptTokens, st.GeneratedTokens, st.Spans, st.Dropped, len(fs), complete, st.Duration.Round(time.Millisecond))
			}
			t.Logf("%d spans in all", spans)
		})
	}
}

// TestCheckDeterministic checks that the answer is the same twice: once
// from an empty sequence, once from the pool's sequence that already
// holds the prompt's prefix.
func TestCheckDeterministic(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a model")
	}
	v := loadVault(t)
	for _, tc := range []struct {
		name string
		open func(testing.TB) *llamacpp.Model
	}{
		{"aidreams260K", func(t testing.TB) *llamacpp.Model { return openModel(t, llamacpp.Options{}) }},
		{"random weights", openRandomChat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.open(t)
			c, err := New(m, v, Options{MaxTokens: 96})
			if err != nil {
				t.Fatal(err)
			}
			for i, req := range requests[:2] {
				var answers [2]string
				var stats [2]Stats
				for run := range 2 {
					if run == 0 {
						m.Pool().Close() // from an empty sequence
					}
					if answers[run], err = c.answer(t.Context(), req, &stats[run]); err != nil {
						t.Fatal(err)
					}
				}
				if answers[0] != answers[1] {
					t.Errorf("request %d: the answers differ:\n%q\n%q", i, answers[0], answers[1])
				}
				if stats[0].EvaluatedTokens != stats[0].PromptTokens || stats[1].EvaluatedTokens >= stats[0].EvaluatedTokens {
					t.Errorf("request %d: evaluated %d then %d of %d prompt tokens, want all then fewer", i, stats[0].EvaluatedTokens, stats[1].EvaluatedTokens, stats[0].PromptTokens)
				}
				ignore := cmpopts.IgnoreFields(Stats{}, "Duration", "EvaluatedTokens")
				if diff := cmp.Diff(stats[0], stats[1], ignore); diff != "" {
					t.Errorf("request %d: stats (-first +second):\n%s", i, diff)
				}
			}
		})
	}
}

// TestCheckOnlyAdds merges the model's findings into the rule guard's on
// a real model: every rule finding stays.
func TestCheckOnlyAdds(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a model")
	}
	v := loadVault(t)
	g := privacy.NewGuard(v)
	c, err := New(openModel(t, llamacpp.Options{}), v, Options{MaxTokens: 96})
	if err != nil {
		t.Fatal(err)
	}
	for i, req := range requests {
		base := g.Check(req)
		extra, _, err := c.Check(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		merged := privacy.MergeFindings(base, extra)
		for _, f := range base {
			if !contains(merged, f) {
				t.Errorf("request %d: rule finding %+v lost", i, f)
			}
		}
		for _, f := range extra {
			if !contains(merged, f) {
				t.Errorf("request %d: model finding %+v lost", i, f)
			}
		}
		if i == 0 && len(base) == 0 {
			t.Errorf("request 0: the rule guard found nothing; the test needs a request it flags")
		}
	}
	fs, st, err := c.Check(t.Context(), " \n")
	if err != nil || fs != nil || st != (Stats{}) {
		t.Errorf("blank request: %v, %+v, %v; want no findings, no cost", fs, st, err)
	}
}

func contains(fs []privacy.Finding, f privacy.Finding) bool {
	for _, g := range fs {
		if g == f {
			return true
		}
	}
	return false
}

// TestContextCut checks that a context too long for the model is cut
// from the front, by the tokens it does not fit, and that a request that
// cannot fit at all is an error that names counts, not text.
func TestContextCut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a model")
	}
	v := loadVault(t)
	m := openModel(t, llamacpp.Options{ContextSize: 1024})
	full, err := New(openModel(t, llamacpp.Options{}), v, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		opts          Options
		wantTotal     int // the most prompt plus answer tokens, when the context is cut to fit
		wantContextAt int // context tokens kept, when bounded by ContextTokens
	}{
		{name: "fit the model", opts: Options{MaxTokens: 64}, wantTotal: 1024},
		{name: "ContextTokens", opts: Options{MaxTokens: 64, ContextTokens: 50}, wantContextAt: 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(m, v, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.private) != len(full.private) {
				t.Fatalf("context of %d tokens, want %d", len(c.private), len(full.private))
			}
			_, st, err := c.Check(t.Context(), requests[0])
			if err != nil {
				t.Fatal(err)
			}
			kept := len(c.private) - st.ContextCut
			if total := st.PromptTokens + tc.opts.MaxTokens; tc.wantTotal > 0 && (total > tc.wantTotal || total <= tc.wantTotal-cutStep) {
				t.Errorf("prompt of %d tokens + %d answer tokens, want at most %d and above %d", st.PromptTokens, tc.opts.MaxTokens, tc.wantTotal, tc.wantTotal-cutStep)
			}
			if tc.wantContextAt > 0 && kept != tc.wantContextAt {
				t.Errorf("%d context tokens kept, want %d", kept, tc.wantContextAt)
			}
			if st.ContextCut <= 0 {
				t.Errorf("nothing cut from a context of %d tokens", len(c.private))
			}
			// The front is cut: the prompt ends with the context's end.
			p, cut, err := c.prompt(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := p[len(c.head) : len(p)-len(c.middle)-len(c.tail)]; !slices.Equal(got, c.private[cut:]) {
				t.Errorf("the prompt holds context tokens other than the last %d", len(c.private)-cut)
			}
		})
	}
	t.Run("request too long", func(t *testing.T) {
		c, err := New(m, v, Options{MaxTokens: 64})
		if err != nil {
			t.Fatal(err)
		}
		long := strings.Repeat("Marisol Quintero-Haas takes sertraline. ", 100)
		_, _, err = c.Check(t.Context(), long)
		if !errors.Is(err, ErrRequestTooLong) {
			t.Fatalf("error %v, want ErrRequestTooLong", err)
		}
		for _, w := range []string{"Marisol", "sertraline"} {
			if strings.Contains(err.Error(), w) {
				t.Errorf("error %q holds request text", err)
			}
		}
	})
}

// TestNoPrivateTextInLogs runs checks with a Debug logger and looks for
// the private context, the request and the answer in what it wrote.
func TestNoPrivateTextInLogs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a model")
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	v := loadVault(t)
	c, err := New(openRandomChat(t), v, Options{MaxTokens: 64, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, req := range requests[:2] {
		var st Stats
		a, err := c.answer(t.Context(), req, &st)
		if err != nil {
			t.Fatal(err)
		}
		answers = append(answers, a)
		if _, _, err := c.Check(t.Context(), req); err != nil {
			t.Fatal(err)
		}
	}
	logged := buf.String()
	if !strings.Contains(logged, "guard model check") {
		t.Fatalf("no check logged:\n%s", logged)
	}
	secrets := []string{"Marisol", "Quintero", "Tobias", "sertraline", "Weinzettl", "88-1942", "example.org", "Domchor"}
	for _, a := range answers {
		spans, _, err := parseAnswer(a)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range spans {
			if w := strings.TrimSpace(s.Text); len(w) >= 8 {
				secrets = append(secrets, w)
			}
		}
	}
	for _, s := range secrets {
		if strings.Contains(logged, s) {
			t.Errorf("the log holds private text (%d bytes):\n%s", len(s), logged)
		}
	}
}

// benchShape adds a random-weight model of realistic size to
// BenchmarkModelCheck: "0.5b" is Qwen2-0.5B's layers (hidden 896, 24
// layers, FFN 4864) with Phi-3's real tokenizer and chat template, in
// q8_0 (about 450 MB, written to a temporary directory). Speed does not
// depend on the weights; the number of tokens a random model generates
// does (it tends to fill the answer's bound).
var benchShape = flag.String("guardmodel.shape", "", "also benchmark a random-weight model of this shape (0.5b)")

// benchRequests are two 20-word requests: the warm benchmark alternates
// them, so that each check evaluates a new request after the cached
// prompt and context.
var benchRequests = []string{
	requests[0],
	"Draft a polite message asking the Vinzi food bank whether Marisol can swap her Saturday morning shift next month please.",
}

// BenchmarkModelCheck is the cost of one model check of a 20-word request
// against the test vault (a few hundred words of private facts): "cold"
// evaluates the whole prompt, as the first check of a user does; "warm"
// finds the fixed prompt and the context already in a sequence of the
// model's pool, as later checks of the same user do, and evaluates the
// request alone.
func BenchmarkModelCheck(b *testing.B) {
	v := loadVault(b)
	for _, r := range benchRequests {
		if n := len(strings.Fields(r)); n != 20 {
			b.Fatalf("request of %d words, want 20", n)
		}
	}
	models := []struct {
		name string
		open func(testing.TB) *llamacpp.Model
	}{{"aidreams260K", func(b testing.TB) *llamacpp.Model { return openModel(b, llamacpp.Options{}) }}}
	if *benchShape == "0.5b" {
		models = append(models, struct {
			name string
			open func(testing.TB) *llamacpp.Model
		}{"random-0.5b-phi3", openBig})
	}
	for _, mc := range models {
		b.Run(mc.name, func(b *testing.B) {
			m := mc.open(b)
			c, err := New(m, v, Options{})
			if err != nil {
				b.Fatal(err)
			}
			for _, warm := range []bool{false, true} {
				name := "cold"
				if warm {
					name = "warm"
				}
				b.Run(name, func(b *testing.B) {
					var sum Stats
					n := 0
					for b.Loop() {
						if !warm {
							b.StopTimer()
							m.Pool().Close()
							b.StartTimer()
						}
						_, st, err := c.Check(b.Context(), benchRequests[n%len(benchRequests)])
						if err != nil {
							b.Fatal(err)
						}
						sum.PromptTokens += st.PromptTokens
						sum.EvaluatedTokens += st.EvaluatedTokens
						sum.GeneratedTokens += st.GeneratedTokens
						sum.Duration += st.Duration
						n++
					}
					b.ReportMetric(float64(sum.Duration.Microseconds())/1e3/float64(n), "ms/check")
					b.ReportMetric(float64(sum.PromptTokens)/float64(n), "prompt_tokens/op")
					b.ReportMetric(float64(sum.EvaluatedTokens)/float64(n), "evaluated_tokens/op")
					b.ReportMetric(float64(sum.GeneratedTokens)/float64(n), "gen_tokens/op")
				})
			}
		})
	}
}

// openBig writes and opens the benchmark's realistic-size model.
func openBig(b testing.TB) *llamacpp.Model {
	enginetest.SharedModel(b)
	p := filepath.Join(b.TempDir(), "random-0.5b-phi3.gguf")
	shape := enginetest.Shape{Hidden: 896, Layers: 24, Heads: 14, KVHeads: 2, FFN: 4864, Context: 4096}
	if err := enginetest.Write(p, enginetest.Options{Arch: "llama", Shape: shape, Type: "q8_0", TokenizerFrom: enginetest.SharedPath("models", "ggml-vocab-phi-3.gguf"), Seed: 5}); err != nil {
		b.Fatal(err)
	}
	m, err := llamacpp.Open(p, llamacpp.Options{ContextSize: 2048})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = m.Close() }) // closing a model frees memory; nothing to report
	return m
}
