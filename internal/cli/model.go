package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/envconfig"
	"github.com/cogenesis/cogenesis/internal/hub"
)

// engineFlags are the flags of every command that loads a local model.
type engineFlags struct {
	threads  int
	ctxSize  int
	batch    int
	parallel int
	lora     string
	cacheDir string
	flash    string
}

func (e *engineFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&e.threads, "threads", 0, "CPU threads per model (default: chosen per model: the free physical cores, one for a model under 16 MiB, split between the models of one process)")
	fs.IntVar(&e.ctxSize, "ctx", 4096, "context size per sequence, in tokens")
	fs.IntVar(&e.batch, "batch", 512, "most tokens per decode call")
	fs.StringVar(&e.lora, "slm-lora", "", "LoRA adapter GGUF to apply to the local model")
	fs.StringVar(&e.cacheDir, "cache-dir", "", "model download cache (default: the user cache directory)")
	fs.StringVar(&e.flash, "flash-attn", "auto", "flash attention: auto, on or off")
}

func (e engineFlags) options() llamacpp.Options {
	return llamacpp.Options{
		ContextSize:    e.ctxSize,
		Threads:        e.threads,
		BatchSize:      e.batch,
		Parallel:       max(e.parallel, 1),
		LoRA:           e.lora,
		FlashAttention: e.flash,
		Logger:         slog.Default().With("component", "llama.cpp"),
	}
}

// DownloadAuditLog is the name of the audit log, in the model cache
// directory, that records model downloads.
const DownloadAuditLog = "downloads.audit.jsonl"

// resolveModel turns a model reference (a path or hf://OWNER/REPO/FILE.gguf)
// into a local path, downloading it once into the cache.
func resolveModel(ctx context.Context, ref, cacheDir string, stderr io.Writer) (string, error) {
	if ref == "" {
		return "", usagef("pass a GGUF path or hf://OWNER/REPO/FILE.gguf", "no model given")
	}
	opts := hub.Options{
		CacheDir: cacheDir,
		Progress: stderr,
		BaseURL:  envconfig.HFEndpoint(),
		Token:    envconfig.HFToken(),
	}
	if hub.IsRemote(ref) {
		// Downloads leave through the egress and are recorded, as
		// non-private egress, in an audit log beside the models.
		dir, err := hub.CacheDir(cacheDir)
		if err != nil {
			return "", err
		}
		if opts.HTTPClient, err = egress.HTTPClient(egress.Config{Policy: egress.Download, LogPath: filepath.Join(dir, DownloadAuditLog)}); err != nil {
			return "", err
		}
	}
	path, err := hub.Resolve(ctx, ref, opts)
	if errors.Is(err, hub.ErrUnreachable) {
		return "", fmt.Errorf("%w\nno network? pass a local GGUF file instead, e.g. MODEL=../shared/models/aidreams260K.gguf make demo, or --slm PATH", err)
	}
	return path, err
}

func openModel(ctx context.Context, ref string, e engineFlags, stderr io.Writer) (*llamacpp.Model, error) {
	path, err := resolveModel(ctx, ref, e.cacheDir, stderr)
	if err != nil {
		return nil, err
	}
	return openModelPath(path, e.options())
}

func openModelPath(path string, opts llamacpp.Options) (*llamacpp.Model, error) {
	return llamacpp.Open(path, opts)
}
