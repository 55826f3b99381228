package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
)

const benchThreadsUsage = `Usage: cogen bench threads [--tiny PATH] [--model PATH] [--cloud PATH] [--tokens N] [--reps N] [--load both|idle|busy] [--markdown]

Measures decode speed with the default thread count against every fixed
setting, for a tiny model, a 0.5B model, and a local:-style pair (the tiny
model and --cloud open in one process, both decoding at once), without and
with a competing CPU-bound process (one busy thread, started and stopped by
the benchmark). Each cell is the median tokens/s of --reps rounds; a round
opens the models afresh, warms them up and times one run of the default
and of each fixed setting in turn.
Models not given are written as random-weight test models (the 0.5B one,
Qwen2-0.5B shape in Q8_0, takes about 10 s) into a temporary directory.`

func runBenchThreads(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench threads", flag.ContinueOnError)
	var (
		tiny     = fs.String("tiny", "", "tiny model, e.g. aidreams260K.gguf (default: a random-weight tiny model)")
		model    = fs.String("model", "", "larger model (default: a random-weight Qwen2-0.5B-shape Q8_0 model)")
		cloud    = fs.String("cloud", "", "the pair's cloud model (default: --model)")
		tokens   = fs.Int("tokens", 32, "tokens decoded per run by --model and --cloud (the tiny model decodes 16 times as many)")
		reps     = fs.Int("reps", 4, "rounds: timed runs per cell; the median is reported")
		load     = fs.String("load", "both", "idle, busy (with a competing process) or both")
		markdown = fs.Bool("markdown", false, "print a Markdown table")
		cacheDir = fs.String("cache-dir", "", "model download cache (default: the user cache directory)")
	)
	setUsage(fs, benchThreadsUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *tokens < 1 || *reps < 1 {
		return usagef("", "--tokens and --reps must be positive")
	}
	var loads []bool // busy?
	switch *load {
	case "both":
		loads = []bool{false, true}
	case "idle":
		loads = []bool{false}
	case "busy":
		loads = []bool{true}
	default:
		return usagef("", "--load %q: want both, idle or busy", *load)
	}

	dir, err := os.MkdirTemp("", "cogen-bench-threads-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tinyPath, err := benchModel(ctx, *tiny, *cacheDir, filepath.Join(dir, "tiny.gguf"), "tiny", "f32", stderr)
	if err != nil {
		return err
	}
	modelPath, err := benchModel(ctx, *model, *cacheDir, filepath.Join(dir, "0.5b.gguf"), "0.5b", "q8_0", stderr)
	if err != nil {
		return err
	}
	cloudPath := modelPath
	if *cloud != "" {
		if cloudPath, err = resolveModel(ctx, *cloud, *cacheDir, stderr); err != nil {
			return err
		}
	}

	cores := llamacpp.PhysicalCores()
	cases := []threadCase{
		{name: "tiny " + filepath.Base(tinyPath), models: []benchEngine{{tinyPath, 16 * *tokens}}},
		{name: "model " + filepath.Base(modelPath), models: []benchEngine{{modelPath, *tokens}}},
		{name: "pair local+cloud", models: []benchEngine{{tinyPath, 16 * *tokens}, {cloudPath, *tokens}}},
	}
	var rows []threadRow
	for _, busy := range loads {
		stop := func() {}
		if busy {
			if stop, err = startBusyLoop(ctx); err != nil {
				return err
			}
		}
		for _, c := range cases {
			row, err := c.measure(ctx, cores, busy, *reps)
			if err != nil {
				stop()
				return fmt.Errorf("bench threads %s: %w", c.name, err)
			}
			rows = append(rows, row)
			fmt.Fprintf(stderr, "measured %s, %s\n", row.name, row.load)
		}
		stop()
	}
	fmt.Fprintf(stdout, "decode tokens/s, median of %d rounds; %d physical cores; pair: both engines decoding at once, tokens of both per second\n", *reps, cores)
	return writeThreadTable(stdout, rows, *markdown)
}

// benchModel resolves ref, or writes a random-weight model of the shape
// and type to path when ref is empty.
func benchModel(ctx context.Context, ref, cacheDir, path, shape, typ string, stderr io.Writer) (string, error) {
	if ref != "" {
		return resolveModel(ctx, ref, cacheDir, stderr)
	}
	sh, err := enginetest.ShapeByName(shape)
	if err != nil {
		return "", err
	}
	arch := "llama"
	if shape == "0.5b" {
		arch = "qwen2"
	}
	fmt.Fprintf(stderr, "writing a random-weight %s %s test model\n", shape, typ)
	if err := enginetest.Write(path, enginetest.Options{Arch: arch, Shape: sh, Type: typ, Seed: 1}); err != nil {
		return "", err
	}
	return path, nil
}

// benchEngine is one model of a case and the tokens it decodes per run.
type benchEngine struct {
	path   string
	tokens int
}

type threadCase struct {
	name   string
	models []benchEngine
}

// threadRow is one measured row: the default and each fixed setting.
type threadRow struct {
	name, load string
	def        float64 // tokens/s with the default
	defThreads string  // what the default chose
	fixed      []threadCell
}

type threadCell struct {
	setting string // "2", or "1+1" for a pair
	tps     float64
}

// settings lists the fixed settings of a case: 1..cores for one engine
// (powers of two and cores itself past 8); for a pair the splits k+(cores-k)
// for k = 1, cores/2 and cores-1, and cores+cores (each engine all cores,
// the old default).
func (c threadCase) settings(cores int) [][]int {
	var out [][]int
	if len(c.models) == 1 {
		for n := 1; n <= cores; n++ {
			if n <= 8 || n&(n-1) == 0 || n == cores {
				out = append(out, []int{n})
			}
		}
		return out
	}
	for _, k := range []int{1, cores / 2, cores - 1} {
		if k >= 1 && cores-k >= 1 && !slices.ContainsFunc(out, func(s []int) bool { return s[0] == k }) {
			out = append(out, []int{k, cores - k})
		}
	}
	return append(out, []int{cores, cores})
}

// measure runs the default and each fixed setting once per round,
// alternating between them, each round starting one setting later, so
// that a drift in the machine's load and the order touch all alike, and
// takes each one's median.
func (c threadCase) measure(ctx context.Context, cores int, busy bool, reps int) (threadRow, error) {
	row := threadRow{name: c.name, load: "idle"}
	if busy {
		row.load = "1 busy process"
	}
	settings := append([][]int{nil}, c.settings(cores)...)
	speeds := make([][]float64, len(settings))
	var chosen []string
	for round := range reps {
		for k := range settings {
			i := (round + k) % len(settings)
			s := settings[i]
			tps, used, err := c.run(ctx, s, uint64(round))
			if err != nil {
				return row, err
			}
			speeds[i] = append(speeds[i], tps)
			if s == nil && !slices.Contains(chosen, joinInts(used)) {
				chosen = append(chosen, joinInts(used))
			}
		}
	}
	med := func(x []float64) float64 {
		slices.Sort(x)
		return x[len(x)/2]
	}
	row.def, row.defThreads = med(speeds[0]), strings.Join(chosen, " or ")
	for i, s := range settings[1:] {
		row.fixed = append(row.fixed, threadCell{joinInts(s), med(speeds[i+1])})
	}
	return row, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, "+")
}

// run opens the case's models with the given threads (nil: the default),
// decodes a few tokens to warm up (the first pass faults the weights in),
// then times one decode of each model's tokens, all models at once. It
// returns the tokens/s and the threads each model used.
func (c threadCase) run(ctx context.Context, threads []int, seed uint64) (float64, []int, error) {
	logger := slog.New(slog.DiscardHandler)
	var models []*llamacpp.Model
	defer func() {
		for _, m := range models {
			m.Close()
		}
	}()
	for i, e := range c.models {
		opts := llamacpp.Options{ContextSize: e.tokens, BatchSize: 32, Parallel: 1, Logger: logger}
		if threads != nil {
			opts.Threads = threads[i]
		}
		m, err := llamacpp.Open(e.path, opts)
		if err != nil {
			return 0, nil, err
		}
		models = append(models, m)
	}
	used := make([]int, len(models))
	for i, m := range models {
		used[i] = m.Threads()
	}
	total := 0
	for _, e := range c.models {
		total += e.tokens
	}
	decodeAll := func(tokens func(int) int) (time.Duration, error) {
		start := time.Now()
		errs := make([]error, len(models))
		var wg sync.WaitGroup
		for j, m := range models {
			wg.Go(func() { errs[j] = decodeRandom(ctx, m, tokens(j), seed) })
		}
		wg.Wait()
		return time.Since(start), errors.Join(errs...)
	}
	if _, err := decodeAll(func(int) int { return 4 }); err != nil {
		return 0, nil, err
	}
	el, err := decodeAll(func(j int) int { return c.models[j].tokens })
	if err != nil {
		return 0, nil, err
	}
	return float64(total) / el.Seconds(), used, nil
}

// decodeRandom decodes n random tokens one at a time into a new sequence.
func decodeRandom(ctx context.Context, m *llamacpp.Model, n int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 3))
	seq, err := m.NewSequence(ctx)
	if err != nil {
		return err
	}
	defer seq.Close()
	for range n {
		if err := seq.Append(ctx, []int32{int32(rng.IntN(m.VocabSize()))}); err != nil {
			return err
		}
	}
	return nil
}

// busyLoop is the competing process's shell script: it spins until its
// parent has exited or is a zombie (read from /proc, with builtins only;
// kill -0 where there is no /proc), so not even a SIGKILL of cogen leaves
// it behind.
const busyLoop = `if [ -r "/proc/$PPID/stat" ]; then
	while read -r _ _ s _ < "/proc/$PPID/stat" && [ "$s" != Z ]; do :; done
else
	while kill -0 "$PPID"; do :; done
fi 2>/dev/null`

// startBusyLoop starts the competing process, which keeps one core busy
// until the returned function stops it, ctx is cancelled or this process
// goes away.
func startBusyLoop(ctx context.Context) (stop func(), err error) {
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", busyLoop)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the competing process: %w", err)
	}
	// Let it reach the scheduler's steady state before measuring.
	select {
	case <-time.After(300 * time.Millisecond):
	case <-ctx.Done():
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = cmd.Process.Kill() // fails only if it already exited
			_ = cmd.Wait()         // reports the kill
		})
	}, nil
}

// writeThreadTable renders rows with a column per fixed setting, the best
// fixed setting and the default's ratio to it.
func writeThreadTable(w io.Writer, rows []threadRow, markdown bool) error {
	var cols []string
	for _, r := range rows {
		for _, c := range r.fixed {
			if !slices.Contains(cols, c.setting) {
				cols = append(cols, c.setting)
			}
		}
	}
	header := append([]string{"case", "load", "default (threads)"}, cols...)
	header = append(header, "best fixed", "default/best")
	table := [][]string{header}
	for _, r := range rows {
		line := []string{r.name, r.load, fmt.Sprintf("%.1f (%s)", r.def, r.defThreads)}
		best := threadCell{}
		for _, col := range cols {
			cell := "-"
			for _, c := range r.fixed {
				if c.setting == col {
					cell = fmt.Sprintf("%.1f", c.tps)
					if c.tps > best.tps {
						best = c
					}
				}
			}
			line = append(line, cell)
		}
		ratio := 0.0
		if best.tps > 0 {
			ratio = r.def / best.tps
		}
		line = append(line, fmt.Sprintf("%s: %.1f", best.setting, best.tps), fmt.Sprintf("%.2f", ratio))
		table = append(table, line)
	}
	if markdown {
		for i, line := range table {
			fmt.Fprintf(w, "| %s |\n", strings.Join(line, " | "))
			if i == 0 {
				sep := make([]string, len(line))
				for j := range sep {
					sep[j] = "---:"
				}
				sep[0], sep[1] = "---", "---"
				fmt.Fprintf(w, "|%s|\n", strings.Join(sep, "|"))
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, line := range table {
		fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
	}
	return tw.Flush()
}
