package openaiapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// recordingServer answers each request with the next of its bodies and
// keeps the requests it got.
type recordingServer struct {
	mu     sync.Mutex
	bodies []string
	status int
	got    [][]byte
	paths  []string
}

func (s *recordingServer) handler(t *testing.T) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.got = append(s.got, readBody(t, r))
		s.paths = append(s.paths, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		if s.status != 0 {
			w.WriteHeader(s.status)
		}
		b := s.bodies[0]
		if len(s.bodies) > 1 {
			s.bodies = s.bodies[1:]
		}
		_, _ = io.WriteString(w, b)
	})
}

// llamaWithheld is what llama.cpp's server (before its chat-output parser
// rejected such text) answers /completion with when the one token it
// sampled ends in an incomplete UTF-8 sequence: the token in "tokens" (with
// return_tokens), no text and no completion_probabilities
// (tools/server/server-context.cpp, process_token, snapshot 173442644).
const llamaWithheld = `{"index":0,"content":"","tokens":[258],"id_slot":0,"stop":true,"model":"cloud","tokens_predicted":1,"tokens_evaluated":5,"stop_type":"limit"}`

const llamaAnswered = `{"index":0,"content":"ke","tokens":[300],"stop":true,"tokens_predicted":1,"tokens_evaluated":5,"stop_type":"limit",
	"completion_probabilities":[{"id":300,"token":"ke","bytes":[107,101],"logprob":-0.72,"top_logprobs":[{"id":258,"token":"\ufffd","bytes":[255],"logprob":-0.5},{"id":300,"token":"ke","bytes":[107,101],"logprob":-0.72}]}]}`

func TestLlamaNextTopKBansWithheldTokens(t *testing.T) {
	s := &recordingServer{bodies: []string{llamaWithheld, llamaAnswered}}
	c := mustNew(t, loopServer(t, KindLlamaCpp, s.handler(t)))
	top, err := c.NextTokenTopK(t.Context(), []int32{1, 2, 3}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// The withheld token's own probability is reported: the ban acts on
	// sampling only.
	if len(top) != 2 || top[0].Token != 258 || top[1].Token != 300 {
		t.Fatalf("top %+v, want tokens 258 and 300", top)
	}
	if len(s.got) != 2 {
		t.Fatalf("%d requests, want 2 (the first withheld its token)", len(s.got))
	}
	var first, second LlamaCompletionRequest
	if err := json.Unmarshal(s.got[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(s.got[1], &second); err != nil {
		t.Fatal(err)
	}
	if first.Temperature == nil || *first.Temperature != 0 || !first.ReturnTokens || first.LogitBias != nil {
		t.Errorf("first request %s: want greedy, return_tokens, no logit_bias", s.got[0])
	}
	if !strings.Contains(string(s.got[1]), `"logit_bias":[[258,false]]`) {
		t.Errorf("second request %s: want token 258 banned", s.got[1])
	}
	// Later queries ban it from the start.
	if _, err := c.NextTokenTopK(t.Context(), []int32{1, 2}, 2); err != nil {
		t.Fatal(err)
	}
	if len(s.got) != 3 || !strings.Contains(string(s.got[2]), `"logit_bias":[[258,false]]`) {
		t.Errorf("third request %s: want token 258 banned from the start", s.got[len(s.got)-1])
	}
}

func TestLlamaNextTopKGivesUp(t *testing.T) {
	// A server that withholds the same token although it is banned is not
	// asked forever.
	s := &recordingServer{bodies: []string{llamaWithheld}}
	c := mustNew(t, loopServer(t, KindLlamaCpp, s.handler(t)))
	_, err := c.NextTokenTopK(t.Context(), []int32{1}, 2)
	if err == nil || !strings.Contains(err.Error(), "no completion_probabilities") {
		t.Fatalf("err %v, want one naming the missing completion_probabilities", err)
	}
	if len(s.got) != 2 {
		t.Errorf("%d requests, want 2", len(s.got))
	}
}

func TestBanTokensInChat(t *testing.T) {
	for _, kind := range []Kind{KindLlamaCpp, KindVLLM} {
		s := &recordingServer{bodies: []string{`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`}}
		c := mustNew(t, loopServer(t, kind, s.handler(t)))
		c.BanTokens([]int32{258, 3})
		if _, err := c.Chat(t.Context(), ChatCompletionRequest{Messages: []ChatMessage{{Role: "user", Content: "hello"}}}); err != nil {
			t.Fatal(err)
		}
		var req map[string]any
		if err := json.Unmarshal(s.got[0], &req); err != nil {
			t.Fatal(err)
		}
		bias, has := req["logit_bias"]
		switch {
		case kind == KindLlamaCpp && !cmp.Equal(bias, map[string]any{"258": false, "3": false}):
			t.Errorf("llamacpp: logit_bias %v, want 258 and 3 banned", bias)
		case kind != KindLlamaCpp && has:
			t.Errorf("%s: logit_bias %v sent, want none", kind, bias)
		}
	}
}

func TestContextExceeded(t *testing.T) {
	tests := []struct {
		name, body     string
		prompt, ctxLen int
	}{
		{
			// llama.cpp's server, as it answered a 6,140-token chat request
			// with -c 2048 (snapshot 173442644; server-task.cpp
			// server_task_result_error::to_json adds the two numbers).
			"llamacpp",
			`{"error":{"code":400,"message":"request (6140 tokens) exceeds the available context size (2048 tokens), try increasing it","type":"exceed_context_size_error","n_prompt_tokens":6140,"n_ctx":2048}}`,
			6140, 2048,
		},
		{
			// vLLM's wording (vllm/entrypoints/openai/serving_engine.py,
			// _validate_input).
			"vllm",
			`{"object":"error","message":"This model's maximum context length is 2048 tokens. However, you requested 2100 tokens (2000 in the messages, 100 in the completion). Please reduce the length of the messages or completion.","type":"BadRequestError","param":null,"code":400}`,
			2100, 2048,
		},
		{
			"vllm newer",
			`{"error":{"message":"This model's maximum context length is 2048 tokens. However, you requested 100 output tokens and your prompt contains at least 2001 input tokens, for a total of at least 2101 tokens.","type":"BadRequestError","param":null,"code":400}}`,
			2101, 2048,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := parseAPIError(http.StatusBadRequest, []byte(tt.body), nil, "")
			if e.PromptTokens != tt.prompt || e.ContextSize != tt.ctxLen {
				t.Errorf("prompt %d context %d, want %d and %d", e.PromptTokens, e.ContextSize, tt.prompt, tt.ctxLen)
			}
			if !errors.Is(e, ErrContextExceeded) {
				t.Error("does not match ErrContextExceeded")
			}
			msg := e.Error()
			for _, want := range []string{"2048", "--ctx-size", "--max-model-len"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %q", msg, want)
				}
			}
		})
	}
	// Ollama, asked not to truncate (runner/llamarunner/runner.go,
	// errorInputTooLong; the answer of Ollama v0.17.4 to a 3,000-token raw prompt with
	// num_ctx 2048 and "truncate": false).
	e := parseAPIError(http.StatusBadRequest, []byte(`{"error":"the input length exceeds the context length"}`), nil, "")
	if !errors.Is(e, ErrContextExceeded) || !strings.Contains(e.Error(), "num_ctx") {
		t.Errorf("ollama: %v, want a context error naming num_ctx", e)
	}
	// Another 400 is not a context error.
	if e := parseAPIError(http.StatusBadRequest, []byte(`{"error":{"message":"bad field","type":"invalid_request_error","code":400}}`), nil, ""); errors.Is(e, ErrContextExceeded) {
		t.Error("a plain 400 matches ErrContextExceeded")
	}
}

func TestOllamaNextTopKRetriesWithheld(t *testing.T) {
	// Ollama drops the log-probabilities of a token whose text never
	// becomes valid UTF-8 (runner/llamarunner/runner.go flushPending): the
	// answer then has no "logprobs".
	none := `{"model":"cloud","created_at":"2026-11-30T00:00:00Z","response":"","done":true,"done_reason":"length","prompt_eval_count":5,"eval_count":1}`
	some := `{"model":"cloud","created_at":"2026-11-30T00:00:00Z","response":"ke","done":true,"done_reason":"length","prompt_eval_count":5,"eval_count":1,
		"logprobs":[{"token":"ke","logprob":-0.72,"bytes":[107,101],"top_logprobs":[{"token":"\ufffd","logprob":-0.5,"bytes":[239,191,189]},{"token":"ke","logprob":-0.72,"bytes":[107,101]}]}]}`
	s := &recordingServer{bodies: []string{none, none, some}}
	c := mustNew(t, loopServer(t, KindOllama, s.handler(t)))
	top, err := c.NextTokenTopKText(t.Context(), "Once upon a time", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(top) != 2 || top[0].Text != "\ufffd" || top[0].Token != NoToken {
		t.Errorf("top %+v", top)
	}
	var reqs []OllamaGenerateRequest
	for _, b := range s.got {
		var r OllamaGenerateRequest
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for i, r := range reqs {
		if r.Options.NumPredict != 1 || !r.Raw || r.Prompt != "Once upon a time" {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if *reqs[0].Options.Temperature != 0 || *reqs[1].Options.Temperature != 1 || *reqs[1].Options.Seed == *reqs[2].Options.Seed {
		t.Errorf("want greedy first, then samples with different seeds: %+v %+v %+v", reqs[0].Options, reqs[1].Options, reqs[2].Options)
	}
}

func TestOllamaChatNative(t *testing.T) {
	// The answer shape of Ollama's /api/chat (api.ChatResponse, v0.17.4).
	s := &recordingServer{bodies: []string{`{"model":"cloud","created_at":"2026-11-30T00:00:00Z","message":{"role":"assistant","content":"An outline."},"done":true,"done_reason":"length","prompt_eval_count":42,"eval_count":8}`}}
	c := mustNew(t, loopServer(t, KindOllama, s.handler(t)))
	temp, seed, maxTok := 0.7, int64(3), 8
	resp, err := c.Chat(t.Context(), ChatCompletionRequest{
		Messages:    []ChatMessage{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Outline a story."}},
		Temperature: &temp, Seed: &seed, MaxTokens: &maxTok,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content != "An outline." || resp.Choices[0].FinishReason != FinishLength ||
		resp.Usage == nil || resp.Usage.PromptTokens != 42 || resp.Usage.CompletionTokens != 8 {
		t.Errorf("response %+v", resp)
	}
	if s.paths[0] != "/api/chat" {
		t.Errorf("sent to %s, want Ollama's native /api/chat", s.paths[0])
	}
	var got map[string]any
	if err := json.Unmarshal(s.got[0], &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"model": "m", "stream": false, "truncate": false,
		"messages": []any{map[string]any{"role": "system", "content": "Be brief."}, map[string]any{"role": "user", "content": "Outline a story."}},
		"options":  map[string]any{"num_predict": 8.0, "temperature": 0.7, "seed": 3.0},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	// A request that needs the OpenAI route's translation stays on it.
	s2 := &recordingServer{bodies: []string{`{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"{}"},"finish_reason":"stop"}]}`}}
	c2 := mustNew(t, loopServer(t, KindOllama, s2.handler(t)))
	if _, err := c2.Chat(t.Context(), ChatCompletionRequest{Messages: []ChatMessage{{Role: "user", Content: "x"}}, ResponseFormat: &ResponseFormat{Type: ResponseFormatJSONObject}}); err != nil {
		t.Fatal(err)
	}
	if s2.paths[0] != "/v1/chat/completions" {
		t.Errorf("a response_format request went to %s, want the OpenAI route", s2.paths[0])
	}
}
