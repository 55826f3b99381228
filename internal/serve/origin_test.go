//go:build cgo

package serve_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/serve"
)

// TestBrowserGuard sends the requests a web page of another origin can
// make the browser send, and those of the gateway's own page, of an
// allowed origin and of clients that are not browsers. A request that
// passes the guard reaches a handler that refuses its body or finds no
// user (400, 404), so nothing in the vault changes either way.
func TestBrowserGuard(t *testing.T) {
	const app = "http://app.example:3000"
	f := start(t, options{allowOrigins: []string{app}})
	self := f.srv.URL // http://127.0.0.1:PORT
	port := self[strings.LastIndex(self, ":"):]
	const (
		users   = "/v1/vault/users"
		tokens  = "/v1/vault/users/nobody/tokens"
		dataset = "/v1/vault/import"
		chat    = "/v1/chat/completions"
	)
	bad := `[{"tid":"z"}]` // refused by the import (400) and by create (400)
	tests := []struct {
		name, method, path string
		body               any
		hdr                []string
		status             int
		msg                string
	}{
		// Content types: a state-changing request must be JSON.
		{"no content type", "POST", users, bad, []string{"Content-Type", ""}, 415, "needs Content-Type: application/json"},
		{"text/plain", "POST", users, bad, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"text/plain with charset", "POST", users, bad, []string{"Content-Type", "text/plain;charset=UTF-8"}, 415, "application/json"},
		{"form", "POST", users, bad, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json"},
		{"multipart", "POST", users, bad, []string{"Content-Type", "multipart/form-data; boundary=x"}, 415, "application/json"},
		{"not quite JSON", "POST", users, bad, []string{"Content-Type", "application/jsonx"}, 415, "application/json"},
		{"import without type", "POST", dataset, bad, []string{"Content-Type", ""}, 415, "application/json"},
		{"import as text", "POST", dataset, bad, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"import as JSON Lines", "POST", dataset, bad, []string{"Content-Type", "application/x-ndjson"}, 415, "application/json"},
		{"token without body or type", "POST", tokens, nil, []string{"Content-Type", ""}, 415, "application/json"},
		{"chat as text", "POST", chat, bad, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"update as text", "PUT", users + "/nobody", bad, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"delete as text", "DELETE", users + "/nobody", nil, []string{"Content-Type", "text/plain"}, 415, "application/json"},
		{"JSON", "POST", users, bad, nil, 400, ""},
		{"JSON with charset", "POST", users, bad, []string{"Content-Type", "application/json; charset=utf-8"}, 400, ""},
		{"JSON in capitals", "POST", users, bad, []string{"Content-Type", "Application/JSON"}, 400, ""},
		{"import as JSON", "POST", dataset, bad, nil, 400, "record 0"},
		{"token as JSON without body", "POST", tokens, nil, nil, 404, "no such user"},
		{"delete without type", "DELETE", users + "/nobody", nil, nil, 404, "no such user"},

		// Origins: the gateway's own, an allowed one, or none.
		{"own origin", "POST", users, bad, []string{"Origin", self}, 400, ""},
		{"own origin, same-origin", "POST", users, bad, []string{"Origin", self, "Sec-Fetch-Site", "same-origin"}, 400, ""},
		{"typed address", "GET", "/v1/models", nil, []string{"Sec-Fetch-Site", "none"}, 200, ""},
		{"same-origin GET", "GET", "/v1/models", nil, []string{"Sec-Fetch-Site", "same-origin"}, 200, ""},
		{"no browser", "GET", "/v1/models", nil, nil, 200, ""},
		{"allowed origin", "POST", users, bad, []string{"Origin", app}, 400, ""},
		{"allowed origin, cross-site", "POST", users, bad, []string{"Origin", app, "Sec-Fetch-Site", "cross-site"}, 400, ""},
		{"allowed origin, as text", "POST", users, bad, []string{"Origin", app, "Content-Type", "text/plain"}, 415, "application/json"},

		// Pages of other origins.
		{"another port", "POST", users, bad, []string{"Origin", "http://127.0.0.1:1"}, 403, "cross-origin"},
		{"another port, same-site", "POST", users, bad, []string{"Origin", "http://127.0.0.1:1", "Sec-Fetch-Site", "same-site"}, 403, "same-site"},
		{"another host name, same port", "POST", users, bad, []string{"Origin", "http://localhost" + port}, 403, "cross-origin"},
		{"another scheme of an allowed host", "POST", users, bad, []string{"Origin", "https://app.example:3000", "Sec-Fetch-Site", "cross-site"}, 403, "cross-origin"},
		{"cross-site", "POST", dataset, bad, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403, "cross-site"},
		{"opaque origin", "POST", users, bad, []string{"Origin", "null"}, 403, "cross-origin"},
		{"cross-site without Origin", "POST", tokens, nil, []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-site"},
		{"cross-site GET of private data", "GET", users, nil, []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross-site"},
		{"cross-origin GET of the audit log", "GET", "/v1/audit", nil, []string{"Origin", "https://evil.example"}, 403, "cross-origin"},
		{"cross-site preflight", "OPTIONS", users, nil, []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site", "Access-Control-Request-Method", "POST"}, 403, "cross-origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b, h := f.doHeader(t, tt.method, tt.path, tt.body, tt.hdr...)
			if code != tt.status {
				t.Fatalf("status %d, want %d: %.300s", code, tt.status, b)
			}
			if code >= 400 {
				if e := errorBody(t, b); !strings.Contains(e.Message, tt.msg) {
					t.Errorf("message %q lacks %q", e.Message, tt.msg)
				}
			}
			if got := h.Get("Access-Control-Allow-Origin"); got != "" && got != app {
				t.Errorf("Access-Control-Allow-Origin %q for a page of another origin", got)
			}
		})
	}
	// The web UI's own files are public and not guarded.
	if code, _ := f.do(t, "GET", "/app.js", nil, "Sec-Fetch-Site", "cross-site"); code != http.StatusOK {
		t.Errorf("GET /app.js from another site: %d, want 200", code)
	}
}

// TestAllowedOriginCORS checks that a page of an allowed origin can call
// the API: its preflight is answered without the token (preflights carry
// none) and its responses carry CORS headers.
func TestAllowedOriginCORS(t *testing.T) {
	const app = "https://app.example"
	f := start(t, options{token: "adm", allowOrigins: []string{"HTTPS://App.Example:443/"}})
	code, b, h := f.doHeader(t, "OPTIONS", "/v1/chat/completions", nil,
		"Origin", app, "Sec-Fetch-Site", "cross-site", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	if code != http.StatusNoContent {
		t.Fatalf("preflight: %d %s", code, b)
	}
	for k, want := range map[string]string{
		"Access-Control-Allow-Origin": app, "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE",
		"Access-Control-Allow-Headers": "Authorization, Content-Type", "Vary": "Origin",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("preflight %s: %q, want %q", k, got, want)
		}
	}
	code, b, h = f.doHeader(t, "GET", "/v1/models", nil, "Origin", app, "Sec-Fetch-Site", "cross-site", "Authorization", "Bearer adm")
	if code != http.StatusOK || h.Get("Access-Control-Allow-Origin") != app {
		t.Errorf("GET from the allowed origin: %d, Access-Control-Allow-Origin %q: %s", code, h.Get("Access-Control-Allow-Origin"), b)
	}
	// The token is still needed.
	if code, _ := f.do(t, "GET", "/v1/models", nil, "Origin", app, "Sec-Fetch-Site", "cross-site"); code != http.StatusUnauthorized {
		t.Errorf("allowed origin without the token: %d, want 401", code)
	}
}

func TestValidOrigin(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"https://app.example", "https://app.example"},
		{"HTTPS://App.Example/", "https://app.example"},
		{"http://127.0.0.1:3000", "http://127.0.0.1:3000"},
		{"http://app.example:80", "http://app.example"},
		{"https://app.example:443", "https://app.example"},
		{"http://app.example:443", "http://app.example:443"},
		{"http://[::1]:8080", "http://[::1]:8080"},
		{"app.example", ""},
		{"ftp://app.example", ""},
		{"https://app.example/path", ""},
		{"https://app.example?q=1", ""},
		{"https://user@app.example", ""},
		{"null", ""},
		{"*", ""},
		{"", ""},
	}
	for _, tt := range tests {
		got, err := serve.ValidOrigin(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("ValidOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
