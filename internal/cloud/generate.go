package cloud

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/httpapi"
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
		return p, httpapi.BadRequest("temperature %v: must be in [0, 2]", p.Temperature)
	}
	if p.TopP == 0 {
		return p, httpapi.BadRequest("top_p 0: must be in (0, 1]")
	}
	if err := p.Validate(); err != nil {
		return p, httpapi.BadRequest("%v", err)
	}
	return p, nil
}

// checkN accepts the OpenAI field n only as 1: cogen cloud returns one
// choice per request, and silently returning fewer than asked would
// mislead a client.
func checkN(n *int) error {
	if n != nil && *n != 1 {
		return httpapi.BadRequest("n %d: cogen cloud returns one choice per request; send n requests (with different seeds) instead", *n)
	}
	return nil
}

func checkTopK(name string, k int) error {
	if k < 0 || k > MaxTopLogprobs {
		return httpapi.BadRequest("%s %d: must be in [0, %d]", name, k, MaxTopLogprobs)
	}
	return nil
}

// maxNew resolves max_tokens against the room left in the served context
// ([Server.MaxModelLen]). A request that does not fit gets vLLM's 400 and
// message, which clients (openaiapi's among them) read for the sizes:
//
//	This model's maximum context length is 128 tokens. However, you
//	requested 140 tokens (124 in the messages, 16 in the completion).
//	Please reduce the length of the messages or completion.
func (s *Server) maxNew(requested *int, def, promptLen int) (int, error) {
	if requested != nil && *requested < 0 {
		return 0, httpapi.BadRequest("max_tokens %d: must be >= 0", *requested)
	}
	limit := s.maxModelLen()
	n := def
	if def <= 0 {
		n = max(limit-promptLen, 1) // the room left, and at least one token
	}
	if requested != nil {
		n = *requested
	}
	if promptLen+n > limit {
		return 0, httpapi.BadRequest("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			limit, promptLen+n, promptLen, n)
	}
	return n, nil
}

// constraintFor returns the GBNF grammar that a request's output must
// follow ("" for none): from response_format, vLLM's guided_grammar (GBNF)
// or guided_regex, or the llama.cpp server's grammar field. At most one
// may be given.
func constraintFor(rf *openaiapi.ResponseFormat, guidedGrammar, guidedRegex, grammar string) (string, error) {
	var given []string
	if rf != nil && rf.Type != "" && rf.Type != openaiapi.ResponseFormatText {
		given = append(given, "response_format")
	}
	for _, f := range []struct{ name, v string }{{"guided_grammar", guidedGrammar}, {"guided_regex", guidedRegex}, {"grammar", grammar}} {
		if f.v != "" {
			given = append(given, f.name)
		}
	}
	if len(given) > 1 {
		return "", httpapi.BadRequest("%s: give at most one output constraint", strings.Join(given, ", "))
	}
	switch {
	case guidedGrammar != "":
		return guidedGrammar, nil
	case grammar != "":
		return grammar, nil
	case guidedRegex != "":
		g, err := regexToGBNF(guidedRegex)
		if err != nil {
			return "", httpapi.BadRequest("%v", err)
		}
		return g, nil
	}
	return grammarFor(rf)
}

// checkGrammar rejects a grammar the engine cannot parse as a bad request.
func (s *Server) checkGrammar(gbnf string) error {
	if gbnf == "" {
		return nil
	}
	if err := s.Model.CheckGrammar(gbnf); err != nil {
		return httpapi.BadRequest("grammar: %v", err)
	}
	return nil
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
			return "", httpapi.BadRequest("response_format json_schema: json_schema.schema is required")
		}
		schema = rf.JSONSchema.Schema
	default:
		return "", httpapi.BadRequest("response_format type %q: want text, json_object or json_schema", rf.Type)
	}
	g, err := llamacpp.SchemaToGrammar(schema)
	if err != nil {
		return "", httpapi.BadRequest("response_format: %v", err)
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

func failSSE(e *httpapi.SSE, err error) {
	status, typ := http.StatusInternalServerError, "server_error"
	if ae, ok := err.(*httpapi.Error); ok {
		status, typ = ae.Status, ae.Type
	}
	_ = e.Send(openaiapi.ErrorResponse{Error: openaiapi.ErrorDetail{Message: err.Error(), Type: typ, Code: openaiapi.ErrorCode(strconv.Itoa(status))}})
}
