package openaiapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/llm"
)

func newClient(t *testing.T, url string, kind Kind, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: url + "/v1", Kind: kind, Model: "m", MaxRetries: 3, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Timeout: 2 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const okChat = `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`

func chatReq() ChatCompletionRequest {
	return ChatCompletionRequest{Messages: []ChatMessage{{Role: llm.RoleUser, Content: "PROMPT-TEXT-MARKER"}}}
}

func TestRetryAfter429(t *testing.T) {
	var n atomic.Int32
	var first, second atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			first.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
			io.WriteString(w, `{"error":{"message":"slow down","type":"rate_limit","code":429}}`)
		default:
			second.Store(time.Now().UnixNano())
			io.WriteString(w, okChat)
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, KindVLLM, nil)
	resp, err := c.Chat(t.Context(), chatReq())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "hi" || n.Load() != 2 {
		t.Errorf("content %q after %d requests", resp.Choices[0].Message.Content, n.Load())
	}
	if wait := time.Duration(second.Load() - first.Load()); wait < time.Second {
		t.Errorf("retried after %v, Retry-After said 1s", wait)
	}
	if u := c.Usage(); u.TotalTokens != 4 {
		t.Errorf("usage %+v", u)
	}
}

func TestRetry500ThenGiveUp(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(500)
		io.WriteString(w, `{"error":{"message":"boom","type":"server_error","code":500}}`)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, KindVLLM, nil)
	_, err := c.Chat(t.Context(), chatReq())
	ae, ok := errors.AsType[*APIError](err)
	if !ok || ae.Status != 500 || ae.Message != "boom" {
		t.Fatalf("err = %v, want *APIError 500", err)
	}
	if n.Load() != 4 {
		t.Errorf("%d attempts, want 1 + 3 retries", n.Load())
	}
	if strings.Contains(err.Error(), "PROMPT-TEXT-MARKER") {
		t.Errorf("error quotes the prompt: %v", err)
	}
}

func TestRetry500ThenSuccess(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		io.WriteString(w, okChat)
	}))
	defer srv.Close()
	if _, err := newClient(t, srv.URL, KindVLLM, nil).Chat(t.Context(), chatReq()); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 3 {
		t.Errorf("%d attempts", n.Load())
	}
}

func TestNoRetryOn400(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"message":"bad field","type":"invalid_request_error","code":400}}`)
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, KindVLLM, nil).Chat(t.Context(), chatReq())
	if ae, ok := errors.AsType[*APIError](err); !ok || ae.Status != 400 || n.Load() != 1 {
		t.Errorf("err = %v after %d attempts, want one 400", err, n.Load())
	}
}

func TestHangPastTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := newClient(t, srv.URL, KindVLLM, func(c *Config) { c.Timeout = 100 * time.Millisecond; c.MaxRetries = 1 })
	start := time.Now()
	_, err := c.Chat(t.Context(), chatReq())
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v to time out", el)
	}
}

func TestMalformedJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"choices": [ {"message": `)
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, KindVLLM, nil).Chat(t.Context(), chatReq())
	if err == nil || !strings.Contains(err.Error(), "decode") {
		t.Errorf("err = %v, want a decode error", err)
	}
}

func TestStreamCutMidEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"he\"},\"finish_reason\":null}]}\n\n")
		io.WriteString(w, "data: {\"id\":\"c\",\"choi")
		w.(http.Flusher).Flush()
		// Close the connection mid-event.
		hj, _ := w.(http.Hijacker)
		conn, _, err := hj.Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, KindVLLM, nil)
	var text string
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch, e := range c.ChatStream(t.Context(), chatReq()) {
			if e != nil {
				err = e
				return
			}
			for _, x := range ch.Choices {
				text += x.Delta.Content
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("stream hung")
	}
	if err == nil || text != "he" {
		t.Errorf("text %q err %v, want the first delta and an error", text, err)
	}
}

func TestStreamErrorEvent(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, ": keep-alive comment\r\n\r\ndata: {\"error\":{\"message\":\"engine died\",\"type\":\"server_error\",\"code\":500}}\n\n")
	}))
	defer srv.Close()
	var err error
	for _, e := range newClient(t, srv.URL, KindVLLM, nil).ChatStream(t.Context(), chatReq()) {
		if e != nil {
			err = e
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "engine died") {
		t.Errorf("err = %v, want the server's error event", err)
	}
}

func TestCapabilities(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request was sent for an unsupported capability: %s", r.URL.Path)
	}))
	defer srv.Close()
	tests := []struct {
		kind Kind
		call func(*Client) error
	}{
		{KindOpenAI, func(c *Client) error { _, err := c.NextTokenTopK(t.Context(), []int32{1, 2}, 5); return err }},
		{KindOpenAI, func(c *Client) error { _, err := c.ScoreSequence(t.Context(), []int32{1, 2}, 5); return err }},
		{KindLlamaCpp, func(c *Client) error { _, err := c.ScoreSequence(t.Context(), []int32{1, 2}, 5); return err }},
		{KindOllama, func(c *Client) error { _, err := c.ScoreSequence(t.Context(), []int32{1, 2}, 5); return err }},
		{KindVLLM, func(c *Client) error { _, err := c.NextTokenTopK(t.Context(), []int32{1, 2}, 21); return err }},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.kind, i), func(t *testing.T) {
			err := tt.call(newClient(t, srv.URL, tt.kind, nil))
			if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), string(tt.kind)) {
				t.Errorf("err = %v, want an unsupported error naming %s", err, tt.kind)
			}
		})
	}
}

func TestAPIKeyFromEnv(t *testing.T) {
	t.Setenv("COGEN_TEST_KEY", "sk-secret-value")
	var auth atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		w.WriteHeader(401)
		io.WriteString(w, `{"error":{"message":"bad key sk-secret-value","type":"auth","code":401}}`)
	}))
	defer srv.Close()
	_, err := newClient(t, srv.URL, KindVLLM, func(c *Config) { c.APIKeyEnv = "COGEN_TEST_KEY" }).Chat(t.Context(), chatReq())
	if auth.Load() != "Bearer sk-secret-value" {
		t.Errorf("Authorization %v", auth.Load())
	}
	if !errors.Is(err, ErrUnauthorized) || strings.Contains(err.Error(), "sk-secret-value") {
		t.Errorf("err = %v, want unauthorized without the key", err)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	var inflight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(20 * time.Millisecond) // server-side work, not a test wait
		inflight.Add(-1)
		io.WriteString(w, okChat)
	}))
	defer srv.Close()
	c := newClient(t, srv.URL, KindVLLM, func(c *Config) { c.Concurrency = 2 })
	errs := make(chan error, 8)
	for range 8 {
		go func() { _, err := c.Chat(t.Context(), chatReq()); errs <- err }()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if peak.Load() > 2 {
		t.Errorf("%d requests in flight, limit 2", peak.Load())
	}
}

func TestWireRoundTrip(t *testing.T) {
	one, k := 1, 5
	temp := 0.0
	reqs := []any{
		&CompletionRequest{Model: "m", Prompt: TokenPrompt([]int32{1, 2, 3}), Echo: true, Logprobs: &k, PromptLogprobs: &k, MaxTokens: &one, Temperature: &temp, Stop: Stop{"\n"}},
		&CompletionRequest{Model: "m", Prompt: TextPrompt("hello")},
		&ChatCompletionRequest{Model: "m", Messages: []ChatMessage{{Role: llm.RoleUser, Content: "x"}}, Logprobs: true, TopLogprobs: 3, ResponseFormat: &ResponseFormat{Type: ResponseFormatJSONSchema, JSONSchema: &JSONSchema{Name: "s", Schema: json.RawMessage(`{"type":"object"}`)}}},
		&CompletionResponse{ID: "x", Choices: []CompletionChoice{{Text: "t", PromptLogprobs: PromptLogprobs{nil, {7: {Logprob: -1, Rank: 1, DecodedToken: "a"}}}}}},
	}
	for i, r := range reqs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		back := newOf(r)
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if diff := cmp.Diff(r, back); diff != "" {
			t.Errorf("%d: round trip (-want +got):\n%s", i, diff)
		}
	}
}

func newOf(v any) any {
	switch v.(type) {
	case *CompletionRequest:
		return new(CompletionRequest)
	case *ChatCompletionRequest:
		return new(ChatCompletionRequest)
	case *CompletionResponse:
		return new(CompletionResponse)
	}
	return nil
}
