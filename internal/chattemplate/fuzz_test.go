package chattemplate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/chattemplate"
	"github.com/cogenesis/cogenesis/llm"
)

// FuzzRender renders arbitrary message contents, including text that looks
// like Jinja, with every test template. Contents must be emitted literally
// and never executed, the engine must not fail, and error text must never
// carry message content. Seeds are in testdata/fuzz/FuzzRender.
func FuzzRender(f *testing.F) {
	parsed := make(map[string]*chattemplate.Template, len(models))
	for _, m := range models {
		t, err := chattemplate.Parse(loadTemplate(f, m.name))
		if err != nil {
			f.Fatalf("parse %s: %v", m.name, err)
		}
		parsed[m.name] = t
	}
	f.Fuzz(func(t *testing.T, system, user, assistant string, gen bool) {
		conv := []llm.Message{
			{Role: llm.RoleSystem, Content: system},
			{Role: llm.RoleUser, Content: user},
			{Role: llm.RoleAssistant, Content: assistant},
			{Role: llm.RoleUser, Content: user},
		}
		for _, m := range models {
			for _, msgs := range [][]llm.Message{conv, conv[1:]} {
				opts := chattemplate.Options{AddGenerationPrompt: gen, BOSToken: m.bos, EOSToken: m.eos}
				got, err := parsed[m.name].Render(msgs, opts)
				if err != nil {
					checkFuzzError(t, m.name, parsed[m.name], opts, err, msgs)
					continue
				}
				checkLiteral(t, m.name, got, msgs)
			}
		}

		// ChatML has no logic around contents: the output is exactly known.
		var want strings.Builder
		for _, msg := range conv {
			want.WriteString("<|im_start|>" + string(msg.Role) + "\n" + msg.Content + "<|im_end|>\n")
		}
		if gen {
			want.WriteString("<|im_start|>assistant\n")
		}
		got, err := parsed["chatml"].Render(conv, chattemplate.Options{AddGenerationPrompt: gen})
		if err != nil {
			t.Fatalf("ChatML render: %v", err)
		}
		if got != want.String() {
			t.Errorf("ChatML render = %q, want %q", got, want.String())
		}
	})
}

// checkFuzzError accepts only the errors a template raises on purpose, and
// checks that their text does not depend on message content: the same
// conversation with neutral contents must fail with the same text.
func checkFuzzError(t *testing.T, model string, tmpl *chattemplate.Template, opts chattemplate.Options, err error, msgs []llm.Message) {
	t.Helper()
	if e, ok := errors.AsType[*chattemplate.Error](err); !ok || e.Op == "engine" {
		t.Errorf("%s: engine failure: %v", model, err)
	}
	// Gemma rejects a system message on purpose; nothing else may fail.
	if model != "gemma" || msgs[0].Role != llm.RoleSystem || !errors.Is(err, chattemplate.ErrRaised) {
		t.Errorf("%s: unexpected error: %v", model, err)
	}
	neutral := make([]llm.Message, len(msgs))
	for i, msg := range msgs {
		neutral[i] = llm.Message{Role: msg.Role, Content: "#"}
	}
	_, nerr := tmpl.Render(neutral, opts)
	if nerr == nil || nerr.Error() != err.Error() {
		t.Errorf("%s: error text depends on message content: %q, with neutral contents %v", model, err, nerr)
	}
}

// checkLiteral checks that every content appears in the prompt as given,
// or trimmed for the templates that trim it.
func checkLiteral(t *testing.T, model, got string, msgs []llm.Message) {
	t.Helper()
	for _, msg := range msgs {
		want := msg.Content
		if model == "llama3" || model == "gemma" {
			want = strings.TrimSpace(want)
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: prompt %q does not contain %s content %q literally", model, got, msg.Role, want)
		}
	}
}
