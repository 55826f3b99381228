package guardmodel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/privacy"
)

// ErrRequestTooLong means the request does not fit the model's context
// beside the fixed prompt and the answer, even with no private context.
// The error names token counts only.
var ErrRequestTooLong = errors.New("guard model: request too long for the model's context")

// Rules of the model's findings. Their detector (the prefix before the
// dot) is "model".
const (
	// RuleContext is a span the model says reveals the private context.
	RuleContext = "model.context"
	// RulePII is a span the model says is generic personal data.
	RulePII = "model.pii"
)

// Limits of an answer, as [Schema] states them and [SystemPrompt] tells
// the model.
const (
	// MaxSpans is the most spans an answer holds.
	MaxSpans = 8
	// MaxSpanChars is the longest span text, in characters (code points).
	MaxSpanChars = 64
)

// DefaultMaxTokens bounds the answer when [Options.MaxTokens] is zero:
// room for the eight spans of a real model's answer (a span of a few
// words is about 15 tokens of JSON), not for the longest answer the
// schema admits (eight spans of 64 escaped characters, some 2,700 bytes),
// which only a degenerate model would write.
const DefaultMaxTokens = 256

// Schema is the JSON schema of the model's answer. [New] converts it to a
// GBNF grammar that constrains generation, so the answer is JSON of this
// shape whatever the model's weights. The converter's whitespace rule is
// narrowed to one optional space (compact JSON), so that a model cannot
// spend its tokens on indentation.
const Schema = `{
  "type": "object",
  "properties": {
    "spans": {
      "type": "array",
      "maxItems": 8,
      "items": {
        "type": "object",
        "properties": {
          "text": {"type": "string", "minLength": 1, "maxLength": 64},
          "reason": {"type": "string", "enum": ["context", "pii"]}
        },
        "required": ["text", "reason"],
        "additionalProperties": false
      }
    }
  },
  "required": ["spans"],
  "additionalProperties": false
}`

// SystemPrompt is the fixed instruction of the check: the system message
// where the model has a chat template, the first paragraph of the plain
// prompt where it has none.
const SystemPrompt = `You check requests for privacy leaks. You are given the private context of a user and a request that is about to be sent to a cloud service. ` +
	`List every span of the request that reveals anything from the private context (a name, place, employer, date, person, relationship, health, money, habit or any other fact about the user, also in other words) with reason "context", ` +
	`and every span that is generic personal data (an e-mail address, phone number, street address, account, card or ID number) with reason "pii". ` +
	`Copy each span exactly as it is written in the request, at most 64 characters, at most 8 spans. Never list text that is only in the private context. ` +
	`Answer with JSON only, in the form {"spans":[{"text":"...","reason":"context"}]}, and with {"spans":[]} when the request reveals nothing.`

// UserPrompt is the user message of the check. {context} is replaced by
// the private context and {request} by the candidate request; both are
// tokenized as plain text, so that neither can write a control token.
const UserPrompt = "Private context:\n<context>\n{context}\n</context>\n\nRequest:\n<request>\n{request}\n</request>"

// plainAnswer ends the prompt of a model without a chat template.
const plainAnswer = "\n\nAnswer: "

// Placeholders of UserPrompt, and the markers they become in the rendered
// prompt (Unicode private-use characters that no template writes).
const (
	contextHole   = "{context}"
	requestHole   = "{request}"
	contextMarker = "\ue000context\ue001"
	requestMarker = "\ue000request\ue001"
)

// Options configures [New]. Zero fields take the documented defaults.
type Options struct {
	// MaxTokens bounds the generated answer (default [DefaultMaxTokens]).
	// An answer cut at the bound keeps its complete spans
	// ([Stats.Truncated]).
	MaxTokens int
	// ContextTokens, when > 0, bounds the private context given to the
	// model, in tokens, to bound the cost of a check; the context is
	// cut from the front (earlier writings first, the name and
	// identifiers last). With 0 the context is cut only to fit the
	// model's context size.
	ContextTokens int
	// Logger receives one Debug record per check with its counts and
	// duration, never text (default slog.Default()).
	Logger *slog.Logger
}

// Stats is the cost of one check, and what became of the answer.
type Stats struct {
	// PromptTokens is the length of the prompt in tokens.
	PromptTokens int
	// EvaluatedTokens is how many prompt tokens the model evaluated; the
	// rest came from a sequence that already held them (the fixed prompt
	// and the private context are the same for every check of a user).
	EvaluatedTokens int
	// GeneratedTokens counts the answer's tokens, an end-of-generation
	// token included.
	GeneratedTokens int
	// ContextCut is how many tokens were cut from the front of the
	// private context: to fit the model's context (in steps of 128
	// tokens, so that requests of different lengths share the cached
	// prefix) and Options.ContextTokens.
	ContextCut int
	// Spans is the number of spans in the answer; Dropped counts those
	// not found in the request.
	Spans, Dropped int
	// Truncated reports an answer cut at MaxTokens: only its complete
	// spans count.
	Truncated bool
	// Duration is the wall time of the check.
	Duration time.Duration
}

// Attribute keys of the log records.
const (
	attrModel     = "model"
	attrPrompt    = "prompt_tokens"
	attrEvaluated = "evaluated_tokens"
	attrGenerated = "generated_tokens"
	attrCut       = "context_cut"
	attrSpans     = "spans"
	attrDropped   = "dropped"
	attrFindings  = "findings"
	attrTruncated = "truncated"
	attrDuration  = "duration"
)

// Checker asks a local model about one user's requests. Build it with
// [New]. It is safe for concurrent use: each check takes a sequence from
// the model's pool ([llamacpp.Model.Pool]), waiting while the model's
// Parallel sequences are all in use, so a caller that holds one of
// them while it checks needs Parallel of at least 2. The Checker does
// not own the model; the caller closes it after the last check.
type Checker struct {
	model   *llamacpp.Model
	grammar string
	opts    Options
	// The prompt around the private context and the request, as tokens:
	// head, private context, middle, request, tail.
	head, private, middle, tail []int32
}

// New returns a Checker of the vault's private context (a nil vault has
// none: the model looks for generic personal data alone) on model m. It
// renders the prompt with m's chat template when m has one, else as plain
// text, and checks the answer's grammar against m's vocabulary.
func New(m *llamacpp.Model, v *privacy.Vault, opts Options) (*Checker, error) {
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	gram, err := grammar()
	if err != nil {
		return nil, err
	}
	if err := m.CheckGrammar(gram); err != nil {
		return nil, fmt.Errorf("guard model: answer grammar: %w", err)
	}
	c := &Checker{model: m, grammar: gram, opts: opts}
	if err := c.tokenizePrompt(contextText(v)); err != nil {
		return nil, err
	}
	return c, nil
}

// grammar converts [Schema] to GBNF and narrows its whitespace.
func grammar() (string, error) {
	g, err := llamacpp.SchemaToGrammar([]byte(Schema))
	if err != nil {
		return "", fmt.Errorf("guard model: answer schema: %w", err)
	}
	lines := strings.Split(g, "\n")
	found := false
	for i, l := range lines {
		if strings.HasPrefix(l, "space ::=") {
			lines[i] = `space ::= " "?`
			found = true
		}
	}
	if !found {
		return "", errors.New("guard model: answer schema: the converter's grammar has no space rule")
	}
	return strings.Join(lines, "\n"), nil
}

// tokenizePrompt renders the prompt around the private context and
// tokenizes its parts: the template's text with special tokens parsed,
// the context as plain text.
func (c *Checker) tokenizePrompt(pc privacy.Private) error {
	m := c.model
	user := strings.NewReplacer(contextHole, contextMarker, requestHole, requestMarker).Replace(UserPrompt)
	var rendered string
	chat := m.Info().ChatTemplate != ""
	if chat {
		var err error
		rendered, err = m.RenderChat([]llm.Message{{Role: llm.RoleSystem, Content: SystemPrompt}, {Role: llm.RoleUser, Content: user}}, true)
		if err != nil {
			// Some templates refuse a system message: put the
			// instruction at the start of the user's.
			rendered, err = m.RenderChat([]llm.Message{{Role: llm.RoleUser, Content: SystemPrompt + "\n\n" + user}}, true)
		}
		if err != nil {
			return fmt.Errorf("guard model: render prompt: %w", err)
		}
	} else {
		rendered = SystemPrompt + "\n\n" + user + plainAnswer
	}
	head, rest, ok1 := strings.Cut(rendered, contextMarker)
	middle, tail, ok2 := strings.Cut(rest, requestMarker)
	if !ok1 || !ok2 || strings.Contains(tail, contextMarker) || strings.Contains(tail, requestMarker) || strings.Contains(head, requestMarker) {
		return errors.New("guard model: render prompt: the chat template does not keep message text verbatim")
	}
	tok := func(s string, first bool) ([]int32, error) {
		if chat {
			// The template places BOS itself.
			return m.Tokenize(s, false, true)
		}
		return m.Tokenize(s, first, false)
	}
	var err error
	if c.head, err = tok(head, true); err != nil {
		return fmt.Errorf("guard model: tokenize prompt: %w", err)
	}
	if c.middle, err = tok(middle, false); err != nil {
		return fmt.Errorf("guard model: tokenize prompt: %w", err)
	}
	if c.tail, err = tok(tail, false); err != nil {
		return fmt.Errorf("guard model: tokenize prompt: %w", err)
	}
	if c.private, err = m.Tokenize(pc.UnsafeText(), false, false); err != nil {
		return fmt.Errorf("guard model: tokenize private context (%d bytes): %w", pc.Len(), err)
	}
	return nil
}

// contextText is the private context as the model reads it (see
// [privacy.Vault.ContextText]).
func contextText(v *privacy.Vault) privacy.Private {
	if v == nil {
		return privacy.Private{}
	}
	return v.ContextText()
}

// cutStep is the granularity of cutting the private context to fit the
// model's context, in tokens.
const cutStep = 128

// prompt assembles the prompt of a request, cutting the private context
// from the front to fit; it returns the prompt and the tokens cut.
func (c *Checker) prompt(request []int32) ([]int32, int, error) {
	fixed := len(c.head) + len(c.middle) + len(request) + len(c.tail)
	room := c.model.ContextSize() - fixed - c.opts.MaxTokens
	if room < 0 {
		return nil, 0, fmt.Errorf("%w: %d request tokens + %d prompt tokens + %d answer tokens > %d context size",
			ErrRequestTooLong, len(request), fixed-len(request), c.opts.MaxTokens, c.model.ContextSize())
	}
	// Cut in steps, so that requests of different lengths share the cut
	// and with it the cached prefix of the prompt.
	cut := 0
	if over := len(c.private) - room; over > 0 {
		cut = min((over+cutStep-1)/cutStep*cutStep, len(c.private))
	}
	if c.opts.ContextTokens > 0 {
		cut = max(cut, len(c.private)-c.opts.ContextTokens)
	}
	p := make([]int32, 0, fixed+len(c.private)-cut)
	p = append(p, c.head...)
	p = append(p, c.private[cut:]...)
	p = append(p, c.middle...)
	p = append(p, request...)
	p = append(p, c.tail...)
	return p, cut, nil
}

// Check asks the model which spans of text (the candidate request)
// reveal the private context or are generic personal data, and returns
// them as findings ordered by start, with the check's cost. Text of
// spaces alone is not checked. Generation is greedy, so the same model,
// context and text give the same findings (up to the engine's float
// rounding, which differs between a prompt evaluated whole and one that
// extends a cached prefix; a model opened with Precise evaluates both
// alike). Add the findings to the rule-based guard's with [Merge].
func (c *Checker) Check(ctx context.Context, text string) ([]privacy.Finding, Stats, error) {
	start := time.Now()
	var st Stats
	if strings.TrimSpace(text) == "" {
		return nil, st, nil
	}
	answer, err := c.answer(ctx, text, &st)
	if err != nil {
		return nil, st, err
	}
	spans, complete, err := parseAnswer(answer)
	if err != nil {
		return nil, st, fmt.Errorf("guard model: %w", err)
	}
	st.Truncated = !complete
	fs, dropped := locate(text, spans)
	st.Spans, st.Dropped = len(spans), dropped
	st.Duration = time.Since(start)
	c.opts.Logger.LogAttrs(ctx, slog.LevelDebug, "guard model check",
		slog.String(attrModel, c.model.Path()), slog.Int(attrPrompt, st.PromptTokens), slog.Int(attrEvaluated, st.EvaluatedTokens),
		slog.Int(attrGenerated, st.GeneratedTokens), slog.Int(attrCut, st.ContextCut), slog.Int(attrSpans, st.Spans),
		slog.Int(attrDropped, st.Dropped), slog.Int(attrFindings, len(fs)), slog.Bool(attrTruncated, st.Truncated),
		slog.Duration(attrDuration, st.Duration))
	return fs, st, nil
}

// answer runs the model on the prompt of text with the answer grammar,
// greedy, and returns the answer, counting its cost in st.
func (c *Checker) answer(ctx context.Context, text string, st *Stats) (string, error) {
	req, err := c.model.Tokenize(text, false, false)
	if err != nil {
		return "", fmt.Errorf("guard model: tokenize request (%d bytes): %w", len(text), err)
	}
	prompt, cut, err := c.prompt(req)
	if err != nil {
		return "", err
	}
	st.PromptTokens, st.ContextCut = len(prompt), cut
	pool := c.model.Pool()
	ps, err := pool.Acquire(ctx, prompt)
	if err != nil {
		return "", fmt.Errorf("guard model: %w", err)
	}
	if n := commonPrefix(ps.Seq.Tokens(), prompt); n < len(prompt) || n < ps.Seq.Len() {
		st.EvaluatedTokens = max(len(prompt)-n, 1) // Load evaluates at least one token for fresh logits
	}
	if _, err := ps.Load(ctx, prompt, false, 0); err != nil {
		pool.Release(ps, false)
		return "", fmt.Errorf("guard model: evaluate prompt (%d tokens): %w", len(prompt), err)
	}
	res, err := ps.Seq.Generate(ctx, nil, llamacpp.GenerateOptions{
		Sample:    sample.Params{Temperature: 0},
		MaxTokens: c.opts.MaxTokens,
		Grammar:   c.grammar,
	}, nil)
	pool.Release(ps, err == nil)
	st.GeneratedTokens = res.Usage.CompletionTokens
	if err != nil {
		return "", fmt.Errorf("guard model: generate answer: %w", err)
	}
	return res.Text, nil
}

func commonPrefix(a, b []int32) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// Findings is [Checker.Check] without the statistics, for
// collab.Runner.GuardModel; the statistics go to the logger at debug
// level.
func (c *Checker) Findings(ctx context.Context, text string) ([]privacy.Finding, error) {
	fs, _, err := c.Check(ctx, text)
	return fs, err
}
