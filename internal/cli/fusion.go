package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/collab/fusion"
	"github.com/cogenesis/cogenesis/internal/progress"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

const fusionUsage = `usage: cogen fusion extract --slm PATH --llm URL|local:PATH --data FILE --out DIR [--k 10] [--records A:B] [--skip-bad] [--allow-private-egress]
       cogen fusion train --train DIR --dev DIR --out FILE [--epochs N] [--seed N] [--patience N]
       cogen fusion eval --data DIR [--comb FILE] [--markdown]`

// runFusion runs "cogen fusion extract|train|eval".
func runFusion(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef(fusionUsage, "no fusion subcommand")
	}
	switch args[0] {
	case "extract":
		return runFusionExtract(ctx, args[1:], stdout, stderr)
	case "train":
		return runFusionTrain(ctx, args[1:], stdout, stderr)
	case "eval":
		return runFusionEval(args[1:], stdout, stderr)
	}
	return usagef(fusionUsage, "unknown fusion subcommand %q", args[0])
}

// extractManifest ties an extraction directory to its inputs, so that a
// resumed run cannot mix positions of different models or data.
type extractManifest struct {
	K              int    `json:"k"`
	FeatureVersion int    `json:"feature_version"`
	Data           string `json:"data"`
	SLMVocab       string `json:"slm_vocab_fingerprint"`
	SLM            string `json:"slm"`
	Cloud          string `json:"cloud"`
}

func (m extractManifest) check(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		out, err := json.MarshalIndent(m, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path, append(out, '\n'), 0o644)
	}
	if err != nil {
		return err
	}
	var old extractManifest
	if err := json.Unmarshal(b, &old); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if old != m {
		return fmt.Errorf("%s: this directory holds an extraction with other settings (k %d, data %s, slm %s, cloud %s); use a new --out",
			path, old.K, old.Data, old.SLM, old.Cloud)
	}
	return nil
}

// parseRange parses "A:B" (either side may be empty) against n records.
func parseRange(s string, n int) (int, int, error) {
	if s == "" {
		return 0, n, nil
	}
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("--records %q: want A:B", s)
	}
	lo, hi := 0, n
	var err error
	if a != "" {
		if lo, err = strconv.Atoi(a); err != nil {
			return 0, 0, fmt.Errorf("--records %q: %w", s, err)
		}
	}
	if b != "" {
		if hi, err = strconv.Atoi(b); err != nil {
			return 0, 0, fmt.Errorf("--records %q: %w", s, err)
		}
	}
	if lo < 0 || hi > n || lo >= hi {
		return 0, 0, fmt.Errorf("--records %q: the file has records 0:%d", s, n)
	}
	return lo, hi, nil
}

func runFusionExtract(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fusion extract", flag.ContinueOnError)
	var (
		slm       = fs.String("slm", "", "local model (GGUF path or hf://)")
		llmRef    = fs.String("llm", "", "cloud model: an OpenAI-compatible base URL, or local:PATH")
		llmKind   = fs.String("llm-kind", "auto", llmKindHelp)
		llmModel  = fs.String("llm-model", "", "cloud model name")
		data      = fs.String("data", "", "context-aware dataset file (context_dev.json format)")
		out       = fs.String("out", "", "output directory (resumable: records already there are skipped)")
		k         = fs.Int("k", 10, "top-K log-probabilities per position")
		records   = fs.String("records", "", "record range A:B (default all; bad records skipped by --skip-bad keep their numbers)")
		skipBad   = fs.Bool("skip-bad", false, skipBadHelp)
		allowPriv = fs.Bool("allow-private-egress", false, "let the cloud see the reference responses (written with private context)")
		auditPath = fs.String("audit", "", "egress audit log (default OUT/audit.jsonl)")
		ef        engineFlags
	)
	ef.register(fs)
	setUsage(fs, fusionUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	switch {
	case *slm == "" || *llmRef == "" || *data == "" || *out == "":
		return usagef(fusionUsage, "fusion extract needs --slm, --llm, --data and --out")
	case *k < 1 || *k > fusion.MaxK:
		return usagef("", "--k %d: want 1 to %d", *k, fusion.MaxK)
	}
	df, err := loadContext(*data, *skipBad, stderr)
	if err != nil {
		return err
	}
	lo, hi, err := parseRange(*records, df.Total)
	if err != nil {
		return &UsageError{Err: err}
	}
	recs := recordsIn(df, lo, hi)
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	ef.ctxSize = max(ef.ctxSize, 8192)
	m, err := openModel(ctx, *slm, ef, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	absData, _ := filepath.Abs(*data)
	man := extractManifest{K: *k, FeatureVersion: fusion.FeatureVersion, Data: absData,
		SLMVocab: m.Info().Vocab.Fingerprint, SLM: filepath.Base(m.Path()), Cloud: *llmRef}
	if err := man.check(filepath.Join(*out, "manifest.json")); err != nil {
		return err
	}
	if *auditPath == "" {
		*auditPath = filepath.Join(*out, "audit.jsonl")
	}
	grant := privateGrant(*allowPriv)
	cloud, closeCloud, err := dialCloud(ctx, cloudConfig{
		Target: *llmRef, Kind: openaiapi.Kind(*llmKind), Model: *llmModel, Threads: ef.threads,
		Detokenize: m.Detokenize, Private: grant,
	}, *auditPath, ef.cacheDir, stderr)
	if err != nil {
		return err
	}
	defer closeCloud()

	var todo []privacy.Record
	for _, rec := range recs {
		if _, err := os.Stat(filepath.Join(*out, fusion.PositionFile(rec.Index))); err != nil {
			todo = append(todo, rec)
		}
	}
	done := len(recs) - len(todo)
	bar := progress.New(stderr, "extract", int64(len(recs)), progress.Initial(int64(done)))
	var refTokens, slmTokens int
	start := time.Now()
	for _, rec := range todo {
		i := rec.Index
		r := &collab.Runner{SLM: collab.Engine(m), Cloud: cloud, Guard: privacy.NewGuard(rec.Vault), Private: grant, Logger: slog.Default()}
		ps, st, err := r.TeacherForce(ctx, collab.TaskFromRecord(rec), rec.Reference, *k)
		if err != nil {
			bar.Done()
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "interrupted: %d of %d records are in %s; run the same command again to go on\n", done, len(recs), *out)
				return ctx.Err()
			}
			return fmt.Errorf("%s record %d: %w", *data, i, err)
		}
		if err := fusion.WritePositions(filepath.Join(*out, fusion.PositionFile(i)), *k, ps); err != nil {
			bar.Done()
			return err
		}
		refTokens += st.Reference
		slmTokens += st.SLMTokens
		done++
		bar.Add(1)
	}
	bar.Done()
	el := time.Since(start)
	fmt.Fprintf(stdout, "%d records in %s (%d new: %d reference tokens; the local model evaluated %d tokens in %.1f s, %.0f tokens/s)\n",
		len(recs), *out, len(todo), refTokens, slmTokens, el.Seconds(), float64(slmTokens)/max(el.Seconds(), 1e-9))
	return nil
}

func runFusionTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fusion train", flag.ContinueOnError)
	var (
		trainDir = fs.String("train", "", "extraction directory of the training split")
		devDir   = fs.String("dev", "", "extraction directory of the dev split")
		out      = fs.String("out", "", "CombModel file to write (safetensors)")
		epochs   = fs.Int("epochs", 10, "most passes over the training set")
		seed     = fs.Uint64("seed", 1, "initialisation and shuffling seed")
		patience = fs.Int("patience", 3, "stop after this many epochs without a better dev loss (0: never)")
		lr       = fs.Float64("lr", 2e-3, "peak learning rate (Adam)")
		batch    = fs.Int("batch", 2, "examples per step")
	)
	setUsage(fs, fusionUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *trainDir == "" || *devDir == "" || *out == "" {
		return usagef(fusionUsage, "fusion train needs --train, --dev and --out")
	}
	kt, trainRecs, err := fusion.LoadDir(*trainDir)
	if err != nil {
		return err
	}
	kd, devRecs, err := fusion.LoadDir(*devDir)
	if err != nil {
		return err
	}
	if kt != kd {
		return fmt.Errorf("--train has k %d, --dev k %d: extract both with one --k", kt, kd)
	}
	train, dev := fusion.Examples(trainRecs), fusion.Examples(devRecs)
	fmt.Fprintf(stderr, "train: %d records, %d positions; dev: %d records, %d positions; k %d\n", len(trainRecs), len(train), len(devRecs), len(dev), kt)
	model, rep, err := fusion.Train(ctx, train, dev, fusion.TrainConfig{
		Epochs: *epochs, Seed: *seed, Patience: *patience, LR: *lr, BatchSize: *batch,
		Logf: func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) },
	})
	if err != nil {
		return err
	}
	if err := model.Save(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: best epoch %d of %d, dev loss %.4f (mean rule %.4f), %d steps\n",
		*out, rep.BestEpoch, len(rep.DevLoss), rep.BestDevLoss, rep.BaselineDevLoss, rep.Steps)
	return nil
}

func runFusionEval(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fusion eval", flag.ContinueOnError)
	var (
		dir      = fs.String("data", "", "extraction directory to evaluate on")
		combPath = fs.String("comb", "", "CombModel file (adds the learned row)")
		markdown = fs.Bool("markdown", false, "print a Markdown table")
	)
	setUsage(fs, fusionUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *dir == "" {
		return usagef(fusionUsage, "fusion eval needs --data")
	}
	k, recs, err := fusion.LoadDir(*dir)
	if err != nil {
		return err
	}
	var comb *fusion.CombModel
	if *combPath != "" {
		if comb, err = fusion.Load(*combPath, k); err != nil {
			return err
		}
	}
	scores := fusion.Evaluate(recs, comb)
	fmt.Fprint(stdout, fusion.FormatScores(scores, *markdown))
	if comb != nil {
		fmt.Fprintf(stderr, "learned: mean weight of the local model %.3f\n", scores[len(scores)-1].MeanW)
	}
	return nil
}
