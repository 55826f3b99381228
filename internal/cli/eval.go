package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/cogenesis/cogenesis/internal/eval"
)

// evalUsage is the usage of cogen eval and its score subcommand.
const evalUsage = `usage: cogen eval --config FILE [--out DIR] [--concurrency N]
       cogen eval score --predictions FILE --references FILE [--references FILE ...] [--json]

cogen eval generates (resumable, cached by content hash), judges with the paper's
Table 9 prompts, compares against a baseline, and writes Table 1, Table 3, the
stability plot and the weight view. It exits non-zero when an output the config
asks for is missing entirely (every answer unrated, say), after writing the tables.
--concurrency runs up to N generations at once, with the outputs they give one at
a time (a model whose logits change in a batch, F32 or F16, runs one at a time).
cogen eval score computes BLEU and ROUGE-L of existing predictions (run
"cogen eval score -h").`

func runEval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "score" {
		return runEvalScore(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	var (
		config   = fs.String("config", "", "evaluation config (TOML; see examples/eval.toml)")
		out      = fs.String("out", "", "output directory (overrides the config's out)")
		cacheDir = fs.String("cache-dir", "", "model download cache for hf:// references (default: the user cache directory)")
		conc     = fs.Int("concurrency", 0, "generations run at once, 1 to 16 (default: the config's concurrency)")
	)
	setUsage(fs, evalUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *config == "" {
		return usagef("usage: cogen eval --config FILE (see examples/eval.toml)", "no config given")
	}
	if fs.NArg() > 0 {
		return usagef("usage: cogen eval --config FILE", "unexpected arguments %q", fs.Args())
	}
	concSet := false
	fs.Visit(func(f *flag.Flag) { concSet = concSet || f.Name == "concurrency" })
	if concSet && (*conc < 1 || *conc > 16) {
		return usagef("usage: cogen eval --config FILE --concurrency N (1 to 16)", "--concurrency %d: must be in [1, 16]", *conc)
	}
	cfg, err := eval.LoadConfig(*config)
	if err != nil {
		return &UsageError{Err: err}
	}
	if *out != "" {
		cfg.Out = *out
	}
	if concSet {
		cfg.Concurrency = *conc
	}
	rep, err := eval.Run(ctx, cfg, eval.Options{
		Resolve: func(ctx context.Context, ref string) (string, error) {
			return resolveModel(ctx, ref, *cacheDir, stderr)
		},
		Progress: stderr,
		Logger:   slog.Default().With("component", "eval"),
	})
	if rep == nil {
		return err
	}
	// With an error wrapping eval.ErrNoResults the tables are written:
	// show them, then fail.
	fmt.Fprint(stdout, rep.Markdown)
	fmt.Fprintf(stderr, "model calls this run: %d (%d generations, %d cloud requests, %d judge requests)\n",
		rep.Calls.Total(), rep.Calls.Generations, rep.Calls.CloudRequests, rep.Calls.JudgeRequests)
	for _, f := range rep.Files {
		fmt.Fprintf(stderr, "wrote %s\n", f)
	}
	return err
}
