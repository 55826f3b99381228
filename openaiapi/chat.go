package openaiapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"

	"github.com/cogenesis/cogenesis/llm"
)

var (
	epChat        = endpoint{op: "chat completion", method: http.MethodPost, path: "/chat/completions"}
	epOllamaChat  = endpoint{op: "chat completion", method: http.MethodPost, path: "/api/chat", native: true}
	epChatStream  = endpoint{op: "chat completion stream", method: http.MethodPost, path: "/chat/completions"}
	epComplete    = endpoint{op: "completion", method: http.MethodPost, path: "/completions"}
	epCompleteSSE = endpoint{op: "completion stream", method: http.MethodPost, path: "/completions"}
	epModels      = endpoint{op: "list models", method: http.MethodGet, path: "/models"}
)

// Chat sends a non-streaming chat completion. An empty req.Model is
// replaced by the configured model; req.Stream is ignored.
func (c *Client) Chat(ctx context.Context, req ChatCompletionRequest) (*ChatCompletionResponse, error) {
	if err := c.checkChat(&req); err != nil {
		return nil, fmt.Errorf("%s: %w", epChat.op, err)
	}
	req.Stream, req.StreamOptions = false, nil
	if c.kind == KindOllama && ollamaNative(req) {
		return c.ollamaChat(ctx, req)
	}
	var resp ChatCompletionResponse
	if err := c.doJSON(ctx, epChat, req, &resp); err != nil {
		return nil, err
	}
	c.countUsage(resp.Usage)
	return &resp, nil
}

// ollamaNative reports whether an Ollama chat request can go to the
// native /api/chat, which can refuse a conversation longer than the
// context (truncate false) where the OpenAI-compatible route drops parts
// of it silently: plain messages and sampling options, nothing that only
// the OpenAI route translates (log-probabilities, response formats,
// grammars).
func ollamaNative(req ChatCompletionRequest) bool {
	return !req.Logprobs && req.TopLogprobs == 0 && req.ResponseFormat == nil &&
		req.GuidedGrammar == "" && req.GuidedRegex == "" && req.Grammar == "" && req.LogitBias == nil
}

// ollamaChat sends req to Ollama's /api/chat with truncation off and
// returns the answer as an OpenAI chat completion.
func (c *Client) ollamaChat(ctx context.Context, req ChatCompletionRequest) (*ChatCompletionResponse, error) {
	no := false
	in := OllamaChatRequest{Model: req.Model, Stream: &no, Truncate: &no, Options: map[string]any{}}
	for _, m := range req.Messages {
		in.Messages = append(in.Messages, OllamaMessage{Role: string(m.Role), Content: m.Content})
	}
	switch {
	case req.MaxCompletionTokens != nil:
		in.Options["num_predict"] = *req.MaxCompletionTokens
	case req.MaxTokens != nil:
		in.Options["num_predict"] = *req.MaxTokens
	}
	if req.Temperature != nil {
		in.Options["temperature"] = *req.Temperature
	}
	if req.TopP != nil {
		in.Options["top_p"] = *req.TopP
	}
	if req.Seed != nil {
		in.Options["seed"] = *req.Seed
	}
	if len(req.Stop) > 0 {
		in.Options["stop"] = []string(req.Stop)
	}
	var out OllamaChatResponse
	if err := c.doJSON(ctx, epOllamaChat, in, &out); err != nil {
		return nil, err
	}
	usage := &llm.Usage{PromptTokens: out.PromptEvalCount, CompletionTokens: out.EvalCount, TotalTokens: out.PromptEvalCount + out.EvalCount}
	c.countUsage(usage)
	fin := FinishStop
	if out.DoneReason == "length" {
		fin = FinishLength
	}
	return &ChatCompletionResponse{
		Object: "chat.completion", Model: out.Model,
		Choices: []ChatChoice{{Message: ChatMessage{Role: llm.Role(out.Message.Role), Content: out.Message.Content}, FinishReason: fin}},
		Usage:   usage,
	}, nil
}

func (c *Client) checkChat(req *ChatCompletionRequest) error {
	if req.Model == "" {
		req.Model = c.model
	}
	if c.kind == KindLlamaCpp && req.LogitBias == nil {
		req.LogitBias = c.withheld.biasMap()
	}
	if req.Logprobs || req.TopLogprobs > 0 {
		if err := c.checkTopK(req.TopLogprobs); err != nil {
			return err
		}
	}
	return nil
}

// ChatStream sends a streaming chat completion and yields its chunks. The
// request is retried only until the stream's first byte; after that an
// error ends the sequence. A stream that ends without [DONE] yields an error
// matching [ErrStreamTruncated]. Unless req.StreamOptions says otherwise,
// usage is requested and the last chunk carries it.
//
// Breaking out of the loop closes the stream.
func (c *Client) ChatStream(ctx context.Context, req ChatCompletionRequest) iter.Seq2[ChatCompletionChunk, error] {
	return func(yield func(ChatCompletionChunk, error) bool) {
		if err := c.checkChat(&req); err != nil {
			yield(ChatCompletionChunk{}, fmt.Errorf("%s: %w", epChatStream.op, err))
			return
		}
		req.Stream = true
		if req.StreamOptions == nil {
			req.StreamOptions = &StreamOptions{IncludeUsage: true}
		}
		for chunk, err := range streamJSON[ChatCompletionChunk](ctx, c, epChatStream, req) {
			if err == nil {
				c.countUsage(chunk.Usage)
			}
			if !yield(chunk, err) || err != nil {
				return
			}
		}
	}
}

// Complete sends a non-streaming completion (POST /v1/completions). An
// empty req.Model is replaced by the configured model.
//
// Fields that the client's kind cannot serve fail with an
// [*UnsupportedError]: prompt_logprobs (vLLM only), echo with logprobs
// (vLLM, SGLang) and token-id prompts (not Ollama, not OpenAI).
func (c *Client) Complete(ctx context.Context, req CompletionRequest) (*CompletionResponse, error) {
	if err := c.checkComplete(&req); err != nil {
		return nil, fmt.Errorf("%s: %w", epComplete.op, err)
	}
	req.Stream, req.StreamOptions = false, nil
	var resp CompletionResponse
	if err := c.doJSON(ctx, epComplete, req, &resp); err != nil {
		return nil, err
	}
	c.countUsage(resp.Usage)
	return &resp, nil
}

// CompleteStream sends a streaming completion and yields its events, under
// the rules of [Client.ChatStream].
func (c *Client) CompleteStream(ctx context.Context, req CompletionRequest) iter.Seq2[CompletionResponse, error] {
	return func(yield func(CompletionResponse, error) bool) {
		if err := c.checkComplete(&req); err != nil {
			yield(CompletionResponse{}, fmt.Errorf("%s: %w", epCompleteSSE.op, err))
			return
		}
		req.Stream = true
		if req.StreamOptions == nil {
			req.StreamOptions = &StreamOptions{IncludeUsage: true}
		}
		for chunk, err := range streamJSON[CompletionResponse](ctx, c, epCompleteSSE, req) {
			if err == nil {
				c.countUsage(chunk.Usage)
			}
			if !yield(chunk, err) || err != nil {
				return
			}
		}
	}
}

func (c *Client) checkComplete(req *CompletionRequest) error {
	if req.Model == "" {
		req.Model = c.model
	}
	if req.Prompt.Tokens != nil || req.Prompt.TokenBatch != nil {
		if err := c.kind.Require(CapTokenIDPrompt); err != nil {
			return err
		}
	}
	if req.PromptLogprobs != nil {
		if err := c.kind.Require(CapPromptLogprobs); err != nil {
			return err
		}
		if err := c.checkTopK(*req.PromptLogprobs); err != nil {
			return err
		}
	}
	if req.Logprobs != nil {
		if req.Echo {
			if err := c.kind.Require(CapSequenceTopK); err != nil {
				return err
			}
		}
		if err := c.checkTopK(*req.Logprobs); err != nil {
			return err
		}
	}
	if req.NProbs > 0 {
		if err := c.checkTopK(req.NProbs); err != nil {
			return err
		}
	}
	return nil
}

// Models lists the models the server offers (GET /v1/models).
func (c *Client) Models(ctx context.Context) (*ModelList, error) {
	var list ModelList
	if err := c.doJSON(ctx, epModels, nil, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// streamJSON sends a streaming request and decodes each data event as a T.
func streamJSON[T any](ctx context.Context, c *Client, e endpoint, in any) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		body, err := json.Marshal(in)
		if err != nil {
			yield(zero, fmt.Errorf("%s: encode request: %w", e.op, err))
			return
		}
		k, err := c.send(ctx, e, body, true)
		if err != nil {
			yield(zero, err)
			return
		}
		defer k.release()
		dec := newSSEDecoder(k.resp.Body)
		for {
			k.touch() // the idle timeout runs only while waiting for the server
			ev, err := dec.Next()
			if err != nil {
				switch {
				case k.timedOut():
					err = fmt.Errorf("%s: no event for %s: %w", e.op, c.timeout, ErrTimeout)
				case ctx.Err() != nil:
					err = fmt.Errorf("%s: %w", e.op, ctx.Err())
				case errors.Is(err, io.EOF):
					err = fmt.Errorf("%s: %w", e.op, ErrStreamTruncated)
				default:
					err = fmt.Errorf("%s: %w: %w", e.op, ErrStreamTruncated, c.scrubErr(err))
				}
				yield(zero, err)
				return
			}
			k.pause()
			if ev.Data == "[DONE]" {
				return
			}
			if apiErr := streamError(ev, body, c.apiKey); apiErr != nil {
				yield(zero, fmt.Errorf("%s: %w", e.op, apiErr))
				return
			}
			var v T
			if err := json.Unmarshal([]byte(ev.Data), &v); err != nil {
				yield(zero, fmt.Errorf("decode %s event: %w", e.op, err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
	}
}

// streamError returns the error an event carries: an "error" event, or a
// data object with an "error" member (vLLM, OpenAI) or with "object":
// "error" (older vLLM). It returns nil for an ordinary event.
func streamError(ev sseEvent, reqBody []byte, key string) *APIError {
	data := []byte(ev.Data)
	if ev.Event != "error" {
		if !bytes.Contains(data, []byte(`"error"`)) {
			return nil
		}
		var probe struct {
			Error  json.RawMessage `json:"error"`
			Object string          `json:"object"`
		}
		if json.Unmarshal(data, &probe) != nil || (len(probe.Error) == 0 && probe.Object != "error") ||
			bytes.Equal(probe.Error, []byte("null")) {
			return nil
		}
	}
	e := parseAPIError(0, data, reqBody, key)
	if e.Message == "" && e.Type == "" && ev.Event == "error" {
		e.Message = scrubMessage(ev.Data, reqBody, key)
	}
	if n, ok := codeStatus(e.Code); ok {
		e.Status = n
	}
	return e
}

// codeStatus returns the HTTP status a numeric error code stands for.
func codeStatus(code string) (int, bool) {
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 599 {
		return 0, false
	}
	return n, true
}
