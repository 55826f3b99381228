package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cogenesis/cogenesis/internal/dataset"
	"github.com/cogenesis/cogenesis/privacy"
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

func kindFlag(fs *flag.FlagSet, help string) *string {
	return fs.String("kind", "", help)
}

func runDataValidate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data validate", flag.ContinueOnError)
	kind := kindFlag(fs, "the file's kind: context, paper or email (default: detect)")
	wo := fs.String("wo", "", "the paired without-context (_wo) file of a paper or email file")
	setUsage(fs, "Usage: cogen data validate [--kind context|paper|email] [--wo FILE] FILE")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	files := fs.Args()
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
		printWarnings(stderr, pe.Warnings)
		return fmt.Errorf("data validate %s: %d problems", path, len(pe.Problems))
	}
	if err != nil {
		return fmt.Errorf("data validate %s: %w", path, err)
	}
	printWarnings(stderr, f.Warnings)
	form := string(f.Kind)
	if f.WithoutContext {
		form += ", without context"
	}
	verdict := "no problems"
	if n := len(f.Warnings); n > 0 {
		verdict += fmt.Sprintf(", %d %s (on stderr)", n, plural(n, "warning"))
	}
	if *wo != "" {
		fmt.Fprintf(stdout, "%s: %d records (%s), paired with %s: %s\n", path, len(f.Records), form, *wo, verdict)
	} else {
		fmt.Fprintf(stdout, "%s: %d records (%s): %s\n", path, len(f.Records), form, verdict)
	}
	return nil
}

// printWarnings prints what a dataset load kept but reports (a profile
// key the format does not know, kept as a private fact), once each.
func printWarnings[W fmt.Stringer](stderr io.Writer, warns []W) {
	for _, w := range warns {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
}

// plural returns noun for one and noun+"s" otherwise.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}

// skipBadHelp is the help text of every --skip-bad flag.
const skipBadHelp = "go on with the good records of a dataset that has bad ones, naming the bad ones on stderr (default: a bad record fails the run)"

// loadContext loads a context-aware dataset for a run of generate, vault
// import, fusion extract or data sft, through the one decoder every path
// uses (privacy.LoadContext). Warnings and, with skipBad, the bad records
// left out are printed on stderr once; without skipBad a bad record fails
// the run, naming every bad record.
func loadContext(path string, skipBad bool, stderr io.Writer) (*privacy.ContextFile, error) {
	f, err := privacy.LoadContext(path, privacy.LoadOptions{SkipBad: skipBad})
	if err != nil {
		return nil, skipBadHint(err, path)
	}
	printWarnings(stderr, f.Warnings)
	printSkipped(stderr, path, f.Total, f.SkippedRecords())
	return f, nil
}

// printSkipped names the bad records a run left out.
func printSkipped(stderr io.Writer, path string, total int, skipped []int) {
	if len(skipped) == 0 {
		return
	}
	s := make([]string, len(skipped))
	for i, n := range skipped {
		s[i] = strconv.Itoa(n)
	}
	fmt.Fprintf(stderr, "skipped %d bad %s of %d: %s (see `cogen data validate %s`)\n",
		len(skipped), plural(len(skipped), "record"), total, strings.Join(s, ", "), path)
}

// skipBadHint adds to the error of a dataset with bad records how to go
// on without them.
func skipBadHint(err error, path string) error {
	be, ok := errors.AsType[*privacy.BadRecordsError](err)
	if !ok {
		return err
	}
	good := be.Total - len(be.Records())
	return fmt.Errorf("%w\npass --skip-bad to go on with the %d good %s (`cogen data validate %s` lists every problem)", err, good, plural(good, "record"), path)
}

// recordAt returns the record at index i of a loaded file: an index
// counts every record of the file, so a bad record left out by --skip-bad
// keeps its number and cannot be chosen.
func recordAt(f *privacy.ContextFile, i int) (privacy.Record, error) {
	if i < 0 || i >= f.Total {
		return privacy.Record{}, usagef("", "--index %d: %s has %d records", i, f.Path, f.Total)
	}
	for _, r := range f.Records {
		if r.Index == i {
			return r, nil
		}
	}
	return privacy.Record{}, fmt.Errorf("--index %d: a bad record of %s, skipped (`cogen data validate %s` says why)", i, f.Path, f.Path)
}

// recordsIn returns the good records of a loaded file whose index is in
// [lo, hi).
func recordsIn(f *privacy.ContextFile, lo, hi int) []privacy.Record {
	var out []privacy.Record
	for _, r := range f.Records {
		if r.Index >= lo && r.Index < hi {
			out = append(out, r)
		}
	}
	return out
}

func runDataStats(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data stats", flag.ContinueOnError)
	kind := kindFlag(fs, "the files' kind: context, paper or email (default: detect each)")
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	seed := fs.Uint64("seed", 0, "seed of the train/validation split")
	ratio := fs.Float64("ratio", dataset.DefaultTrainRatio, "share of users in the train split")
	setUsage(fs, "Usage: cogen data stats [--kind K] [--markdown] [--seed N] [--ratio R] FILE...")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	files := fs.Args()
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
		printWarnings(stderr, f.Warnings)
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
	setUsage(fs, "Usage: cogen data lamp --questions Q.json --outputs O.json --kind paper|email --out DIR [--split train|dev] [flags]")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	pos := fs.Args()
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
