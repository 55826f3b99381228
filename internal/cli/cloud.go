package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/httpapi"
)

// cloudKeyEnv holds cogen cloud's bearer token when --api-key is not given.
const cloudKeyEnv = "COGEN_CLOUD_API_KEY"

func runCloud(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "check" {
		return runCloudCheck(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("cloud", flag.ContinueOnError)
	var (
		model   = fs.String("model", "", "GGUF path or hf://OWNER/REPO/FILE.gguf")
		addr    = fs.String("addr", "127.0.0.1:8088", "listen address")
		name    = fs.String("served-model-name", "", "model id clients use (default: the file name without .gguf)")
		latency = fs.Duration("latency", 0, "fixed delay added to every response (for benchmarks)")
		precise = fs.Bool("precise", true, "F32 KV cache, no flash attention: scores equal step-by-step evaluation")
		apiKey  = fs.String("api-key", "", "bearer token every request must carry (default $"+cloudKeyEnv+"); needed beyond loopback")
		maxLen  = fs.Int("max-model-len", 0, "longest request, prompt and output, in tokens (default: the model's training context, within --ctx, as vLLM); more than the training context serves text the model degrades on")
		ef      engineFlags
	)
	ef.register(fs)
	fs.IntVar(&ef.parallel, "parallel", 4, "sequences served at once (batched together)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: cogen cloud --model PATH [--addr 127.0.0.1:8088] [--api-key KEY] [--parallel N] [--max-model-len N] [--latency 50ms]")
		fmt.Fprintln(stderr, "       cogen cloud check --llm URL [--llm-kind auto] [--slm MODEL] [--top-k N]   (what a cloud server offers)")
		fs.PrintDefaults()
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *apiKey == "" {
		*apiKey = os.Getenv(cloudKeyEnv)
	}
	if *maxLen < 0 {
		return usagef("", "--max-model-len %d: want a positive count of tokens (or 0 for the default)", *maxLen)
	}
	ctxSet := false
	fs.Visit(func(f *flag.Flag) { ctxSet = ctxSet || f.Name == "ctx" })
	switch {
	case *maxLen > 0 && !ctxSet:
		ef.ctxSize = *maxLen // the engine holds what is served
	case *maxLen > ef.ctxSize:
		return usagef("", "--max-model-len %d exceeds --ctx %d: the engine cannot hold it", *maxLen, ef.ctxSize)
	}
	// Refused before the model loads: whoever reaches the address could
	// use the model.
	if err := httpapi.CheckBind(*addr, *apiKey, "pass --api-key or set "+cloudKeyEnv); err != nil {
		return fmt.Errorf("cloud: %w", err)
	}
	path, err := resolveModel(ctx, *model, ef.cacheDir, stderr)
	if err != nil {
		return err
	}
	opts := ef.options()
	opts.Precise = *precise
	m, err := openModelPath(path, opts)
	if err != nil {
		return err
	}
	defer m.Close()
	if *name == "" {
		*name = strings.TrimSuffix(filepath.Base(path), ".gguf")
	}
	trained := m.Info().ContextLength
	served, beyond := cloud.ServedContext(m.ContextSize(), trained, *maxLen)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	handler := httpapi.RequireBearer(*apiKey, (&cloud.Server{Model: m, Name: *name, Latency: *latency, Created: time.Now(), Logger: slog.Default(), MaxModelLen: served}).Handler())
	auth := "no token (loopback only)"
	if *apiKey != "" {
		auth = "bearer token required"
	}
	fmt.Fprintf(stdout, "cogen cloud: serving %s as %q on http://%s/v1 (%d parallel, max_model_len %d, %s)\n", path, *name, ln.Addr(), opts.Parallel, served, auth)
	fmt.Fprintf(stdout, "cogen cloud: %s\n", contextNote(served, trained, m.ContextSize(), beyond))
	if err := serveHTTP(ctx, ln, handler); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "cogen cloud: stopped")
	return nil
}

// contextNote says where cogen cloud's max_model_len comes from: the
// model's training context, the engine's context (--ctx) or
// --max-model-len, and what the other two are.
func contextNote(served, trained, engineCtx int, beyond bool) string {
	switch {
	case trained <= 0:
		return fmt.Sprintf("max_model_len %d is the engine's context (--ctx); the model does not say what context it was trained on", served)
	case beyond:
		return fmt.Sprintf("max_model_len %d (--max-model-len) exceeds the model's training context of %d tokens: the model's output past it degrades", served, trained)
	case served == trained:
		return fmt.Sprintf("max_model_len %d is the model's training context (engine context %d; --max-model-len N serves more)", served, engineCtx)
	}
	return fmt.Sprintf("max_model_len %d is within the model's training context of %d tokens (engine context %d, --ctx)", served, trained, engineCtx)
}

// serveHTTP serves handler on ln until ctx ends, then shuts down
// gracefully: the requests in flight finish (for at most 30 s).
func serveHTTP(ctx context.Context, ln net.Listener, handler http.Handler) error {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      30 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
