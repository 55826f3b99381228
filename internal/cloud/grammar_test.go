//go:build cgo

package cloud_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// ratingGrammar is a judge grammar: a short explanation without brackets,
// then the verdict in the paper's Table 9 format.
const ratingGrammar = `root ::= expl "Rating: [[" rating "]]"
expl ::= [^\[\]]{0,40}
rating ::= "10" | [1-9]
`

var ratingRE = regexp.MustCompile(`^[^\[\]]{0,40}Rating: \[\[(10|[1-9])\]\]$`)

// TestGuidedGrammar checks vLLM's guided_grammar and guided_regex and the
// llama.cpp server's grammar field, on chat and completions, against the
// real engine: every output has the constrained shape.
func TestGuidedGrammar(t *testing.T) {
	f := start(t, 1)
	c := f.client(t, openaiapi.KindVLLM)
	msgs := []openaiapi.ChatMessage{{Role: llm.RoleUser, Content: "Rate the answer"}}
	tests := []struct {
		name  string
		chat  bool
		set   func(g, re *string, gr *string)
		match *regexp.Regexp
	}{
		{"chat guided_grammar", true, func(g, _, _ *string) { *g = ratingGrammar }, ratingRE},
		{"chat grammar", true, func(_, _, gr *string) { *gr = ratingGrammar }, ratingRE},
		{"chat guided_regex", true, func(_, re, _ *string) { *re = `[a-z ]{0,12}Rating: \[\[(10|[1-9])\]\]` }, regexp.MustCompile(`^[a-z ]{0,12}Rating: \[\[(10|[1-9])\]\]$`)},
		{"chat guided_regex anchored", true, func(_, re, _ *string) { *re = `^(?i:yes|no)$` }, regexp.MustCompile(`^(?i:yes|no)$`)},
		{"completions guided_grammar", false, func(g, _, _ *string) { *g = ratingGrammar }, ratingRE},
		{"completions guided_regex", false, func(_, re, _ *string) { *re = `\d{3}-[A-F]{2}` }, regexp.MustCompile(`^\d{3}-[A-F]{2}$`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for seed := range int64(3) {
				var out string
				if tt.chat {
					req := openaiapi.ChatCompletionRequest{Messages: msgs, MaxTokens: ptr(64), Seed: ptr(seed), Temperature: ptr(1.0)}
					tt.set(&req.GuidedGrammar, &req.GuidedRegex, &req.Grammar)
					resp, err := c.Chat(t.Context(), req)
					if err != nil {
						t.Fatal(err)
					}
					out = resp.Choices[0].Message.Content
				} else {
					req := openaiapi.CompletionRequest{Prompt: openaiapi.TextPrompt("The verdict:"), MaxTokens: ptr(64), Seed: ptr(seed), Temperature: ptr(1.0)}
					tt.set(&req.GuidedGrammar, &req.GuidedRegex, &req.Grammar)
					resp, err := c.Complete(t.Context(), req)
					if err != nil {
						t.Fatal(err)
					}
					out = resp.Choices[0].Text
				}
				if !tt.match.MatchString(out) {
					t.Errorf("seed %d: %q does not match %v", seed, out, tt.match)
				}
			}
		})
	}
}

func TestGuidedGrammarErrors(t *testing.T) {
	f := start(t, 1)
	tests := []struct {
		name, path, body, want string
	}{
		{"two constraints", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"guided_grammar":"root ::= \"a\"","guided_regex":"a"}`, "at most one"},
		{"grammar and response_format", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"grammar":"root ::= \"a\"","response_format":{"type":"json_object"}}`, "at most one"},
		{"bad grammar", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"guided_grammar":"root ::= ("}`, "grammar"},
		{"bad regex", "/v1/completions", `{"prompt":"x","guided_regex":"a("}`, "guided_regex"},
		{"word boundary", "/v1/completions", `{"prompt":"x","guided_regex":"\\bword"}`, "word boundaries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(f.srv.URL+tt.path, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var e openaiapi.ErrorResponse
			if err := json.Unmarshal(b, &e); err != nil {
				t.Fatalf("body %q: %v", b, err)
			}
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(e.Error.Message, tt.want) {
				t.Errorf("status %d %q, want 400 mentioning %q", resp.StatusCode, e.Error.Message, tt.want)
			}
		})
	}
}
