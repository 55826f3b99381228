// Package httpapi is the server half of the OpenAI wire protocol that
// cogen cloud and cogen serve share: errors in OpenAI's shape, JSON and
// server-sent event responses, request ids, and the status a request
// log reports.
package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/cogenesis/cogenesis/openaiapi"
)

// Error is an error with an HTTP status and an OpenAI error type. Its
// message goes to the client: it never quotes request text.
type Error struct {
	Status  int
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// BadRequest is a 400 invalid_request_error.
func BadRequest(format string, a ...any) error {
	return &Error{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: fmt.Sprintf(format, a...)}
}

// NotFound is a 404 not_found_error.
func NotFound(format string, a ...any) error {
	return &Error{Status: http.StatusNotFound, Type: "not_found_error", Message: fmt.Sprintf(format, a...)}
}

// Decode reads a JSON request body into v. Its errors are 400s that name
// what is wrong (the byte offset, the field) without quoting the body. The
// body must be declared application/json: a web page can send a request
// of another type (none, text/plain, a form) to a loopback server without
// the browser asking the server first, and such a request must do nothing.
func Decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); !IsJSON(ct) {
		return &Error{Status: http.StatusUnsupportedMediaType, Type: "invalid_request_error", Message: fmt.Sprintf("content type %q: want application/json", ct)}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return BadRequest("malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			return BadRequest("field %q: want %s", te.Field, te.Type)
		}
		return BadRequest("invalid request body")
	}
	return nil
}

// IsJSON reports whether a Content-Type header declares JSON
// (application/json, with any parameters).
func IsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

// ErrorBody is the OpenAI error object for a status, type and message.
func ErrorBody(status int, typ, msg string) openaiapi.ErrorResponse {
	return openaiapi.ErrorResponse{Error: openaiapi.ErrorDetail{
		Message: msg, Type: typ, Code: openaiapi.ErrorCode(fmt.Sprint(status)),
	}}
}

// WriteError writes an error response in OpenAI's shape.
func WriteError(w http.ResponseWriter, status int, typ, msg string) {
	WriteJSON(w, status, ErrorBody(status, typ, msg))
}

// WriteJSON writes v as a JSON response with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// NewID returns prefix followed by 24 random hex digits.
func NewID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return prefix + hex.EncodeToString(b[:])
}

// SSE writes a server-sent event stream: "data: JSON" events, flushed one
// by one, ended by "data: [DONE]".
type SSE struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

// StartSSE sends the 200 status and the event-stream headers.
func StartSSE(w http.ResponseWriter) *SSE {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	return &SSE{w: w, rc: http.NewResponseController(w)}
}

// Send writes v as one event.
func (e *SSE) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", b); err != nil {
		return err
	}
	return e.rc.Flush()
}

// Done ends the stream.
func (e *SSE) Done() {
	_, _ = fmt.Fprint(e.w, "data: [DONE]\n\n")
	_ = e.rc.Flush()
}

// StatusWriter records the status a handler wrote, for the request log.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

func (w *StatusWriter) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
