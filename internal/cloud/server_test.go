//go:build cgo

package cloud_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

type fixture struct {
	model *llamacpp.Model
	srv   *httptest.Server
}

func start(t *testing.T, parallel int) *fixture {
	t.Helper()
	m, err := llamacpp.Open(enginetest.SharedModel(t), llamacpp.Options{ContextSize: 512, Threads: 2, Parallel: parallel, Precise: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s := &cloud.Server{Model: m, Name: "tiny", MaxRequestBytes: 64 << 10}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &fixture{model: m, srv: srv}
}

func (f *fixture) client(t *testing.T, kind openaiapi.Kind) *openaiapi.Client {
	t.Helper()
	// Through the egress, as every client of a cloud is built.
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Guard: privacy.NewGuard(nil)},
		openaiapi.Config{BaseURL: f.srv.URL + "/v1", Kind: kind, Model: "tiny", MaxRetries: -1, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) tokens(t *testing.T, text string) []int32 {
	t.Helper()
	toks, err := f.model.Tokenize(text, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

const text = "Echoes of vectors unfold, a gentle hum of precision, as I sense the nodes"

func TestNextTokenTopKEqualsEngine(t *testing.T) {
	f := start(t, 2)
	c := f.client(t, openaiapi.KindVLLM)
	toks := f.tokens(t, text)
	for _, n := range []int{1, 5, len(toks)} {
		got, err := c.NextTokenTopK(t.Context(), toks[:n], 20)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := f.model.NewSequence(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := seq.Append(t.Context(), toks[:n]); err != nil {
			t.Fatal(err)
		}
		want := seq.NextTopK(20)
		seq.Close()
		if len(got) != len(want) {
			t.Fatalf("prefix %d: %d entries, want %d", n, len(got), len(want))
		}
		for i := range want {
			if got[i].Token != want[i].Token || math.Abs(got[i].Logprob-want[i].Logprob) > 1e-5 {
				t.Errorf("prefix %d rank %d: got %d %.7f, engine %d %.7f", n, i, got[i].Token, got[i].Logprob, want[i].Token, want[i].Logprob)
			}
		}
	}
}

func TestScoreSequenceEqualsStepping(t *testing.T) {
	f := start(t, 2)
	toks := f.tokens(t, text)
	// Reference: step token by token in the engine.
	seq, err := f.model.NewSequence(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]llm.TokenLogprob, 0, len(toks)-1)
	for i, tok := range toks {
		if i > 0 {
			l := seq.Logits()
			z := sample.LogSumExp(l)
			want = append(want, llm.TokenLogprob{Token: tok, Logprob: float64(l[tok]) - z})
		}
		if err := seq.Append(t.Context(), []int32{tok}); err != nil {
			t.Fatal(err)
		}
	}
	nextWant := seq.NextTopK(5)
	seq.Close()

	for _, kind := range []openaiapi.Kind{openaiapi.KindVLLM, openaiapi.KindSGLang} {
		t.Run(string(kind), func(t *testing.T) {
			c := f.client(t, kind)
			got, next, err := c.ScoreWithNext(t.Context(), toks, 5)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d scores, want %d", len(got), len(want))
			}
			var maxDiff float64
			for i := range want {
				if got[i].Token != want[i].Token {
					t.Fatalf("position %d: token %d, want %d", i+1, got[i].Token, want[i].Token)
				}
				maxDiff = max(maxDiff, math.Abs(got[i].Logprob-want[i].Logprob))
				if len(got[i].Top) != 5 {
					t.Errorf("position %d: %d alternatives, want 5", i+1, len(got[i].Top))
				}
			}
			if maxDiff > 1e-4 {
				t.Errorf("max |server - stepping| = %g", maxDiff)
			}
			if len(next) != len(nextWant) || math.Abs(next[0].Logprob-nextWant[0].Logprob) > 1e-4 {
				t.Errorf("next-token top-5 %v, want %v", next, nextWant)
			}
			if kind == openaiapi.KindVLLM && next[0].Token != nextWant[0].Token {
				t.Errorf("next best token %d, want %d", next[0].Token, nextWant[0].Token)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestChat(t *testing.T) {
	f := start(t, 2)
	c := f.client(t, openaiapi.KindVLLM)
	req := openaiapi.ChatCompletionRequest{
		Messages:    []openaiapi.ChatMessage{{Role: llm.RoleUser, Content: "Tell me about the nodes"}},
		MaxTokens:   ptr(20),
		Temperature: ptr(0.8),
		Seed:        ptr(int64(3)),
		Logprobs:    true,
		TopLogprobs: 3,
	}
	resp, err := c.Chat(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 1 || resp.Choices[0].Message.Content == "" {
		t.Fatalf("empty answer: %+v", resp)
	}
	ch := resp.Choices[0]
	if ch.Logprobs == nil || len(ch.Logprobs.Content) != resp.Usage.CompletionTokens || len(ch.Logprobs.Content[0].TopLogprobs) != 3 {
		t.Errorf("logprobs do not cover the %d tokens with 3 alternatives: %+v", resp.Usage.CompletionTokens, ch.Logprobs)
	}
	// Streaming with the same seed yields the same text.
	req.StreamOptions = &openaiapi.StreamOptions{IncludeUsage: true}
	var b strings.Builder
	var usage *llm.Usage
	var finish openaiapi.FinishReason
	for chunk, err := range c.ChatStream(t.Context(), req) {
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chunk.Choices {
			b.WriteString(ch.Delta.Content)
			if ch.FinishReason != "" {
				finish = ch.FinishReason
			}
		}
		if chunk.Usage != nil {
			usage = chunk.Usage
		}
	}
	if b.String() != ch.Message.Content {
		t.Errorf("stream text differs from non-stream (-want +got):\n%s", cmp.Diff(ch.Message.Content, b.String()))
	}
	if usage == nil || *usage != *resp.Usage || finish != ch.FinishReason {
		t.Errorf("stream usage %+v finish %q, want %+v %q", usage, finish, resp.Usage, ch.FinishReason)
	}
}

func TestChatJSONSchema(t *testing.T) {
	f := start(t, 1)
	c := f.client(t, openaiapi.KindVLLM)
	schema := json.RawMessage(`{"type":"object","properties":{"rating":{"type":"integer"}},"required":["rating"]}`)
	for seed := range int64(3) {
		resp, err := c.Chat(t.Context(), openaiapi.ChatCompletionRequest{
			Messages:       []openaiapi.ChatMessage{{Role: llm.RoleUser, Content: "Rate it"}},
			MaxTokens:      ptr(60),
			Seed:           ptr(seed),
			ResponseFormat: &openaiapi.ResponseFormat{Type: openaiapi.ResponseFormatJSONSchema, JSONSchema: &openaiapi.JSONSchema{Name: "r", Schema: schema}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Rating *int }
		if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &v); err != nil || v.Rating == nil {
			t.Errorf("seed %d: %q does not match the schema (%v)", seed, resp.Choices[0].Message.Content, err)
		}
	}
}

func TestCompletionsEcho(t *testing.T) {
	f := start(t, 1)
	c := f.client(t, openaiapi.KindVLLM)
	resp, err := c.Complete(t.Context(), openaiapi.CompletionRequest{
		Prompt: openaiapi.TextPrompt("The gentle hum"), Echo: true, Logprobs: ptr(2),
		MaxTokens: ptr(5), Temperature: ptr(0.0),
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	n := resp.Usage.PromptTokens + resp.Usage.CompletionTokens
	lp := ch.Logprobs
	if lp == nil || len(lp.Tokens) != n || len(lp.TokenLogprobs) != n || lp.TokenLogprobs[0] != nil || lp.TopLogprobs[0] != nil {
		t.Fatalf("echo logprobs do not cover %d tokens with a null first entry: %+v", n, lp)
	}
	if !strings.HasPrefix(ch.Text, "The gentle hum") && !strings.HasPrefix(ch.Text, " The gentle hum") {
		t.Errorf("echoed text %q does not start with the prompt", ch.Text)
	}
	for i := 1; i < len(lp.TextOffset); i++ {
		if lp.TextOffset[i] < lp.TextOffset[i-1] {
			t.Errorf("text offsets decrease at %d: %v", i, lp.TextOffset)
		}
	}
	// Streaming completions give the same text.
	var b strings.Builder
	for ev, err := range c.CompleteStream(t.Context(), openaiapi.CompletionRequest{
		Prompt: openaiapi.TextPrompt("The gentle hum"), MaxTokens: ptr(5), Temperature: ptr(0.0),
	}) {
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range ev.Choices {
			b.WriteString(ch.Text)
		}
	}
	gen := ch.Text[len("The gentle hum"):]
	if b.String() != gen {
		t.Errorf("stream %q, want %q", b.String(), gen)
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	f := start(t, 1)
	c := f.client(t, openaiapi.KindVLLM)
	toks, err := c.Tokenize(t.Context(), text, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(f.tokens(t, text), toks); diff != "" {
		t.Errorf("tokenize differs from the engine (-want +got):\n%s", diff)
	}
	back, err := c.Detokenize(t.Context(), toks)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(back, text) {
		t.Errorf("detokenize %q does not contain %q", back, text)
	}
	ml, err := c.Models(t.Context())
	if err != nil || len(ml.Data) != 1 || ml.Data[0].ID != "tiny" {
		t.Errorf("models = %+v, %v", ml, err)
	}
}

func TestErrors(t *testing.T) {
	f := start(t, 1)
	post := func(path, body string) (int, openaiapi.ErrorResponse) {
		resp, err := http.Post(f.srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e openaiapi.ErrorResponse
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
			t.Errorf("%s: body %q is not an OpenAI error", path, b)
		}
		return resp.StatusCode, e
	}
	tests := []struct {
		name, path, body string
		status           int
	}{
		{"malformed json", "/v1/chat/completions", `{"messages": [`, 400},
		{"wrong type", "/v1/chat/completions", `{"messages": "hi"}`, 400},
		{"no messages", "/v1/chat/completions", `{"messages": []}`, 400},
		{"unknown model", "/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}`, 404},
		{"top_logprobs too many", "/v1/chat/completions", `{"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21}`, 400},
		{"bad role", "/v1/chat/completions", `{"messages":[{"role":"wizard","content":"x"}]}`, 400},
		{"temperature", "/v1/completions", `{"prompt":"x","temperature":5}`, 400},
		{"token out of range", "/v1/completions", `{"prompt":[1, 99999]}`, 400},
		{"max_tokens past context", "/v1/completions", `{"prompt":"x","max_tokens":100000}`, 400},
		{"batched prompt", "/v1/completions", `{"prompt":["a","b"]}`, 400},
		{"oversized", "/v1/completions", `{"prompt":"` + strings.Repeat("a", 70<<10) + `"}`, 413},
		{"unknown route", "/v1/embeddings", `{}`, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, e := post(tt.path, tt.body)
			if status != tt.status {
				t.Errorf("status %d (%s), want %d", status, e.Error.Message, tt.status)
			}
		})
	}
	// An error message never quotes the prompt.
	secret := "ZEBRA-SECRET-PROMPT"
	_, e := post("/v1/completions", fmt.Sprintf(`{"prompt":"%s","max_tokens":100000}`, secret))
	if strings.Contains(e.Error.Message, secret) {
		t.Errorf("error quotes the prompt: %q", e.Error.Message)
	}
}

func TestConcurrentStreams(t *testing.T) {
	f := start(t, 4)
	c := f.client(t, openaiapi.KindVLLM)
	const clients = 8
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			n := 0
			for _, err := range c.ChatStream(t.Context(), openaiapi.ChatCompletionRequest{
				Messages:  []openaiapi.ChatMessage{{Role: llm.RoleUser, Content: fmt.Sprintf("client %d", i)}},
				MaxTokens: ptr(16), Seed: ptr(int64(i)),
			}) {
				if err != nil {
					errs <- err
					return
				}
				n++
			}
			if n < 2 {
				errs <- fmt.Errorf("client %d: %d events", i, n)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestLatency(t *testing.T) {
	m, err := llamacpp.Open(enginetest.SharedModel(t), llamacpp.Options{ContextSize: 256, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	srv := httptest.NewServer((&cloud.Server{Model: m, Name: "tiny", Latency: 150 * time.Millisecond}).Handler())
	defer srv.Close()
	start := time.Now()
	resp, err := http.Post(srv.URL+"/v1/completions", "application/json", bytes.NewReader([]byte(`{"prompt":"x","max_tokens":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("response after %v, want at least the 150ms latency", el)
	}
	_ = context.Background
}

// TestUsageCountsTheEndToken ends a generation at the end-of-generation
// token (a grammar that admits only "a" forces it) and checks that the
// usage counts it, as the logprobs list it (as vLLM's and OpenAI's servers
// do): before, completion_tokens left it out while logprobs held it, and an
// official client's check failed whenever sampling drew it.
func TestUsageCountsTheEndToken(t *testing.T) {
	f := start(t, 1)
	c := f.client(t, openaiapi.KindVLLM)
	resp, err := c.Complete(t.Context(), openaiapi.CompletionRequest{
		Prompt: openaiapi.TokenPrompt([]int32{1, 100, 200}), Echo: true, Logprobs: ptr(2),
		MaxTokens: ptr(4), GuidedGrammar: `root ::= "a"`,
	})
	if err != nil {
		t.Fatal(err)
	}
	ch := resp.Choices[0]
	if ch.FinishReason != "stop" {
		t.Fatalf("finish reason %q, want stop at the end token", ch.FinishReason)
	}
	if n := resp.Usage.PromptTokens + resp.Usage.CompletionTokens; ch.Logprobs == nil || len(ch.Logprobs.Tokens) != n {
		t.Errorf("usage %+v: %d tokens, logprobs list %v", resp.Usage, n, ch.Logprobs)
	}
}

// TestMaxModelLen serves a context shorter than the engine's: GET
// /v1/models and POST /tokenize report it, a request that fits it is
// served, and one that does not gets vLLM's 400 and message, which the
// client reads as a context error with the size. The zero value serves
// the engine's context.
func TestMaxModelLen(t *testing.T) {
	m, err := llamacpp.Open(enginetest.SharedModel(t), llamacpp.Options{ContextSize: 512, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, tt := range []struct {
		name        string
		maxModelLen int
		want        int
	}{
		{"zero: the engine's context", 0, 512},
		{"past the engine's context: the engine's", 4096, 512},
		{"set", 100, 100},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer((&cloud.Server{Model: m, Name: "tiny", MaxModelLen: tt.maxModelLen}).Handler())
			t.Cleanup(srv.Close)
			c, err := openaiapi.New(openaiapi.Config{BaseURL: srv.URL + "/v1", Kind: openaiapi.KindVLLM, Model: "tiny", MaxRetries: -1, Timeout: time.Minute, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			ml, err := c.Models(t.Context())
			if err != nil || len(ml.Data) != 1 || ml.Data[0].MaxModelLen != tt.want {
				t.Errorf("models = %+v, %v; want max_model_len %d", ml, err, tt.want)
			}
			resp, err := http.Post(srv.URL+"/tokenize", "application/json", strings.NewReader(`{"prompt":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			var tok openaiapi.TokenizeResponse
			err = json.NewDecoder(resp.Body).Decode(&tok)
			resp.Body.Close()
			if err != nil || tok.MaxModelLen != tt.want {
				t.Errorf("tokenize: max_model_len %d (%v), want %d", tok.MaxModelLen, err, tt.want)
			}
			prompt := make([]int32, tt.want-4)
			for i := range prompt {
				prompt[i] = int32(3 + i%500)
			}
			for _, n := range []int{4, 5} {
				_, err := c.Complete(t.Context(), openaiapi.CompletionRequest{Prompt: openaiapi.TokenPrompt(prompt), MaxTokens: ptr(n), Temperature: ptr(0.0)})
				if n == 4 {
					if err != nil {
						t.Errorf("%d + %d tokens in a context of %d: %v", len(prompt), n, tt.want, err)
					}
					continue
				}
				want := fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, 5 in the completion). Please reduce the length of the messages or completion.", tt.want, tt.want+1, len(prompt))
				ae, ok := errors.AsType[*openaiapi.APIError](err)
				if !ok || ae.Status != http.StatusBadRequest || ae.Message != want {
					t.Fatalf("%d + %d tokens in a context of %d: %v, want 400 %q", len(prompt), n, tt.want, err, want)
				}
				if !errors.Is(err, openaiapi.ErrContextExceeded) || ae.ContextSize != tt.want {
					t.Errorf("the client reads %+v: want a context error of %d tokens", ae, tt.want)
				}
			}
		})
	}
}

func TestServedContext(t *testing.T) {
	tests := []struct {
		name                       string
		engine, trained, requested int
		want                       int
		wantBeyond                 bool
	}{
		{"the training context within the engine's", 4096, 128, 0, 128, false},
		{"the engine's within the training context", 4096, 32768, 0, 4096, false},
		{"the model does not say", 4096, 0, 0, 4096, false},
		{"asked for more than trained", 4096, 128, 512, 512, true},
		{"asked for less", 4096, 128, 64, 64, false},
		{"asked past the engine", 512, 128, 1024, 512, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, beyond := cloud.ServedContext(tt.engine, tt.trained, tt.requested)
			if n != tt.want || beyond != tt.wantBeyond {
				t.Errorf("ServedContext(%d, %d, %d) = %d, %v; want %d, %v", tt.engine, tt.trained, tt.requested, n, beyond, tt.want, tt.wantBeyond)
			}
		})
	}
}
