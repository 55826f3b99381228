package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/localcloud"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
	"github.com/cogenesis/cogenesis/privacy/guardmodel"
)

// collabFlags are the flags of a collaboration run.
type collabFlags struct {
	strategy  string
	llm       string
	llmKind   string
	llmModel  string
	user      string
	dataset   string
	index     int
	fusion    string
	schedule  string
	topK      int
	trace     string
	auditPath string
	allowPriv bool
	cloudMax  int
	comb      string
	gamma     int
	perToken  bool
	skipBad   bool
	guardMod  string
	states    statesFlag
}

func (c *collabFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.strategy, "strategy", "", "collaboration strategy: llm, llm-context, slm, sketch, sketch-full, logits, speculative (none: the local model alone, no context)")
	fs.StringVar(&c.llm, "llm", "", "cloud model: an OpenAI-compatible base URL, or local:PATH to serve a GGUF in-process on loopback")
	fs.StringVar(&c.llmKind, "llm-kind", "auto", llmKindHelp)
	fs.StringVar(&c.llmModel, "llm-model", "", "cloud model name")
	fs.StringVar(&c.user, "user", "", "user file (TOML or JSON) with the private context")
	fs.StringVar(&c.dataset, "dataset", "", "context-aware dataset file (the paper's context_dev.json format)")
	fs.IntVar(&c.index, "index", 0, "record index in --dataset")
	fs.StringVar(&c.fusion, "fusion", "mean", "logit fusion: mean, max, learned")
	fs.StringVar(&c.schedule, "schedule", "all", "when logits consults the cloud: all, first:N, pkt:P,K,T")
	fs.IntVar(&c.topK, "top-k-cloud", 10, "cloud log-probabilities per step (logits)")
	fs.StringVar(&c.trace, "trace", "", "write the per-token trace here (.json, or .html for the heat map)")
	fs.StringVar(&c.auditPath, "audit", "", "append every cloud request to this audit log (default: cogen-audit.jsonl in the current directory)")
	fs.BoolVar(&c.allowPriv, "allow-private-egress", false, "let the llm-context baseline send the private context")
	fs.IntVar(&c.cloudMax, "cloud-max-tokens", 512, "most tokens the cloud writes (outline or draft)")
	fs.StringVar(&c.comb, "comb", "", "CombModel file (safetensors, from cogen fusion train) for --fusion learned")
	fs.IntVar(&c.gamma, "gamma", 0, "speculative: first draft length (default 4, then adaptive)")
	fs.BoolVar(&c.perToken, "per-token-fallback", false, perTokenFallbackHelp)
	fs.StringVar(&c.guardMod, "guard-model", "off", guardModelHelp)
	fs.BoolVar(&c.skipBad, "skip-bad", false, skipBadHelp)
	c.states.register(fs)
}

// guardModelHelp is the help text of every --guard-model flag.
const guardModelHelp = "off, or local: also ask the local model, once per request, which spans of the public instruction reveal the user's context (findings only add to the guard's; costs one short generation)"

// perTokenFallbackHelp is the help text of every --per-token-fallback flag.
const perTokenFallbackHelp = "speculative against a cloud that cannot score a sequence in one request (llama.cpp's server, Ollama): run per-token fusion instead (same output distribution, one round trip per token) rather than refuse"

// loadTask returns the user's guard input and task from --user or
// --dataset; warnings and skipped records of the dataset go to stderr.
func (c *collabFlags) loadTask(taskText string, stderr io.Writer) (*privacy.Vault, collab.Task, error) {
	switch {
	case c.dataset != "" && c.user != "":
		return nil, collab.Task{}, usagef("", "give --user or --dataset, not both")
	case c.skipBad && c.dataset == "":
		return nil, collab.Task{}, usagef("", "--skip-bad goes with --dataset")
	case c.dataset != "":
		f, err := loadContext(c.dataset, c.skipBad, stderr)
		if err != nil {
			return nil, collab.Task{}, err
		}
		rec, err := recordAt(f, c.index)
		if err != nil {
			return nil, collab.Task{}, err
		}
		if taskText != "" {
			return rec.Vault, collab.TaskFromVault(rec.Vault, privacy.SplitTask(taskText)), nil
		}
		return rec.Vault, collab.TaskFromRecord(rec), nil
	case c.user != "":
		v, err := privacy.LoadVault(c.user)
		if err != nil {
			return nil, collab.Task{}, err
		}
		if taskText == "" {
			return nil, collab.Task{}, usagef("usage: cogen generate --strategy S --user FILE TASK", "no task given")
		}
		return v, collab.TaskFromVault(v, privacy.SplitTask(taskText)), nil
	}
	return nil, collab.Task{}, usagef("pass --user FILE or --dataset FILE --index N", "a strategy needs the user's context")
}

func runCollab(ctx context.Context, c collabFlags, slmRef string, ef engineFlags, sf samplingFlags, taskText string, stdout, stderr io.Writer) error {
	st, err := collab.ParseStrategy(c.strategy)
	if err != nil {
		return &UsageError{Err: err}
	}
	method, err := fusion.ParseMethod(c.fusion)
	if err != nil {
		return &UsageError{Err: err}
	}
	sched, err := collab.ParseSchedule(c.schedule)
	if err != nil {
		return &UsageError{Err: err}
	}
	params, err := sf.params()
	if err != nil {
		return err
	}
	var comb *fusion.CombModel
	switch {
	case c.comb != "":
		if comb, err = fusion.Load(c.comb, 0); err != nil {
			return err
		}
	case method == fusion.Learned:
		return usagef("pass --comb FILE (cogen fusion train writes one)", "--fusion learned needs a CombModel")
	}
	vault, task, err := c.loadTask(taskText, stderr)
	if err != nil {
		return err
	}
	guard := privacy.NewGuard(vault)
	grant := privateGrant(c.allowPriv)
	r := &collab.Runner{Guard: guard, Private: grant, Logger: slog.Default()}
	var cloudKind openaiapi.Kind // the resolved kind of the cloud server
	var detok func([]int32) string
	if c.guardMod != "off" && c.guardMod != "local" {
		return usagef("", "--guard-model %q: want off or local", c.guardMod)
	}
	if st != collab.LLM && st != collab.LLMContext || c.guardMod == "local" {
		// With-context prompts are long.
		if ef.ctxSize < 8192 {
			ef.ctxSize = 8192
		}
		if st == collab.Speculative {
			// A second sequence holds the local stand-in for the cloud.
			ef.parallel = max(ef.parallel, 2)
		}
		m, err := openModel(ctx, slmRef, ef, stderr)
		if err != nil {
			return err
		}
		defer m.Close()
		// The user's evaluated context is kept beside the default vault,
		// in the per-user data directory.
		states, err := c.states.open("")
		if err != nil {
			return err
		}
		r.SLM = collab.Engine(m)
		if states != nil {
			r.SLM = collab.EngineWithStates(m, states)
		}
		detok = m.Detokenize
		if c.guardMod == "local" {
			if r.GuardModel, err = guardmodel.New(m, vault, guardmodel.Options{}); err != nil {
				return err
			}
		}
	}
	if st != collab.SLM {
		if c.llm == "" {
			return usagef("pass --llm URL or --llm local:PATH", "strategy %s needs a cloud model", st)
		}
		path := c.auditPath
		if path == "" {
			path = "cogen-audit.jsonl"
		}
		cloud, closeCloud, err := dialCloud(ctx, cloudConfig{
			Target: c.llm, Kind: openaiapi.Kind(c.llmKind), Model: c.llmModel, Threads: ef.threads,
			Guard: guard, Detokenize: detok, Private: grant,
		}, path, ef.cacheDir, stderr)
		if err != nil {
			return err
		}
		defer closeCloud()
		r.Cloud, cloudKind = cloud, cloud.Client().Kind()
		defer fmt.Fprintf(stderr, "audit: %s\n", path)
	}
	res, err := r.Run(ctx, task, collab.Options{
		Strategy: st, MaxTokens: sf.maxTokens, Sample: params, Fusion: method, Schedule: sched,
		TopK: c.topK, CloudMaxTokens: c.cloudMax, Trace: c.trace != "", Comb: comb, Gamma: c.gamma,
		PerTokenFallback: c.perToken,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, res.Text)
	if res.Fallback != "" {
		fmt.Fprintf(stderr, "ran %s: a %s cloud cannot score a sequence in one request, so each token took a round trip (same output distribution)\n", res.Label(), cloudKind)
	}
	if res.Redactions > 0 {
		fmt.Fprintf(stderr, "guard: %d private spans redacted from the public instruction\n", res.Redactions)
	}
	if c.trace != "" {
		if res.Trace == nil {
			fmt.Fprintf(stderr, "trace: strategy %s has no per-token trace (the cloud writes the whole answer in one request); %s not written\n", st, c.trace)
		} else if err := writeTrace(c.trace, res.Trace); err != nil {
			return err
		}
	}
	return nil
}

func writeTrace(path string, tr *collab.Trace) error {
	// The trace holds the generated text, as private as the context it
	// came from: owner-only, as the audit log and the vault.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write trace: %w", err)
	}
	if strings.HasSuffix(path, ".html") {
		err = tr.WriteHTML(f)
	} else {
		err = tr.WriteJSON(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write trace %s: %w", path, err)
	}
	return nil
}

// cloudConfig says how to reach the cloud model.
type cloudConfig struct {
	// Target is a base URL ("http://host:8000/v1") or "local:MODEL" (a
	// path or hf:// reference), which serves MODEL in-process behind a
	// loopback HTTP server so the same wire path is used.
	Target string
	Kind   openaiapi.Kind
	Model  string
	// Latency is added by a local cloud to every response.
	Latency time.Duration
	// Threads is a local cloud's CPU threads (0: the engine's default).
	Threads int
	// Guard checks every request whose run brings no guard of its own;
	// nil means each run must bring one (collab.Runner.Guard).
	Guard *privacy.Guard
	// Detokenize renders token-id prompts for the guard.
	Detokenize func([]int32) string
	// Private is the grant of --allow-private-egress; nil for none.
	Private *egress.Grant
}

// dialCloud connects to the cloud of cfg.Target through the egress: every
// request is checked by the guard and recorded in the audit log at
// auditPath before it leaves. The kind of a URL's server is resolved first
// (resolveCloudKind: detected for auto, checked otherwise). close stops a
// local cloud and closes the log.
func dialCloud(ctx context.Context, cfg cloudConfig, auditPath, cacheDir string, stderr io.Writer) (cloud *collab.Cloud, close func(), err error) {
	c, _, close, err := dialCloudClient(ctx, cfg, auditPath, cacheDir, stderr)
	if err != nil {
		return nil, nil, err
	}
	return collab.NewCloud(c), close, nil
}

// dialCloudClient is dialCloud's client, with what the detection of its
// kind found (for a local:MODEL target, which is always cogen cloud, only
// Kind, URL and Evidence are set).
func dialCloudClient(ctx context.Context, cfg cloudConfig, auditPath, cacheDir string, stderr io.Writer) (c *openaiapi.Client, d openaiapi.Detection, close func(), err error) {
	if cfg.Target, err = resolveTarget(ctx, cfg.Target, cacheDir, stderr); err != nil {
		return nil, d, nil, err
	}
	log, err := audit.Open(auditPath)
	if err != nil {
		return nil, d, nil, err
	}
	logger := slog.Default().With("component", "cloud")
	api, local, err := localcloud.Target(cfg.Target, openaiapi.Config{Kind: cfg.Kind, Model: cfg.Model, Timeout: 5 * time.Minute, Logger: logger},
		localcloud.Options{Latency: cfg.Latency, Threads: cfg.Threads, Logger: logger})
	if err != nil {
		log.Close()
		return nil, d, nil, err
	}
	closeAll := func() {
		if local != nil {
			local.Close()
		}
		log.Close()
	}
	ecfg := egress.Config{Policy: egress.User, Log: log, Guard: cfg.Guard, Detokenize: cfg.Detokenize, Private: cfg.Private}
	if local == nil {
		api, d, err = resolveCloudKind(ctx, ecfg, api)
	} else {
		d = openaiapi.Detection{URL: strings.TrimSuffix(api.BaseURL, "/v1"), Kind: api.Kind, Conclusive: true,
			Evidence: "local: targets are served by cogen cloud, which speaks vLLM's protocol"}
	}
	if err == nil {
		c, err = egress.Dial(ecfg, api)
	}
	if err != nil {
		closeAll()
		return nil, d, nil, err
	}
	return c, d, closeAll, nil
}

// resolveTarget turns the MODEL of a "local:MODEL" cloud target (a path or
// hf:// reference) into a local path; a URL is returned as it is.
func resolveTarget(ctx context.Context, target, cacheDir string, stderr io.Writer) (string, error) {
	p, ok := strings.CutPrefix(target, "local:")
	if !ok {
		return target, nil
	}
	rp, err := resolveModel(ctx, p, cacheDir, stderr)
	if err != nil {
		return "", err
	}
	return "local:" + rp, nil
}

// privateGrant returns the grant of --allow-private-egress when the flag
// is set, nil otherwise.
func privateGrant(allow bool) *egress.Grant {
	if !allow {
		return nil
	}
	return egress.AllowPrivate("--allow-private-egress")
}
