package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/privacy"
)

func runBenchCollab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench collab", flag.ContinueOnError)
	var (
		slm       = fs.String("slm", "", "local model (GGUF path or hf://)")
		llm       = fs.String("llm", "", "cloud model: local:PATH (served in-process with the latency)")
		latencies = fs.String("latency", "50ms", "comma-separated cloud latencies to measure")
		tokens    = fs.Int("tokens", 256, "tokens per run")
		user      = fs.String("user", "", "user file (private context of the local model; default: a built-in fictional user)")
		temp      = fs.Float64("temperature", 0, "sampling temperature (0: greedy)")
		seed      = fs.Uint64("seed", 1, "sampling seed")
		ef        engineFlags
	)
	ef.register(fs)
	setUsage(fs, "Usage: cogen bench collab --slm PATH --llm local:PATH [--latency 50ms,100ms] [--tokens 256]")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	cloudPath, ok := strings.CutPrefix(*llm, "local:")
	if !ok {
		return usagef("the benchmark serves the cloud itself to control latency", "--llm must be local:PATH")
	}
	var lats []time.Duration
	for _, s := range strings.Split(*latencies, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 {
			return usagef("", "--latency %q: want durations such as 50ms", s)
		}
		lats = append(lats, d)
	}
	v := benchUser()
	if *user != "" {
		var err error
		if v, err = privacy.LoadVault(*user); err != nil {
			return err
		}
	}
	ef.ctxSize = max(ef.ctxSize, 8192)
	ef.parallel = max(ef.parallel, 2) // speculative's local stand-in for the cloud
	m, err := openModel(ctx, *slm, ef, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	cloudPath, err = resolveModel(ctx, cloudPath, ef.cacheDir, stderr)
	if err != nil {
		return err
	}
	task := collab.TaskFromVault(v, privacy.SplitTask("Write a short newsletter for the spring menu: mention the new rye bread"))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "latency\tstrategy\ttokens\tround trips/token\tacceptance\tmean γ\twall s\tspeed-up\t")
	// The benchmark's cloud requests are recorded like any others, in an
	// audit log of its own that is removed at the end.
	auditDir, err := os.MkdirTemp("", "cogen-bench-audit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(auditDir)
	for i, lat := range lats {
		c, closeCloud, err := dialCloud(ctx, cloudConfig{Target: "local:" + cloudPath, Latency: lat, Threads: ef.threads},
			filepath.Join(auditDir, fmt.Sprintf("audit-%d.jsonl", i)), ef.cacheDir, stderr)
		if err != nil {
			return err
		}
		r := &collab.Runner{SLM: collab.Engine(m), Cloud: c, Guard: privacy.NewGuard(v), Logger: slog.Default()}
		var base time.Duration
		for _, st := range []collab.Strategy{collab.Logits, collab.Speculative} {
			start := time.Now()
			res, err := r.Run(ctx, task, collab.Options{Strategy: st, MaxTokens: *tokens, IgnoreEOG: true,
				Sample: sample.Params{Temperature: *temp, Seed: *seed}})
			el := time.Since(start)
			if err != nil {
				closeCloud()
				return err
			}
			if st == collab.Logits {
				base = el
			}
			acc, gamma := "-", "-"
			if res.Spec != nil {
				acc = fmt.Sprintf("%.2f", res.Spec.AcceptanceRate())
				gamma = fmt.Sprintf("%.1f", res.Spec.MeanGamma())
			}
			n := max(len(res.Tokens), 1)
			fmt.Fprintf(tw, "%v\t%s\t%d\t%.3f\t%s\t%s\t%.2f\t%.2fx\t\n", lat, res.Label(), len(res.Tokens), float64(res.CloudCalls)/float64(n), acc, gamma, el.Seconds(), base.Seconds()/el.Seconds())
		}
		closeCloud()
	}
	return tw.Flush()
}

// benchUser is the fictional user bench collab runs with when no --user
// is given, so that the command works outside the repository: the speed of
// fusion depends on the context's length, not on who it describes.
func benchUser() *privacy.Vault {
	p := privacy.NewPrivate
	v := &privacy.Vault{
		ID: "bench", Name: p("Ingrid Halvorsen"), Age: p("44"), Occupation: p("Ferry engineer"), Location: p("Ålesund, Norway"),
		PersonalTraits: []privacy.Private{p("Calm under pressure"), p("Keeps meticulous logs")},
		WritingStyle:   []privacy.Private{p("Plain, exact sentences"), p("Dry humour")},
		PrivateFacts:   []privacy.Private{p("Is studying for a master mariner certificate at night"), p("Has a standing appointment with a cardiologist every March")},
		ActivityLog:    []privacy.Private{p("Smartwatch logs a swim in the harbour every Sunday at dawn")},
		History: []privacy.HistoryItem{{
			Title: p("Write a note to the crew after the winter season"),
			Text:  p("Thank you all for a hard winter. We kept every crossing on time through two storms and one broken winch. Rest well; the spring timetable starts on the first."),
		}},
	}
	v.Profile = v.ProfileText()
	return v
}
