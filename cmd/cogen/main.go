// Command cogen is the cogenesis command line: a small local model and a
// large cloud model writing together while private context stays on the
// device. Run "cogen help" for the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/cogenesis/cogenesis/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	args, level, format, err := cli.GlobalFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "cogen:", err)
		os.Exit(2)
	}
	var lv slog.LevelVar
	lv.Set(level)
	opts := &slog.HandlerOptions{Level: &lv, ReplaceAttr: cli.ReplaceAttr}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if format == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	slog.SetDefault(slog.New(h))

	err = cli.Run(ctx, args, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "cogen: interrupted")
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "cogen:", err)
		if _, ok := errors.AsType[*cli.UsageError](err); ok {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
