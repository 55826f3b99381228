package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// llmKindHelp is the help text of every --llm-kind flag.
const llmKindHelp = "cloud server software: auto (detect), openai, vllm, sglang, llamacpp, ollama"

// resolveCloudKind returns api with the kind to use for the server at
// api.BaseURL (egress.ResolveKind): --llm-kind auto takes the detected
// kind, and a given kind that the server contradicts is an error naming
// both, and the flag.
func resolveCloudKind(ctx context.Context, ecfg egress.Config, api openaiapi.Config) (openaiapi.Config, openaiapi.Detection, error) {
	if _, err := openaiapi.ParseKind(string(api.Kind)); err != nil {
		return api, openaiapi.Detection{}, &UsageError{Err: fmt.Errorf("--llm-kind: %w", err)}
	}
	if api.Logger == nil {
		api.Logger = slog.Default().With("component", "cloud")
	}
	api, d, err := egress.ResolveKind(ctx, ecfg, api)
	if me, ok := errors.AsType[*openaiapi.KindMismatchError](err); ok {
		return api, d, &UsageError{Err: fmt.Errorf("--llm-kind %s, but %s looks like %s (%s); use --llm-kind %s or auto", me.Given, me.URL, me.Detected, me.Evidence, me.Detected)}
	}
	if err != nil {
		return api, d, fmt.Errorf("%w; to skip detection, name the server software with --llm-kind", err)
	}
	return api, d, nil
}

const cloudCheckUsage = `usage: cogen cloud check --llm URL|local:PATH [--llm-kind auto] [--llm-model NAME] [--slm MODEL] [--top-k N] [--audit FILE]`

// runCloudCheck runs "cogen cloud check": which strategies a cloud server
// can serve, from its kind (detected or given) and, with --slm, whether it
// tokenizes like the local model. It has no private input: what it sends
// is the detection's GETs and, for the tokenizer check, a constant text,
// all through the egress choke point and into the audit log.
func runCloudCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("cloud check", flag.ContinueOnError)
	var (
		llmRef    = fs.String("llm", "", "cloud server: an OpenAI-compatible base URL (http://host:8000/v1), or local:PATH")
		llmKind   = fs.String("llm-kind", "auto", llmKindHelp)
		llmModel  = fs.String("llm-model", "", "cloud model name")
		slm       = fs.String("slm", "", "local model (GGUF path or hf://): check that the cloud tokenizes like it")
		topK      = fs.Int("top-k", 10, "top-k log-probabilities per step that logits and speculative would ask for (their --top-k-cloud)")
		auditPath = fs.String("audit", "", "append every cloud request to this audit log (default: cogen-audit.jsonl in the current directory)")
		ef        engineFlags
	)
	ef.register(fs)
	setUsage(fs, cloudCheckUsage)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return usagef(cloudCheckUsage, "cloud check: unexpected argument %q", fs.Arg(0))
	case *llmRef == "":
		return usagef(cloudCheckUsage, "cloud check: pass --llm URL")
	case *topK < 1:
		return usagef(cloudCheckUsage, "cloud check: --top-k %d: want at least 1", *topK)
	}
	given, err := openaiapi.ParseKind(*llmKind)
	if err != nil {
		return &UsageError{Err: fmt.Errorf("--llm-kind: %w", err), Hint: cloudCheckUsage}
	}
	path := *auditPath
	if path == "" {
		path = "cogen-audit.jsonl"
	}
	c, d, closeCloud, err := dialCloudClient(ctx, cloudConfig{
		Target: *llmRef, Kind: given, Model: *llmModel, Threads: ef.threads,
		Guard: privacy.NewGuard(nil), // no vault: nothing private to find
	}, path, ef.cacheDir, stderr)
	if err != nil {
		return err
	}
	defer closeCloud()
	defer fmt.Fprintf(stderr, "audit: %s\n", path)

	var tok tokenizerCheck
	if *slm != "" {
		if tok, err = checkTokenizer(ctx, c, *slm, ef, stderr); err != nil {
			return err
		}
	}
	kind := c.Kind()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "cloud\t%s\n", d.URL)
	fmt.Fprintf(tw, "kind\t%s\n", kindLine(kind, given, d, strings.HasPrefix(*llmRef, "local:")))
	if d.Version != "" {
		fmt.Fprintf(tw, "version\t%s\n", d.Version)
	}
	if d.ContextSize > 0 {
		fmt.Fprintf(tw, "context\t%d tokens\n", d.ContextSize)
	} else {
		fmt.Fprintf(tw, "context\tnot reported\n")
	}
	fmt.Fprintf(tw, "top-k\t%s\n", topKLine(kind, *topK))
	fmt.Fprintf(tw, "tokenizer\t%s\n", tok.line())
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "STRATEGY\tSUPPORT")
	for _, r := range cloudSupport(kind, *topK, tok) {
		fmt.Fprintf(tw, "%s\t%s\n", r.strategy, r.support)
	}
	return tw.Flush()
}

// kindLine says which kind is used and why.
func kindLine(kind, given openaiapi.Kind, d openaiapi.Detection, local bool) string {
	switch {
	case local:
		return fmt.Sprintf("%s (%s)", kind, d.Evidence)
	case given == openaiapi.KindAuto && d.Conclusive:
		return fmt.Sprintf("%s (detected: %s)", kind, d.Evidence)
	case given == openaiapi.KindAuto:
		return fmt.Sprintf("%s (no answer names the server software: %s; treated as the most restrictive kind)", kind, d.Evidence)
	case d.Kind == "":
		return fmt.Sprintf("%s (--llm-kind; no probe identified the server: %s)", kind, strings.Join(d.Probes, "; "))
	case d.Conclusive:
		return fmt.Sprintf("%s (--llm-kind, and the server agrees: %s)", kind, d.Evidence)
	}
	return fmt.Sprintf("%s (--llm-kind; the server does not say: %s)", kind, d.Evidence)
}

// topKLine says how many alternatives per position the kind answers.
func topKLine(kind openaiapi.Kind, topK int) string {
	limit := kind.DefaultMaxTopK()
	switch {
	case limit == 0:
		return fmt.Sprintf("no fixed limit; --top-k %d", topK)
	case topK > limit:
		return fmt.Sprintf("at most %d per position by default; --top-k %d is over it", limit, topK)
	}
	return fmt.Sprintf("at most %d per position by default; --top-k %d fits", limit, topK)
}

// tokenizerCheck is what the tokenizer comparison found.
type tokenizerCheck struct {
	asked   bool // --slm was given
	checked bool // both tokenizations were compared
	same    bool
	note    string
}

func (t tokenizerCheck) line() string {
	if !t.asked {
		return "not checked (pass --slm MODEL to compare with the local model's)"
	}
	return t.note
}

// checkTokenizer compares the cloud's tokenizer with the local model's,
// as the logits strategy does before it starts (collab.CheckTokenizer: a
// probe text through a tokenize endpoint, or the vocabulary Ollama lists).
func checkTokenizer(ctx context.Context, c *openaiapi.Client, slmRef string, ef engineFlags, stderr io.Writer) (tokenizerCheck, error) {
	t := tokenizerCheck{asked: true}
	cloud := collab.NewCloud(c)
	if cloud.Can(openaiapi.CapTokenize) != nil && cloud.Can(openaiapi.CapVocabulary) != nil {
		t.note = fmt.Sprintf("not checkable: %s has no tokenize endpoint and lists no vocabulary", c.Kind())
		return t, nil
	}
	m, err := openModel(ctx, slmRef, ef, stderr)
	if err != nil {
		return t, err
	}
	defer m.Close()
	checked, err := collab.CheckTokenizer(ctx, cloud, collab.Engine(m))
	switch {
	case errors.Is(err, collab.ErrTokenizerMismatch):
		t.checked, t.note = true, "differs from the local model's: "+strings.TrimPrefix(err.Error(), collab.ErrTokenizerMismatch.Error()+": ")
	case !checked && err != nil:
		t.note = "not checkable: " + err.Error()
	case !checked:
		t.note = "not checkable"
	default:
		t.checked, t.same = true, true
		t.note = "matches the local model's"
	}
	return t, nil
}

// supportRow is one line of the check's table.
type supportRow struct{ strategy, support string }

// cloudSupport says, for each strategy, whether a server of kind can serve
// it: "ok", "ok with limits: ..." or "unsupported: <what is missing>"
// (DESIGN §6).
func cloudSupport(kind openaiapi.Kind, topK int, tok tokenizerCheck) []supportRow {
	chat := "ok"
	if !kind.Supports(openaiapi.CapChat) {
		chat = "unsupported: " + string(openaiapi.CapChat)
	}
	private := chat
	if chat == "ok" {
		private = "ok with limits: sends the private context to the cloud; needs --allow-private-egress"
	}
	// The token-level strategies: per-token fusion needs the next-token
	// top-k after a prefix given as token ids (Ollama takes a text prefix
	// instead); speculative fusion and CombModel training need the top-k
	// at every position of a sequence in one request.
	tokens := func(needs ...openaiapi.Capability) string {
		for _, c := range needs {
			if !kind.Supports(c) {
				if c == openaiapi.CapSequenceTopK {
					return "unsupported: top-k at every position"
				}
				return "unsupported: " + string(c)
			}
		}
		if tok.checked && !tok.same {
			return "unsupported: the cloud's tokenizer differs from the local model's"
		}
		if limit := kind.DefaultMaxTopK(); limit > 0 && topK > limit {
			return fmt.Sprintf("unsupported: --top-k %d is over the server's limit of %d", topK, limit)
		}
		var limits []string
		if kind == openaiapi.KindOllama {
			limits = append(limits, "text prefixes (the server tokenizes them and names candidates by text)")
		}
		if tok.asked && !tok.checked {
			limits = append(limits, "tokenizer not checked")
		}
		if len(limits) > 0 {
			return "ok with limits: " + strings.Join(limits, "; ")
		}
		return "ok"
	}
	logits := []openaiapi.Capability{openaiapi.CapNextTokenTopK}
	if kind != openaiapi.KindOllama {
		logits = append(logits, openaiapi.CapTokenIDPrompt)
	}
	sequence := []openaiapi.Capability{openaiapi.CapSequenceTopK, openaiapi.CapTokenIDPrompt}
	return []supportRow{
		{"llm", chat},
		{"sketch", chat},
		{"sketch-full", chat},
		{"logits", tokens(logits...)},
		{"speculative", tokens(sequence...)},
		{"fusion extract (CombModel training)", tokens(sequence...)},
		{"llm-context", private},
	}
}
