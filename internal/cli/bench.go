package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
)

// runBench dispatches the bench subcommands.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "engine":
			return runBenchEngine(ctx, args[1:], stdout, stderr)
		case "collab":
			return runBenchCollab(ctx, args[1:], stdout, stderr)
		case "threads":
			return runBenchThreads(ctx, args[1:], stdout, stderr)
		}
	}
	return usagef("usage: cogen bench engine|collab|threads ...", "unknown bench subcommand")
}

func runBenchEngine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench engine", flag.ContinueOnError)
	var (
		model  = fs.String("model", "", "GGUF path or hf://OWNER/REPO/FILE.gguf")
		reps   = fs.Int("reps", 5, "runs per test; the median is reported")
		prompt = fs.Int("prompt", 128, "prompt tokens per prompt run")
		decode = fs.Int("decode", 64, "tokens per decode run")
		ef     engineFlags
	)
	ef.register(fs)
	setUsage(fs, "Usage: cogen bench engine --model PATH [--threads N] [--reps N]")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *reps < 1 || *prompt < 1 || *decode < 1 {
		return usagef("", "--reps, --prompt and --decode must be positive")
	}
	ef.ctxSize = *prompt + *decode
	ef.batch = max(ef.batch, *prompt)
	m, err := openModel(ctx, *model, ef, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	r, err := BenchEngine(ctx, m, *prompt, *decode, *reps)
	if err != nil {
		return err
	}
	info := m.Info()
	fmt.Fprintf(stdout, "model %s (%s, %s, %s params)\n", info.Path, info.Architecture, info.Quantization, humanCount(float64(info.Parameters)))
	fmt.Fprintf(stdout, "%s, %d runs each, median\n", threadsLine(r, ef.threads, info.SizeBytes), *reps)
	fmt.Fprintf(stdout, "prompt %.1f tok/s\n", r.Prompt)
	fmt.Fprintf(stdout, "decode %.1f tok/s\n", r.Decode)
	return nil
}

// threadsLine says how many threads the benchmark ran on and where the
// count came from: --threads, or the engine's default for the model and
// the machine, which may change during the run as the load does.
func threadsLine(r EngineSpeed, flagThreads int, size uint64) string {
	n := strconv.Itoa(r.MinThreads)
	if r.MaxThreads != r.MinThreads {
		n += "-" + strconv.Itoa(r.MaxThreads)
	}
	if flagThreads > 0 {
		return fmt.Sprintf("threads %s (--threads)", n)
	}
	return fmt.Sprintf("threads %s (the default for a %s model on %d physical cores; --threads N sets it)",
		n, humanBytes(size), llamacpp.PhysicalCores())
}

// EngineSpeed is the median throughput of the engine benchmark.
type EngineSpeed struct {
	Prompt, Decode float64 // tokens per second
	// MinThreads and MaxThreads are the fewest and most threads the
	// engine decoded with over the runs ([llamacpp.Model.Threads]: the
	// default follows the load).
	MinThreads, MaxThreads int
}

// BenchEngine measures, like llama.cpp's llama-bench, the speed of
// evaluating a prompt of nPrompt random tokens in one batch, and of
// decoding nDecode tokens one at a time from an empty context. One warm-up
// run precedes the timed ones; each figure is the median of reps runs.
func BenchEngine(ctx context.Context, m *llamacpp.Model, nPrompt, nDecode, reps int) (EngineSpeed, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	toks := func(n int) []int32 {
		t := make([]int32, n)
		for i := range t {
			t[i] = int32(rng.IntN(m.VocabSize()))
		}
		return t
	}
	var res EngineSpeed
	threads := func() {
		n := m.Threads()
		if res.MinThreads == 0 || n < res.MinThreads {
			res.MinThreads = n
		}
		res.MaxThreads = max(res.MaxThreads, n)
	}
	run := func(f func(*llamacpp.Sequence) (int, error)) (float64, error) {
		var speeds []float64
		for i := range reps + 1 {
			seq, err := m.NewSequence(ctx)
			if err != nil {
				return 0, err
			}
			start := time.Now()
			n, err := f(seq)
			el := time.Since(start)
			seq.Close()
			if err != nil {
				return 0, err
			}
			if i > 0 { // the first run warms up
				speeds = append(speeds, float64(n)/el.Seconds())
				threads()
			}
		}
		slices.Sort(speeds)
		return speeds[len(speeds)/2], nil
	}
	var err error
	res.Prompt, err = run(func(s *llamacpp.Sequence) (int, error) {
		return nPrompt, s.Append(ctx, toks(nPrompt))
	})
	if err != nil {
		return res, fmt.Errorf("prompt benchmark: %w", err)
	}
	res.Decode, err = run(func(s *llamacpp.Sequence) (int, error) {
		for _, t := range toks(nDecode) {
			if err := s.Append(ctx, []int32{t}); err != nil {
				return 0, err
			}
		}
		return nDecode, nil
	})
	if err != nil {
		return res, fmt.Errorf("decode benchmark: %w", err)
	}
	return res, nil
}
