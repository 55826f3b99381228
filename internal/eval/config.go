package eval

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/eval/judge"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// Config is an evaluation plan, decoded from TOML (see examples/eval.toml).
// Relative paths, including those after "local:", are relative to the
// config file's directory.
type Config struct {
	// Out is the output directory: the job store, the audit logs, the
	// tables and the figures (default "eval-out").
	Out string `toml:"out"`
	// Seeds are the generation seeds; results are averaged over them
	// (default [0]).
	Seeds []uint64 `toml:"seeds"`
	// Baseline names the strategy entry every other one is compared with
	// pairwise (default: the first strategy).
	Baseline string `toml:"baseline"`
	// MaxTokens bounds every generated answer (default 256);
	// CloudMaxTokens bounds the cloud's outline or draft (default 512).
	MaxTokens      int `toml:"max_tokens"`
	CloudMaxTokens int `toml:"cloud_max_tokens"`
	// Threads is the engines' CPU threads (0: chosen per model and load, see llamacpp.Options).
	Threads int `toml:"threads"`
	// Concurrency is the number of generations run at once (default 1;
	// at most 16), which the engine decodes together, one batch per step.
	// The outputs are those of generations run one at a time: a small or
	// local cloud model whose logits change when other sequences decode
	// beside it (F32 and F16 weights) generates one at a time whatever
	// this says (see the package documentation). It pays where
	// generations wait on a cloud, whose round trips then overlap; on two
	// CPU cores, batching a Q8_0 model's decoding gains nothing
	// (BenchmarkGenerateConcurrency).
	Concurrency int        `toml:"concurrency"`
	Sampling    Sampling   `toml:"sampling"`
	Datasets    []Dataset  `toml:"datasets"`
	Strategies  []Strategy `toml:"strategies"`
	Models      []Model    `toml:"models"`
	Cloud       Cloud      `toml:"cloud"`
	Judge       Judge      `toml:"judge"`
	Prices      Prices     `toml:"prices"`
	// Weights bounds the outputs shown in the per-token weight view
	// (default 12).
	Weights int `toml:"weights"`

	dir string // the config file's directory
}

// maxConcurrency bounds Config.Concurrency: the small model holds one or
// two sequences of 8192 tokens for each generation that runs at once.
const maxConcurrency = 16

// Sampling is the generation sampling (the local model's, and the cloud's
// temperature).
type Sampling struct {
	Temperature float64 `toml:"temperature"`
	TopP        float64 `toml:"top_p"`
	TopK        int     `toml:"top_k"`
	MinP        float64 `toml:"min_p"`
}

// Dataset is one evaluation data file: the paper's context-aware format
// (context_dev.json) or its LaMP-derived paper-abstract and email formats
// (paper_dev.json).
type Dataset struct {
	// Name labels the dataset in the tables (default: the file name).
	Name string `toml:"name"`
	Path string `toml:"path"`
	// Kind is context (default), paper or email.
	Kind string `toml:"kind"`
	// Records is a record range "A:B" (B exclusive; either may be empty).
	Records string `toml:"records"`
	// Limit keeps at most this many records of the range (0: all).
	Limit int `toml:"limit"`
	// SkipBad evaluates the good records of a file that has bad ones,
	// naming the skipped ones on the progress output; without it a bad
	// record fails the run. Records and Limit count the file's records,
	// bad ones included, so a record keeps its number.
	SkipBad bool `toml:"skip_bad"`
}

// Strategy is one collaboration strategy with its options.
type Strategy struct {
	// Name labels the strategy in the tables (default: Strategy).
	Name string `toml:"name"`
	// Strategy is a collab strategy: llm, llm-context, slm, sketch,
	// sketch-full, logits or speculative.
	Strategy string `toml:"strategy"`
	// Fusion (mean, max, learned), Schedule (all, first:N, pkt:P,K,T),
	// TopK, Comb and Gamma configure logits and speculative.
	Fusion   string `toml:"fusion"`
	Schedule string `toml:"schedule"`
	TopK     int    `toml:"top_k"`
	Comb     string `toml:"comb"`
	Gamma    int    `toml:"gamma"`
	// PerTokenFallback lets speculative run per-token fusion (the same
	// output distribution, one round trip per token) against a cloud that
	// cannot score a sequence in one request (llama.cpp's server, Ollama);
	// without it such a run is refused. The table names what ran
	// ("speculative→logits").
	PerTokenFallback bool `toml:"per_token_fallback"`
}

// Model is one local (small) model.
type Model struct {
	// Name labels the model in the tables (default: the file name).
	Name string `toml:"name"`
	// SLM is a GGUF path or hf:// reference; LoRA an optional adapter.
	SLM  string `toml:"slm"`
	LoRA string `toml:"lora"`
}

// Cloud is the cloud model of the strategies that use one.
type Cloud struct {
	// Target is an OpenAI-compatible base URL or local:PATH. Kind is the
	// server software: auto (the default: detected when the run dials the
	// target), openai, vllm, sglang, llamacpp or ollama (checked against
	// the server then); a local: target is vllm.
	Target string `toml:"target"`
	Kind   string `toml:"kind"`
	Model  string `toml:"model"`
	// AllowPrivateEgress lets the llm-context baseline send the private
	// context (recorded as verdict "private" in the audit log).
	AllowPrivateEgress bool `toml:"allow_private_egress"`
}

// Judge is the LLM judge.
type Judge struct {
	// Target is an OpenAI-compatible base URL or local:PATH; Kind as for
	// [Cloud].
	Target string `toml:"target"`
	Kind   string `toml:"kind"`
	Model  string `toml:"model"`
	// Prompts names the Table 9 prompts to run: "ovl-w", "per",
	// "ovl-wo" (default: all three, in the paper's column order).
	Prompts []string `toml:"prompts"`
	// Repeats is R: each output is judged R times with seeds 0..R-1 and
	// the median rating counts (default 1).
	Repeats int `toml:"repeats"`
	// MaxRetries is how often an answer without a rating is asked again
	// (default 3); after that the output is recorded as unrated.
	MaxRetries  int     `toml:"max_retries"`
	Temperature float64 `toml:"temperature"`
	// MaxTokens bounds the judge's answer (default 512).
	MaxTokens int `toml:"max_tokens"`
	// Grammar constrains the judge's answer with a grammar that ends in a
	// rating: guided_grammar for vLLM and cogen cloud, grammar for the
	// llama.cpp server.
	Grammar bool `toml:"grammar"`
	// AllowPrivate must be true: the judge prompts carry the user's
	// profile, writing history and task, as in the paper (its judge is a
	// cloud model that sees the private context). Every judge request is
	// recorded in judge-audit.jsonl.
	AllowPrivate bool `toml:"allow_private"`
	// Pairwise is how win/tie/lose against the baseline is decided:
	// "judge" (default; a pairwise prompt in both presentation orders),
	// "ratings" (compare the Ovl.(w) ratings) or "off".
	Pairwise string `toml:"pairwise"`
	// Concurrency is the number of judge requests in flight (default 1).
	Concurrency int `toml:"concurrency"`
}

// Prices are per million tokens, for the cost lines.
type Prices struct {
	CloudIn  float64 `toml:"cloud_in"`
	CloudOut float64 `toml:"cloud_out"`
	JudgeIn  float64 `toml:"judge_in"`
	JudgeOut float64 `toml:"judge_out"`
}

// The pairwise modes.
const (
	PairwiseJudge   = "judge"
	PairwiseRatings = "ratings"
	PairwiseOff     = "off"
)

// promptNames maps config names to judge prompt kinds.
var promptNames = map[string]judge.Kind{
	"ovl-w":  judge.Overall,
	"per":    judge.Personalization,
	"ovl-wo": judge.OverallNoProfile,
}

// FieldError is an invalid config value; Field is its TOML path, such as
// "strategies[1].fusion".
type FieldError struct {
	File  string
	Line  int // 0 when unknown
	Field string
	Err   error
}

func (e *FieldError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += ":" + strconv.Itoa(e.Line)
	}
	return fmt.Sprintf("%s: %s: %v", loc, e.Field, e.Err)
}

func (e *FieldError) Unwrap() error { return e.Err }

// LoadConfig reads, defaults and validates the config at path. Unknown
// keys are errors; syntax errors and unknown keys carry the line.
func LoadConfig(path string) (*Config, error) {
	var c Config
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		if pe, ok := errors.AsType[toml.ParseError](err); ok {
			return nil, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, &FieldError{File: path, Line: keyLine(path, und[0]), Field: und[0].String(), Err: errors.New("unknown key")}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.dir = filepath.Dir(abs)
	if err := c.validate(); err != nil {
		if fe, ok := errors.AsType[*FieldError](err); ok {
			fe.File = path
		}
		return nil, err
	}
	return &c, nil
}

// keyLine finds the line of a decoded key in the file: the first line that
// assigns the key's last part after the header of its table. It returns 0
// when it cannot tell.
func keyLine(path string, k toml.Key) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	table := strings.Join(k[:len(k)-1], ".")
	inTable := table == ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			h := strings.Trim(line, "[] \t")
			inTable = h == table
			if len(k) == 1 && h == k[0] {
				return n
			}
			continue
		}
		name, _, ok := strings.Cut(line, "=")
		if ok && inTable && strings.Trim(strings.TrimSpace(name), `"'`) == k[len(k)-1] {
			return n
		}
	}
	return 0
}

func fieldErr(field string, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// validate fills the defaults and checks every field.
func (c *Config) validate() error {
	if c.Out == "" {
		c.Out = "eval-out"
	}
	c.Out = c.abs(c.Out)
	if len(c.Seeds) == 0 {
		c.Seeds = []uint64{0}
	}
	for i, s := range c.Seeds {
		if slices.Contains(c.Seeds[:i], s) {
			return fieldErr(fmt.Sprintf("seeds[%d]", i), "seed %d given twice", s)
		}
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 256
	}
	if c.MaxTokens < 0 {
		return fieldErr("max_tokens", "%d: must be positive", c.MaxTokens)
	}
	if c.CloudMaxTokens == 0 {
		c.CloudMaxTokens = 512
	}
	if c.CloudMaxTokens < 0 {
		return fieldErr("cloud_max_tokens", "%d: must be positive", c.CloudMaxTokens)
	}
	if c.Threads < 0 {
		return fieldErr("threads", "%d: must be >= 0", c.Threads)
	}
	if c.Concurrency == 0 {
		c.Concurrency = 1
	}
	if c.Concurrency < 0 || c.Concurrency > maxConcurrency {
		return fieldErr("concurrency", "%d: must be in [1, %d]", c.Concurrency, maxConcurrency)
	}
	if c.Weights == 0 {
		c.Weights = 12
	}
	if c.Sampling.TopP == 0 {
		c.Sampling.TopP = 1
	}
	if err := c.Sampling.params(0).Validate(); err != nil {
		return fieldErr("sampling", "%v", err)
	}

	if len(c.Datasets) == 0 {
		return fieldErr("datasets", "at least one [[datasets]] entry is required")
	}
	for i := range c.Datasets {
		d := &c.Datasets[i]
		f := fmt.Sprintf("datasets[%d]", i)
		if d.Path == "" {
			return fieldErr(f+".path", "required")
		}
		d.Path = c.abs(d.Path)
		if _, err := os.Stat(d.Path); err != nil {
			return fieldErr(f+".path", "%v", err)
		}
		if d.Name == "" {
			d.Name = strings.TrimSuffix(filepath.Base(d.Path), filepath.Ext(d.Path))
		}
		if d.Kind == "" {
			d.Kind = string(collab.KindContext)
		}
		if _, err := collab.ParseTaskKind(d.Kind); err != nil {
			return fieldErr(f+".kind", "%v", err)
		}
		if _, _, err := parseRange(d.Records); err != nil {
			return fieldErr(f+".records", "%v", err)
		}
		if d.Limit < 0 {
			return fieldErr(f+".limit", "%d: must be >= 0", d.Limit)
		}
		if slices.ContainsFunc(c.Datasets[:i], func(o Dataset) bool { return o.Name == d.Name }) {
			return fieldErr(f+".name", "%q is used twice", d.Name)
		}
	}

	if len(c.Strategies) == 0 {
		return fieldErr("strategies", "at least one [[strategies]] entry is required")
	}
	needCloud := false
	for i := range c.Strategies {
		s := &c.Strategies[i]
		f := fmt.Sprintf("strategies[%d]", i)
		st, err := collab.ParseStrategy(s.Strategy)
		if err != nil {
			return fieldErr(f+".strategy", "%v", err)
		}
		if st != collab.SLM {
			needCloud = true
		}
		if st == collab.LLMContext && !c.Cloud.AllowPrivateEgress {
			return fieldErr(f+".strategy", "llm-context sends the private context to the cloud; set cloud.allow_private_egress = true to run this baseline")
		}
		if s.Name == "" {
			s.Name = s.Strategy
		}
		if s.Fusion == "" {
			s.Fusion = string(fusion.Mean)
		}
		m, err := fusion.ParseMethod(s.Fusion)
		if err != nil {
			return fieldErr(f+".fusion", "%v", err)
		}
		if s.Schedule == "" {
			s.Schedule = "all"
		}
		if _, err := collab.ParseSchedule(s.Schedule); err != nil {
			return fieldErr(f+".schedule", "%v", err)
		}
		if s.TopK == 0 {
			s.TopK = 10
		}
		if s.TopK < 0 || s.TopK > 20 {
			return fieldErr(f+".top_k", "%d: must be in [1, 20]", s.TopK)
		}
		if s.Gamma < 0 {
			return fieldErr(f+".gamma", "%d: must be >= 0", s.Gamma)
		}
		if s.Comb != "" {
			s.Comb = c.abs(s.Comb)
			if _, err := os.Stat(s.Comb); err != nil {
				return fieldErr(f+".comb", "%v", err)
			}
		} else if m == fusion.Learned && (st == collab.Logits || st == collab.Speculative) {
			return fieldErr(f+".comb", "fusion learned needs a CombModel file (cogen fusion train writes one)")
		}
		if slices.ContainsFunc(c.Strategies[:i], func(o Strategy) bool { return o.Name == s.Name }) {
			return fieldErr(f+".name", "%q is used twice; give each entry its own name", s.Name)
		}
	}
	if c.Baseline == "" {
		c.Baseline = c.Strategies[0].Name
	}
	if !slices.ContainsFunc(c.Strategies, func(s Strategy) bool { return s.Name == c.Baseline }) {
		return fieldErr("baseline", "%q names no strategy entry", c.Baseline)
	}

	if len(c.Models) == 0 {
		return fieldErr("models", "at least one [[models]] entry with slm = PATH is required")
	}
	for i := range c.Models {
		m := &c.Models[i]
		f := fmt.Sprintf("models[%d]", i)
		if m.SLM == "" {
			return fieldErr(f+".slm", "required")
		}
		m.SLM = c.model(m.SLM)
		if m.Name == "" {
			m.Name = strings.TrimSuffix(filepath.Base(m.SLM), filepath.Ext(m.SLM))
		}
		if m.LoRA != "" {
			m.LoRA = c.abs(m.LoRA)
		}
		if slices.ContainsFunc(c.Models[:i], func(o Model) bool { return o.Name == m.Name }) {
			return fieldErr(f+".name", "%q is used twice", m.Name)
		}
	}

	if needCloud {
		if c.Cloud.Target == "" {
			return fieldErr("cloud.target", "a strategy other than slm needs a cloud: a base URL or local:PATH")
		}
		if err := c.target(&c.Cloud.Target, &c.Cloud.Kind, "cloud"); err != nil {
			return err
		}
	}

	j := &c.Judge
	if j.Target == "" {
		return fieldErr("judge.target", "required: a base URL or local:PATH")
	}
	if err := c.target(&j.Target, &j.Kind, "judge"); err != nil {
		return err
	}
	if !j.AllowPrivate {
		return fieldErr("judge.allow_private", "the judge prompts carry the user's profile, writing history and task to the judge (as in the paper); set judge.allow_private = true to send them (every request is recorded in judge-audit.jsonl)")
	}
	if len(j.Prompts) == 0 {
		j.Prompts = []string{"ovl-w", "per", "ovl-wo"}
	}
	for i, p := range j.Prompts {
		if _, ok := promptNames[p]; !ok {
			return fieldErr(fmt.Sprintf("judge.prompts[%d]", i), "%q: want ovl-w, per or ovl-wo", p)
		}
		if slices.Contains(j.Prompts[:i], p) {
			return fieldErr(fmt.Sprintf("judge.prompts[%d]", i), "%q given twice", p)
		}
	}
	if j.Repeats == 0 {
		j.Repeats = 1
	}
	if j.Repeats < 0 || j.Repeats > 99 {
		return fieldErr("judge.repeats", "%d: must be in [1, 99]", j.Repeats)
	}
	if j.MaxRetries == 0 {
		j.MaxRetries = 3
	}
	if j.MaxRetries < 0 {
		return fieldErr("judge.max_retries", "%d: must be >= 0", j.MaxRetries)
	}
	if math.IsNaN(j.Temperature) || j.Temperature < 0 || j.Temperature > 2 {
		return fieldErr("judge.temperature", "%v: must be in [0, 2]", j.Temperature)
	}
	if j.MaxTokens == 0 {
		j.MaxTokens = 512
	}
	if j.Grammar && j.MaxTokens < minGrammarTokens {
		return fieldErr("judge.max_tokens", "%d: a grammar-constrained judge needs at least %d tokens", j.MaxTokens, minGrammarTokens)
	}
	if j.MaxTokens < 0 {
		return fieldErr("judge.max_tokens", "%d: must be positive", j.MaxTokens)
	}
	if j.Grammar && openaiapi.Kind(j.Kind) != openaiapi.KindAuto {
		// An auto kind is checked once detected (judgeClient).
		if err := grammarKind(openaiapi.Kind(j.Kind)); err != nil {
			return fieldErr("judge.grammar", "%v", err)
		}
	}
	if j.Pairwise == "" {
		j.Pairwise = PairwiseJudge
	}
	switch j.Pairwise {
	case PairwiseJudge, PairwiseRatings, PairwiseOff:
	default:
		return fieldErr("judge.pairwise", "%q: want judge, ratings or off", j.Pairwise)
	}
	if j.Pairwise == PairwiseRatings && !slices.Contains(j.Prompts, "ovl-w") {
		return fieldErr("judge.pairwise", "ratings compares the Ovl.(w) ratings; add \"ovl-w\" to judge.prompts")
	}
	if j.Concurrency == 0 {
		j.Concurrency = 1
	}
	if j.Concurrency < 0 || j.Concurrency > 64 {
		return fieldErr("judge.concurrency", "%d: must be in [1, 64]", j.Concurrency)
	}
	for name, v := range map[string]float64{"prices.cloud_in": c.Prices.CloudIn, "prices.cloud_out": c.Prices.CloudOut, "prices.judge_in": c.Prices.JudgeIn, "prices.judge_out": c.Prices.JudgeOut} {
		if math.IsNaN(v) || v < 0 {
			return fieldErr(name, "%v: must be >= 0", v)
		}
	}
	return nil
}

// target checks a cloud or judge target and its server kind: auto (the
// default; detected when the run dials the target, see
// [runner.resolveKind]) or a kind (checked against the server then). A
// local: target is cogen cloud, which is vllm.
func (c *Config) target(t, kind *string, field string) error {
	k, err := openaiapi.ParseKind(*kind)
	if err != nil {
		return fieldErr(field+".kind", "%v", err)
	}
	if p, ok := strings.CutPrefix(*t, "local:"); ok {
		*t = "local:" + c.model(p)
		if k != openaiapi.KindAuto && k != openaiapi.KindVLLM {
			return fieldErr(field+".kind", "%q: a local: target is cogen cloud, which is vllm-shaped", *kind)
		}
		*kind = string(openaiapi.KindVLLM)
		return nil
	}
	if !strings.HasPrefix(*t, "http://") && !strings.HasPrefix(*t, "https://") {
		return fieldErr(field+".target", "%q: want an http(s) base URL or local:PATH", *t)
	}
	*kind = string(k)
	return nil
}

// grammarKind refuses a judge kind that takes no grammar.
func grammarKind(k openaiapi.Kind) error {
	switch k {
	case openaiapi.KindVLLM, openaiapi.KindLlamaCpp:
		return nil
	}
	return fmt.Errorf("kind %q takes no grammar; use judge.kind vllm (guided_grammar; also cogen cloud) or llamacpp (grammar)", k)
}

// abs resolves a path against the config file's directory.
func (c *Config) abs(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.dir, p)
}

// model resolves a model reference: hf:// references stay as they are.
func (c *Config) model(ref string) string {
	if strings.HasPrefix(ref, "hf://") {
		return ref
	}
	return c.abs(ref)
}

// params returns the sampling parameters for a seed.
func (s Sampling) params(seed uint64) sample.Params {
	return sample.Params{Temperature: s.Temperature, TopP: s.TopP, TopK: s.TopK, MinP: s.MinP, Seed: seed}
}

// parseRange parses "A:B" (either side may be empty; "" is everything).
func parseRange(s string) (lo, hi int, err error) {
	hi = -1
	if s == "" {
		return 0, -1, nil
	}
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("%q: want A:B", s)
	}
	if a != "" {
		if lo, err = strconv.Atoi(a); err != nil || lo < 0 {
			return 0, 0, fmt.Errorf("%q: start must be a number >= 0", s)
		}
	}
	if b != "" {
		if hi, err = strconv.Atoi(b); err != nil || hi < lo {
			return 0, 0, fmt.Errorf("%q: end must be a number >= the start", s)
		}
	}
	return lo, hi, nil
}

// kinds returns the configured judge prompt kinds, in config order.
func (j Judge) kinds() []judge.Kind {
	out := make([]judge.Kind, len(j.Prompts))
	for i, p := range j.Prompts {
		out[i] = promptNames[p]
	}
	return out
}
