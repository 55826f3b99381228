// Package chattemplate renders a chat prompt from the Jinja2 chat template
// that a GGUF model carries in its tokenizer.chat_template metadata.
//
// Templates run in github.com/ardanlabs/jinja, a pure-Go engine that applies
// the trim_blocks and lstrip_blocks settings Hugging Face uses. A template
// sees the variables Hugging Face's apply_chat_template passes:
//
//   - messages: a list of {role, content} mappings;
//   - add_generation_prompt: whether to open an assistant turn;
//   - bos_token and eos_token: the model's special-token strings;
//   - tools: none (tool calling is not used).
//
// Message contents are data, never template source: text such as "{{ x }}"
// inside a message is emitted literally.
//
// # Errors and privacy
//
// A template that does not parse yields an [*Error] matching
// [ErrInvalidTemplate]; a template that calls raise_exception (Gemma, for
// example, rejects a system message) yields one matching [ErrRaised]. Error
// text comes from the template and the engine; any message content of four
// bytes or more that the engine echoes back is replaced with
// "[message text]", so errors are safe to log.
package chattemplate

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ardanlabs/jinja"

	"github.com/cogenesis/cogenesis/llm"
)

// Errors that callers branch on; inspect them with errors.Is.
var (
	// ErrInvalidTemplate reports a template that does not parse.
	ErrInvalidTemplate = errors.New("invalid chat template")
	// ErrRaised reports a template that called raise_exception, usually
	// because the conversation has a shape the model does not support,
	// such as a system message or two user turns in a row.
	ErrRaised = errors.New("chat template raised an exception")
)

// ChatML is the ChatML chat template, used by [RenderOrChatML] when a model
// ships no template of its own.
const ChatML = `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// minScrub is the shortest message text that is removed from error text;
// shorter strings match ordinary words of engine messages too often.
const minScrub = 4

// Error phases in [Error.Op].
const (
	opParse  = "parse"
	opRender = "render"
	opEngine = "engine"
)

// Options are the per-render inputs besides the messages.
type Options struct {
	// AddGenerationPrompt ends the prompt with the opening of an assistant
	// turn, so that the model writes the reply.
	AddGenerationPrompt bool
	// BOSToken is the text of the model's beginning-of-sequence token.
	BOSToken string
	// EOSToken is the text of the model's end-of-sequence token.
	EOSToken string
}

// Error reports a template that failed to parse or render. It matches
// [ErrInvalidTemplate] when Op is "parse" and [ErrRaised] when Raised is
// set. Its text never contains message content (see the package doc).
type Error struct {
	// Op is "parse", "render", or "engine" when the template engine itself
	// failed (a bug in the engine, not in the template).
	Op string
	// Raised is set when the template called raise_exception.
	Raised bool
	// Detail is the engine's or the template's description of the problem.
	Detail string
}

// Error describes the failure.
func (e *Error) Error() string {
	switch {
	case e.Op == opParse:
		return fmt.Sprintf("parse chat template: %v: %s", ErrInvalidTemplate, e.Detail)
	case e.Raised:
		return fmt.Sprintf("render chat template: %v: %s", ErrRaised, e.Detail)
	case e.Op == opEngine:
		return "render chat template: template engine failure: " + e.Detail
	default:
		return "render chat template: " + e.Detail
	}
}

// Is matches [ErrInvalidTemplate] and [ErrRaised].
func (e *Error) Is(target error) bool {
	switch target {
	case ErrInvalidTemplate:
		return e.Op == opParse
	case ErrRaised:
		return e.Raised
	}
	return false
}

// Template is a parsed chat template. It is safe for concurrent use.
type Template struct {
	t *jinja.Template
}

// Parse parses a chat template. An empty or blank template is an error:
// use [RenderOrChatML] to fall back to [ChatML].
func Parse(src string) (t *Template, err error) {
	if strings.TrimSpace(src) == "" {
		return nil, &Error{Op: opParse, Detail: "empty template"}
	}
	defer func() {
		// The engine parses untrusted template text; a panic in it must not
		// take the process down.
		if r := recover(); r != nil {
			t, err = nil, &Error{Op: opEngine, Detail: fmt.Sprintf("panic while parsing: %v", r)}
		}
	}()
	jt, err := jinja.Compile(src)
	if err != nil {
		return nil, &Error{Op: opParse, Detail: err.Error()}
	}
	return &Template{t: jt}, nil
}

// Render renders msgs into a prompt.
func (t *Template) Render(msgs []llm.Message, opts Options) (out string, err error) {
	var raised *string // set by raise_exception
	raise := func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
		msg := "raise_exception called without a message"
		if len(args) > 0 {
			msg = args[0].String()
			if args[0].IsString() {
				msg = args[0].AsString()
			}
		}
		raised = &msg
		return jinja.Undefined(), ErrRaised
	}
	list := make([]jinja.Value, len(msgs))
	for i, m := range msgs {
		d := jinja.NewDict()
		d.AsDict().Set("role", jinja.NewString(string(m.Role)))
		d.AsDict().Set("content", jinja.NewString(m.Content))
		list[i] = d
	}
	data := map[string]jinja.Value{
		"messages":              jinja.NewList(list),
		"add_generation_prompt": jinja.NewBool(opts.AddGenerationPrompt),
		"bos_token":             jinja.NewString(opts.BOSToken),
		"eos_token":             jinja.NewString(opts.EOSToken),
		"tools":                 jinja.None(),
		"raise_exception":       jinja.NewCallable("raise_exception", raise),
	}
	defer func() {
		// See Parse: an engine panic becomes an error.
		if r := recover(); r != nil {
			out, err = "", &Error{Op: opEngine, Detail: scrub(fmt.Sprintf("panic while rendering: %v", r), msgs)}
		}
	}()
	out, err = t.t.RenderValues(data)
	switch {
	case raised != nil:
		return "", &Error{Op: opRender, Raised: true, Detail: scrub(*raised, msgs)}
	case err != nil:
		return "", &Error{Op: opRender, Detail: scrub(err.Error(), msgs)}
	}
	return out, nil
}

// Render parses tmpl and renders msgs with it. To render many prompts with
// one template, [Parse] it once instead.
func Render(tmpl string, msgs []llm.Message, opts Options) (string, error) {
	t, err := Parse(tmpl)
	if err != nil {
		return "", err
	}
	return t.Render(msgs, opts)
}

// RenderOrChatML renders msgs with tmpl, or with [ChatML] when tmpl is empty
// or blank; usedFallback reports the latter so that the caller can log it.
// A template that is present but broken is an error, not a fallback.
func RenderOrChatML(tmpl string, msgs []llm.Message, opts Options) (prompt string, usedFallback bool, err error) {
	if strings.TrimSpace(tmpl) == "" {
		prompt, err = Render(ChatML, msgs, opts)
		return prompt, true, err
	}
	prompt, err = Render(tmpl, msgs, opts)
	return prompt, false, err
}

// scrub replaces message text that appears in s, so that error text never
// carries private content. It removes each content, its trimmed form and
// each of its lines, when at least minScrub bytes long, in one pass with
// longer matches first.
func scrub(s string, msgs []llm.Message) string {
	var parts []string
	add := func(p string) {
		if len(p) >= minScrub {
			parts = append(parts, p)
		}
	}
	for _, m := range msgs {
		add(m.Content)
		add(strings.TrimSpace(m.Content))
		for line := range strings.Lines(m.Content) {
			add(strings.TrimRight(line, "\r\n"))
			add(strings.TrimSpace(line))
		}
	}
	if len(parts) == 0 {
		return s
	}
	slices.SortFunc(parts, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(parts))
	for _, p := range parts {
		pairs = append(pairs, p, "[message text]")
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
