package openaiapi

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/llm"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"empty url", Config{}},
		{"bad scheme", Config{BaseURL: "ftp://x.test/v1"}},
		{"credentials in url", Config{BaseURL: "http://user:pw@x.test/v1"}},
		{"unknown kind", Config{BaseURL: "http://x.test/v1", Kind: "tgi", HTTPClient: &http.Client{}}},
		{"no http client", Config{BaseURL: "http://x.test/v1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.cfg); err == nil {
				t.Errorf("New(%+v) succeeded, want an error", tt.cfg)
			}
		})
	}
	c := mustNew(t, Config{BaseURL: "http://x.test/v1", HTTPClient: &http.Client{}})
	if c.Kind() != KindOpenAI {
		t.Errorf("default kind %q, want %q", c.Kind(), KindOpenAI)
	}
}

func TestChatRequestAndResponse(t *testing.T) {
	var got ChatCompletionRequest
	var path, auth string
	cfg := loopServer(t, KindVLLM, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path, auth = r.URL.Path, r.Header.Get("Authorization")
		if err := decodeStrict(readBody(t, r), &got); err != nil {
			t.Errorf("decode request: %v", err)
		}
		writeJSON(t, w, http.StatusOK, okChatResponse("hello"))
	}))
	c := mustNew(t, cfg)
	req := chatReq()
	req.Temperature, req.Seed, req.Stream = ptr(0.5), ptr(int64(3)), true
	resp, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatalf("Chat: %v", err)
	}
	want := chatReq()
	want.Model, want.Temperature, want.Seed = "m", ptr(0.5), ptr(int64(3)) // the configured model; Stream dropped
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if path != "/v1/chat/completions" || auth != "" {
		t.Errorf("path %q, Authorization %q; want /v1/chat/completions and none", path, auth)
	}
	if diff := cmp.Diff(ptr(okChatResponse("hello")), resp); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(llm.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4}, c.Usage()); diff != "" {
		t.Errorf("usage (-want +got):\n%s", diff)
	}
}

func TestMalformedJSON(t *testing.T) {
	cfg := loopServer(t, KindVLLM, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"choices": [ {"message": `)
	}))
	_, err := mustNew(t, cfg).Chat(t.Context(), chatReq())
	if err == nil || !strings.HasPrefix(err.Error(), "decode chat completion response: ") {
		t.Errorf("err = %v, want \"decode chat completion response: ...\"", err)
	}
}

func TestAPIKey(t *testing.T) {
	const key = "sk-test-5ecret-value"
	t.Setenv("COGEN_TEST_KEY", key)
	var auth atomic.Value
	cfg := loopServer(t, KindVLLM, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		writeJSON(t, w, http.StatusUnauthorized, ErrorResponse{Error: ErrorDetail{Message: "invalid key " + key, Type: "auth_error"}})
	}))
	cfg.APIKeyEnv = "COGEN_TEST_KEY"
	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, err := mustNew(t, cfg).Chat(t.Context(), chatReq())
	if got := auth.Load(); got != "Bearer "+key {
		t.Errorf("Authorization = %v, want the bearer key", got)
	}
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("err = %v, want ErrUnauthorized", err)
	}
	for what, text := range map[string]string{"error": err.Error(), "logs": logs.String()} {
		if strings.Contains(text, key) || strings.Contains(text, promptMarker) {
			t.Errorf("%s hold the key or the prompt: %s", what, text)
		}
	}
	if logs.Len() == 0 {
		t.Errorf("no debug logs were written; the check above proves nothing")
	}
}

func TestErrorMessageNeverQuotesRequest(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    string
	}{
		{"plain message kept", "max_tokens is too large", "max_tokens is too large"},
		{"whole prompt echoed", "bad input: " + promptMarker, msgQuotesRequest},
		{"part of prompt echoed", "input 'PROMPT TEXT 0xC0FF' rejected", msgQuotesRequest},
		{"model name is not request text", "model m not found", "model m not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := loopServer(t, KindVLLM, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				writeJSON(t, w, http.StatusBadRequest, ErrorResponse{Error: ErrorDetail{Message: tt.message, Type: "invalid_request_error", Code: "400"}})
			}))
			_, err := mustNew(t, cfg).Chat(t.Context(), chatReq())
			apiErr, ok := errors.AsType[*APIError](err)
			if !ok {
				t.Fatalf("err = %v, want *APIError", err)
			}
			if apiErr.Message != tt.want {
				t.Errorf("message = %q, want %q", apiErr.Message, tt.want)
			}
		})
	}
}

func TestParseAPIErrorShapes(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   *APIError
	}{
		{"openai", 429, `{"error":{"message":"slow","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			&APIError{Status: 429, Type: "requests", Code: "rate_limit_exceeded", Message: "slow"}},
		{"vllm numeric code", 400, `{"error":{"message":"bad","type":"BadRequestError","param":null,"code":400}}`,
			&APIError{Status: 400, Type: "BadRequestError", Code: "400", Message: "bad"}},
		{"old vllm flat", 400, `{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}`,
			&APIError{Status: 400, Type: "BadRequestError", Code: "400", Message: "bad"}},
		{"ollama string", 404, `{"error":"model not found"}`,
			&APIError{Status: 404, Message: "model not found"}},
		{"not json", 502, `<html>bad gateway</html>`, &APIError{Status: 502}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseAPIError(tt.status, []byte(tt.body), nil, "")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseAPIError (-want +got):\n%s", diff)
			}
			if !errors.Is(got, ErrRateLimited) && tt.status == 429 {
				t.Errorf("429 does not match ErrRateLimited")
			}
		})
	}
}

const chunkA = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}`
const chunkB = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}`
const chunkUsage = `{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`

func TestChatStream(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		wantText string
		wantErr  error
		errText  string
	}{
		{"complete", "data: " + chunkA + "\n\ndata: " + chunkB + "\n\ndata: " + chunkUsage + "\n\ndata: [DONE]\n\n", "Hello", nil, ""},
		{"crlf and comments", ": ping\r\n\r\ndata: " + chunkA + "\r\n\r\n: ping\r\ndata: " + chunkB + "\r\n\r\ndata: [DONE]\r\n\r\n", "Hello", nil, ""},
		{"multi-line data", "data: " + chunkA[:10] + "\ndata: " + chunkA[10:] + "\n\ndata: [DONE]\n\n", "Hel", nil, ""},
		{"no done", "data: " + chunkA + "\n\n", "Hel", ErrStreamTruncated, ""},
		{"cut mid-event", "data: " + chunkA + "\n\ndata: {\"id\":\"c\",\"cho", "Hel", io.ErrUnexpectedEOF, ""},
		{"cut before blank line", "data: " + chunkA + "\n\ndata: " + chunkB + "\n", "Hel", ErrStreamTruncated, ""},
		{"error event", "data: " + chunkA + "\n\nevent: error\ndata: {\"error\":{\"message\":\"engine died\",\"type\":\"server_error\",\"code\":500}}\n\n", "Hel", nil, "engine died"},
		{"error object", "data: " + chunkA + "\n\ndata: {\"error\":{\"message\":\"out of memory\",\"type\":\"InternalServerError\",\"code\":500}}\n\n", "Hel", nil, "out of memory"},
		{"bad json event", "data: " + chunkA + "\n\ndata: {nope}\n\n", "Hel", nil, "decode chat completion stream event"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got ChatCompletionRequest
			cfg := loopServer(t, KindVLLM, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := decodeStrict(readBody(t, r), &got); err != nil {
					t.Errorf("decode request: %v", err)
				}
				w.Header().Set("Content-Type", "text/event-stream")
				_, _ = io.WriteString(w, tt.body)
			}))
			c := mustNew(t, cfg)
			var text string
			var err error
			for chunk, e := range c.ChatStream(t.Context(), chatReq()) {
				if e != nil {
					err = e
					break
				}
				for _, ch := range chunk.Choices {
					text += ch.Delta.Content
				}
			}
			if !got.Stream || got.StreamOptions == nil || !got.StreamOptions.IncludeUsage {
				t.Errorf("request stream=%v options=%+v, want stream with usage", got.Stream, got.StreamOptions)
			}
			if text != tt.wantText {
				t.Errorf("text = %q, want %q", text, tt.wantText)
			}
			switch {
			case tt.wantErr == nil && tt.errText == "":
				if err != nil {
					t.Errorf("err = %v, want none", err)
				}
				if got := c.Usage().TotalTokens; tt.name == "complete" && got != 7 {
					t.Errorf("usage total %d, want 7 from the last chunk", got)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tt.errText) {
					t.Errorf("err = %v, want one containing %q", err, tt.errText)
				}
			}
			if err != nil && strings.Contains(err.Error(), promptMarker) {
				t.Errorf("error quotes the request: %v", err)
			}
		})
	}
}

func TestChatStreamBreakClosesStream(t *testing.T) {
	closed := make(chan struct{})
	cfg := loopServer(t, KindVLLM, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		readBody(t, r)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: "+chunkA+"\n\n")
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done() // ends when the client closes the stream
		close(closed)
	}))
	cfg.Concurrency = 1
	c := mustNew(t, cfg)
	for _, err := range c.ChatStream(t.Context(), chatReq()) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		break
	}
	<-closed
	// The concurrency slot was released: another call can start.
	if !c.sem.TryAcquire(1) {
		t.Errorf("breaking out of the stream kept the concurrency slot")
	}
}

func TestCompleteAndStream(t *testing.T) {
	resp := CompletionResponse{
		ID: "cmpl-1", Object: ObjectTextCompletion, Created: 1, Model: "m",
		Choices: []CompletionChoice{{Text: " world", FinishReason: FinishLength}},
		Usage:   &llm.Usage{PromptTokens: 2, CompletionTokens: 2, TotalTokens: 4},
	}
	var reqs []CompletionRequest
	cfg := loopServer(t, KindVLLM, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req CompletionRequest
		if err := decodeStrict(readBody(t, r), &req); err != nil {
			t.Errorf("decode request: %v", err)
		}
		reqs = append(reqs, req)
		if !req.Stream {
			writeJSON(t, w, http.StatusOK, resp)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" wor","logprobs":null,"finish_reason":null}]}`+"\n\n")
		_, _ = io.WriteString(w, `data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":"ld","logprobs":null,"finish_reason":"length"}]}`+"\n\ndata: [DONE]\n\n")
	}))
	c := mustNew(t, cfg)
	got, err := c.Complete(t.Context(), CompletionRequest{Prompt: TextPrompt("hello"), MaxTokens: ptr(2)})
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if diff := cmp.Diff(&resp, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	var text string
	for chunk, err := range c.CompleteStream(t.Context(), CompletionRequest{Prompt: TokenPrompt([]int32{1, 2})}) {
		if err != nil {
			t.Fatalf("CompleteStream: %v", err)
		}
		text += chunk.Choices[0].Text
	}
	if text != " world" {
		t.Errorf("streamed text %q, want \" world\"", text)
	}
	wantReqs := []CompletionRequest{
		{Model: "m", Prompt: TextPrompt("hello"), MaxTokens: ptr(2)},
		{Model: "m", Prompt: TokenPrompt([]int32{1, 2}), Stream: true, StreamOptions: &StreamOptions{IncludeUsage: true}},
	}
	if diff := cmp.Diff(wantReqs, reqs); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestModelsTokenizeDetokenize(t *testing.T) {
	tests := []struct {
		kind                   Kind
		tokenizeIn, tokenOut   string
		detokIn, detokOut      string
		wantTokPath, wantModel string
	}{
		{KindVLLM, `{"model":"m","prompt":"hi there","add_special_tokens":true}`, `{"count":2,"max_model_len":4096,"tokens":[1,2]}`,
			`{"model":"m","tokens":[1,2]}`, `{"prompt":"hi there"}`, "/tokenize", "m"},
		{KindLlamaCpp, `{"content":"hi there","add_special":true}`, `{"tokens":[1,2]}`,
			`{"tokens":[1,2]}`, `{"content":"hi there"}`, "/tokenize", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.kind), func(t *testing.T) {
			seen := map[string]string{}
			cfg := loopServer(t, tt.kind, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen[r.URL.Path] = string(bytes.TrimSpace(readBody(t, r)))
				switch r.URL.Path {
				case "/tokenize":
					_, _ = io.WriteString(w, tt.tokenOut)
				case "/detokenize":
					_, _ = io.WriteString(w, tt.detokOut)
				case "/v1/models":
					_, _ = io.WriteString(w, `{"object":"list","data":[{"id":"m","object":"model","created":1,"owned_by":"vllm","root":"org/m","max_model_len":4096}]}`)
				default:
					w.WriteHeader(http.StatusNotFound)
				}
			}))
			c := mustNew(t, cfg)
			ids, err := c.Tokenize(t.Context(), "hi there", true)
			if err != nil {
				t.Fatalf("Tokenize: %v", err)
			}
			text, err := c.Detokenize(t.Context(), ids)
			if err != nil {
				t.Fatalf("Detokenize: %v", err)
			}
			models, err := c.Models(t.Context())
			if err != nil {
				t.Fatalf("Models: %v", err)
			}
			if diff := cmp.Diff([]int32{1, 2}, ids); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
			if text != "hi there" {
				t.Errorf("detokenized %q", text)
			}
			wantModels := &ModelList{Object: "list", Data: []Model{{ID: "m", Object: "model", Created: 1, OwnedBy: "vllm", Root: "org/m", MaxModelLen: 4096}}}
			if diff := cmp.Diff(wantModels, models); diff != "" {
				t.Errorf("models (-want +got):\n%s", diff)
			}
			wantSeen := map[string]string{"/tokenize": tt.tokenizeIn, "/detokenize": tt.detokIn, "/v1/models": ""}
			if diff := cmp.Diff(wantSeen, seen); diff != "" {
				t.Errorf("request bodies by path (-want +got):\n%s", diff)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestChokePointRefusalIsFinal checks that an egress guard's refusal is
// returned wrapped and never retried.
func TestChokePointRefusalIsFinal(t *testing.T) {
	errBlocked := errors.New("egress blocked: private fact")
	var n atomic.Int32
	c := mustNew(t, Config{
		BaseURL: "http://cloud.test/v1", Kind: KindVLLM, MaxRetries: 5,
		HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return nil, errBlocked
		})},
	})
	_, err := c.Chat(t.Context(), chatReq())
	if !errors.Is(err, errBlocked) {
		t.Errorf("err = %v, want the guard's error", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d attempts, want 1", got)
	}
}
