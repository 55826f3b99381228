package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/openaiapi"
)

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &StatusWriter{ResponseWriter: rec}
	err := BadRequest("field %q: want a number", "n")
	e := err.(*Error)
	WriteError(sw, e.Status, e.Type, e.Message)
	if sw.Status != http.StatusBadRequest || rec.Code != http.StatusBadRequest {
		t.Fatalf("status %d (recorded %d), want 400", rec.Code, sw.Status)
	}
	var body openaiapi.ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Error.Message != `field "n": want a number` || body.Error.Type != "invalid_request_error" || body.Error.Code != "400" {
		t.Errorf("body %+v", body.Error)
	}
}

func TestSSE(t *testing.T) {
	rec := httptest.NewRecorder()
	sw := &StatusWriter{ResponseWriter: rec}
	ev := StartSSE(sw)
	if err := ev.Send(map[string]int{"a": 1}); err != nil {
		t.Fatal(err) // the flush reaches the recorder through Unwrap
	}
	ev.Done()
	if got, want := rec.Body.String(), "data: {\"a\":1}\n\ndata: [DONE]\n\n"; got != want {
		t.Errorf("stream %q, want %q", got, want)
	}
	if !rec.Flushed || sw.Status != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
		t.Errorf("flushed %v, status %d, content type %q", rec.Flushed, sw.Status, rec.Header().Get("Content-Type"))
	}
}

func TestNewID(t *testing.T) {
	a, b := NewID("chatcmpl-"), NewID("chatcmpl-")
	if a == b || len(a) != len("chatcmpl-")+24 {
		t.Errorf("ids %q, %q", a, b)
	}
}
