package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
)

// samplingFlags are the sampling flags shared by generating commands.
type samplingFlags struct {
	maxTokens   int
	seed        uint64
	temperature float64
	topK        int
	topP        float64
	minP        float64
	stop        stringList
}

func (s *samplingFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.maxTokens, "max-tokens", 256, "most tokens to generate")
	fs.Uint64Var(&s.seed, "seed", 0, "random seed (same seed, same output)")
	fs.Float64Var(&s.temperature, "temperature", 0, "sampling temperature; 0 is greedy")
	fs.IntVar(&s.topK, "top-k", 0, "keep the K most likely tokens (0: all)")
	fs.Float64Var(&s.topP, "top-p", 1, "nucleus sampling mass")
	fs.Float64Var(&s.minP, "min-p", 0, "drop tokens below this fraction of the best one's probability")
	fs.Var(&s.stop, "stop", "stop string (repeatable)")
}

func (s samplingFlags) params() (sample.Params, error) {
	p := sample.Params{Temperature: s.temperature, TopK: s.topK, TopP: s.topP, MinP: s.minP, Seed: s.seed}
	if err := p.Validate(); err != nil {
		return p, &UsageError{Err: err}
	}
	return p, nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	var (
		slm  = fs.String("slm", "", "local model: GGUF path or hf://OWNER/REPO/FILE.gguf")
		chat = fs.String("chat", "auto", "wrap TEXT in the model's chat template: auto (when it has one), on, off")
		sys  = fs.String("system", "", "system prompt (chat mode)")
		ef   engineFlags
		sf   samplingFlags
		cf   collabFlags
	)
	ef.register(fs)
	sf.register(fs)
	cf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: cogen generate --slm PATH [--max-tokens N] [--seed N] [--temperature T] TEXT")
		fmt.Fprintln(stderr, "       cogen generate --strategy S --slm PATH --llm URL|local:PATH (--user FILE | --dataset FILE --index N [--skip-bad])")
		fmt.Fprintln(stderr, "                      [--fusion mean|max] [--schedule all|first:N|pkt:P,K,T] [--trace FILE] [--audit FILE] [TASK]")
		fs.PrintDefaults()
	}
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	text := strings.Join(fs.Args(), " ")
	if cf.strategy != "" {
		return runCollab(ctx, cf, *slm, ef, sf, text, stdout, stderr)
	}
	if text == "" {
		return usagef("usage: cogen generate --slm PATH TEXT", "no prompt text given")
	}
	params, err := sf.params()
	if err != nil {
		return err
	}
	m, err := openModel(ctx, *slm, ef, stderr)
	if err != nil {
		return err
	}
	defer m.Close()

	prompt, err := buildPrompt(m, *chat, *sys, text)
	if err != nil {
		return err
	}
	seq, err := m.NewSequence(ctx)
	if err != nil {
		return err
	}
	defer seq.Close()
	res, err := seq.Generate(ctx, prompt, llamacpp.GenerateOptions{
		Sample:    params,
		MaxTokens: sf.maxTokens,
		Stop:      sf.stop,
	}, func(t llamacpp.Token) error {
		_, err := io.WriteString(stdout, t.Text)
		return err
	})
	fmt.Fprintln(stdout)
	if err != nil {
		return err
	}
	slog.Debug("generated", "prompt_tokens", res.Usage.PromptTokens, "completion_tokens", res.Usage.CompletionTokens, "finish", res.FinishReason)
	return nil
}

// buildPrompt tokenizes text, as a chat turn when mode asks for it.
func buildPrompt(m *llamacpp.Model, mode, system, text string) ([]int32, error) {
	tmpl := m.Info().ChatTemplate
	useChat := mode == "on" || (mode == "auto" && tmpl != "")
	switch mode {
	case "auto", "on", "off":
	default:
		return nil, usagef("", "--chat %q: want auto, on or off", mode)
	}
	if !useChat {
		return m.Tokenize(text, true, false)
	}
	var msgs []llm.Message
	if system != "" {
		msgs = append(msgs, llm.Message{Role: llm.RoleSystem, Content: system})
	}
	msgs = append(msgs, llm.Message{Role: llm.RoleUser, Content: text})
	rendered, err := m.RenderChat(msgs, true)
	if err != nil {
		return nil, err
	}
	return m.Tokenize(rendered, false, true)
}
