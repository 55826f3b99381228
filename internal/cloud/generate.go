package cloud

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/sample"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// samplingParams maps the OpenAI sampling fields onto the engine's, with
// vLLM's defaults (temperature 1, top_p 1, a random seed).
func samplingParams(temperature, topP *float64, seed *int64) (sample.Params, error) {
	p := sample.Params{Temperature: 1, TopP: 1}
	if temperature != nil {
		p.Temperature = *temperature
	}
	if topP != nil {
		p.TopP = *topP
	}
	if seed != nil {
		p.Seed = uint64(*seed)
	} else {
		var b [8]byte
		_, _ = rand.Read(b[:])
		p.Seed = binary.LittleEndian.Uint64(b[:])
	}
	if p.Temperature > 2 {
		return p, badRequest("temperature %v: must be in [0, 2]", p.Temperature)
	}
	if p.TopP == 0 {
		return p, badRequest("top_p 0: must be in (0, 1]")
	}
	if err := p.Validate(); err != nil {
		return p, badRequest("%v", err)
	}
	return p, nil
}

func checkTopK(name string, k int) error {
	if k < 0 || k > MaxTopLogprobs {
		return badRequest("%s %d: must be in [0, %d]", name, k, MaxTopLogprobs)
	}
	return nil
}

// maxNew resolves max_tokens against the room left in the context.
func (s *Server) maxNew(requested *int, def, promptLen int) (int, error) {
	room := s.Model.ContextSize() - promptLen
	if room < 0 || (room == 0 && (requested == nil || *requested > 0)) {
		return 0, badRequest("prompt is %d tokens; this model's context is %d tokens", promptLen, s.Model.ContextSize())
	}
	n := def
	if def <= 0 {
		n = room
	}
	if requested != nil {
		if *requested < 0 {
			return 0, badRequest("max_tokens %d: must be >= 0", *requested)
		}
		n = *requested
	}
	if n > room {
		return 0, badRequest("max_tokens %d + prompt %d tokens > context %d tokens", n, promptLen, s.Model.ContextSize())
	}
	return n, nil
}

// grammarFor turns a response_format into a GBNF grammar ("" for text).
func grammarFor(rf *openaiapi.ResponseFormat) (string, error) {
	if rf == nil {
		return "", nil
	}
	var schema json.RawMessage
	switch rf.Type {
	case "", openaiapi.ResponseFormatText:
		return "", nil
	case openaiapi.ResponseFormatJSONObject:
		schema = json.RawMessage(`{"type":"object"}`)
	case openaiapi.ResponseFormatJSONSchema:
		if rf.JSONSchema == nil || len(rf.JSONSchema.Schema) == 0 {
			return "", badRequest("response_format json_schema: json_schema.schema is required")
		}
		schema = rf.JSONSchema.Schema
	default:
		return "", badRequest("response_format type %q: want text, json_object or json_schema", rf.Type)
	}
	g, err := llamacpp.SchemaToGrammar(schema)
	if err != nil {
		return "", badRequest("response_format: %v", err)
	}
	return g, nil
}

// tokenText is a token's text as the wire shows it.
func (s *Server) tokenText(tok int32, asID bool) string {
	if asID {
		return "token_id:" + strconv.Itoa(int(tok))
	}
	return s.Model.Piece(tok)
}

func byteList(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}

func (s *Server) chatLogprob(lp *llm.TokenLogprob) openaiapi.ChatTokenLogprob {
	piece := s.Model.Piece(lp.Token)
	out := openaiapi.ChatTokenLogprob{Token: piece, Logprob: lp.Logprob, Bytes: byteList(piece), TopLogprobs: []openaiapi.ChatTopLogprob{}}
	for _, t := range lp.Top {
		p := s.Model.Piece(t.Token)
		out.TopLogprobs = append(out.TopLogprobs, openaiapi.ChatTopLogprob{Token: p, Logprob: t.Logprob, Bytes: byteList(p)})
	}
	return out
}

// legacyTop is one position of the legacy logprobs shape: token text to
// log-probability. Two tokens with the same text keep the higher value.
func (s *Server) legacyTop(top []llm.TopLogprob, asID bool) map[string]float64 {
	m := make(map[string]float64, len(top))
	for _, t := range top {
		k := s.tokenText(t.Token, asID)
		if v, ok := m[k]; !ok || t.Logprob > v {
			m[k] = t.Logprob
		}
	}
	return m
}

// sse writes a server-sent event stream by hand.
type sse struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func startSSE(w http.ResponseWriter) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	w.WriteHeader(http.StatusOK)
	return &sse{w: w, rc: http.NewResponseController(w)}
}

func (e *sse) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(e.w, "data: %s\n\n", b); err != nil {
		return err
	}
	return e.rc.Flush()
}

func (e *sse) fail(err error) {
	status, typ := http.StatusInternalServerError, "server_error"
	if ae, ok := err.(*apiError); ok {
		status, typ = ae.status, ae.typ
	}
	_ = e.send(openaiapi.ErrorResponse{Error: openaiapi.ErrorDetail{Message: err.Error(), Type: typ, Code: openaiapi.ErrorCode(strconv.Itoa(status))}})
}

func (e *sse) done() {
	_, _ = fmt.Fprint(e.w, "data: [DONE]\n\n")
	_ = e.rc.Flush()
}
