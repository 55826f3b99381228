package eval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/localcloud"
)

// Options are what a run needs beyond its config.
type Options struct {
	// Resolve turns a model reference (a path or hf://...) into a local
	// file, downloading it if needed; nil uses references as paths.
	Resolve func(ctx context.Context, ref string) (string, error)
	// Progress receives the progress bars and the list of files (usually
	// stderr); nil discards them.
	Progress io.Writer
	Logger   *slog.Logger
}

// runner holds the state of one run.
type runner struct {
	cfg    *Config
	o      Options
	st     *store
	logger *slog.Logger
	out    io.Writer

	mu     sync.Mutex
	locals map[string]*localcloud.Cloud // by resolved model path
	ids    map[string]string            // model identities by reference
	grants struct{ cloud, judge *egress.Grant }

	// Counters of this run's model calls.
	genRuns       atomic.Int64
	cloudRequests atomic.Int64
	judgeRequests atomic.Int64
}

// Run runs the evaluation of cfg: it generates what the job store lacks,
// judges what it lacks, and writes the tables and figures into cfg.Out.
// A rerun of a finished evaluation makes no model call; a run killed at any
// point resumes without repeating a finished job.
//
// On Options.Progress it prints the number of outputs to make, an
// estimate of their time once the first ones are measured, progress, and
// how each stage ended (skipped, failed, interrupted). When the tables are
// written but an output the config asks for is missing entirely (see
// [ErrNoResults]), Run returns the report together with an error wrapping
// ErrNoResults.
func Run(ctx context.Context, cfg *Config, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	out := o.Progress
	if out == nil {
		out = io.Discard
	}
	if err := os.MkdirAll(filepath.Join(cfg.Out, "audit"), 0o700); err != nil {
		return nil, fmt.Errorf("eval output: %w", err)
	}
	st, err := openStore(ctx, filepath.Join(cfg.Out, "eval.db"))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	r := &runner{cfg: cfg, o: o, st: st, logger: o.Logger, out: out, locals: map[string]*localcloud.Cloud{}, ids: map[string]string{}}
	defer r.closeLocals()

	p, err := r.plan(ctx)
	if err != nil {
		return nil, err
	}
	r.announce(p)
	if err := r.generate(ctx, p); err != nil {
		fmt.Fprintln(out, "judge: skipped (generation did not finish)")
		return nil, err
	}
	p.planJudges()
	if err := r.judgeAll(ctx, p); err != nil {
		fmt.Fprintln(out, "tables: skipped (judging did not finish)")
		return nil, err
	}
	rep, err := r.report(ctx, p)
	if err != nil {
		return nil, err
	}
	return rep, p.missing()
}

// announce prints, before any model call, how many outputs the run is to
// make: generations, then judge request series (each one request, or more
// when an answer holds no rating).
func (r *runner) announce(p *plan) {
	pending := len(p.pendingGens())
	ratings, pairs := p.judgeCounts()
	judges := fmt.Sprintf("%d judge request series (%d ratings, %d pairwise)", ratings+pairs, ratings, pairs)
	switch {
	case pending == 0:
		fmt.Fprintf(r.out, "eval: all %d outputs cached; up to %s to run\n", len(p.gens), judges)
	case pending == len(p.gens):
		fmt.Fprintf(r.out, "eval: %s to generate, then %s; a time estimate follows the first outputs\n", count(pending, "output"), judges)
	default:
		fmt.Fprintf(r.out, "eval: %d of %d outputs to generate (%d cached), then up to %s; a time estimate follows the first outputs\n",
			pending, len(p.gens), len(p.gens)-pending, judges)
	}
}

// hashOf returns the hex SHA-256 of the JSON of v.
func hashOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("eval: hash: %v", err)) // only plain values are hashed
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// textHash returns the hex SHA-256 of s.
func textHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// resolve turns a model reference into a local file with Options.Resolve.
func (r *runner) resolve(ctx context.Context, ref string) (string, error) {
	if r.o.Resolve == nil {
		return ref, nil
	}
	return r.o.Resolve(ctx, ref)
}

// cutLocal returns the model reference of a local:PATH target.
func cutLocal(target string) (string, bool) { return strings.CutPrefix(target, "local:") }

// safeName makes a label usable as a file name.
func safeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '_'
		}
	}
	return string(b)
}
