package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/progress"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

const sftUsage = `usage: cogen data sft --data FILE --out FILE.jsonl [--records A:B] [--skip-bad] [--with-sketch --llm URL|local:PATH [--sketch-full]]`

// sftLine is one example in the chat format the usual fine-tuning trainers
// read (TRL, Axolotl, LLaMA-Factory: a "messages" list per line).
type sftLine struct {
	Messages []llm.Message `json:"messages"`
}

// runDataSFT writes chat-format JSON Lines for fine-tuning the local model.
// Lines are appended one record at a time, so an interrupted run goes on
// from the last complete line.
func runDataSFT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("data sft", flag.ContinueOnError)
	var (
		data       = fs.String("data", "", "context-aware dataset file (context_dev.json format)")
		out        = fs.String("out", "", "JSON Lines file to write (an interrupted run resumes from its complete lines)")
		records    = fs.String("records", "", "record range A:B (default all; bad records skipped by --skip-bad keep their numbers)")
		skipBad    = fs.Bool("skip-bad", false, skipBadHelp)
		withSketch = fs.Bool("with-sketch", false, "put the cloud's outline of the public instruction in the prompt, as the sketch strategy does")
		full       = fs.Bool("sketch-full", false, "with --with-sketch: a full draft instead of an outline (sketch-full)")
		llmRef     = fs.String("llm", "", "cloud model for --with-sketch: an OpenAI-compatible base URL, or local:PATH")
		llmKind    = fs.String("llm-kind", "auto", llmKindHelp)
		llmModel   = fs.String("llm-model", "", "cloud model name")
		maxTokens  = fs.Int("cloud-max-tokens", 512, "most tokens of a sketch")
		auditPath  = fs.String("audit", "cogen-audit.jsonl", "egress audit log (--with-sketch)")
		cacheDir   = fs.String("cache-dir", "", "model download cache")
	)
	setUsage(fs, sftUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	switch {
	case *data == "" || *out == "":
		return usagef(sftUsage, "data sft needs --data and --out")
	case *withSketch && *llmRef == "":
		return usagef(sftUsage, "--with-sketch needs --llm")
	case *full && !*withSketch:
		return usagef(sftUsage, "--sketch-full goes with --with-sketch")
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
	done, err := completeLines(*out)
	if err != nil {
		return err
	}
	if done > len(recs) {
		return fmt.Errorf("%s has %d lines, more than the %d records of %s %d:%d; use a new --out", *out, done, len(recs), *data, lo, hi)
	}
	var cloud *collab.Cloud
	if *withSketch && done < len(recs) {
		c, closeCloud, err := dialCloud(ctx, cloudConfig{Target: *llmRef, Kind: openaiapi.Kind(*llmKind), Model: *llmModel}, *auditPath, *cacheDir, stderr)
		if err != nil {
			return err
		}
		defer closeCloud()
		cloud = c
	}
	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	bar := progress.New(stderr, "sft", int64(len(recs)), progress.Initial(int64(done)))
	defer bar.Done()
	for _, rec := range recs[done:] {
		i := rec.Index
		task := collab.TaskFromRecord(rec)
		var sketch string
		if cloud != nil {
			r := &collab.Runner{Cloud: cloud, Guard: privacy.NewGuard(rec.Vault), Logger: slog.Default()}
			if sketch, err = r.CloudSketch(ctx, task, *full, collab.Options{CloudMaxTokens: *maxTokens}); err != nil {
				return fmt.Errorf("%s record %d: sketch: %w", *data, i, err)
			}
		}
		line, err := json.Marshal(sftLine{Messages: collab.SFTMessages(task, rec.Reference, sketch, *full)})
		if err != nil {
			return fmt.Errorf("%s record %d: %w", *data, i, err)
		}
		if _, err := f.Write(append(line, '\n')); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		bar.Add(1)
	}
	fmt.Fprintf(stdout, "%s: %d examples (%d new)\n", *out, len(recs), len(recs)-done)
	return nil
}

// completeLines counts the complete lines of path (0 when it does not
// exist) and cuts off a partial last line, left by an interrupted write.
func completeLines(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := bytes.Count(b, []byte{'\n'})
	if end := bytes.LastIndexByte(b, '\n') + 1; end < len(b) {
		if err := os.Truncate(path, int64(end)); err != nil {
			return 0, err
		}
	}
	// Every complete line must be an example.
	sc := bufio.NewScanner(bytes.NewReader(b[:bytes.LastIndexByte(b, '\n')+1]))
	sc.Buffer(nil, 64<<20)
	for line := 1; sc.Scan(); line++ {
		var l sftLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || len(l.Messages) == 0 {
			return 0, fmt.Errorf("%s line %d: not an example written by cogen data sft; use a new --out", path, line)
		}
	}
	return n, nil
}
