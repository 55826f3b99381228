//go:build cgo

package cloud_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/openaiapi"
)

// nestedArrays is a JSON schema of depth nested arrays of strings.
func nestedArrays(depth int) string {
	return strings.Repeat(`{"type":"array","items":`, depth) + `{"type":"string"}` + strings.Repeat("}", depth)
}

// TestHardeningProbes replays the security review's probes against a real
// cogen cloud. Before the fix the grammar probes killed the server
// (SIGSEGV in llama_sampler_init_grammar; see the llamacpp package's
// TestGrammarCrashUnsanitized), the schema probe took it to 1.9 GB, and
// the request-field probes were silently accepted. Now each is either
// served correctly (a nullable repetition is rewritten into an equivalent
// grammar) or a 400 naming the rule or limit; after each, the server
// still answers a normal request.
func TestHardeningProbes(t *testing.T) {
	f := start(t, 1)
	const cmpl, chat = "/v1/completions", "/v1/chat/completions"
	body := func(kv string) string { return `{"prompt":"The verdict:","max_tokens":12,"seed":1,` + kv + `}` }
	chatBody := func(kv string) string {
		return `{"messages":[{"role":"user","content":"hi"}],"max_tokens":12,"seed":1,` + kv + `}`
	}
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	tests := []struct {
		name, path, body string
		status           int
		want             string         // in the error message
		match            *regexp.Regexp // the output, for a 200
	}{
		{"grammar (\"a\"?)*", cmpl, body(`"guided_grammar":` + quote(`root ::= ("a"?)*`)), 200, "", regexp.MustCompile(`^a*$`)},
		{"llama.cpp grammar field", cmpl, body(`"grammar":` + quote(`root ::= (("" | "a"))* "b"`)), 200, "", regexp.MustCompile(`^a*b?$`)},
		{"regex (a*)*", cmpl, body(`"guided_regex":"(a*)*"`), 200, "", regexp.MustCompile(`^a*$`)},
		{"regex (a?)*b", cmpl, body(`"guided_regex":"(a?)*b"`), 200, "", regexp.MustCompile(`^a*b?$`)},
		{"regex (|a)*b", cmpl, body(`"guided_regex":"(|a)*b"`), 200, "", regexp.MustCompile(`^a*b?$`)},
		{"regex (a*)+", cmpl, body(`"guided_regex":"(a*)+"`), 200, "", regexp.MustCompile(`^a*$`)},
		{"regex (a* b*)*c", chat, chatBody(`"guided_regex":"(a*b*)*c"`), 200, "", regexp.MustCompile(`^[ab]*c?$`)},
		{"30,000 nested parentheses", cmpl, body(`"guided_grammar":` + quote(`root ::= `+strings.Repeat("(", 30000)+`"a"`+strings.Repeat(")", 30000))), 400, "groups nest deeper than 128", nil},
		{"regex nested 300 deep", cmpl, body(`"guided_regex":` + quote(strings.Repeat("(a", 300)+strings.Repeat(")", 300))), 400, "groups nest deeper than 128", nil},
		{"hidden left recursion", chat, chatBody(`"guided_grammar":` + quote("root ::= x root | \"b\"\nx ::= y\ny ::= \"a\"?")), 400, "left recursion: rule root", nil},
		{"repetition max below min", cmpl, body(`"guided_grammar":` + quote(`root ::= "a"{5,2}`)), 400, "maximum is below the minimum", nil},
		{"parse error message", cmpl, body(`"guided_grammar":` + quote(`root ::= ("a"`)), 400, "expecting ')'", nil},
		{"repetition cap", cmpl, body(`"guided_grammar":` + quote(`root ::= "a"{2000}{2000}`)), 400, "more than 1048576 elements", nil},
		{"schema 1,000 nested arrays", chat, chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":` + nestedArrays(1000) + `}}`), 400, "nests deeper than 64", nil},
		{"schema 60 nested arrays", chat, chatBody(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":` + nestedArrays(60) + `}}`), 200, "", regexp.MustCompile(`^\s*\[`)},
		{"completions n 2", cmpl, body(`"n":2`), 400, "n 2", nil},
		{"chat n 3", chat, chatBody(`"n":3`), 400, "n 3", nil},
		{"completions n 1", cmpl, body(`"n":1`), 200, "", nil},
		{"completions logprobs -1", cmpl, body(`"logprobs":-1`), 400, "logprobs -1", nil},
		{"completions n_probs -1", cmpl, body(`"n_probs":-1`), 400, "n_probs -1", nil},
		{"chat top_logprobs -1", chat, chatBody(`"logprobs":true,"top_logprobs":-1`), 400, "top_logprobs -1", nil},
		{"completions response_format json_object", cmpl, body(`"response_format":{"type":"json_object"}`), 200, "", regexp.MustCompile(`^\s*\{`)},
		{"completions response_format json_schema", cmpl, body(`"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","properties":{"a":{"enum":["x"]}},"required":["a"]}}}`), 200, "", regexp.MustCompile(`^\s*\{\s*("(a("(\s*(:\s*("(x("(\s*(\}\s*)?)?)?)?)?)?)?)?)?)?$`)},
		{"completions response_format and grammar", cmpl, body(`"response_format":{"type":"json_object"},"grammar":"root ::= \"a\""`), 400, "at most one", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg, out := post(t, f.srv.URL+tt.path, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, msg, tt.status)
			}
			if tt.want != "" && !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to mention %q", msg, tt.want)
			}
			if tt.match != nil && !tt.match.MatchString(out) {
				t.Errorf("output %q does not match %v", out, tt.match)
			}
			// The server is still up and serving.
			if status, msg, _ := post(t, f.srv.URL+cmpl, body(`"temperature":0`)); status != http.StatusOK {
				t.Fatalf("normal request after the probe: %d %s", status, msg)
			}
		})
	}
}

// post sends body and returns the status, the error message (non-200)
// and the first choice's text (200).
func post(t *testing.T, url, body string) (int, string, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		var e openaiapi.ErrorResponse
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("status %d body %q: %v", resp.StatusCode, b, err)
		}
		return resp.StatusCode, e.Error.Message, ""
	}
	var r struct {
		Choices []struct {
			Text    string `json:"text"`
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(b, &r); err != nil || len(r.Choices) != 1 {
		t.Fatalf("body %q: %v", b, err)
	}
	return resp.StatusCode, "", r.Choices[0].Text + r.Choices[0].Message.Content
}
