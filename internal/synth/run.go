package synth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/cogenesis/cogenesis/internal/progress"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// Chatter sends one chat completion request; *openaiapi.Client is one.
type Chatter interface {
	Chat(ctx context.Context, req openaiapi.ChatCompletionRequest) (*openaiapi.ChatCompletionResponse, error)
}

var _ Chatter = (*openaiapi.Client)(nil)

// Log attribute keys.
const (
	logKeySubsystem = "subsystem"
	logKeyJob       = "job"
	logKeyAttempt   = "attempt"
	logKeyReason    = "reason"
)

// Config configures a run. Portraits, UsersPerPortrait, TasksPerUser,
// History, Seed and Limits decide the jobs and are recorded in the store;
// a resumed run must repeat them.
type Config struct {
	Portraits        int
	UsersPerPortrait int
	// TasksPerUser is the number of records per user.
	TasksPerUser int
	// History is the number of extra tasks per user whose texts make up the
	// writing history (the records' profile); at least 1.
	History int
	Seed    int64
	Limits  Limits

	// Concurrency bounds the jobs in flight (default 2).
	Concurrency int
	// RPS bounds the requests started per second (0: no bound).
	RPS float64
	// Retries is the number of times an invalid answer is asked again.
	Retries int
	// MaxTokens caps max_tokens of every request (0: the steps' defaults).
	MaxTokens int
	// Model is sent as the request's model ("" leaves it to the client).
	Model string
	// Temperature of the requests (default 1).
	Temperature float64
	// Progress receives one progress bar per step (nil: none).
	Progress io.Writer
	Logger   *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Portraits < 1 || c.UsersPerPortrait < 1 || c.TasksPerUser < 1 || c.History < 1 {
		return fmt.Errorf("synth: portraits %d, users %d, tasks %d, history %d: each must be at least 1",
			c.Portraits, c.UsersPerPortrait, c.TasksPerUser, c.History)
	}
	if c.Limits == (Limits{}) {
		c.Limits = DefaultLimits
	}
	if c.Limits.ItemChars < 1 || c.Limits.TextChars < 5 {
		return fmt.Errorf("synth: limits %+v too small", c.Limits)
	}
	if c.Concurrency < 1 {
		c.Concurrency = 2
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Temperature == 0 {
		c.Temperature = 1
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// params is the part of the config that decides the jobs.
func (c *Config) params() string {
	b, _ := json.Marshal(struct { // plain ints and a struct of ints cannot fail
		Portraits, Users, Tasks, History int
		Seed                             int64
		Limits                           Limits
	}{c.Portraits, c.UsersPerPortrait, c.TasksPerUser, c.History, c.Seed, c.Limits})
	return string(b)
}

// Default max_tokens of each step, before Config.MaxTokens caps them.
const (
	portraitTokens = 512
	userTokens     = 1536
	tasksTokens    = 1024
	textTokens     = 2048
)

// JobHeader is the request header that carries "JOB#ATTEMPT" when the
// client's transport is wrapped in [Transport]. It lets a server log tell
// calls apart without reading their text.
const JobHeader = "X-Cogen-Job"

type jobKey struct{}

// withJob tags ctx with the job and attempt of the request made with it.
func withJob(ctx context.Context, id string, attempt int) context.Context {
	return context.WithValue(ctx, jobKey{}, fmt.Sprintf("%s#%d", id, attempt))
}

// Transport sets [JobHeader] on requests made by a run, then passes them
// to Base (the egress choke point; required).
type Transport struct {
	Base http.RoundTripper
}

var _ http.RoundTripper = (*Transport)(nil)

// RoundTrip sends req with the job header added; it does not modify req.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		if req.Body != nil {
			_ = req.Body.Close() // not sent
		}
		return nil, errors.New("synth: no base transport (it wraps the egress choke point)")
	}
	id, _ := req.Context().Value(jobKey{}).(string)
	if id == "" {
		return base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	r.Header.Set(JobHeader, id)
	return base.RoundTrip(r)
}

// JobError is a job that failed for good: every attempt gave an invalid
// answer, or a job it depends on failed.
type JobError struct {
	Job    string
	Reason string
	// skipped marks the error of a job that was not run because Job, a
	// job it depends on, failed.
	skipped bool
}

func (e *JobError) Error() string { return "job " + e.Job + ": " + e.Reason }

// Failure is an expected record that could not be made.
type Failure struct {
	TID    string
	Job    string
	Reason string
}

// Report sums up a run.
type Report struct {
	Records  []Record
	Failures []Failure
	// Calls, PromptTokens and CompletionTokens count this run's requests.
	Calls            int64
	PromptTokens     int64
	CompletionTokens int64
	// TotalPromptTokens and TotalCompletionTokens count every run's
	// requests recorded in the store.
	TotalPromptTokens     int64
	TotalCompletionTokens int64
}

type runner struct {
	c       Chatter
	st      *Store
	cfg     Config
	lim     *rate.Limiter
	log     *slog.Logger
	calls   atomic.Int64
	prompt  atomic.Int64
	complet atomic.Int64
}

// Run runs (or resumes) every job in st and assembles the records.
func Run(ctx context.Context, c Chatter, st *Store, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if err := st.CheckConfig(ctx, cfg.params()); err != nil {
		return nil, err
	}
	r := &runner{c: c, st: st, cfg: cfg, log: cfg.Logger.With(logKeySubsystem, "synth")}
	if cfg.RPS > 0 {
		r.lim = rate.NewLimiter(rate.Limit(cfg.RPS), 1)
	}
	if err := st.Plan(ctx, cfg.keys()); err != nil {
		return nil, fmt.Errorf("synth: plan jobs: %w", err)
	}
	if err := r.generate(ctx); err != nil {
		return nil, err
	}
	rep, err := assemble(ctx, st, cfg)
	if err != nil {
		return nil, err
	}
	rep.Calls, rep.PromptTokens, rep.CompletionTokens = r.calls.Load(), r.prompt.Load(), r.complet.Load()
	return rep, nil
}

// keys lists every job of the run.
func (c *Config) keys() []Key {
	var out []Key
	for p := range c.Portraits {
		out = append(out, Key{Step: StepPortrait, Portrait: p})
		for u := range c.UsersPerPortrait {
			out = append(out, Key{Step: StepUser, Portrait: p, User: u}, Key{Step: StepTasks, Portrait: p, User: u})
			for t := range c.History + c.TasksPerUser {
				out = append(out, Key{Step: StepText, Portrait: p, User: u, Task: t})
			}
		}
	}
	return out
}

func (r *runner) generate(ctx context.Context) error {
	cfg := &r.cfg
	l := cfg.Limits
	var keys []Key
	for p := range cfg.Portraits {
		keys = append(keys, Key{Step: StepPortrait, Portrait: p})
	}
	err := r.phase(ctx, "portraits", keys, len(keys), func(ctx context.Context, k Key, bar *progress.Bar) error {
		var pt Portrait
		err := r.job(ctx, k, portraitPrompt(l, k.Portrait, cfg.Portraits, cfg.Seed), portraitSchema(l), portraitTokens,
			&pt, func() error { return pt.validate(l) })
		count(bar, 1, err)
		return err
	})
	if err != nil {
		return err
	}

	keys = keys[:0]
	for p := range cfg.Portraits {
		for u := range cfg.UsersPerPortrait {
			keys = append(keys, Key{Step: StepUser, Portrait: p, User: u})
		}
	}
	err = r.phase(ctx, "users", keys, len(keys), func(ctx context.Context, k Key, bar *progress.Bar) error {
		var pt Portrait
		err := r.result(ctx, Key{Step: StepPortrait, Portrait: k.Portrait}, &pt)
		if err == nil {
			var u User
			err = r.job(ctx, k, userPrompt(l, &pt, k.User, cfg.UsersPerPortrait), userSchema(l), userTokens,
				&u, func() error { return u.validate(l) })
		}
		count(bar, 1, err)
		return err
	})
	if err != nil {
		return err
	}

	n := cfg.History + cfg.TasksPerUser
	err = r.phase(ctx, "tasks", keys, len(keys), func(ctx context.Context, k Key, bar *progress.Bar) error {
		var u User
		err := r.result(ctx, k, &u)
		if err == nil {
			var tl TaskList
			err = r.job(ctx, Key{Step: StepTasks, Portrait: k.Portrait, User: k.User}, tasksPrompt(l, &u, n), tasksSchema(l, n), tasksTokens,
				&tl, func() error { return tl.validate(l, n) })
		}
		count(bar, 1, err)
		return err
	})
	if err != nil {
		return err
	}

	// Texts: one sequential chain per user, so later texts see earlier ones.
	return r.phase(ctx, "texts", keys, len(keys)*n, func(ctx context.Context, k Key, bar *progress.Bar) error {
		var u User
		var tl TaskList
		err := r.result(ctx, k, &u)
		if err == nil {
			err = r.result(ctx, Key{Step: StepTasks, Portrait: k.Portrait, User: k.User}, &tl)
		}
		if err != nil {
			count(bar, int64(n), err)
			return err
		}
		var earlier []string
		for i, task := range tl.Tasks {
			var t Text
			err := r.job(ctx, Key{Step: StepText, Portrait: k.Portrait, User: k.User, Task: i},
				textPrompt(l, &u, task, earlier), textSchema(l), textTokens, &t, func() error { return t.validate(l) })
			count(bar, 1, err)
			if _, ok := errors.AsType[*JobError](err); ok {
				continue // later texts go on without it
			}
			if err != nil {
				return err
			}
			earlier = append(earlier, t.Text)
		}
		return nil
	})
}

// phase runs do for every key, at most Concurrency at once, under one
// progress bar of total steps, which do advances with [count]. Failed jobs
// do not stop the phase; any other error does.
func (r *runner) phase(ctx context.Context, label string, keys []Key, total int, do func(context.Context, Key, *progress.Bar) error) error {
	bar := progress.New(r.cfg.Progress, label, int64(total))
	defer bar.Done()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(r.cfg.Concurrency)
	for _, k := range keys {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			err := do(gctx, k, bar)
			if _, ok := errors.AsType[*JobError](err); ok {
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return ctx.Err()
}

// count advances bar by n jobs that ended with err: done, failed, or
// skipped because a job they depend on failed. Any other error stops the
// run uncounted, and the bar ends as stopped.
func count(bar *progress.Bar, n int64, err error) {
	je, ok := errors.AsType[*JobError](err)
	switch {
	case err == nil:
		bar.Add(n)
	case !ok:
	case je.skipped:
		bar.Skip(n)
	default:
		bar.Fail(n)
	}
}

// result loads a finished job's result into v, or returns a *JobError
// when the job failed.
func (r *runner) result(ctx context.Context, k Key, v any) error {
	j, err := r.st.Get(ctx, k.ID())
	if err != nil {
		return err
	}
	if j.Status != StatusDone {
		return &JobError{Job: k.ID(), Reason: "depends on a failed job", skipped: true}
	}
	if err := json.Unmarshal(j.Result, v); err != nil {
		return fmt.Errorf("job %s: stored result: %w", k.ID(), err)
	}
	return nil
}

// job returns a finished job's stored result in out, or asks the cloud
// until out decodes and check accepts it, committing every attempt.
func (r *runner) job(ctx context.Context, k Key, msgs []openaiapi.ChatMessage, schema json.RawMessage, maxTokens int, out any, check func() error) error {
	id := k.ID()
	j, err := r.st.Get(ctx, id)
	if err != nil {
		return err
	}
	switch j.Status {
	case StatusDone:
		if err := json.Unmarshal(j.Result, out); err != nil {
			return fmt.Errorf("job %s: stored result: %w", id, err)
		}
		return nil
	case StatusFailed:
		return &JobError{Job: id, Reason: j.Error}
	}
	if r.cfg.MaxTokens > 0 {
		maxTokens = min(maxTokens, r.cfg.MaxTokens)
	}
	last := r.cfg.Retries + 1
	for attempt := j.Attempts + 1; ; attempt++ {
		content, usage, reason, err := r.call(ctx, id, attempt, msgs, k.Step, schema, maxTokens)
		if err != nil {
			return err
		}
		if reason == "" {
			reason = acceptReason(content, out, check)
		}
		if reason == "" {
			result, err := json.Marshal(out)
			if err != nil {
				return fmt.Errorf("job %s: encode result: %w", id, err)
			}
			return r.st.attempt(ctx, id, attempt, StatusDone, result, "", int64(usage.PromptTokens), int64(usage.CompletionTokens))
		}
		status := StatusPending
		if attempt >= last {
			status = StatusFailed
		}
		r.log.Warn("invalid answer", logKeyJob, id, logKeyAttempt, attempt, logKeyReason, reason)
		if err := r.st.attempt(ctx, id, attempt, status, nil, reason, int64(usage.PromptTokens), int64(usage.CompletionTokens)); err != nil {
			return err
		}
		if status == StatusFailed {
			return &JobError{Job: id, Reason: reason}
		}
	}
}

// acceptReason decodes and checks an answer; "" means it is accepted.
func acceptReason(content string, out any, check func() error) string {
	// Start from zero: a field missing from this answer must not keep a
	// value from an earlier one.
	reflect.ValueOf(out).Elem().SetZero()
	if err := decode(content, out); err != nil {
		return err.Error()
	}
	if err := check(); err != nil {
		return err.Error()
	}
	return ""
}

type usage struct{ PromptTokens, CompletionTokens int }

// call sends one attempt. A reason (with a nil error) means the server
// answered but the answer cannot be used; an error stops the run.
func (r *runner) call(ctx context.Context, id string, attempt int, msgs []openaiapi.ChatMessage, step string, schema json.RawMessage, maxTokens int) (content string, u usage, reason string, err error) {
	if r.lim != nil {
		if err := r.lim.Wait(ctx); err != nil {
			return "", u, "", err
		}
	}
	seed := jobSeed(r.cfg.Seed, id, attempt)
	temp := r.cfg.Temperature
	req := openaiapi.ChatCompletionRequest{
		Model:       r.cfg.Model,
		Messages:    msgs,
		Seed:        &seed,
		Temperature: &temp,
		MaxTokens:   &maxTokens,
		ResponseFormat: &openaiapi.ResponseFormat{
			Type: openaiapi.ResponseFormatJSONSchema,
			// Not strict: OpenAI's strict mode refuses the length and
			// count keywords that vLLM and cogen cloud enforce. The
			// answer is validated here either way.
			JSONSchema: &openaiapi.JSONSchema{Name: step, Schema: schema},
		},
	}
	r.calls.Add(1)
	resp, err := r.c.Chat(withJob(ctx, id, attempt), req)
	if err != nil {
		// A request the server refuses as such will be refused again:
		// record it. Anything else (network, overload) stops the run, to
		// be resumed.
		if ae, ok := errors.AsType[*openaiapi.APIError](err); ok && ae.Status >= 400 && ae.Status < 500 && ae.Status != http.StatusTooManyRequests && ae.Status != http.StatusUnauthorized && ae.Status != http.StatusForbidden && ae.Status != http.StatusNotFound {
			return "", u, fmt.Sprintf("server refused the request: status %d", ae.Status), nil
		}
		return "", u, "", fmt.Errorf("job %s attempt %d: %w", id, attempt, err)
	}
	if resp.Usage != nil {
		u = usage{resp.Usage.PromptTokens, resp.Usage.CompletionTokens}
		r.prompt.Add(int64(u.PromptTokens))
		r.complet.Add(int64(u.CompletionTokens))
	}
	if len(resp.Choices) == 0 {
		return "", u, "no choices in the response", nil
	}
	ch := resp.Choices[0]
	if ch.FinishReason == openaiapi.FinishLength {
		return "", u, fmt.Sprintf("answer cut at max_tokens %d", maxTokens), nil
	}
	return ch.Message.Content, u, "", nil
}

// jobSeed derives the sampling seed of one attempt, so a retry samples a
// different answer and a resumed run the same one.
func jobSeed(seed int64, id string, attempt int) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d\x00%s\x00%d", seed, id, attempt)
	return int64(h.Sum64() & (1<<31 - 1))
}
