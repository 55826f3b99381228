package openaiapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogenesis/cogenesis/llm"
)

// fakeServer answers one path with a fixed body and records the request.
type fakeServer struct {
	path string
	body string
	got  []byte
	seen string
}

func (f *fakeServer) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.seen = r.URL.Path
		f.got = readBody(t, r)
		if r.URL.Path != f.path {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, f.body)
	})
}

func TestNextTokenTopK(t *testing.T) {
	tests := []struct {
		name     string
		kind     Kind
		path     string
		response string
		call     func(*Client) ([]llm.TopLogprob, error)
		wantReq  any
		want     []llm.TopLogprob
	}{
		{
			name: "vllm", kind: KindVLLM, path: "/v1/completions",
			// vLLM returns the top k plus the sampled token.
			response: `{"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"x","finish_reason":"length",
				"logprobs":{"tokens":["token_id:5"],"token_logprobs":[-0.1],"top_logprobs":[{"token_id:9":-2.3,"token_id:5":-0.1,"token_id:7":-1.2,"token_id:3":-5.0}],"text_offset":[0]}}],
				"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`,
			call:    func(c *Client) ([]llm.TopLogprob, error) { return c.NextTokenTopK(t.Context(), []int32{1, 2, 3}, 3) },
			wantReq: &CompletionRequest{Model: "m", Prompt: TokenPrompt([]int32{1, 2, 3}), MaxTokens: ptr(1), Logprobs: ptr(3), Temperature: ptr(0.0), ReturnTokensAsTokenIDs: true},
			want:    []llm.TopLogprob{{Token: 5, Logprob: -0.1}, {Token: 7, Logprob: -1.2}, {Token: 9, Logprob: -2.3}},
		},
		{
			name: "sglang", kind: KindSGLang, path: "/v1/completions",
			response: `{"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" a","finish_reason":"length",
				"logprobs":{"tokens":[" a"],"token_logprobs":[-0.2],"top_logprobs":[{" a":-0.2," the":-1.7}],"text_offset":[0]}}]}`,
			call:    func(c *Client) ([]llm.TopLogprob, error) { return c.NextTokenTopK(t.Context(), []int32{4}, 2) },
			wantReq: &CompletionRequest{Model: "m", Prompt: TokenPrompt([]int32{4}), MaxTokens: ptr(1), Logprobs: ptr(2), Temperature: ptr(0.0)},
			want:    []llm.TopLogprob{{Token: NoToken, Text: " a", Logprob: -0.2}, {Token: NoToken, Text: " the", Logprob: -1.7}},
		},
		{
			name: "llamacpp", kind: KindLlamaCpp, path: "/completion",
			response: `{"content":" the","tokens":[279],"stop":true,"tokens_predicted":1,"tokens_evaluated":2,
				"completion_probabilities":[{"id":279,"token":" the","logprob":-0.5,"top_logprobs":[{"id":279,"token":" the","logprob":-0.5},{"id":264,"token":" a","logprob":-1.5}]}]}`,
			call:    func(c *Client) ([]llm.TopLogprob, error) { return c.NextTokenTopK(t.Context(), []int32{1, 2}, 2) },
			wantReq: &LlamaCompletionRequest{Prompt: TokenPrompt([]int32{1, 2}), NPredict: 1, NProbs: 2, Temperature: ptr(0.0), CachePrompt: true, ReturnTokens: true},
			want:    []llm.TopLogprob{{Token: 279, Text: " the", Logprob: -0.5}, {Token: 264, Text: " a", Logprob: -1.5}},
		},
		{
			name: "llamacpp post-sampling probs", kind: KindLlamaCpp, path: "/completion",
			response: `{"content":"x","completion_probabilities":[{"id":1,"token":"x","prob":0.5,"top_probs":[{"id":2,"token":"y","prob":0.25},{"id":1,"token":"x","prob":0.5}]}]}`,
			call:     func(c *Client) ([]llm.TopLogprob, error) { return c.NextTokenTopK(t.Context(), []int32{1}, 5) },
			wantReq:  &LlamaCompletionRequest{Prompt: TokenPrompt([]int32{1}), NPredict: 1, NProbs: 5, Temperature: ptr(0.0), CachePrompt: true, ReturnTokens: true},
			want:     []llm.TopLogprob{{Token: 1, Text: "x", Logprob: math.Log(0.5)}, {Token: 2, Text: "y", Logprob: math.Log(0.25)}},
		},
		{
			name: "llamacpp text prompt", kind: KindLlamaCpp, path: "/completion",
			response: `{"content":"x","completion_probabilities":[{"id":1,"token":"x","logprob":-0.1,"top_logprobs":[{"id":1,"token":"x","logprob":-0.1}]}]}`,
			call:     func(c *Client) ([]llm.TopLogprob, error) { return c.NextTokenTopKText(t.Context(), "Once upon", 1) },
			wantReq:  &LlamaCompletionRequest{Prompt: TextPrompt("Once upon"), NPredict: 1, NProbs: 1, Temperature: ptr(0.0), CachePrompt: true, ReturnTokens: true},
			want:     []llm.TopLogprob{{Token: 1, Text: "x", Logprob: -0.1}},
		},
		{
			name: "ollama", kind: KindOllama, path: "/api/generate",
			response: `{"model":"m","created_at":"2025-11-20T10:00:00Z","response":" a","done":true,"prompt_eval_count":2,"eval_count":1,
				"logprobs":[{"token":" a","logprob":-0.3,"top_logprobs":[{"token":" time","logprob":-1.9},{"token":" a","logprob":-0.3},{"token":" an","logprob":-2.2}]}]}`,
			call: func(c *Client) ([]llm.TopLogprob, error) { return c.NextTokenTopKText(t.Context(), "Once upon", 2) },
			wantReq: &OllamaGenerateRequest{Model: "m", Prompt: "Once upon", Raw: true, Stream: ptr(false), Logprobs: true, TopLogprobs: 2, Truncate: ptr(false),
				Options: OllamaOptions{NumPredict: 1, Temperature: ptr(0.0), Seed: ptr(int64(0))}},
			want: []llm.TopLogprob{{Token: NoToken, Text: " a", Logprob: -0.3}, {Token: NoToken, Text: " time", Logprob: -1.9}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{path: tt.path, body: tt.response}
			c := mustNew(t, loopServer(t, tt.kind, f.handler(t)))
			got, err := tt.call(c)
			if err != nil {
				t.Fatalf("call: %v (server saw %s)", err, f.seen)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("top-k (-want +got):\n%s", diff)
			}
			gotReq := newLike(tt.wantReq)
			if err := decodeStrict(f.got, gotReq); err != nil {
				t.Fatalf("decode request %s: %v", f.got, err)
			}
			if diff := cmp.Diff(tt.wantReq, gotReq); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func newLike(v any) any {
	switch v.(type) {
	case *CompletionRequest:
		return new(CompletionRequest)
	case *LlamaCompletionRequest:
		return new(LlamaCompletionRequest)
	case *OllamaGenerateRequest:
		return new(OllamaGenerateRequest)
	}
	panic(fmt.Sprintf("newLike: unexpected %T", v))
}

func TestNextTokenTopKBadAnswers(t *testing.T) {
	tests := []struct {
		name, response, want string
	}{
		{"vllm sends text keys", `{"choices":[{"index":0,"text":"x","logprobs":{"tokens":["x"],"token_logprobs":[-1],"top_logprobs":[{"x":-1}],"text_offset":[0]}}]}`, "token text instead of ids"},
		{"no logprobs", `{"choices":[{"index":0,"text":"x","logprobs":null}]}`, "no logprobs"},
		{"no choices", `{"choices":[]}`, "no logprobs"},
		{"bad token id", `{"choices":[{"index":0,"text":"x","logprobs":{"tokens":["x"],"token_logprobs":[-1],"top_logprobs":[{"token_id:x":-1}],"text_offset":[0]}}]}`, "bad token id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeServer{path: "/v1/completions", body: tt.response}
			_, err := mustNew(t, loopServer(t, KindVLLM, f.handler(t))).NextTokenTopK(t.Context(), []int32{1}, 2)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestScoreSequenceVLLM(t *testing.T) {
	// Positions 1..3 of [1 10 11 12]; at position 2 the scored token (11)
	// is outside the top 2, so vLLM adds it with its rank.
	response := `{"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"!","finish_reason":"length",
		"logprobs":{"tokens":["token_id:50"],"token_logprobs":[-0.3],"top_logprobs":[{"token_id:50":-0.3,"token_id:51":-1.4,"token_id:52":-3.0}],"text_offset":[0]},
		"prompt_logprobs":[null,
			{"10":{"logprob":-0.5,"rank":1,"decoded_token":"a"},"20":{"logprob":-1.5,"rank":2,"decoded_token":"b"}},
			{"30":{"logprob":-0.2,"rank":1,"decoded_token":"c"},"31":{"logprob":-2.0,"rank":2,"decoded_token":"d"},"11":{"logprob":-4.0,"rank":7,"decoded_token":"e"}},
			{"40":{"logprob":-0.9,"rank":1,"decoded_token":"f"},"12":{"logprob":-1.1,"rank":2,"decoded_token":"g"}}]}],
		"usage":{"prompt_tokens":4,"completion_tokens":1,"total_tokens":5}}`
	f := &fakeServer{path: "/v1/completions", body: response}
	c := mustNew(t, loopServer(t, KindVLLM, f.handler(t)))
	tokens := []int32{1, 10, 11, 12}
	scored, next, err := c.ScoreWithNext(t.Context(), tokens, 2)
	if err != nil {
		t.Fatalf("ScoreWithNext: %v", err)
	}
	want := []llm.TokenLogprob{
		{Token: 10, Text: "a", Logprob: -0.5, Top: []llm.TopLogprob{{Token: 10, Text: "a", Logprob: -0.5}, {Token: 20, Text: "b", Logprob: -1.5}}},
		{Token: 11, Text: "e", Logprob: -4.0, Top: []llm.TopLogprob{{Token: 30, Text: "c", Logprob: -0.2}, {Token: 31, Text: "d", Logprob: -2.0}}},
		{Token: 12, Text: "g", Logprob: -1.1, Top: []llm.TopLogprob{{Token: 40, Text: "f", Logprob: -0.9}, {Token: 12, Text: "g", Logprob: -1.1}}},
	}
	if diff := cmp.Diff(want, scored); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	wantNext := []llm.TopLogprob{{Token: 50, Logprob: -0.3}, {Token: 51, Logprob: -1.4}}
	if diff := cmp.Diff(wantNext, next); diff != "" {
		t.Errorf("next (-want +got):\n%s", diff)
	}
	var req CompletionRequest
	if err := decodeStrict(f.got, &req); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	wantReq := CompletionRequest{Model: "m", Prompt: TokenPrompt(tokens), PromptLogprobs: ptr(2), Logprobs: ptr(2), MaxTokens: ptr(1), Temperature: ptr(0.0), ReturnTokensAsTokenIDs: true}
	if diff := cmp.Diff(wantReq, req); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got := c.Usage().PromptTokens; got != 4 {
		t.Errorf("prompt tokens counted %d, want 4", got)
	}

	// ScoreSequence alone does not ask for the next position.
	if _, err := c.ScoreSequence(t.Context(), tokens, 2); err != nil {
		t.Fatalf("ScoreSequence: %v", err)
	}
	req = CompletionRequest{}
	if err := decodeStrict(f.got, &req); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	if req.Logprobs != nil || req.PromptLogprobs == nil || *req.PromptLogprobs != 2 {
		t.Errorf("ScoreSequence request logprobs=%v prompt_logprobs=%v, want nil and 2", req.Logprobs, req.PromptLogprobs)
	}
}

func TestScoreSequenceSGLang(t *testing.T) {
	response := `{"id":"c","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"<s>a bc d","finish_reason":"length",
		"logprobs":{"tokens":["<s>","a"," b","c"," d"],"token_logprobs":[null,-0.5,-4.0,-0.1,-0.3],
			"top_logprobs":[null,{"a":-0.5,"z":-1.0},{" x":-0.2," b":-4.0," y":-2.0},{"c":-0.1},{" d":-0.3," e":-1.3}],"text_offset":[0,3,4,6,7]}}]}`
	f := &fakeServer{path: "/v1/completions", body: response}
	c := mustNew(t, loopServer(t, KindSGLang, f.handler(t)))
	tokens := []int32{1, 10, 11, 12}
	scored, next, err := c.ScoreWithNext(t.Context(), tokens, 2)
	if err != nil {
		t.Fatalf("ScoreWithNext: %v", err)
	}
	want := []llm.TokenLogprob{
		{Token: 10, Text: "a", Logprob: -0.5, Top: []llm.TopLogprob{{Token: NoToken, Text: "a", Logprob: -0.5}, {Token: NoToken, Text: "z", Logprob: -1.0}}},
		{Token: 11, Text: " b", Logprob: -4.0, Top: []llm.TopLogprob{{Token: NoToken, Text: " x", Logprob: -0.2}, {Token: NoToken, Text: " y", Logprob: -2.0}}},
		{Token: 12, Text: "c", Logprob: -0.1, Top: []llm.TopLogprob{{Token: NoToken, Text: "c", Logprob: -0.1}}},
	}
	if diff := cmp.Diff(want, scored); diff != "" {
		t.Errorf("scores (-want +got):\n%s", diff)
	}
	wantNext := []llm.TopLogprob{{Token: NoToken, Text: " d", Logprob: -0.3}, {Token: NoToken, Text: " e", Logprob: -1.3}}
	if diff := cmp.Diff(wantNext, next); diff != "" {
		t.Errorf("next (-want +got):\n%s", diff)
	}
	var req CompletionRequest
	if err := decodeStrict(f.got, &req); err != nil {
		t.Fatalf("decode request: %v", err)
	}
	wantReq := CompletionRequest{Model: "m", Prompt: TokenPrompt(tokens), Echo: true, Logprobs: ptr(2), MaxTokens: ptr(1), Temperature: ptr(0.0)}
	if diff := cmp.Diff(wantReq, req); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
}

func TestScoreSequenceBadAnswers(t *testing.T) {
	tests := []struct {
		name, promptLogprobs, want string
	}{
		{"wrong length", `[null,{"10":{"logprob":-1,"rank":1,"decoded_token":"a"}}]`, "2 entries for 3 tokens"},
		{"scored token missing", `[null,{"10":{"logprob":-1,"rank":1,"decoded_token":"a"}},{"99":{"logprob":-1,"rank":1,"decoded_token":"z"}}]`, "lack the scored token"},
		{"absent", `null`, "0 entries for 3 tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"choices":[{"index":0,"text":"x","logprobs":null,"prompt_logprobs":` + tt.promptLogprobs + `}]}`
			f := &fakeServer{path: "/v1/completions", body: body}
			_, err := mustNew(t, loopServer(t, KindVLLM, f.handler(t))).ScoreSequence(t.Context(), []int32{1, 10, 11}, 1)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestCapabilityTable pins DESIGN §6.
func TestCapabilityTable(t *testing.T) {
	caps := []Capability{CapChat, CapNextTokenTopK, CapTokenIDPrompt, CapSequenceTopK, CapPromptLogprobs, CapTokenize}
	want := map[Kind][]Capability{
		KindOpenAI:   {CapChat},
		KindVLLM:     {CapChat, CapNextTokenTopK, CapTokenIDPrompt, CapSequenceTopK, CapPromptLogprobs, CapTokenize},
		KindSGLang:   {CapChat, CapNextTokenTopK, CapTokenIDPrompt, CapSequenceTopK, CapTokenize},
		KindLlamaCpp: {CapChat, CapNextTokenTopK, CapTokenIDPrompt, CapTokenize},
		KindOllama:   {CapChat, CapNextTokenTopK},
	}
	got := map[Kind][]Capability{}
	for _, k := range Kinds() {
		for _, c := range caps {
			if k.Supports(c) {
				got[k] = append(got[k], c)
			}
			err := k.Require(c)
			if (err == nil) != k.Supports(c) {
				t.Errorf("%s.Require(%s) = %v, disagrees with Supports", k, c, err)
			}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("capabilities (-want +got):\n%s", diff)
	}
	if got := KindVLLM.DefaultMaxTopK(); got != 20 {
		t.Errorf("vLLM default max top-k %d, want 20", got)
	}
}

// TestUnsupportedRequests checks that every request a kind cannot serve
// fails before anything is sent, with an error naming the kind and the
// capability.
func TestUnsupportedRequests(t *testing.T) {
	var sent atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent.Add(1)
		w.WriteHeader(http.StatusTeapot)
	})
	ids := []int32{1, 2, 3}
	nextIDs := func(c *Client) error { _, err := c.NextTokenTopK(t.Context(), ids, 5); return err }
	nextText := func(c *Client) error { _, err := c.NextTokenTopKText(t.Context(), "abc", 5); return err }
	score := func(c *Client) error { _, err := c.ScoreSequence(t.Context(), ids, 5); return err }
	tokenize := func(c *Client) error { _, err := c.Tokenize(t.Context(), "abc", true); return err }
	detokenize := func(c *Client) error { _, err := c.Detokenize(t.Context(), ids); return err }
	complete := func(req CompletionRequest) func(c *Client) error {
		return func(c *Client) error { _, err := c.Complete(t.Context(), req); return err }
	}
	tests := []struct {
		kind Kind
		name string
		call func(*Client) error
		cap  Capability
	}{
		{KindOpenAI, "next token", nextIDs, CapNextTokenTopK},
		{KindOpenAI, "next token text", nextText, CapNextTokenTopK},
		{KindOpenAI, "score", score, CapSequenceTopK},
		{KindOpenAI, "tokenize", tokenize, CapTokenize},
		{KindOpenAI, "detokenize", detokenize, CapTokenize},
		{KindOpenAI, "token prompt", complete(CompletionRequest{Prompt: TokenPrompt(ids)}), CapTokenIDPrompt},
		{KindOllama, "next token from ids", nextIDs, CapTokenIDPrompt},
		{KindOllama, "score", score, CapSequenceTopK},
		{KindOllama, "tokenize", tokenize, CapTokenize},
		{KindLlamaCpp, "score", score, CapSequenceTopK},
		{KindLlamaCpp, "echo logprobs", complete(CompletionRequest{Prompt: TextPrompt("a"), Echo: true, Logprobs: ptr(1)}), CapSequenceTopK},
		{KindSGLang, "prompt_logprobs", complete(CompletionRequest{Prompt: TokenPrompt(ids), PromptLogprobs: ptr(1)}), CapPromptLogprobs},
		{KindVLLM, "top-k over the limit", func(c *Client) error { _, err := c.NextTokenTopK(t.Context(), ids, 21); return err }, "top-k"},
		{KindVLLM, "score top-k over the limit", func(c *Client) error { _, err := c.ScoreSequence(t.Context(), ids, 21); return err }, "top-k"},
		{KindOllama, "text top-k over the limit", func(c *Client) error { _, err := c.NextTokenTopKText(t.Context(), "a", 21); return err }, "top-k"},
		{KindOpenAI, "chat top_logprobs over the limit", func(c *Client) error {
			req := chatReq()
			req.Logprobs, req.TopLogprobs = true, 21
			_, err := c.Chat(t.Context(), req)
			return err
		}, "top-k"},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind)+"/"+tt.name, func(t *testing.T) {
			err := tt.call(mustNew(t, loopServer(t, tt.kind, h)))
			ue, ok := errors.AsType[*UnsupportedError](err)
			if !ok || !errors.Is(err, ErrUnsupported) {
				t.Fatalf("err = %v, want an *UnsupportedError", err)
			}
			if ue.Kind != tt.kind || ue.Capability != tt.cap {
				t.Errorf("unsupported %s/%s, want %s/%s", ue.Kind, ue.Capability, tt.kind, tt.cap)
			}
			if !strings.Contains(err.Error(), string(tt.kind)) || !strings.Contains(err.Error(), string(tt.cap)) {
				t.Errorf("err %q does not name the kind and the capability", err)
			}
		})
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d requests were sent for unsupported capabilities", n)
	}
	// Make sure the handler would have counted: a supported call reaches it.
	_, _ = mustNew(t, loopServer(t, KindVLLM, h)).Models(t.Context())
	if sent.Load() != 1 {
		t.Errorf("the counting server saw %d requests, want 1", sent.Load())
	}
}

func TestBadArguments(t *testing.T) {
	c := mustNew(t, Config{BaseURL: "http://x.test/v1", Kind: KindVLLM, HTTPClient: &http.Client{}})
	tests := []struct {
		name string
		call func() error
	}{
		{"empty prefix", func() error { _, err := c.NextTokenTopK(t.Context(), nil, 2); return err }},
		{"empty text prefix", func() error { _, err := c.NextTokenTopKText(t.Context(), "", 2); return err }},
		{"zero k", func() error { _, err := c.NextTokenTopK(t.Context(), []int32{1}, 0); return err }},
		{"negative k", func() error { _, err := c.ScoreSequence(t.Context(), []int32{1, 2}, -1); return err }},
		{"one token to score", func() error { _, err := c.ScoreSequence(t.Context(), []int32{1}, 2); return err }},
		{"zero k with next", func() error { _, _, err := c.ScoreWithNext(t.Context(), []int32{1, 2}, 0); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Errorf("succeeded, want an error")
			}
		})
	}
	if c.Requests() != 0 {
		t.Errorf("%d requests sent for bad arguments", c.Requests())
	}
}

// TestMaxTopKOverride checks Config.MaxTopK (vLLM started with a larger
// --max-logprobs).
func TestMaxTopKOverride(t *testing.T) {
	f := &fakeServer{path: "/v1/completions", body: `{"choices":[{"index":0,"text":"x","logprobs":{"tokens":["token_id:1"],"token_logprobs":[-1],"top_logprobs":[{"token_id:1":-1}],"text_offset":[0]}}]}`}
	cfg := loopServer(t, KindVLLM, f.handler(t))
	cfg.MaxTopK = 50
	if _, err := mustNew(t, cfg).NextTokenTopK(t.Context(), []int32{1}, 40); err != nil {
		t.Errorf("k=40 under MaxTopK 50: %v", err)
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(f.got, &req); err != nil || string(req["logprobs"]) != "40" {
		t.Errorf("request logprobs = %s (%v), want 40", req["logprobs"], err)
	}
}
