package openaiapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors callers branch on.
var (
	// ErrUnsupported is matched by every [*UnsupportedError].
	ErrUnsupported = errors.New("unsupported")
	// ErrRateLimited is matched by an [*APIError] with status 429.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnauthorized is matched by an [*APIError] with status 401 or 403.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrTimeout is matched when a request attempt ran past
	// [Config.Timeout] (and every retry did too).
	ErrTimeout = errors.New("request timed out")
	// ErrStreamTruncated is matched when a stream ended, or was cut, before
	// its [DONE] event.
	ErrStreamTruncated = errors.New("stream ended before [DONE]")
	// ErrContextExceeded is matched by an [*APIError] for a request longer
	// than the server's context.
	ErrContextExceeded = errors.New("request exceeds the server's context")
)

// APIError is an error answer from the server: a non-2xx status, with the
// fields of the OpenAI error envelope when the body had one.
//
// Message is the server's own message, cut to a bounded length. When it
// quotes the request (some servers echo the offending input) or holds the
// API key, it is replaced by a note saying so, so that request text and
// secrets never travel in errors.
type APIError struct {
	Status  int
	Type    string
	Code    string
	Message string
	// ContextExceeded is set when the server said the request does not
	// fit its context; PromptTokens and ContextSize are then the request's
	// size and the context's, in tokens, or 0 where the server did not say.
	ContextExceeded           bool
	PromptTokens, ContextSize int
}

// Error returns "status <n>[ <type>][ (<code>)]: <message>", or "server
// error ..." for an error event inside a stream, which has no status.
func (e *APIError) Error() string {
	var b strings.Builder
	if e.Status != 0 {
		fmt.Fprintf(&b, "status %d", e.Status)
	} else {
		b.WriteString("server error")
	}
	if e.Type != "" {
		b.WriteString(" " + e.Type)
	}
	if e.Code != "" && e.Code != fmt.Sprint(e.Status) {
		b.WriteString(" (" + e.Code + ")")
	}
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Status))
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	if e.ContextExceeded {
		b.WriteString(" (")
		if e.PromptTokens > 0 && e.ContextSize > 0 {
			fmt.Fprintf(&b, "the request needs %d tokens, the server's context holds %d: ", e.PromptTokens, e.ContextSize)
		}
		b.WriteString(contextHint + ")")
	}
	return b.String()
}

// contextHint says how to give a server a larger context.
const contextHint = "start the server with a larger context (llama-server -c/--ctx-size, vLLM --max-model-len, Ollama num_ctx or OLLAMA_CONTEXT_LENGTH), " +
	"within the model's training context, which llama-server never exceeds; or shorten the request (--max-tokens)"

// Unwrap returns [ErrRateLimited] for 429, [ErrUnauthorized] for 401 and
// 403, and nil otherwise.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusTooManyRequests:
		return ErrRateLimited
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	}
	if e.ContextExceeded {
		return ErrContextExceeded
	}
	return nil
}

// vLLM's messages for a request longer than --max-model-len
// (vllm/entrypoints/openai/serving_engine.py): "This model's maximum
// context length is 2048 tokens. However, you requested 2100 tokens (...)",
// and in later versions "... However, you requested 100 output tokens and
// your prompt contains at least 2001 input tokens, for a total of at least
// 2101 tokens."
var (
	vllmContext = regexp.MustCompile(`maximum context length is (\d+) tokens\. However, you requested (\d+) tokens`)
	vllmTotal   = regexp.MustCompile(`maximum context length is (\d+) tokens\. However, .* for a total of at least (\d+) tokens`)
)

// ollamaTooLong is Ollama's message for a prompt longer than num_ctx
// when truncation is off (runner/llamarunner/runner.go errorInputTooLong).
const ollamaTooLong = "the input length exceeds the context length"

// contextSizes fills in PromptTokens and ContextSize from a context-size
// error: llama.cpp's exceed_context_size_error carries both as fields;
// vLLM says them in its message.
func (e *APIError) contextSizes(d ErrorDetail) {
	if d.Type == "exceed_context_size_error" || d.NCtx > 0 {
		e.ContextExceeded, e.PromptTokens, e.ContextSize = true, d.NPromptTokens, d.NCtx
		return
	}
	if strings.Contains(d.Message, ollamaTooLong) {
		e.ContextExceeded = true
		return
	}
	m := vllmContext.FindStringSubmatch(d.Message)
	if m == nil {
		m = vllmTotal.FindStringSubmatch(d.Message)
	}
	if m != nil {
		e.ContextExceeded = true
		e.ContextSize, _ = strconv.Atoi(m[1])
		e.PromptTokens, _ = strconv.Atoi(m[2])
	}
}

// maxMessage bounds the length of a server message kept in an [APIError].
const maxMessage = 512

// Placeholders for withheld server messages.
const (
	msgQuotesRequest = "[server message withheld: it quotes the request]"
	msgHoldsKey      = "[server message withheld: it holds the api key]"
)

// parseAPIError builds the error for a non-2xx answer. reqBody is the
// request that was sent and key the API key; neither may appear in the
// result.
func parseAPIError(status int, body, reqBody []byte, key string) *APIError {
	e := &APIError{Status: status}
	var env struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Type    string          `json:"type"`
		Code    ErrorCode       `json:"code"`
	}
	if err := json.Unmarshal(body, &env); err == nil {
		var d ErrorDetail
		switch {
		case len(env.Error) > 0 && env.Error[0] == '{' && json.Unmarshal(env.Error, &d) == nil:
			// OpenAI, vLLM, llama.cpp: {"error": {...}}.
			e.Type, e.Code, e.Message = d.Type, string(d.Code), d.Message
			e.contextSizes(d)
		case len(env.Error) > 0 && env.Error[0] == '"':
			// Ollama: {"error": "..."}.
			_ = json.Unmarshal(env.Error, &e.Message) // a string literal always decodes
		default:
			// Old vLLM: {"object": "error", "message": ...}.
			e.Type, e.Code, e.Message = env.Type, string(env.Code), env.Message
		}
		if !e.ContextExceeded {
			e.contextSizes(ErrorDetail{Type: e.Type, Message: e.Message})
		}
	}
	e.Message = scrubMessage(e.Message, reqBody, key)
	e.Type = scrubMessage(e.Type, reqBody, key)
	e.Code = scrubMessage(e.Code, reqBody, key)
	return e
}

// quoteWindow is the length of the request snippets looked for in a server
// message; shorter request strings are looked for whole.
const quoteWindow = 16

// minQuoted is the shortest request string that counts as quoted.
const minQuoted = 6

// scrubMessage returns msg, or a placeholder when msg holds the API key or
// quotes any text of the request body.
func scrubMessage(msg string, reqBody []byte, key string) string {
	if msg == "" {
		return ""
	}
	if key != "" && strings.Contains(msg, key) {
		return msgHoldsKey
	}
	if quotesRequest(msg, reqBody) {
		return msgQuotesRequest
	}
	if len(msg) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	return msg
}

// textKeys are the request fields whose string values are request text.
var textKeys = map[string]bool{
	"content": true, "prompt": true, "text": true, "input": true,
	"instructions": true, "suffix": true, "stop": true,
}

// quotesRequest reports whether msg contains a snippet of the request text
// (the string values of textKeys fields) in the JSON request body.
func quotesRequest(msg string, reqBody []byte) bool {
	var v any
	if len(reqBody) == 0 || json.Unmarshal(reqBody, &v) != nil {
		return false
	}
	return quotes(msg, v, "")
}

func quotes(msg string, v any, key string) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if quotes(msg, e, k) {
				return true
			}
		}
	case []any:
		for _, e := range v {
			if quotes(msg, e, key) {
				return true
			}
		}
	case string:
		return textKeys[key] && quotesString(msg, v)
	}
	return false
}

// quotesString reports whether msg contains s, or for a long s any window
// of quoteWindow bytes of it.
func quotesString(msg, s string) bool {
	if len(s) < minQuoted {
		return false
	}
	if len(s) <= quoteWindow {
		return strings.Contains(msg, s)
	}
	for i := 0; i+quoteWindow <= len(s); i += quoteWindow / 2 {
		if strings.Contains(msg, s[i:i+quoteWindow]) {
			return true
		}
	}
	return strings.Contains(msg, s[len(s)-quoteWindow:])
}
