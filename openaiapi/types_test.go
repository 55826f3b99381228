package openaiapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/llm"
)

// wireCases are JSON bodies in the shapes vLLM (or llama.cpp, Ollama)
// sends and accepts, with the value each must decode to.
var wireCases = []struct {
	name string
	json string
	want any
}{
	{"chat request", `{
		"model": "m",
		"messages": [
			{"role": "system", "content": "be brief"},
			{"role": "user", "content": [{"type": "text", "text": "hello "}, {"type": "text", "text": "there"}], "name": "ann"},
			{"role": "assistant", "content": null}
		],
		"stream": true, "stream_options": {"include_usage": true},
		"logprobs": true, "top_logprobs": 5, "seed": 42, "temperature": 0.7, "top_p": 0.9,
		"max_tokens": 10, "max_completion_tokens": 20, "stop": "\n",
		"response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": true}},
		"user": "u1"
	}`, &ChatCompletionRequest{
		Model: "m",
		Messages: []ChatMessage{
			{Role: llm.RoleSystem, Content: "be brief"},
			{Role: llm.RoleUser, Content: "hello there", Name: "ann"},
			{Role: llm.RoleAssistant},
		},
		Stream: true, StreamOptions: &StreamOptions{IncludeUsage: true},
		Logprobs: true, TopLogprobs: 5, Seed: ptr(int64(42)), Temperature: ptr(0.7), TopP: ptr(0.9),
		MaxTokens: ptr(10), MaxCompletionTokens: ptr(20), Stop: Stop{"\n"},
		ResponseFormat: &ResponseFormat{Type: ResponseFormatJSONSchema, JSONSchema: &JSONSchema{Name: "out", Schema: json.RawMessage(`{"type": "object"}`), Strict: true}},
		User:           "u1",
	}},
	{"chat request json_object, stop list", `{"model":"m","messages":[],"stop":["a","b"],"response_format":{"type":"json_object"}}`,
		&ChatCompletionRequest{Model: "m", Messages: []ChatMessage{}, Stop: Stop{"a", "b"}, ResponseFormat: &ResponseFormat{Type: ResponseFormatJSONObject}}},
	{"chat response with logprobs", `{
		"id": "chatcmpl-9", "object": "chat.completion", "created": 1700000000, "model": "m",
		"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"},
			"logprobs": {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105],
				"top_logprobs": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}, {"token": "Hey", "logprob": -2.5, "bytes": null}]}]},
			"finish_reason": "stop", "stop_reason": null}],
		"usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6, "prompt_tokens_details": null},
		"prompt_logprobs": null, "system_fingerprint": "fp"
	}`, &ChatCompletionResponse{
		ID: "chatcmpl-9", Object: ObjectChatCompletion, Created: 1700000000, Model: "m",
		Choices: []ChatChoice{{
			Message: ChatMessage{Role: llm.RoleAssistant, Content: "Hi"},
			Logprobs: &ChatLogprobs{Content: []ChatTokenLogprob{{
				Token: "Hi", Logprob: -0.1, Bytes: []int{72, 105},
				TopLogprobs: []ChatTopLogprob{{Token: "Hi", Logprob: -0.1, Bytes: []int{72, 105}}, {Token: "Hey", Logprob: -2.5}},
			}}},
			FinishReason: FinishStop,
		}},
		Usage:             &llm.Usage{PromptTokens: 5, CompletionTokens: 1, TotalTokens: 6},
		SystemFingerprint: "fp",
	}},
	{"chat chunk", `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`,
		&ChatCompletionChunk{ID: "c", Object: ObjectChatCompletionChunk, Created: 1, Model: "m",
			Choices: []ChatChunkChoice{{Delta: ChatDelta{Role: llm.RoleAssistant}}}}},
	{"chat usage chunk", `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`,
		&ChatCompletionChunk{ID: "c", Object: ObjectChatCompletionChunk, Created: 1, Model: "m", Choices: []ChatChunkChoice{},
			Usage: &llm.Usage{PromptTokens: 1, CompletionTokens: 2, TotalTokens: 3}}},
	{"completion request token ids", `{"model":"m","prompt":[1,2,3],"echo":true,"logprobs":5,"prompt_logprobs":5,"max_tokens":1,"temperature":0,"top_p":1,"seed":7,"stop":["x"],"stream":false,"n_probs":3,"return_tokens_as_token_ids":true,"user":"u"}`,
		&CompletionRequest{Model: "m", Prompt: TokenPrompt([]int32{1, 2, 3}), Echo: true, Logprobs: ptr(5), PromptLogprobs: ptr(5),
			MaxTokens: ptr(1), Temperature: ptr(0.0), TopP: ptr(1.0), Seed: ptr(int64(7)), Stop: Stop{"x"}, NProbs: 3, ReturnTokensAsTokenIDs: true, User: "u"}},
	{"completion request text", `{"model":"m","prompt":"Once"}`, &CompletionRequest{Model: "m", Prompt: TextPrompt("Once")}},
	{"completion request texts", `{"model":"m","prompt":["a","b"]}`, &CompletionRequest{Model: "m", Prompt: Prompt{Texts: []string{"a", "b"}}}},
	{"completion request token batch", `{"model":"m","prompt":[[1,2],[3]]}`, &CompletionRequest{Model: "m", Prompt: Prompt{TokenBatch: [][]int32{{1, 2}, {3}}}}},
	{"completion response echo logprobs", `{
		"id": "cmpl-1", "object": "text_completion", "created": 2, "model": "m",
		"choices": [{"index": 0, "text": "ab c",
			"logprobs": {"tokens": ["a", "b", " c"], "token_logprobs": [null, -1.5, -0.25],
				"top_logprobs": [null, {"b": -1.5, "x": -0.5}, {" c": -0.25}], "text_offset": [0, 1, 2]},
			"finish_reason": "length", "stop_reason": null, "prompt_logprobs": null}],
		"usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3}
	}`, &CompletionResponse{
		ID: "cmpl-1", Object: ObjectTextCompletion, Created: 2, Model: "m",
		Choices: []CompletionChoice{{
			Text: "ab c",
			Logprobs: &CompletionLogprobs{
				Tokens: []string{"a", "b", " c"}, TokenLogprobs: []*float64{nil, ptr(-1.5), ptr(-0.25)},
				TopLogprobs: []map[string]float64{nil, {"b": -1.5, "x": -0.5}, {" c": -0.25}}, TextOffset: []int{0, 1, 2},
			},
			FinishReason: FinishLength,
		}},
		Usage: &llm.Usage{PromptTokens: 2, CompletionTokens: 1, TotalTokens: 3},
	}},
	{"completion response prompt_logprobs", `{"id":"cmpl-2","object":"text_completion","created":3,"model":"m",
		"choices":[{"index":0,"text":"!","logprobs":null,"finish_reason":"length",
			"prompt_logprobs":[null,{"791":{"logprob":-3.25,"rank":4,"decoded_token":" the"},"11":{"logprob":-0.5,"rank":1,"decoded_token":","}}]}]}`,
		&CompletionResponse{ID: "cmpl-2", Object: ObjectTextCompletion, Created: 3, Model: "m",
			Choices: []CompletionChoice{{Text: "!", FinishReason: FinishLength, PromptLogprobs: PromptLogprobs{
				nil, {791: {Logprob: -3.25, Rank: 4, DecodedToken: " the"}, 11: {Logprob: -0.5, Rank: 1, DecodedToken: ","}},
			}}}}},
	{"models", `{"object":"list","data":[{"id":"m","object":"model","created":1,"owned_by":"vllm","root":"org/m","parent":null,"max_model_len":32768,"permission":[]}]}`,
		&ModelList{Object: ObjectList, Data: []Model{{ID: "m", Object: ObjectModel, Created: 1, OwnedBy: "vllm", Root: "org/m", MaxModelLen: 32768}}}},
	{"tokenize request", `{"model":"m","prompt":"hi","add_special_tokens":false}`, &TokenizeRequest{Model: "m", Prompt: "hi", AddSpecialTokens: ptr(false)}},
	{"tokenize response", `{"count":2,"max_model_len":4096,"tokens":[9906,1917],"token_strs":null}`, &TokenizeResponse{Tokens: []int32{9906, 1917}, Count: 2, MaxModelLen: 4096}},
	{"detokenize request", `{"model":"m","tokens":[9906]}`, &DetokenizeRequest{Model: "m", Tokens: []int32{9906}}},
	{"detokenize response", `{"prompt":"Hello"}`, &DetokenizeResponse{Prompt: "Hello"}},
	{"error openai", `{"error":{"message":"m","type":"invalid_request_error","param":"model","code":"model_not_found"}}`,
		&ErrorResponse{Error: ErrorDetail{Message: "m", Type: "invalid_request_error", Param: ptr("model"), Code: "model_not_found"}}},
	{"error vllm", `{"error":{"message":"m","type":"BadRequestError","param":null,"code":400}}`,
		&ErrorResponse{Error: ErrorDetail{Message: "m", Type: "BadRequestError", Code: "400"}}},
	{"llama.cpp completion request", `{"prompt":[1,2],"n_predict":1,"n_probs":3,"stream":false,"cache_prompt":true}`,
		&LlamaCompletionRequest{Prompt: TokenPrompt([]int32{1, 2}), NPredict: 1, NProbs: 3, CachePrompt: true}},
	{"llama.cpp completion response", `{"content":" the","tokens":[279],"id_slot":0,"stop":true,"stop_type":"limit","tokens_predicted":1,"tokens_evaluated":2,
		"completion_probabilities":[{"id":279,"token":" the","bytes":[32,116,104,101],"logprob":-0.5,
			"top_logprobs":[{"id":279,"token":" the","bytes":[32,116,104,101],"logprob":-0.5},{"id":264,"token":" a","bytes":[32,97],"logprob":-1.5}]}]}`,
		&LlamaCompletionResponse{Content: " the", Tokens: []int32{279}, Stop: true, StopType: "limit", TokensPredicted: 1, TokensEvaluated: 2,
			CompletionProbabilities: []LlamaTokenProb{{ID: 279, Token: " the", Bytes: []int{32, 116, 104, 101}, Logprob: ptr(-0.5),
				TopLogprobs: []LlamaTokenProb{{ID: 279, Token: " the", Bytes: []int{32, 116, 104, 101}, Logprob: ptr(-0.5)}, {ID: 264, Token: " a", Bytes: []int{32, 97}, Logprob: ptr(-1.5)}}}}}},
	{"ollama generate request", `{"model":"m","prompt":"Once upon","raw":true,"stream":false,"logprobs":true,"top_logprobs":5,"options":{"num_predict":1,"temperature":0}}`,
		&OllamaGenerateRequest{Model: "m", Prompt: "Once upon", Raw: true, Stream: ptr(false), Logprobs: true, TopLogprobs: 5,
			Options: OllamaOptions{NumPredict: 1, Temperature: ptr(0.0)}}},
	{"ollama generate response", `{"model":"m","created_at":"2025-11-20T10:00:00Z","response":" a","done":true,"done_reason":"length","context":[1,2],
		"total_duration":1,"prompt_eval_count":3,"eval_count":1,
		"logprobs":[{"token":" a","logprob":-0.3,"bytes":[32,97],"top_logprobs":[{"token":" a","logprob":-0.3,"bytes":[32,97]},{"token":" time","logprob":-1.9}]}]}`,
		&OllamaGenerateResponse{Model: "m", CreatedAt: "2025-11-20T10:00:00Z", Response: " a", Done: true, DoneReason: "length", PromptEvalCount: 3, EvalCount: 1,
			Logprobs: []OllamaLogprob{{Token: " a", Logprob: -0.3, Bytes: []int{32, 97},
				TopLogprobs: []OllamaTokenLogprob{{Token: " a", Logprob: -0.3, Bytes: []int{32, 97}}, {Token: " time", Logprob: -1.9}}}}}},
}

// TestWireDecode decodes server-shaped JSON into each wire type.
func TestWireDecode(t *testing.T) {
	for _, tt := range wireCases {
		t.Run(tt.name, func(t *testing.T) {
			got := reflect.New(reflect.TypeOf(tt.want).Elem()).Interface()
			if err := json.Unmarshal([]byte(tt.json), got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Transformer("json", compactJSON)); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWireRoundTrip encodes each value and decodes it back.
func TestWireRoundTrip(t *testing.T) {
	for _, tt := range wireCases {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.want)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			got := reflect.New(reflect.TypeOf(tt.want).Elem()).Interface()
			if err := json.Unmarshal(b, got); err != nil {
				t.Fatalf("decode %s: %v", b, err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.Transformer("json", compactJSON)); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func compactJSON(m json.RawMessage) string {
	var v any
	if err := json.Unmarshal(m, &v); err != nil {
		return "invalid: " + string(m)
	}
	b, _ := json.Marshal(v) // a decoded value always encodes
	return string(b)
}

// TestWireEncoding pins encodings that clients rely on.
func TestWireEncoding(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"pending finish reason is null", ChatChunkChoice{Delta: ChatDelta{Content: "x"}},
			`{"index":0,"delta":{"content":"x"},"finish_reason":null}`},
		{"chat choice without logprobs", ChatChoice{Message: ChatMessage{Role: llm.RoleAssistant, Content: "x"}, FinishReason: FinishStop},
			`{"index":0,"message":{"role":"assistant","content":"x"},"logprobs":null,"finish_reason":"stop"}`},
		{"numeric error code", ErrorDetail{Message: "m", Type: "t", Code: "400"}, `{"message":"m","type":"t","param":null,"code":400}`},
		{"string error code", ErrorDetail{Message: "m", Type: "t", Code: "model_not_found"}, `{"message":"m","type":"t","param":null,"code":"model_not_found"}`},
		{"empty error code", ErrorDetail{Message: "m"}, `{"message":"m","type":"","param":null,"code":null}`},
		{"stop as list", CompletionRequest{Model: "m", Prompt: TextPrompt("p"), Stop: Stop{"a"}}, `{"model":"m","prompt":"p","stop":["a"]}`},
		{"token prompt", CompletionRequest{Model: "m", Prompt: TokenPrompt([]int32{5, 6})}, `{"model":"m","prompt":[5,6]}`},
		{"empty texts", Prompt{Texts: []string{}}, `[]`},
		{"legacy logprobs nulls", CompletionLogprobs{Tokens: []string{"a"}, TokenLogprobs: []*float64{nil}, TopLogprobs: []map[string]float64{nil}, TextOffset: []int{0}},
			`{"tokens":["a"],"token_logprobs":[null],"top_logprobs":[null],"text_offset":[0]}`},
		{"prompt logprobs keys", PromptLogprobs{nil, {7: {Logprob: -1, Rank: 1, DecodedToken: "a"}}},
			`[null,{"7":{"logprob":-1,"rank":1,"decoded_token":"a"}}]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if string(b) != tt.want {
				t.Errorf("encoded\n got %s\nwant %s", b, tt.want)
			}
		})
	}
}

func TestWireDecodeErrors(t *testing.T) {
	tests := []struct {
		name, json string
		into       any
		want       string
	}{
		{"prompt of mixed list", `[1,"a"]`, new(Prompt), "prompt"},
		{"prompt of object", `{"a":1}`, new(Prompt), "prompt"},
		{"prompt token not integer", `[1.5]`, new(Prompt), "prompt"},
		{"stop of number", `5`, new(Stop), "stop"},
		{"image content part", `{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}`, new(ChatMessage), "unsupported type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tt.json), tt.into)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestChatMessagesConversion(t *testing.T) {
	msgs := []llm.Message{{Role: llm.RoleSystem, Content: "s"}, {Role: llm.RoleUser, Content: "u"}}
	wire := ChatMessages(msgs)
	back := make([]llm.Message, len(wire))
	for i, m := range wire {
		back[i] = m.Message()
	}
	if diff := cmp.Diff(msgs, back); diff != "" {
		t.Errorf("round trip through ChatMessage (-want +got):\n%s", diff)
	}
}
