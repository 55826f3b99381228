package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

func runModelInfo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("model info", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	var ef engineFlags
	ef.register(fs)
	setUsage(fs, "Usage: cogen model info [--json] PATH|hf://OWNER/REPO/FILE.gguf")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("usage: cogen model info PATH", "want exactly one model, got %d", fs.NArg())
	}
	ef.ctxSize = 256 // describing a model needs no real context
	m, err := openModel(ctx, fs.Arg(0), ef, stderr)
	if err != nil {
		return err
	}
	defer m.Close()
	info := m.Info()
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(info)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t"+format+"\n", append([]any{k}, a...)...) }
	row("path", "%s", info.Path)
	row("architecture", "%s", info.Architecture)
	row("description", "%s", info.Description)
	row("parameters", "%s (%d)", humanCount(float64(info.Parameters)), info.Parameters)
	row("size", "%s", humanBytes(info.SizeBytes))
	row("quantization", "%s", info.Quantization)
	row("context length", "%d", info.ContextLength)
	row("embedding", "%d", info.Embedding)
	row("layers", "%d", info.Layers)
	v := info.Vocab
	row("vocabulary", "%d tokens, %s, bos %d, eos %d, eot %d", v.Size, v.Type, v.BOS, v.EOS, v.EOT)
	row("vocab fingerprint", "%s", v.Fingerprint)
	if info.ChatTemplate == "" {
		row("chat template", "none (ChatML is used for chat prompts)")
	} else {
		first, _, _ := strings.Cut(strings.TrimSpace(info.ChatTemplate), "\n")
		if len(first) > 60 {
			first = first[:60] + "..."
		}
		row("chat template", "%d bytes: %s", len(info.ChatTemplate), first)
	}
	return tw.Flush()
}

func humanCount(x float64) string {
	switch {
	case x >= 1e9:
		return fmt.Sprintf("%.2fB", x/1e9)
	case x >= 1e6:
		return fmt.Sprintf("%.1fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fK", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
