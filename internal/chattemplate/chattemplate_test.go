package chattemplate_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/chattemplate"
	"github.com/cogenesis/cogenesis/llm"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// model is a chat template from testdata/templates with its special tokens.
type model struct {
	name     string
	bos, eos string
}

var models = []model{
	{name: "chatml"},
	{name: "qwen2.5", eos: "<|im_end|>"},
	{name: "llama3", bos: "<|begin_of_text|>", eos: "<|eot_id|>"},
	{name: "gemma", bos: "<bos>", eos: "<eos>"},
	{name: "mistral", bos: "<s>", eos: "</s>"},
	{name: "phi3", bos: "<s>", eos: "<|endoftext|>"},
}

// loadTemplate returns the template source of a model.
func loadTemplate(tb testing.TB, name string) string {
	tb.Helper()
	if name == "chatml" {
		return chattemplate.ChatML
	}
	b, err := os.ReadFile(filepath.Join("testdata", "templates", name+".jinja"))
	if err != nil {
		tb.Fatalf("read template: %v", err)
	}
	return string(b)
}

// Conversations rendered by TestRender. The second user turn carries
// Jinja-looking text that must come out literally.
var (
	withSystem = []llm.Message{
		{Role: llm.RoleSystem, Content: "You are a terse assistant."},
		{Role: llm.RoleUser, Content: "What is the capital of France?"},
		{Role: llm.RoleAssistant, Content: "Paris."},
		{Role: llm.RoleUser, Content: "Explain {{ x }} and {% if %} in Jinja. "},
	}
	withoutSystem = withSystem[1:]
)

func TestRender(t *testing.T) {
	type tcase struct {
		name    string
		model   model
		msgs    []llm.Message
		gen     bool
		wantErr error // golden file is not used when set
		wantMsg string
	}
	var tests []tcase
	for _, m := range models {
		for _, conv := range []struct {
			name string
			msgs []llm.Message
		}{{"system", withSystem}, {"nosystem", withoutSystem}} {
			for _, gen := range []bool{true, false} {
				tc := tcase{name: m.name + "-" + conv.name, model: m, msgs: conv.msgs, gen: gen}
				if gen {
					tc.name += "-gen"
				}
				if m.name == "gemma" && conv.name == "system" {
					tc.wantErr, tc.wantMsg = chattemplate.ErrRaised, "System role not supported"
				}
				tests = append(tests, tc)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := chattemplate.Options{AddGenerationPrompt: tt.gen, BOSToken: tt.model.bos, EOSToken: tt.model.eos}
			got, err := chattemplate.Render(loadTemplate(t, tt.model.name), tt.msgs, opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Render error = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("error %q does not contain %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if !strings.Contains(got, "{{ x }} and {% if %}") {
				t.Errorf("Jinja-looking message text was not rendered literally:\n%s", got)
			}
			checkGolden(t, tt.name, got)
		})
	}
}

// checkGolden compares got with testdata/TestRender/<name>.golden, or
// rewrites that file under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "TestRender", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("create golden dir: %v", err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatalf("write golden: %v", err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("prompt mismatch (-want +got):\n%s", diff)
	}
}

func TestRenderGenerationPrompt(t *testing.T) {
	// The generation prompt opens an assistant turn at the very end.
	tests := []struct {
		model string
		want  string
	}{
		{"chatml", "<|im_start|>assistant\n"},
		{"qwen2.5", "<|im_start|>assistant\n"},
		{"llama3", "<|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"gemma", "<start_of_turn>model\n"},
		{"phi3", "<|assistant|>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			tmpl := loadTemplate(t, tt.model)
			with, err := chattemplate.Render(tmpl, withoutSystem, chattemplate.Options{AddGenerationPrompt: true})
			if err != nil {
				t.Fatalf("Render with generation prompt: %v", err)
			}
			without, err := chattemplate.Render(tmpl, withoutSystem, chattemplate.Options{})
			if err != nil {
				t.Fatalf("Render without generation prompt: %v", err)
			}
			if !strings.HasSuffix(with, tt.want) {
				t.Errorf("prompt does not end with %q:\n%s", tt.want, with)
			}
			if strings.HasSuffix(without, tt.want) {
				t.Errorf("prompt without generation prompt ends with %q", tt.want)
			}
		})
	}
}

func TestRenderRaise(t *testing.T) {
	const secret = "my private diagnosis: hypertension"
	tests := []struct {
		name    string
		tmpl    string
		msgs    []llm.Message
		wantMsg string
	}{
		{
			name:    "gemma rejects system role",
			tmpl:    loadTemplate(t, "gemma"),
			msgs:    withSystem,
			wantMsg: "System role not supported",
		},
		{
			name:    "gemma requires alternation",
			tmpl:    loadTemplate(t, "gemma"),
			msgs:    []llm.Message{{Role: llm.RoleUser, Content: "a"}, {Role: llm.RoleUser, Content: "b"}},
			wantMsg: "Conversation roles must alternate",
		},
		{
			name:    "mistral requires alternation after system",
			tmpl:    loadTemplate(t, "mistral"),
			msgs:    []llm.Message{{Role: llm.RoleSystem, Content: "s"}, {Role: llm.RoleAssistant, Content: "a"}},
			wantMsg: "After the optional system message",
		},
		{
			name:    "mistral rejects unknown role",
			tmpl:    loadTemplate(t, "mistral"),
			msgs:    []llm.Message{{Role: llm.RoleUser, Content: "u"}, {Role: "tool", Content: "t"}},
			wantMsg: "Only user and assistant roles are supported",
		},
		{
			name:    "raise_exception without message",
			tmpl:    "{{ raise_exception() }}",
			msgs:    withoutSystem,
			wantMsg: "without a message",
		},
		{
			name:    "message text in the exception is scrubbed",
			tmpl:    "{{ raise_exception('bad turn: ' + messages[0].content) }}",
			msgs:    []llm.Message{{Role: llm.RoleUser, Content: secret}},
			wantMsg: "bad turn: [message text]",
		},
		{
			name:    "scrubbing does not recurse into its placeholder",
			tmpl:    "{{ raise_exception('x ' + messages[0].content + ' ' + messages[1].content + ' ' + messages[2].content) }}",
			msgs:    []llm.Message{{Role: llm.RoleUser, Content: "text"}, {Role: llm.RoleAssistant, Content: "message"}, {Role: llm.RoleUser, Content: "abc"}},
			wantMsg: ": x [message text] [message text] abc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chattemplate.Render(tt.tmpl, tt.msgs, chattemplate.Options{})
			if !errors.Is(err, chattemplate.ErrRaised) {
				t.Fatalf("Render = %q, %v; want an error matching ErrRaised", got, err)
			}
			if errors.Is(err, chattemplate.ErrInvalidTemplate) {
				t.Errorf("raise error %v also matches ErrInvalidTemplate", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains message text", err)
			}
		})
	}
}

func TestRenderBrokenTemplate(t *testing.T) {
	tests := []struct {
		name    string
		tmpl    string
		wantIs  error
		wantMsg string
	}{
		{name: "unclosed if", tmpl: "{% for m in messages %}{% if m.role %}{{ m.content }}{% endfor %}", wantIs: chattemplate.ErrInvalidTemplate, wantMsg: "endfor"},
		{name: "unclosed for", tmpl: "{% for m in messages %}{{ m.content }}", wantIs: chattemplate.ErrInvalidTemplate, wantMsg: "unclosed for"},
		{name: "unclosed expression", tmpl: "{{ messages[0].content ", wantIs: chattemplate.ErrInvalidTemplate, wantMsg: "unclosed expression"},
		{name: "unknown statement", tmpl: "{% frobnicate %}", wantIs: chattemplate.ErrInvalidTemplate, wantMsg: "frobnicate"},
		{name: "empty", tmpl: " \n", wantIs: chattemplate.ErrInvalidTemplate, wantMsg: "empty template"},
		{name: "unknown filter at render", tmpl: "{{ messages[0].content | frobnicate }}", wantMsg: `unknown filter "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chattemplate.Render(tt.tmpl, withoutSystem, chattemplate.Options{})
			if err == nil {
				t.Fatalf("Render = %q, want an error", got)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %q does not match %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error %q does not name the problem %q", err, tt.wantMsg)
			}
			if _, ok := errors.AsType[*chattemplate.Error](err); !ok {
				t.Errorf("error %v is not a *chattemplate.Error", err)
			}
		})
	}
}

func TestRenderOrChatML(t *testing.T) {
	msgs := []llm.Message{{Role: llm.RoleUser, Content: "hi"}}
	tests := []struct {
		name         string
		tmpl         string
		want         string
		wantFallback bool
		wantErr      error
	}{
		{name: "empty uses ChatML", tmpl: "", want: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", wantFallback: true},
		{name: "blank uses ChatML", tmpl: "  \n\t", want: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", wantFallback: true},
		{name: "own template wins", tmpl: "{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}", want: "[user] hi"},
		{name: "broken template is an error", tmpl: "{% if %}", wantErr: chattemplate.ErrInvalidTemplate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fallback, err := chattemplate.RenderOrChatML(tt.tmpl, msgs, chattemplate.Options{AddGenerationPrompt: true})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("error = %v, want %v", err, tt.wantErr)
				}
				if fallback {
					t.Errorf("fell back to ChatML for a broken template")
				}
				return
			}
			if err != nil {
				t.Fatalf("RenderOrChatML: %v", err)
			}
			if fallback != tt.wantFallback {
				t.Errorf("usedFallback = %v, want %v", fallback, tt.wantFallback)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("prompt mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReuse(t *testing.T) {
	tmpl, err := chattemplate.Parse(loadTemplate(t, "llama3"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	opts := chattemplate.Options{BOSToken: "<|begin_of_text|>"}
	for _, content := range []string{"first", "second"} {
		got, err := tmpl.Render([]llm.Message{{Role: llm.RoleUser, Content: content}}, opts)
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		want := "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n" + content + "<|eot_id|>"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("prompt mismatch (-want +got):\n%s", diff)
		}
	}
}
