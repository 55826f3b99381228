package eval

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/collab"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// validConfig is a minimal valid config; {data} and {model} are replaced
// by existing files.
const validConfig = `out = "out"
seeds = [1, 2]

[[datasets]]
path = "{data}"
records = "0:5"

[[strategies]]
strategy = "slm"

[[strategies]]
name = "logits-max"
strategy = "logits"
fusion = "max"

[[models]]
slm = "{model}"

[cloud]
target = "local:{model}"

[judge]
target = "http://127.0.0.1:8000/v1"
kind = "vllm"
grammar = true
allow_private = true
`

// writeConfig writes a config into a new directory with a data file and a
// model file beside it.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"data.json", "model.gguf"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("[]"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text = strings.NewReplacer("{data}", "data.json", "{model}", "model.gguf").Replace(text)
	path := filepath.Join(dir, "eval.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigDefaults(t *testing.T) {
	path := writeConfig(t, validConfig)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	got := struct {
		Out, Baseline, Data, Model, Cloud, DSName, Pairwise string
		Names, Prompts                                      []string
		Repeats, Retries, MaxTokens, JudgeMax, Concurrency  int
	}{c.Out, c.Baseline, c.Datasets[0].Path, c.Models[0].SLM, c.Cloud.Target, c.Datasets[0].Name, c.Judge.Pairwise,
		[]string{c.Strategies[0].Name, c.Strategies[1].Name}, c.Judge.Prompts, c.Judge.Repeats, c.Judge.MaxRetries, c.MaxTokens, c.Judge.MaxTokens, c.Concurrency}
	want := struct {
		Out, Baseline, Data, Model, Cloud, DSName, Pairwise string
		Names, Prompts                                      []string
		Repeats, Retries, MaxTokens, JudgeMax, Concurrency  int
	}{filepath.Join(dir, "out"), "slm", filepath.Join(dir, "data.json"), filepath.Join(dir, "model.gguf"), "local:" + filepath.Join(dir, "model.gguf"), "data", "judge",
		[]string{"slm", "logits-max"}, []string{"ovl-w", "per", "ovl-wo"}, 1, 3, 256, 512, 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name     string
		edit     func(string) string
		field    string // the field the error names
		line     int    // the line it names (0: none checked)
		contains string
	}{
		{"unknown top-level key", func(s string) string { return "seedz = [1]\n" + s }, "seedz", 1, "unknown key"},
		{"unknown nested key", func(s string) string {
			return strings.Replace(s, "allow_private = true", "allow_private = true\ngrammer = true", 1)
		}, "judge.grammer", 27, "unknown key"},
		{"syntax error", func(s string) string { return strings.Replace(s, `seeds = [1, 2]`, `seeds = [1, 2`, 1) }, "", -1, ""},
		{"wrong type", func(s string) string { return strings.Replace(s, `seeds = [1, 2]`, `seeds = "one"`, 1) }, "", 0, "seeds"},
		{"no datasets", func(s string) string {
			return strings.Replace(s, "[[datasets]]\npath = \"{data}\"\nrecords = \"0:5\"\n", "", 1)
		}, "datasets", 0, "at least one"},
		{"missing dataset file", func(s string) string { return strings.Replace(s, `path = "{data}"`, `path = "nope.json"`, 1) }, "datasets[0].path", 0, "no such file"},
		{"bad dataset kind", func(s string) string {
			return strings.Replace(s, `records = "0:5"`, "records = \"0:5\"\nkind = \"tweets\"", 1)
		}, "datasets[0].kind", 0, "tweets"},
		{"bad record range", func(s string) string { return strings.Replace(s, `records = "0:5"`, `records = "5:2"`, 1) }, "datasets[0].records", 0, "end"},
		{"unknown strategy", func(s string) string { return strings.Replace(s, `strategy = "slm"`, `strategy = "slim"`, 1) }, "strategies[0].strategy", 0, "slim"},
		{"bad fusion", func(s string) string { return strings.Replace(s, `fusion = "max"`, `fusion = "sum"`, 1) }, "strategies[1].fusion", 0, ""},
		{"learned without comb", func(s string) string { return strings.Replace(s, `fusion = "max"`, `fusion = "learned"`, 1) }, "strategies[1].comb", 0, "CombModel"},
		{"bad schedule", func(s string) string {
			return strings.Replace(s, `fusion = "max"`, "fusion = \"max\"\nschedule = \"sometimes\"", 1)
		}, "strategies[1].schedule", 0, ""},
		{"duplicate strategy name", func(s string) string { return strings.Replace(s, `name = "logits-max"`, `name = "slm"`, 1) }, "strategies[1].name", 0, "twice"},
		{"unknown baseline", func(s string) string { return "baseline = \"sketch\"\n" + s }, "baseline", 0, "sketch"},
		{"llm-context without opt-in", func(s string) string { return strings.Replace(s, `strategy = "slm"`, `strategy = "llm-context"`, 1) }, "strategies[0].strategy", 0, "allow_private_egress"},
		{"no model", func(s string) string { return strings.Replace(s, "[[models]]\nslm = \"{model}\"\n", "", 1) }, "models", 0, "slm"},
		{"no cloud", func(s string) string { return strings.Replace(s, "target = \"local:{model}\"", "", 1) }, "cloud.target", 0, "needs a cloud"},
		{"bad cloud url", func(s string) string {
			return strings.Replace(s, "target = \"local:{model}\"", `target = "ftp://x"`, 1)
		}, "cloud.target", 0, "http"},
		{"no judge", func(s string) string { return strings.Replace(s, `target = "http://127.0.0.1:8000/v1"`, "", 1) }, "judge.target", 0, "required"},
		{"judge without allow_private", func(s string) string { return strings.Replace(s, "allow_private = true", "", 1) }, "judge.allow_private", 0, "allow_private = true"},
		{"grammar on openai", func(s string) string { return strings.Replace(s, `kind = "vllm"`, `kind = "openai"`, 1) }, "judge.grammar", 0, "openai"},
		{"bad judge kind", func(s string) string { return strings.Replace(s, `kind = "vllm"`, `kind = "gpt"`, 1) }, "judge.kind", 0, "gpt"},
		{"bad prompt", func(s string) string {
			return strings.Replace(s, "grammar = true", "grammar = true\nprompts = [\"ovl\"]", 1)
		}, "judge.prompts[0]", 0, "ovl"},
		{"repeats", func(s string) string { return strings.Replace(s, "grammar = true", "grammar = true\nrepeats = -1", 1) }, "judge.repeats", 0, ""},
		{"grammar room", func(s string) string {
			return strings.Replace(s, "grammar = true", "grammar = true\nmax_tokens = 10", 1)
		}, "judge.max_tokens", 0, "at least"},
		{"pairwise mode", func(s string) string {
			return strings.Replace(s, "grammar = true", "grammar = true\npairwise = \"elo\"", 1)
		}, "judge.pairwise", 0, "elo"},
		{"ratings needs ovl-w", func(s string) string {
			return strings.Replace(s, "grammar = true", "grammar = true\npairwise = \"ratings\"\nprompts = [\"per\"]", 1)
		}, "judge.pairwise", 0, "ovl-w"},
		{"duplicate seed", func(s string) string { return strings.Replace(s, "seeds = [1, 2]", "seeds = [1, 1]", 1) }, "seeds[1]", 0, "twice"},
		{"negative price", func(s string) string { return s + "\n[prices]\ncloud_in = -1\n" }, "prices.cloud_in", 0, ""},
		{"sampling", func(s string) string { return s + "\n[sampling]\ntop_p = 2\n" }, "sampling", 0, "top_p"},
		{"concurrency negative", func(s string) string { return "concurrency = -1\n" + s }, "concurrency", 0, "[1, 16]"},
		{"concurrency too large", func(s string) string { return "concurrency = 17\n" + s }, "concurrency", 0, "[1, 16]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.edit(validConfig))
			_, err := LoadConfig(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, path) {
				t.Errorf("error %q does not name the file", msg)
			}
			if tt.field != "" {
				fe, ok := errors.AsType[*FieldError](err)
				if !ok || fe.Field != tt.field {
					t.Errorf("error %q: want field %q", msg, tt.field)
				}
			}
			if tt.line > 0 && !strings.HasPrefix(msg, path+":"+strconv.Itoa(tt.line)+":") {
				t.Errorf("error %q: want line %d", msg, tt.line)
			}
			if tt.line < 0 && !regexp.MustCompile(`^`+regexp.QuoteMeta(path)+`:\d+: `).MatchString(msg) {
				t.Errorf("error %q: want a line number", msg)
			}
			if !strings.Contains(msg, tt.contains) {
				t.Errorf("error %q does not mention %q", msg, tt.contains)
			}
		})
	}
}

// TestExampleConfig keeps examples/eval.toml valid.
func TestExampleConfig(t *testing.T) {
	const path = "../../examples/eval.toml"
	if _, err := os.Stat("../../../shared/data/cogenesis/context_dev.json"); err != nil {
		deptest.Missing(t, "shared data not available: %v", err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Strategies) != 3 || c.Baseline != "slm" || !c.Judge.Grammar || !c.Judge.AllowPrivate {
		t.Errorf("example config: %+v", c)
	}
	// A first run: 2 to 3 minutes on 2 cores with the tiny model (12
	// generations, 52 judge request series).
	lo, hi, err := parseRange(c.Datasets[0].Records)
	if err != nil {
		t.Fatal(err)
	}
	if n := (hi - lo) * len(c.Seeds) * len(c.Strategies) * len(c.Models); hi < 0 || n > 12 {
		t.Errorf("example config makes %d generations (records %q, %d seeds): keep it small", n, c.Datasets[0].Records, len(c.Seeds))
	}
	// Its output goes to eval-out/ in the repository root, which git
	// ignores.
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ignore, err := os.ReadFile("../../.gitignore")
	if err != nil {
		t.Fatal(err)
	}
	if c.Out != filepath.Join(root, "eval-out") || !slices.Contains(strings.Split(string(ignore), "\n"), "/eval-out/") {
		t.Errorf("example output %s: want %s, listed in .gitignore as /eval-out/", c.Out, filepath.Join(root, "eval-out"))
	}
}

func TestLoadRecords(t *testing.T) {
	const dir = "../../../shared/data/cogenesis/"
	if _, err := os.Stat(dir + "paper_dev.json"); err != nil {
		deptest.Missing(t, "shared data not available: %v", err)
	}
	c := &Config{Datasets: []Dataset{
		{Path: dir + "context_dev.json", Kind: "context", Records: "3:", Limit: 4},
		{Path: dir + "paper_dev.json", Kind: "paper", Records: ":3"},
	}}
	ctx, err := c.loadRecords(0)
	if err != nil {
		t.Fatal(err)
	}
	paper, err := c.loadRecords(1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ctx) != 4 || ctx[0].index != 3 || ctx[3].index != 6 || len(paper) != 3 {
		t.Fatalf("records: context %d from %d, paper %d", len(ctx), ctx[0].index, len(paper))
	}
	hashes := map[string]bool{}
	for _, r := range append(ctx, paper...) {
		if hashes[r.hash] || r.tid == "" || r.rec.Reference.IsZero() || r.task.Instruction.IsZero() || r.task.History.IsZero() {
			t.Errorf("record %d (%s): duplicate hash, or empty tid, reference, task or history", r.index, r.tid)
		}
		hashes[r.hash] = true
	}
	if ctx[0].task.Profile.IsZero() || ctx[0].task.Kind != collab.KindContext {
		t.Errorf("context record: kind %q, profile empty %v", ctx[0].task.Kind, ctx[0].task.Profile.IsZero())
	}
	q := judgeQuestion(paper[0].task)
	if paper[0].task.Kind != collab.KindPaper || !strings.HasPrefix(q, "Compose an abstract for the title '") ||
		!strings.Contains(paper[0].task.History.UnsafeText(), "Title: ") || len(paper[0].rec.Vault.History) == 0 {
		t.Errorf("paper record: kind %q, question %q, %d history items", paper[0].task.Kind, q, len(paper[0].rec.Vault.History))
	}
}
