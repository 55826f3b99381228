// Package localcloud serves a GGUF model as the cloud role in-process,
// behind a loopback HTTP server with the vLLM-shaped API of internal/cloud,
// so that a local cloud is reached over the same wire path (and the same
// egress choke point) as a remote one.
package localcloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/httpapi"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// Cloud is a cloud model served in-process on loopback. It answers only
// requests that carry Key, a random bearer token made for this start, so
// that no other process on the machine can use (or crash) it through its
// port.
type Cloud struct {
	Model *llamacpp.Model
	URL   string
	Key   string
	srv   *http.Server
	done  chan error
}

// Options configure a local cloud.
type Options struct {
	// Latency is added to every response.
	Latency time.Duration
	// Threads is the model's CPU threads; 0 leaves the choice to the
	// engine, which shares the cores with the other models of the process
	// (see llamacpp.Options.Threads).
	Threads int
	Logger  *slog.Logger
}

// Start loads the model at path and serves it on 127.0.0.1.
func Start(path string, o Options) (*Cloud, error) {
	m, err := llamacpp.Open(path, llamacpp.Options{ContextSize: 8192, Threads: o.Threads, Parallel: 2, Precise: true, Logger: o.Logger})
	if err != nil {
		return nil, fmt.Errorf("local cloud: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("local cloud: %w", err)
	}
	lc := &Cloud{Model: m, URL: "http://" + ln.Addr().String() + "/v1", Key: httpapi.NewKey("cogen-local-"), done: make(chan error, 1)}
	lc.srv = &http.Server{
		Handler:           httpapi.RequireBearer(lc.Key, (&cloud.Server{Model: m, Name: "local", Latency: o.Latency, Logger: o.Logger, Created: time.Now()}).Handler()),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	go func() { lc.done <- lc.srv.Serve(ln) }()
	return lc, nil
}

// Close stops the server and frees the model.
func (lc *Cloud) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := lc.srv.Shutdown(ctx)
	if serr := <-lc.done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	lc.Model.Close()
	return err
}

// Target resolves a cloud target for a client: a base URL is returned in
// api as given; "local:PATH" starts the model at PATH here, and api then
// reaches it (kind vllm, model "local", its key). The caller closes the
// returned Cloud, which is nil for a URL.
func Target(target string, api openaiapi.Config, o Options) (openaiapi.Config, *Cloud, error) {
	path, ok := strings.CutPrefix(target, "local:")
	if !ok {
		api.BaseURL = target
		if api.Kind == "" {
			api.Kind = openaiapi.KindVLLM
		}
		return api, nil, nil
	}
	lc, err := Start(path, o)
	if err != nil {
		return api, nil, err
	}
	return lc.Reach(api), lc, nil
}

// Reach returns api set to reach the local cloud: its URL, kind vllm,
// model "local" and its key.
func (lc *Cloud) Reach(api openaiapi.Config) openaiapi.Config {
	api.BaseURL, api.Kind, api.Model, api.APIKey = lc.URL, openaiapi.KindVLLM, "local", lc.Key
	return api
}
