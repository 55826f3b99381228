// Package cli implements the cogen command line: one flag.FlagSet per
// subcommand and a small switch to dispatch, as litestream does.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
)

// UsageError is a command-line mistake; Hint says how to fix it.
type UsageError struct {
	Err  error
	Hint string
}

func (e *UsageError) Error() string {
	if e.Hint == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + "\n" + e.Hint
}

func (e *UsageError) Unwrap() error { return e.Err }

func usagef(hint, format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...), Hint: hint}
}

const topUsage = `cogen: a small local model and a large cloud model writing together,
with private context kept on the device.

Usage: cogen [--log-level debug|info|warn|error] [--log-format text|json] COMMAND [flags]

Commands:
  generate      generate text: the local model alone, or a collaboration strategy
  model info    describe a GGUF model
  bench engine  measure the engine's prompt and decode speed
  bench collab  per-token vs speculative fusion: round trips and wall time
  bench threads the default thread count against fixed ones, idle and under load
  audit         the egress audit log (show FILE, verify FILE, repair FILE)
  data          validate, describe (Table 5) and convert datasets (validate, stats, lamp)
  fusion        CombModel: extract teacher-forced positions, train, evaluate
  synth         synthesize a context-aware dataset with a cloud model (resumable)
  eval          evaluate strategies: judge, pairwise, BLEU/ROUGE-L, the paper's tables and figures
  cloud         serve a model over the OpenAI protocol, shaped like vLLM
  cloud check   which strategies a cloud server supports, before a run
  serve         the gateway: strategies over the OpenAI protocol, the vault API and a web UI
  vault         the on-device vault of users' private context (import, list, export, token)
  guard check   the guard's findings in a text against one user's private context
  guard eval    the generic PII detector on PUPA-format prompts (recall, false findings)
  testmodel     write a random-weight GGUF test model

Run "cogen COMMAND -h" or "cogen help COMMAND" for a command's flags and
examples, "cogen --version" for the version. Flags may follow the
positional arguments; "--" ends the flags.`

// GlobalFlags splits the global logging flags off the front of args.
func GlobalFlags(args []string) (rest []string, level slog.Level, format string, err error) {
	level, format = slog.LevelInfo, "text"
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		name, val, ok := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		if name != "log-level" && name != "log-format" {
			break
		}
		args = args[1:]
		if !ok {
			if len(args) == 0 {
				return nil, 0, "", fmt.Errorf("flag --%s needs a value", name)
			}
			val, args = args[0], args[1:]
		}
		switch name {
		case "log-level":
			if err := level.UnmarshalText([]byte(val)); err != nil {
				return nil, 0, "", fmt.Errorf("--log-level %q: want debug, info, warn or error", val)
			}
		case "log-format":
			if val != "text" && val != "json" {
				return nil, 0, "", fmt.Errorf("--log-format %q: want text or json", val)
			}
			format = val
		}
	}
	return args, level, format, nil
}

// ReplaceAttr is main's second privacy guard for log records: attributes
// whose keys name prompt or context text are replaced by their length.
func ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	switch a.Key {
	case "prompt", "text", "content", "context", "profile", "history":
		if a.Value.Kind() == slog.KindString {
			return slog.String(a.Key, fmt.Sprintf("<redacted len=%d>", len(a.Value.String())))
		}
	}
	return a
}

// Run runs the command in args (without the program name).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, topUsage)
		return usagef("", "no command given")
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(stdout, version())
		return nil
	}
	err := dispatch(ctx, args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd, rest := args[0], args[1:]
	if _, ok := groups[cmd]; ok && (len(rest) == 0 || isHelp(rest[0])) {
		if len(rest) == 0 {
			fmt.Fprintln(stderr, groups[cmd])
			return usagef("", "no %s subcommand: want one of %s", cmd, strings.ReplaceAll(subcommands(cmd), " ", ", "))
		}
		groupHelp(cmd, stdout)
		return nil
	}
	switch cmd {
	case "help", "-h", "--help":
		if len(rest) > 0 {
			// "cogen help data validate" is "cogen data validate -h".
			return dispatch(ctx, append(slices.Clone(rest), "-h"), stdout, stderr)
		}
		fmt.Fprintln(stdout, topUsage)
		return nil
	case "generate":
		return runGenerate(ctx, rest, stdout, stderr)
	case "model":
		if rest[0] != "info" {
			return usagef("usage: cogen model info PATH", "unknown model subcommand")
		}
		return runModelInfo(ctx, rest[1:], stdout, stderr)
	case "bench":
		return runBench(ctx, rest, stdout, stderr)
	case "cloud":
		return runCloud(ctx, rest, stdout, stderr)
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "vault":
		return runVault(ctx, rest, stdout, stderr)
	case "guard":
		return runGuard(ctx, rest, stdout, stderr)
	case "audit":
		return runAudit(ctx, rest, stdout, stderr)
	case "data":
		return runData(ctx, rest, stdout, stderr)
	case "fusion":
		return runFusion(ctx, rest, stdout, stderr)
	case "eval":
		return runEval(ctx, rest, stdout, stderr)
	case "synth":
		return runSynth(ctx, rest, stdout, stderr)
	case "testmodel":
		return runTestModel(ctx, rest, stdout, stderr)
	}
	return usagef(`run "cogen help" for the list`, "unknown command %q", cmd)
}
