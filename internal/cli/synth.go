package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/localcloud"
	"github.com/cogenesis/cogenesis/internal/synth"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

const synthUsage = `usage: cogen synth --llm URL|local:PATH --out FILE --portraits N --users-per-portrait M --tasks-per-user K
       [--history H] [--db FILE] [--concurrency C] [--rps R] [--seed S] [--retries N]`

// runSynth runs "cogen synth": the four-step synthesis of a context-aware
// dataset, resumable from its job store.
func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("synth", flag.ContinueOnError)
	var (
		llmTarget = fs.String("llm", "", "cloud model: an OpenAI-protocol base URL (http://host:8000/v1) or local:PATH")
		llmKind   = fs.String("llm-kind", "auto", llmKindHelp)
		llmModel  = fs.String("llm-model", "", "model name sent to the cloud")
		out       = fs.String("out", "", "output file: a JSON array in the context-aware format")
		dbPath    = fs.String("db", "", "job store; rerun with the same store to resume (default OUT.jobs.db)")
		auditPath = fs.String("audit", "", "append every cloud request to this audit log (default OUT.audit.jsonl)")
		portraits = fs.Int("portraits", 0, "number of group portraits")
		users     = fs.Int("users-per-portrait", 0, "users per group portrait")
		tasks     = fs.Int("tasks-per-user", 0, "records (writing tasks with texts) per user")
		history   = fs.Int("history", 4, "extra tasks per user whose texts form the writing history")
		conc      = fs.Int("concurrency", 2, "most jobs in flight at once")
		rps       = fs.Float64("rps", 0, "most requests started per second (0: no limit)")
		seed      = fs.Int64("seed", 0, "seed of themes and sampling")
		retries   = fs.Int("retries", 3, "times an invalid answer is asked again before the job fails")
		itemChars = fs.Int("item-chars", synth.DefaultLimits.ItemChars, "longest short field or list item, in characters")
		textChars = fs.Int("text-chars", synth.DefaultLimits.TextChars, "longest text, in characters (a text needs a fifth of it)")
		maxTokens = fs.Int("max-tokens", 0, "cap on max_tokens of every request (0: each step's default)")
		threads   = fs.Int("threads", 0, "CPU threads of a local:PATH cloud (0: engine default)")
		cacheDir  = fs.String("cache-dir", "", "model cache directory for hf:// references")
		priceIn   = fs.Float64("price-in", 0, "price of a million prompt tokens, for the cost line")
		priceOut  = fs.Float64("price-out", 0, "price of a million completion tokens, for the cost line")
	)
	setUsage(fs, synthUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef(synthUsage, "synth: unexpected argument %q", fs.Arg(0))
	case *llmTarget == "":
		return usagef(synthUsage, "synth: pass --llm URL or --llm local:PATH")
	case *out == "":
		return usagef(synthUsage, "synth: pass --out FILE")
	case *portraits < 1 || *users < 1 || *tasks < 1:
		return usagef(synthUsage, "synth: --portraits, --users-per-portrait and --tasks-per-user must be at least 1")
	case *history < 1:
		return usagef(synthUsage, "synth: --history must be at least 1 (a record needs a writing history)")
	case *retries < 0 || *conc < 1 || *rps < 0:
		return usagef(synthUsage, "synth: --retries, --concurrency and --rps must not be negative (--concurrency at least 1)")
	}
	if *dbPath == "" {
		*dbPath = *out + ".jobs.db"
	}
	if *auditPath == "" {
		*auditPath = *out + ".audit.jsonl"
	}

	target, err := resolveTarget(ctx, *llmTarget, *cacheDir, stderr)
	if err != nil {
		return err
	}
	logger := slog.Default().With("component", "cloud")
	api, lc, err := localcloud.Target(target, openaiapi.Config{Kind: openaiapi.Kind(*llmKind), Model: *llmModel, Timeout: 5 * time.Minute, Logger: logger},
		localcloud.Options{Threads: *threads, Logger: logger})
	if err != nil {
		return err
	}
	if lc != nil {
		defer lc.Close()
	}
	model := api.Model
	log, err := audit.Open(*auditPath)
	if err != nil {
		return err
	}
	defer log.Close()
	// The data is synthetic: there is no vault, and the guard's generic
	// detectors check every request under the synthetic policy (what they
	// find is recorded, and sent). Each request is tagged with its job id.
	ecfg := egress.Config{
		Policy: egress.Synthetic, Log: log, Guard: privacy.NewGuard(nil),
		Outer: func(rt http.RoundTripper) http.RoundTripper { return &synth.Transport{Base: rt} },
	}
	if lc == nil {
		if api, _, err = resolveCloudKind(ctx, ecfg, api); err != nil {
			return err
		}
	}
	client, err := egress.Dial(ecfg, api)
	if err != nil {
		return err
	}
	st, err := synth.OpenStore(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer st.Close()

	rep, err := synth.Run(ctx, client, st, synth.Config{
		Portraits: *portraits, UsersPerPortrait: *users, TasksPerUser: *tasks, History: *history, Seed: *seed,
		Limits:      synth.Limits{ItemChars: *itemChars, TextChars: *textChars},
		Concurrency: *conc, RPS: *rps, Retries: *retries, MaxTokens: *maxTokens, Model: model,
		Progress: stderr, Logger: slog.Default(),
	})
	if errors.Is(err, synth.ErrConfigMismatch) {
		return &UsageError{Err: err, Hint: "pass the parameters of the stored run, or a new --db"}
	}
	if err != nil {
		return fmt.Errorf("synth (resume with the same --db %s): %w", *dbPath, err)
	}
	if err := synth.WriteFile(*out, rep.Records); err != nil {
		return err
	}
	for _, f := range rep.Failures {
		fmt.Fprintf(stdout, "failed %s: job %s: %s\n", f.TID, f.Job, f.Reason)
	}
	fmt.Fprintf(stdout, "usage: this run %d calls, %d prompt + %d completion tokens; all runs %d prompt + %d completion tokens\n",
		rep.Calls, rep.PromptTokens, rep.CompletionTokens, rep.TotalPromptTokens, rep.TotalCompletionTokens)
	if *priceIn > 0 || *priceOut > 0 {
		cost := func(in, out int64) float64 { return (float64(in)**priceIn + float64(out)**priceOut) / 1e6 }
		fmt.Fprintf(stdout, "cost: this run %.4f, all runs %.4f (at %g and %g per million prompt and completion tokens)\n",
			cost(rep.PromptTokens, rep.CompletionTokens), cost(rep.TotalPromptTokens, rep.TotalCompletionTokens), *priceIn, *priceOut)
	}
	fmt.Fprintf(stdout, "%s: %d records, %d failures\n", *out, len(rep.Records), len(rep.Failures))
	if len(rep.Records) == 0 {
		// Nothing of what was asked for: a failure, whatever was written.
		return fmt.Errorf("synth: no records (%d failures; see above, or the cloud's answers with --log-level debug)", len(rep.Failures))
	}
	return nil
}
