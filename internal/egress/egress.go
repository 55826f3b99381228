// Package egress is the one way out of the device. It alone builds the
// HTTP clients that reach a cloud model, a judge or a model hub, and every
// client it builds sends each request through the same chain: the guard,
// then the audit log, then the network. It fails closed: a request with no
// guard to check it, or that cannot be recorded, is not sent.
//
// Each client has a [Policy], written in every audit record, that says why
// its requests leave and what a guard finding does to them. Private text
// leaves only under a [Grant], which the opt-in flags alone create
// (--allow-private-egress, judge.allow_private) and which a request must
// carry in its context ([WithGrant]) as well.
//
// A test in this package walks the module's non-test Go files and fails if
// anything outside it builds an http.Client, an http.Transport or an
// openaiapi.Client, or dials the network.
package egress

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// Policy names why a client's requests leave the device and what a guard
// finding does to them.
type Policy string

// The policies.
const (
	// User is a user's task: the strategies, CombModel extraction, SFT
	// sketches. A finding blocks the request unless the request carries
	// the client's grant (the llm-context baseline, teacher forcing).
	User Policy = "user"
	// Judge is the eval judge, which reads outputs written with private
	// context: a finding blocks unless the request carries the client's
	// grant (judge.allow_private).
	Judge Policy = "judge"
	// Synthetic is synthetic-data generation (cogen synth): made-up people
	// and no vault. The guard's generic detectors still check every
	// request; what they find is recorded (verdict "synthetic") and sent.
	Synthetic Policy = "synthetic"
	// Download is model downloads: GET and HEAD requests without a body,
	// recorded as non-private egress.
	Download Policy = "download"
)

func (p Policy) valid() bool {
	switch p {
	case User, Judge, Synthetic, Download:
		return true
	}
	return false
}

// Grant lets private text leave under a client that holds it, for the
// requests that carry it in their context. Only an opt-in flag makes one
// ([AllowPrivate]); the zero value grants nothing.
type Grant struct{ flag string }

// AllowPrivate returns the grant of the opt-in flag named flag (such as
// "--allow-private-egress"); the audit log's "private" verdicts are made
// under it.
func AllowPrivate(flag string) *Grant { return &Grant{flag: flag} }

// String returns the flag that made the grant.
func (g *Grant) String() string {
	if g == nil {
		return "no grant"
	}
	return g.flag
}

type grantKey struct{}

// WithGrant marks the requests made with ctx as covered by g: a client
// holding the same grant lets them carry private text (verdict
// "private"). A nil g leaves ctx as it is.
func WithGrant(ctx context.Context, g *Grant) context.Context {
	if g == nil {
		return ctx
	}
	return context.WithValue(ctx, grantKey{}, g)
}

func grantFrom(ctx context.Context) *Grant {
	g, _ := ctx.Value(grantKey{}).(*Grant)
	return g
}

type guardKey struct{}

// WithGuard makes g the check of the requests made with ctx, in place of
// the client's own guard: each run's requests are checked against its own
// user's vault.
func WithGuard(ctx context.Context, g *privacy.Guard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

func guardFrom(ctx context.Context) *privacy.Guard {
	g, _ := ctx.Value(guardKey{}).(*privacy.Guard)
	return g
}

// ErrNoGuard is the error of a request that no guard checked: it is not
// sent.
var ErrNoGuard = errors.New("no guard to check the request: nothing leaves unchecked")

// Config configures a client.
type Config struct {
	Policy Policy
	// Log records every request, sent or blocked. Required unless LogPath
	// is set.
	Log *audit.Log
	// LogPath names an audit log opened for each request and closed after
	// it, for clients that rarely send (model downloads) and would
	// otherwise hold the log's lock.
	LogPath string
	// Guard checks every request whose context carries no guard of its
	// own (WithGuard). Without either, nothing is sent. Download requests
	// are checked by their policy (no body) instead.
	Guard *privacy.Guard
	// Detokenize renders token-id prompts for the guard.
	Detokenize func([]int32) string
	// Private is the grant of an opt-in flag; nil for none.
	Private *Grant
	// Outer, when set, wraps the choke point with layers that act on
	// requests before it (such as a job header); they cannot bypass it.
	Outer func(http.RoundTripper) http.RoundTripper
	// Network sends what the choke point lets through; nil means the
	// network. Tests give in-process transports here.
	Network http.RoundTripper
}

// HTTPClient returns a client whose requests pass the choke point of cfg.
func HTTPClient(cfg Config) (*http.Client, error) {
	if !cfg.Policy.valid() {
		return nil, fmt.Errorf("egress: unknown policy %q", cfg.Policy)
	}
	if cfg.Log == nil && cfg.LogPath == "" {
		return nil, errors.New("egress: no audit log: nothing leaves unrecorded")
	}
	base := cfg.Network
	if base == nil {
		base = network(cfg.Policy)
	}
	tr := &audit.Transport{Base: base, Log: cfg.Log, Check: cfg.check, Policy: string(cfg.Policy)}
	var rt http.RoundTripper = tr
	if cfg.Log == nil {
		rt = &lazyLog{path: cfg.LogPath, tr: tr}
	}
	if cfg.Outer != nil {
		rt = cfg.Outer(rt)
	}
	return &http.Client{Transport: rt}, nil
}

// Dial returns an OpenAI-protocol client for api whose requests pass the
// choke point of cfg. api.HTTPClient must be nil: egress sets it.
func Dial(cfg Config, api openaiapi.Config) (*openaiapi.Client, error) {
	if api.HTTPClient != nil {
		return nil, errors.New("egress: the client's HTTP client is egress's to build")
	}
	if cfg.Policy == Download {
		return nil, errors.New("egress: a model client cannot use the download policy")
	}
	hc, err := HTTPClient(cfg)
	if err != nil {
		return nil, err
	}
	api.HTTPClient = hc
	return openaiapi.New(api)
}

// check is the guard's decision on one request under cfg's policy.
func (cfg Config) check(ctx context.Context, req *http.Request, body []byte) (audit.Verdict, error) {
	if cfg.Policy == Download {
		if len(body) > 0 || (req.Method != http.MethodGet && req.Method != http.MethodHead) {
			return audit.Verdict{}, fmt.Errorf("a download sends no body and only GET or HEAD, not %s with %d bytes", req.Method, len(body))
		}
		return audit.Verdict{Verdict: audit.VerdictAllow}, nil
	}
	g := guardFrom(ctx)
	if g == nil {
		g = cfg.Guard
	}
	if g == nil {
		return audit.Verdict{}, ErrNoGuard
	}
	rules, err := g.CheckEgress(body, cfg.Detokenize)
	switch {
	case err == nil:
		return audit.Verdict{Verdict: audit.VerdictAllow}, nil
	case cfg.Policy == Synthetic:
		return audit.Verdict{Verdict: audit.VerdictSynthetic, Rules: rules}, nil
	case cfg.Private != nil && grantFrom(ctx) == cfg.Private:
		return audit.Verdict{Verdict: audit.VerdictPrivate, Rules: rules}, nil
	}
	return audit.Verdict{Rules: rules}, err
}

// network returns the transport to the network for a policy: downloads
// fail fast when the network is down (a 5 s dial, 30 s to the response
// headers) but may then run long; model requests may wait minutes for
// their first byte.
func network(p Policy) http.RoundTripper {
	netOnce.Do(func() {
		dial := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = dial.DialContext
		models = t
		d := t.Clone()
		d.TLSHandshakeTimeout = 10 * time.Second
		d.ResponseHeaderTimeout = 30 * time.Second
		downloads = d
	})
	if p == Download {
		return downloads
	}
	return models
}

var (
	netOnce           sync.Once
	models, downloads *http.Transport
)

// lazyLog opens the audit log at path for each request.
type lazyLog struct {
	path string
	tr   *audit.Transport
}

func (l *lazyLog) RoundTrip(req *http.Request) (*http.Response, error) {
	log, err := audit.Open(l.path)
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close() // not sent; the open error is the one to report
		}
		return nil, fmt.Errorf("egress to %s not sent: %w", req.URL.Host, err)
	}
	defer log.Close()
	tr := *l.tr
	tr.Log = log
	return tr.RoundTrip(req)
}

// ResolveKind returns api with the kind to use for the server at
// api.BaseURL (openaiapi.ResolveKind): api.Kind auto (or empty) takes the
// detected kind, and a given kind that the server contradicts is an
// [*openaiapi.KindMismatchError]. The probes are GETs with no body, sent
// once each through the choke point of cfg and so recorded in its audit
// log; they carry nothing private, and when cfg has no guard a guard with
// no vault checks them. The detected kind, or the trust in a given kind
// that no probe confirmed, is logged to api.Logger (default
// slog.Default()).
func ResolveKind(ctx context.Context, cfg Config, api openaiapi.Config) (openaiapi.Config, openaiapi.Detection, error) {
	given, err := openaiapi.ParseKind(string(api.Kind))
	if err != nil {
		return api, openaiapi.Detection{}, err
	}
	if cfg.Guard == nil {
		cfg.Guard = privacy.NewGuard(nil)
	}
	probe := api
	probe.Kind = openaiapi.KindOpenAI // any real kind: detection ignores it
	c, err := Dial(cfg, probe)
	if err != nil {
		return api, openaiapi.Detection{}, err
	}
	kind, d, err := openaiapi.ResolveKind(ctx, c, given)
	if err != nil {
		return api, d, err
	}
	logger := api.Logger
	if logger == nil {
		logger = slog.Default()
	}
	switch {
	case d.Kind == "":
		logger.Warn("no probe identified the server; trusting the kind given", "kind", kind, "url", d.URL, "probes", strings.Join(d.Probes, "; "))
	case given == openaiapi.KindAuto:
		logger.Info("server kind detected", "kind", kind, "url", d.URL, "evidence", d.Evidence)
	}
	api.Kind = kind
	return api, d, nil
}
