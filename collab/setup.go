package collab

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// CloudConfig says how to reach the cloud model.
type CloudConfig struct {
	// Target is a base URL ("http://host:8000/v1") or "local:PATH", which
	// starts the cloud role in-process behind a loopback HTTP server so the
	// same wire path is used.
	Target string
	Kind   openaiapi.Kind
	Model  string
	// APIKey is the bearer token sent to a URL target (a local cloud
	// brings its own); empty means the client's environment variable.
	APIKey string
	// Latency is added by a local cloud to every response.
	Latency time.Duration
	// Threads is a local cloud's CPU threads; 0 leaves the choice to the
	// engine, which shares the cores with the other models of the
	// process (see llamacpp.Options.Threads).
	Threads int
	// Audit is the egress log every request is recorded in (may be nil).
	Audit *audit.Log
	// Guard checks every request at the choke point; a run's own guard
	// (Runner.Guard) takes its place for the run's requests. Without
	// either, requests are only recorded.
	Guard *privacy.Guard
	// Detokenize renders token-id prompts for the check.
	Detokenize func([]int32) string
	// AllowPrivateEgress lets llm-context and teacher-forcing requests
	// through the check (recorded with verdict "private").
	AllowPrivateEgress bool
	Logger             *slog.Logger
}

// LocalCloud is a cloud model served in-process on loopback. It answers
// only requests that carry Key, a random bearer token made for this start,
// so that no other process on the machine can use (or crash) it through
// its port.
type LocalCloud struct {
	Model *llamacpp.Model
	URL   string
	Key   string
	srv   *http.Server
	done  chan error
}

// StartLocalCloud loads the model at path and serves it on 127.0.0.1 with
// the vLLM-shaped server.
func StartLocalCloud(path string, latency time.Duration, threads int, logger *slog.Logger) (*LocalCloud, error) {
	m, err := llamacpp.Open(path, llamacpp.Options{ContextSize: 8192, Threads: threads, Parallel: 2, Precise: true, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("local cloud: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("local cloud: %w", err)
	}
	name := "local"
	lc := &LocalCloud{Model: m, URL: "http://" + ln.Addr().String() + "/v1", Key: httpapi.NewKey("cogen-local-"), done: make(chan error, 1)}
	lc.srv = &http.Server{
		Handler:           httpapi.RequireBearer(lc.Key, (&cloud.Server{Model: m, Name: name, Latency: latency, Logger: logger, Created: time.Now()}).Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	go func() { lc.done <- lc.srv.Serve(ln) }()
	return lc, nil
}

// Close stops the server and frees the model.
func (lc *LocalCloud) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := lc.srv.Shutdown(ctx)
	if serr := <-lc.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	lc.Model.Close()
	return err
}

// DialCloud builds the cloud client behind the egress choke point: every
// request is checked by the guard (fail closed) and recorded in the audit
// log before it is sent. For a "local:PATH" target it also returns the
// local server, which the caller closes.
func DialCloud(cfg CloudConfig) (*Cloud, *LocalCloud, error) {
	var local *LocalCloud
	url, kind, model, key := cfg.Target, cfg.Kind, cfg.Model, cfg.APIKey
	if path, ok := strings.CutPrefix(cfg.Target, "local:"); ok {
		lc, err := StartLocalCloud(path, cfg.Latency, cfg.Threads, cfg.Logger)
		if err != nil {
			return nil, nil, err
		}
		local, url, kind, model, key = lc, lc.URL, openaiapi.KindVLLM, "local", lc.Key
	}
	if kind == "" {
		kind = openaiapi.KindVLLM
	}
	tr := &audit.Transport{Base: http.DefaultTransport, Log: cfg.Audit}
	tr.Check = func(ctx context.Context, req *http.Request, body []byte) (audit.Verdict, error) {
		g := cfg.Guard
		if rg := guardFrom(ctx); rg != nil {
			g = rg
		}
		if g == nil {
			return audit.Verdict{}, nil
		}
		rules, err := g.CheckEgress(body, cfg.Detokenize)
		if st := audit.StrategyFrom(ctx); err != nil && cfg.AllowPrivateEgress && (st == string(LLMContext) || st == teacherForcing) {
			return audit.Verdict{Verdict: "private", Rules: rules}, nil
		}
		return audit.Verdict{Rules: rules}, err
	}
	c, err := openaiapi.New(openaiapi.Config{
		BaseURL: url, Kind: kind, Model: model, APIKey: key, Timeout: 5 * time.Minute,
		HTTPClient: &http.Client{Transport: tr}, Logger: cfg.Logger,
	})
	if err != nil {
		if local != nil {
			local.Close()
		}
		return nil, nil, err
	}
	return NewCloud(c), local, nil
}

type guardKey struct{}

// withGuard makes g the egress check of the cloud requests made with ctx:
// each run's requests are checked against its own user's vault.
func withGuard(ctx context.Context, g *privacy.Guard) context.Context {
	return context.WithValue(ctx, guardKey{}, g)
}

func guardFrom(ctx context.Context) *privacy.Guard {
	g, _ := ctx.Value(guardKey{}).(*privacy.Guard)
	return g
}
