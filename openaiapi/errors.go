package openaiapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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
	return b.String()
}

// Unwrap returns [ErrRateLimited] for 429, [ErrUnauthorized] for 401 and
// 403, and nil otherwise.
func (e *APIError) Unwrap() error {
	switch e.Status {
	case http.StatusTooManyRequests:
		return ErrRateLimited
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrUnauthorized
	}
	return nil
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
		case len(env.Error) > 0 && env.Error[0] == '"':
			// Ollama: {"error": "..."}.
			_ = json.Unmarshal(env.Error, &e.Message) // a string literal always decodes
		default:
			// Old vLLM: {"object": "error", "message": ...}.
			e.Type, e.Code, e.Message = env.Type, string(env.Code), env.Message
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
