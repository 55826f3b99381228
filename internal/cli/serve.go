package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/internal/envconfig"
	"github.com/cogenesis/cogenesis/internal/serve"
	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// dataDir returns the per-user data directory of cogenesis (created with
// mode 0700): $XDG_DATA_HOME/cogenesis, else ~/.local/share/cogenesis on
// Unix and the user config directory elsewhere.
func dataDir() (string, error) {
	base := os.Getenv("XDG_DATA_HOME")
	if base == "" {
		switch runtime.GOOS {
		case "darwin", "windows", "plan9":
			d, err := os.UserConfigDir()
			if err != nil {
				return "", fmt.Errorf("find the data directory: %w", err)
			}
			base = d
		default:
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("find the data directory: %w", err)
			}
			base = filepath.Join(home, ".local", "share")
		}
	}
	dir := filepath.Join(base, "cogenesis")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create the data directory: %w", err)
	}
	return dir, nil
}

// defaultPath returns path, or name in the data directory when path is
// empty.
func defaultPath(path, name string) (string, error) {
	if path != "" {
		return path, nil
	}
	dir, err := dataDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var (
		slm       = fs.String("slm", "", "local model: GGUF path or hf://OWNER/REPO/FILE.gguf")
		llmURL    = fs.String("llm", "", "cloud model: an OpenAI-compatible base URL, or local:PATH (none: only cogen-slm)")
		llmKind   = fs.String("llm-kind", "auto", llmKindHelp)
		llmModel  = fs.String("llm-model", "", "cloud model name")
		addr      = fs.String("addr", "127.0.0.1:8080", "listen address; beyond loopback it needs --token")
		vaultPath = fs.String("vault", "", "vault file (SQLite; default: vault.db in the per-user data directory)")
		auditPath = fs.String("audit", "", "egress audit log (default: audit.jsonl beside the vault)")
		token     = fs.String("token", envconfig.ServeToken(), "bearer token every API request must carry (default $COGEN_SERVE_TOKEN)")
		maxTokens = fs.Int("max-tokens", serve.DefaultMaxTokens, "most tokens a request may generate")
		cloudMax  = fs.Int("cloud-max-tokens", 512, "most tokens the cloud writes (outline or draft)")
		queue     = fs.Int("queue", serve.DefaultMaxQueue, "chat requests in progress at once; more get 429")
		allowPriv = fs.Bool("allow-private-egress", false, "offer cogen-llm-context, which sends the private context to the cloud")
		perToken  = fs.Bool("per-token-fallback", false, perTokenFallbackHelp)
		guardMod  = fs.String("guard-model", "off", guardModelHelp)
		ef        engineFlags
	)
	var origins []string
	fs.Func("allow-origin", "`ORIGIN`s (scheme://host[:port], repeatable or comma-separated) whose web pages may call the API; pages of every other origin are refused", func(v string) error {
		for o := range strings.SplitSeq(v, ",") {
			o, err := serve.ValidOrigin(strings.TrimSpace(o))
			if err != nil {
				return err
			}
			origins = append(origins, o)
		}
		return nil
	})
	ef.register(fs)
	fs.IntVar(&ef.parallel, "parallel", 4, "local sequences generating at once (batched together)")
	var sf statesFlag
	sf.register(fs)
	setUsage(fs, "Usage: cogen serve --slm PATH [--llm URL|local:PATH] [--addr 127.0.0.1:8080] [--vault PATH] [--token TOKEN] [--allow-origin ORIGIN]")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *guardMod != "off" && *guardMod != "local" {
		return usagef("", "--guard-model %q: want off or local", *guardMod)
	}
	if fs.NArg() != 0 {
		return usagef("usage: cogen serve --slm PATH [--llm URL|local:PATH] [flags]", "unexpected argument %q", fs.Arg(0))
	}
	// Refuse an open address before loading anything.
	if err := serve.CheckBind(*addr, *token); err != nil {
		return &UsageError{Err: err}
	}
	if *slm == "" {
		return usagef("pass --slm PATH (a GGUF file or hf://...)", "cogen serve needs the local model")
	}
	vp, err := defaultPath(*vaultPath, "vault.db")
	if err != nil {
		return err
	}
	ap := *auditPath
	if ap == "" {
		ap = filepath.Join(filepath.Dir(vp), "audit.jsonl")
	}
	store, err := vault.Open(ctx, vp)
	if err != nil {
		return err
	}
	defer store.Close()

	// With-context prompts are long.
	ef.ctxSize = max(ef.ctxSize, 8192)
	m, err := openModel(ctx, *slm, ef, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	states, err := sf.open(vp)
	if err != nil {
		return err
	}
	grant := privateGrant(*allowPriv)
	s := &serve.Server{
		States: states,
		Store:  store, SLM: m, AuditPath: ap, Token: *token, AllowOrigins: origins, Private: grant,
		MaxTokens: *maxTokens, CloudMaxTokens: *cloudMax, MaxQueue: *queue, PerTokenFallback: *perToken, GuardModel: *guardMod == "local",
		Logger: slog.Default().With("component", "serve"), Created: time.Now(),
	}
	if *llmURL != "" {
		// Each request's run brings its user's guard, which checks every
		// cloud request; the client has no guard of its own, so a request
		// without a run's guard is not sent.
		cloud, closeCloud, err := dialCloud(ctx, cloudConfig{
			Target: *llmURL, Kind: openaiapi.Kind(*llmKind), Model: *llmModel, Threads: ef.threads,
			Detokenize: m.Detokenize, Private: grant,
		}, ap, ef.cacheDir, stderr)
		if err != nil {
			return err
		}
		defer closeCloud()
		s.Cloud = cloud
		if err := cloud.Can(openaiapi.CapSequenceTopK); err != nil && !*perToken {
			fmt.Fprintf(stderr, "cogen-speculative will be refused: a %s cloud cannot score a sequence in one request (pass --per-token-fallback to run per-token fusion instead)\n", cloud.Client().Kind())
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", *addr, err)
	}
	auth := "no token (loopback only)"
	if *token != "" {
		auth = "bearer token required"
	}
	fmt.Fprintf(stdout, "cogen serve: http://%s/ (API /v1, %s)\nvault %s, audit %s\n", ln.Addr(), auth, vp, ap)
	if err := serveHTTP(ctx, ln, s.Handler()); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "cogen serve: stopped")
	return nil
}
