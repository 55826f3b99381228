package openaiapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/llm"
)

// pipeListener is an in-process network for tests inside a synctest
// bubble: a real net.Listener on loopback would not let fake time advance
// while a goroutine waits on a socket, but net.Pipe connections do.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe.test" }

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// pipeServer starts an httptest server for h on an in-process pipe network
// and returns a config whose client reaches it. Use it inside
// synctest.Test.
func pipeServer(t *testing.T, h http.Handler) Config {
	t.Helper()
	l := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close() // replaced by the pipe network
	srv.Listener = l
	srv.Start()
	tr := &http.Transport{DialContext: l.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
	})
	return Config{
		BaseURL:    srv.URL + "/v1",
		Kind:       KindVLLM,
		Model:      "m",
		HTTPClient: &http.Client{Transport: tr},
		MinBackoff: 100 * time.Millisecond,
		MaxBackoff: time.Second,
		MaxRetries: 3,
		Timeout:    30 * time.Second,
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// loopServer starts an ordinary loopback httptest server and returns a
// config for it.
func loopServer(t *testing.T, kind Kind, h http.Handler) Config {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return Config{
		BaseURL: srv.URL + "/v1", Kind: kind, Model: "m", HTTPClient: &http.Client{},
		MaxRetries: -1, Timeout: 30 * time.Second, APIKeyEnv: "COGEN_TEST_UNSET_KEY",
		Logger: slog.New(slog.DiscardHandler),
	}
}

func mustNew(t *testing.T, cfg Config) *Client {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// promptMarker is request text that must never appear in errors or logs.
const promptMarker = "PRIVATE-LOOKING PROMPT TEXT 0xC0FFEE"

func chatReq() ChatCompletionRequest {
	return ChatCompletionRequest{Messages: []ChatMessage{{Role: llm.RoleUser, Content: promptMarker}}}
}

func okChatResponse(content string) ChatCompletionResponse {
	return ChatCompletionResponse{
		ID: "chatcmpl-1", Object: ObjectChatCompletion, Created: 1, Model: "m",
		Choices: []ChatChoice{{Message: ChatMessage{Role: llm.RoleAssistant, Content: content}, FinishReason: FinishStop}},
		Usage:   &llm.Usage{PromptTokens: 3, CompletionTokens: 1, TotalTokens: 4},
	}
}

func writeJSON(t *testing.T, w http.ResponseWriter, status int, v any) {
	t.Helper()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Errorf("write response: %v", err)
	}
}

func readBody(t *testing.T, r *http.Request) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read request body: %v", err)
	}
	return b
}

// decodeStrict decodes b into v, rejecting unknown fields.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func ptr[T any](v T) *T { return &v }
