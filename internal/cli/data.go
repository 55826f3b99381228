package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

// maxDatasetFile bounds a dataset file read whole.
const maxDatasetFile = dataset.MaxFileBytes

const dataUsage = `usage: cogen data validate [--kind context|paper|email] [--wo FILE] FILE
       cogen data stats [--kind K] [--markdown] [--seed N] [--ratio R] FILE...
       cogen data lamp --questions Q.json --outputs O.json --kind paper|email --out DIR [--split train|dev]
       cogen data sft --data FILE --out FILE.jsonl [--records A:B] [--with-sketch --llm URL|local:PATH [--sketch-full]]`

// runData runs "cogen data validate|stats|lamp".
func runData(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef(dataUsage, "no data subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "validate":
		return runDataValidate(rest, stdout, stderr)
	case "stats":
		return runDataStats(rest, stdout, stderr)
	case "lamp":
		return runDataLaMP(ctx, rest, stdout, stderr)
	case "sft":
		return runDataSFT(ctx, rest, stdout, stderr)
	}
	return usagef(dataUsage, "unknown data subcommand %q", sub)
}

// parseInterspersed parses flags that may come before or after the
// positional arguments, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args, stderr); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func kindFlag(fs *flag.FlagSet, help string) *string {
	return fs.String("kind", "", help)
}

func runDataValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data validate", flag.ContinueOnError)
	kind := kindFlag(fs, "the file's kind: context, paper or email (default: detect)")
	wo := fs.String("wo", "", "the paired without-context (_wo) file of a paper or email file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: cogen data validate [--kind context|paper|email] [--wo FILE] FILE")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return usagef(dataUsage, "data validate: want one file, got %d", len(files))
	}
	k, err := dataset.ParseKind(*kind)
	if err != nil {
		return &UsageError{Err: err, Hint: dataUsage}
	}
	path := files[0]
	f, err := dataset.LoadWith(path, dataset.Options{Kind: k, Without: *wo})
	if pe, ok := errors.AsType[*dataset.ProblemError](err); ok {
		for _, p := range pe.Problems {
			fmt.Fprintln(stdout, p)
		}
		return fmt.Errorf("data validate %s: %d problems", path, len(pe.Problems))
	}
	if err != nil {
		return fmt.Errorf("data validate %s: %w", path, err)
	}
	form := string(f.Kind)
	if f.WithoutContext {
		form += ", without context"
	}
	if *wo != "" {
		fmt.Fprintf(stdout, "%s: %d records (%s), paired with %s: no problems\n", path, len(f.Records), form, *wo)
	} else {
		fmt.Fprintf(stdout, "%s: %d records (%s): no problems\n", path, len(f.Records), form)
	}
	return nil
}

func runDataStats(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data stats", flag.ContinueOnError)
	kind := kindFlag(fs, "the files' kind: context, paper or email (default: detect each)")
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	seed := fs.Uint64("seed", 0, "seed of the train/validation split")
	ratio := fs.Float64("ratio", dataset.DefaultTrainRatio, "share of users in the train split")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: cogen data stats [--kind K] [--markdown] [--seed N] [--ratio R] FILE...")
		fs.PrintDefaults()
	}
	files, err := parseInterspersed(fs, args, stderr)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef(dataUsage, "data stats: want at least one file")
	}
	if *ratio <= 0 || *ratio > 1 {
		return usagef(dataUsage, "data stats: --ratio %g: want a share in (0, 1]", *ratio)
	}
	k, err := dataset.ParseKind(*kind)
	if err != nil {
		return &UsageError{Err: err, Hint: dataUsage}
	}
	var stats []dataset.Stats
	for _, path := range files {
		f, err := dataset.LoadWith(path, dataset.Options{Kind: k})
		if err != nil {
			return fmt.Errorf("data stats: %w", err)
		}
		stats = append(stats, f.Stats(dataset.SplitOptions{Ratio: *ratio, Seed: *seed}))
	}
	if *markdown {
		fmt.Fprint(stdout, dataset.RenderMarkdown(stats...))
	} else {
		fmt.Fprint(stdout, dataset.RenderTable(stats...))
	}
	return nil
}

func runDataLaMP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data lamp", flag.ContinueOnError)
	var (
		questions = fs.String("questions", "", "LaMP questions file (LaMP-5 or LaMP-6 *_questions.json)")
		outputs   = fs.String("outputs", "", "LaMP outputs file (the matching *_outputs.json)")
		kind      = kindFlag(fs, "paper (LaMP-5 citation network) or email (LaMP-6 Avocado)")
		out       = fs.String("out", "", "output directory")
		split     = fs.String("split", "train", "train: a LaMP train file, split into train and validation; dev: a LaMP dev file, reused as the test split")
		seed      = fs.Uint64("seed", 0, "seed of the train/validation split")
		ratio     = fs.Float64("ratio", dataset.DefaultTrainRatio, "share of records in the train split")
		k         = fs.Int("k", 0, "most history items per prompt (0: as many as --budget allows)")
		budget    = fs.Int("budget", dataset.DefaultHistoryBudget, "most characters of a prompt's history")
		minChars  = fs.Int("min-chars", 0, "shortest reference kept, in characters (0: 128 for papers, 64 for emails; -1: none)")
		maxChars  = fs.Int("max-chars", dataset.MaxOutputChars, "longest reference kept, in characters (-1: none)")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: cogen data lamp --questions Q.json --outputs O.json --kind paper|email --out DIR [--split train|dev] [flags]")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args, stderr)
	if err != nil {
		return err
	}
	const hint = "usage: cogen data lamp --questions Q.json --outputs O.json --kind paper|email --out DIR [--split train|dev]"
	switch {
	case len(pos) > 0:
		return usagef(hint, "data lamp: unexpected argument %q", pos[0])
	case *questions == "" || *outputs == "" || *out == "":
		return usagef(hint, "data lamp: --questions, --outputs and --out are required")
	case *kind != string(dataset.KindPaper) && *kind != string(dataset.KindEmail):
		return usagef(hint, "data lamp: --kind %q: want paper or email", *kind)
	case *split != "train" && *split != "dev":
		return usagef(hint, "data lamp: --split %q: want train or dev", *split)
	case *ratio <= 0 || *ratio > 1:
		return usagef(hint, "data lamp: --ratio %g: want a share in (0, 1]", *ratio)
	case *k < 0 || *budget <= 0:
		return usagef(hint, "data lamp: want --k ≥ 0 and --budget > 0")
	}
	f, rep, err := dataset.ProcessLaMP(ctx, *questions, *outputs, dataset.LaMPOptions{
		Kind: dataset.Kind(*kind), K: *k, Budget: *budget, MinChars: *minChars, MaxChars: *maxChars,
	})
	if err != nil {
		return fmt.Errorf("data lamp: %w", err)
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("data lamp: %w", err)
	}
	parts := map[string]*dataset.File{"test": f}
	order := []string{"test"}
	if *split == "train" {
		sp := f.Split(dataset.SplitOptions{Ratio: *ratio, Seed: *seed})
		parts = map[string]*dataset.File{"train": f.Subset(sp.Train), "validation": f.Subset(sp.Validation)}
		order = []string{"train", "validation"}
	}
	mean := 0.0
	if rep.Kept > 0 {
		mean = float64(rep.HistoryItems) / float64(rep.Kept)
	}
	fmt.Fprintf(stdout, "%d questions: kept %d (%.1f history items each); dropped %d without gold output, %d too short, %d too long, %d without history\n",
		rep.Questions, rep.Kept, mean, rep.NoGold, rep.TooShort, rep.TooLong, rep.NoHistory)
	for _, name := range order {
		p := parts[name]
		base := filepath.Join(*out, *kind+"_"+name)
		if err := dataset.WriteRecords(base+".json", p.Records); err != nil {
			return fmt.Errorf("data lamp: %w", err)
		}
		if err := dataset.WriteRecords(base+"_wo.json", p.Without); err != nil {
			return fmt.Errorf("data lamp: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s.json and %s_wo.json (%d records)\n", base, base, len(p.Records))
	}
	return nil
}
