package openaiapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/semaphore"
	"golang.org/x/time/rate"

	"github.com/cogenesis/cogenesis/llm"
)

// DefaultAPIKeyEnv is the environment variable that holds the API key when
// [Config.APIKeyEnv] is empty.
const DefaultAPIKeyEnv = "COGEN_API_KEY"

// Defaults for the zero values of [Config].
const (
	DefaultTimeout    = 2 * time.Minute
	DefaultMaxRetries = 2
	DefaultMinBackoff = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// Log attribute keys.
const (
	logKeyOp      = "op"
	logKeyKind    = "kind"
	logKeyAttempt = "attempt"
	logKeyStatus  = "status"
	logKeyWait    = "wait"
	logKeyBytes   = "bytes"
	logKeyErr     = "err"
	logKeyTook    = "took"
)

// Config configures a [Client]. The zero value of each field selects the
// documented default.
type Config struct {
	// BaseURL is the server's OpenAI base URL, usually ending in "/v1"
	// ("http://localhost:8000/v1", "https://api.openai.com/v1"). Native
	// endpoints (/tokenize, /completion, /api/generate) are resolved against
	// the same URL with a trailing "/v1" removed.
	BaseURL string
	// Kind names the server software; it decides which requests are
	// allowed. Empty means KindOpenAI, the most restrictive.
	Kind Kind
	// Model is sent when a request names no model.
	Model string
	// APIKey is sent as the bearer token when set; otherwise APIKeyEnv
	// names the environment variable that holds it (default
	// DefaultAPIKeyEnv). New reads it once; an empty variable sends no
	// Authorization header.
	APIKey    string
	APIKeyEnv string
	// Timeout bounds each request attempt (default DefaultTimeout). For a
	// stream it bounds the wait for the response headers and then each
	// wait for the next event.
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt (default
	// DefaultMaxRetries); a negative value disables retries.
	MaxRetries int
	// MinBackoff and MaxBackoff bound the exponential backoff between
	// attempts (defaults DefaultMinBackoff and DefaultMaxBackoff).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// Concurrency bounds the requests in flight at once; 0 means no bound.
	Concurrency int
	// RateLimit bounds the requests started per second; 0 means no bound.
	// RateBurst is the bucket size (default 1).
	RateLimit float64
	RateBurst int
	// MaxTopK overrides the kind's default top-K limit (vLLM's
	// --max-logprobs).
	MaxTopK int
	// HTTPClient sends the requests; it is required. cogenesis builds it
	// in internal/egress, with the egress choke point (guard and audit
	// log) as its transport; New never falls back to a default client.
	HTTPClient *http.Client
	// Logger receives retry and request logs, never request text (default
	// slog.Default()).
	Logger *slog.Logger
}

// Client talks to one OpenAI-protocol server. It is safe for concurrent use.
type Client struct {
	base     *url.URL // OpenAI base, e.g. http://host/v1
	root     *url.URL // base without a trailing /v1
	kind     Kind
	model    string
	apiKey   string
	timeout  time.Duration
	retries  int
	minWait  time.Duration
	maxWait  time.Duration
	maxTopK  int
	hc       *http.Client
	sem      *semaphore.Weighted
	limiter  *rate.Limiter
	logger   *slog.Logger
	requests atomic.Int64
	prompt   atomic.Int64
	complete atomic.Int64
	// withheld are the tokens a llama.cpp server withheld from next-token
	// answers (see llamaNextTopK).
	withheld bannedTokens
}

// New returns a client for cfg. It reads the API key from the environment
// (the only place in cogenesis that does).
func New(cfg Config) (*Client, error) {
	if cfg.BaseURL == "" {
		return nil, errors.New("new client: empty base url")
	}
	base, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("new client: parse base url: %w", err)
	}
	if base.Scheme != "http" && base.Scheme != "https" {
		return nil, fmt.Errorf("new client: base url scheme %q is not http or https", base.Scheme)
	}
	if base.User != nil {
		return nil, errors.New("new client: base url must not hold credentials")
	}
	if cfg.HTTPClient == nil {
		return nil, errors.New("new client: no HTTP client (build clients with internal/egress, which puts the guard and the audit log in front of the network)")
	}
	root := *base
	root.Path = strings.TrimSuffix(root.Path, "/v1")
	kind := cfg.Kind
	if kind == "" {
		kind = KindOpenAI
	}
	if !kind.Valid() {
		return nil, fmt.Errorf("new client: unknown kind %q", kind)
	}
	env := cfg.APIKeyEnv
	if env == "" {
		env = DefaultAPIKeyEnv
	}
	c := &Client{
		base:    base,
		root:    &root,
		kind:    kind,
		model:   cfg.Model,
		apiKey:  cmpOr(cfg.APIKey, os.Getenv(env)),
		timeout: cmpOr(cfg.Timeout, DefaultTimeout),
		retries: cfg.MaxRetries,
		minWait: cmpOr(cfg.MinBackoff, DefaultMinBackoff),
		maxWait: cmpOr(cfg.MaxBackoff, DefaultMaxBackoff),
		maxTopK: cmpOr(cfg.MaxTopK, kind.DefaultMaxTopK()),
		hc:      cfg.HTTPClient,
		logger:  cfg.Logger,
	}
	switch {
	case cfg.MaxRetries == 0:
		c.retries = DefaultMaxRetries
	case cfg.MaxRetries < 0:
		c.retries = 0
	}
	if c.maxWait < c.minWait {
		c.maxWait = c.minWait
	}
	if cfg.Concurrency > 0 {
		c.sem = semaphore.NewWeighted(int64(cfg.Concurrency))
	}
	if cfg.RateLimit > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(cfg.RateBurst, 1))
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	c.logger = c.logger.With(logKeyKind, string(kind))
	return c, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Kind returns the client's kind of server.
func (c *Client) Kind() Kind { return c.kind }

// MaxTopK returns the largest top-K the client asks for, or 0 for no limit.
func (c *Client) MaxTopK() int { return c.maxTopK }

// Usage returns the tokens counted so far from the servers' usage reports.
func (c *Client) Usage() llm.Usage {
	p, g := int(c.prompt.Load()), int(c.complete.Load())
	return llm.Usage{PromptTokens: p, CompletionTokens: g, TotalTokens: p + g}
}

// Requests returns the number of HTTP requests sent so far, retries
// included.
func (c *Client) Requests() int64 { return c.requests.Load() }

func (c *Client) addUsage(prompt, completion int) {
	c.prompt.Add(int64(prompt))
	c.complete.Add(int64(completion))
}

func (c *Client) countUsage(u *llm.Usage) {
	if u != nil {
		c.addUsage(u.PromptTokens, u.CompletionTokens)
	}
}

// checkTopK returns an error when k is negative or above the client's
// limit.
func (c *Client) checkTopK(k int) error {
	if k < 0 {
		return fmt.Errorf("top-k %d is negative", k)
	}
	if c.maxTopK > 0 && k > c.maxTopK {
		return &UnsupportedError{Kind: c.kind, Capability: "top-k", Detail: fmt.Sprintf("%d exceeds the limit of %d", k, c.maxTopK)}
	}
	return nil
}

// endpoint is where a request goes.
type endpoint struct {
	op     string // for errors and logs: "chat completion"
	method string
	path   string // relative to the base ("/chat/completions") or root
	native bool   // path is relative to the root
}

func (c *Client) url(e endpoint) string {
	u := c.base
	if e.native {
		u = c.root
	}
	return u.String() + e.path
}

// maxResponseBody bounds a non-streaming response body.
const maxResponseBody = 256 << 20

// doJSON sends in (nil for no body) to e and decodes a 2xx answer into out.
func (c *Client) doJSON(ctx context.Context, e endpoint, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("%s: encode request: %w", e.op, err)
		}
	}
	k, err := c.send(ctx, e, body, false)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(k.body, out); err != nil {
		return fmt.Errorf("decode %s response: %w", e.op, err)
	}
	return nil
}

// call is a successful attempt. For a stream, resp.Body is unread and the
// caller must call release, which closes the body, stops the idle timer
// and frees the concurrency slot; touch re-arms the idle timer and pause
// stops it while the consumer holds an event. For any other request body
// holds the whole answer and everything is released.
type call struct {
	resp     *http.Response
	body     []byte
	touch    func()
	pause    func()
	timedOut func() bool
	release  func()
}

// send performs the request with retries.
func (c *Client) send(ctx context.Context, e endpoint, body []byte, stream bool) (*call, error) {
	for attempt := 0; ; attempt++ {
		k, wait, err := c.attempt(ctx, e, body, stream, attempt)
		if err == nil {
			return k, nil
		}
		if wait < 0 {
			return nil, fmt.Errorf("%s: %w", e.op, err)
		}
		if attempt >= c.retries {
			if attempt == 0 {
				return nil, fmt.Errorf("%s: %w", e.op, err)
			}
			return nil, fmt.Errorf("%s: giving up after %d attempts: %w", e.op, attempt+1, err)
		}
		if wait == 0 {
			wait = c.backoff(attempt)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return nil, fmt.Errorf("%s: no time left to retry after %d attempts: %w", e.op, attempt+1, err)
		}
		c.logger.LogAttrs(ctx, slog.LevelWarn, "retrying request",
			slog.String(logKeyOp, e.op), slog.Int(logKeyAttempt, attempt+1),
			slog.Duration(logKeyWait, wait), slog.String(logKeyErr, err.Error()))
		if serr := sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%s: waiting to retry: %w (after: %w)", e.op, serr, err)
		}
	}
}

// backoff returns a full-jitter exponential backoff for the attempt.
func (c *Client) backoff(attempt int) time.Duration {
	ceil := c.maxWait
	if attempt < 32 {
		if d := c.minWait << attempt; d > 0 && d < ceil {
			ceil = d
		}
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// attempt makes one request. wait < 0 means the error must not be retried;
// wait > 0 is a server-requested delay; 0 means "use the backoff".
func (c *Client) attempt(ctx context.Context, e endpoint, body []byte, stream bool, n int) (*call, time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return nil, -1, err
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, -1, fmt.Errorf("rate limit: %w", err)
		}
	}
	if c.sem != nil {
		if err := c.sem.Acquire(ctx, 1); err != nil {
			return nil, -1, fmt.Errorf("concurrency limit: %w", err)
		}
	}
	actx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(c.timeout, cancel)
	k := &call{
		touch:    func() { timer.Reset(c.timeout) },
		pause:    func() { timer.Stop() },
		timedOut: func() bool { return ctx.Err() == nil && actx.Err() != nil },
	}
	var once atomic.Bool
	k.release = func() {
		if !once.CompareAndSwap(false, true) {
			return
		}
		if k.resp != nil {
			_ = k.resp.Body.Close() // read errors are reported by the reader
		}
		timer.Stop()
		cancel()
		if c.sem != nil {
			c.sem.Release(1)
		}
	}
	fail := func(wait time.Duration, err error) (*call, time.Duration, error) {
		timedOut := k.timedOut()
		k.release()
		switch {
		case timedOut:
			return nil, 0, fmt.Errorf("attempt %d: %w after %s", n+1, ErrTimeout, c.timeout)
		case ctx.Err() != nil:
			return nil, -1, ctx.Err()
		}
		return nil, wait, err
	}

	req, err := http.NewRequestWithContext(actx, e.method, c.url(e), bytes.NewReader(body))
	if err != nil {
		return fail(-1, fmt.Errorf("build request: %w", err))
	}
	if body == nil {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	c.requests.Add(1)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		err = c.scrubErr(err)
		if retryableNetErr(err) {
			return fail(0, fmt.Errorf("attempt %d: %w", n+1, err))
		}
		return fail(-1, err)
	}
	k.resp = resp
	c.logger.LogAttrs(ctx, slog.LevelDebug, "response",
		slog.String(logKeyOp, e.op), slog.Int(logKeyBytes, len(body)),
		slog.Int(logKeyStatus, resp.StatusCode), slog.Duration(logKeyTook, time.Since(start)))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		errBody, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if rerr != nil && k.timedOut() {
			return fail(0, rerr)
		}
		apiErr := parseAPIError(resp.StatusCode, errBody, body, c.apiKey)
		if !retryableStatus(resp.StatusCode) {
			return fail(-1, apiErr)
		}
		return fail(retryAfter(resp.Header.Get("Retry-After"), time.Now()), apiErr)
	}
	if stream {
		// The attempt timeout covered the wait for the headers; from here
		// it is an idle timeout that the stream reader re-arms.
		k.touch()
		return k, 0, nil
	}
	k.body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody+1))
	if err == nil && len(k.body) > maxResponseBody {
		err = fmt.Errorf("response body over %d bytes", maxResponseBody)
		return fail(-1, err)
	}
	if err != nil {
		err = c.scrubErr(err)
		if retryableNetErr(err) {
			return fail(0, fmt.Errorf("attempt %d: read response: %w", n+1, err))
		}
		return fail(-1, fmt.Errorf("read response: %w", err))
	}
	k.release()
	return k, 0, nil
}

// scrubErr removes the API key from a transport error's text. Transport
// errors do not carry headers, so this is a second guard.
func (c *Client) scrubErr(err error) error {
	if c.apiKey == "" || !strings.Contains(err.Error(), c.apiKey) {
		return err
	}
	return errors.New("transport error withheld: it holds the api key")
}

func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryableNetErr reports whether a transport error is a dropped or refused
// connection or a network timeout. Anything else (including an egress
// guard's refusal) is final.
func retryableNetErr(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// retryAfter parses a Retry-After header: seconds or an HTTP date. It
// returns 0 when the header is absent or unusable.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
