//go:build cgo

package serve_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/serve"
	"github.com/cogenesis/cogenesis/internal/vault"
)

func TestTokenRequired(t *testing.T) {
	f := start(t, options{token: "s3cret"})
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no token", nil, http.StatusUnauthorized},
		{"wrong token", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized},
		{"not bearer", []string{"Authorization", "Basic s3cret"}, http.StatusUnauthorized},
		{"token", []string{"Authorization", "Bearer s3cret"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, p := range []string{"/v1/models", "/v1/vault/users", "/v1/audit", "/v1/vault/users/" + f.small[0].ID} {
				code, b := f.do(t, "GET", p, nil, tt.hdr...)
				if code != tt.status {
					t.Errorf("GET %s: %d, want %d: %s", p, code, tt.status, b)
				}
				if code == http.StatusUnauthorized {
					errorBody(t, b)
				}
			}
			code, b := f.do(t, "POST", "/v1/chat/completions", chatReq("slm", f.small[0].ID, "Write: a line.", false), tt.hdr...)
			if code != tt.status {
				t.Errorf("chat: %d, want %d: %s", code, tt.status, b)
			}
		})
	}
	// With a token, a non-loopback Host is served (the token guards it).
	if code, b := f.do(t, "GET", "/v1/models", nil, "Authorization", "Bearer s3cret", "Host", "gateway.example:8080"); code != http.StatusOK {
		t.Errorf("token and a remote Host: %d %s", code, b)
	}
}

// TestMalformedRequests checks that bad requests get 4xx with an OpenAI
// error body, and that nothing was generated for them.
func TestMalformedRequests(t *testing.T) {
	f := start(t, options{})
	user := f.small[0].ID
	before := f.auditCount(t)
	big := strings.Repeat("x", 2<<20)
	tests := []struct {
		name   string
		method string
		body   any
		hdr    []string
		status int
		msg    string
	}{
		{"oversized", "POST", `{"model":"cogen-slm","user":"` + user + `","messages":[{"role":"user","content":"` + big + `"}]}`, nil, 413, "larger than"},
		{"malformed JSON", "POST", `{"model":"cogen-slm",`, nil, 400, "malformed JSON"},
		{"not an object", "POST", `[1,2]`, nil, 400, ""},
		{"wrong field type", "POST", `{"model":"cogen-slm","user":"` + user + `","max_tokens":"many","messages":[]}`, nil, 400, `field "max_tokens"`},
		{"unknown model", "POST", chatReq("gpt-4", user, "Write: x.", false), nil, 404, "does not exist"},
		{"llm-context not offered", "POST", chatReq("llm-context", user, "Write: x.", false), nil, 404, "does not exist"},
		{"no user", "POST", map[string]any{"model": "cogen-slm", "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "user"},
		{"unknown user", "POST", chatReq("slm", "nobody", "Write: x.", false), nil, 404, "no such user"},
		{"path in user", "POST", chatReq("slm", "../"+user, "Write: x.", false), nil, 400, "user"},
		{"no task", "POST", map[string]any{"model": "cogen-slm", "user": user, "messages": []map[string]string{{"role": "system", "content": "x"}}}, nil, 400, "task"},
		{"bad role", "POST", map[string]any{"model": "cogen-slm", "user": user, "messages": []map[string]string{{"role": "tool", "content": "x"}}}, nil, 400, "role"},
		{"too many tokens", "POST", map[string]any{"model": "cogen-slm", "user": user, "max_tokens": 100000, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "max_tokens"},
		{"bad temperature", "POST", map[string]any{"model": "cogen-slm", "user": user, "temperature": -1, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "temperature"},
		{"form content type", "POST", `model=cogen-slm`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "content type"},
		{"n above 1", "POST", map[string]any{"model": "cogen-slm", "user": user, "n": 2, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "n 2"},
		{"n 0", "POST", map[string]any{"model": "cogen-slm", "user": user, "n": 0, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "n 0"},
		{"negative top_logprobs", "POST", map[string]any{"model": "cogen-slm", "user": user, "top_logprobs": -1, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "top_logprobs -1"},
		{"top_logprobs above 20", "POST", map[string]any{"model": "cogen-slm", "user": user, "logprobs": true, "top_logprobs": 21, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "top_logprobs 21"},
		{"logprobs", "POST", map[string]any{"model": "cogen-slm", "user": user, "logprobs": true, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, "log probabilities"},
		{"non-boolean logprobs", "POST", map[string]any{"model": "cogen-slm", "user": user, "logprobs": -1, "messages": []map[string]string{{"role": "user", "content": "x"}}}, nil, 400, `field "logprobs"`},
		{"GET chat", "GET", nil, nil, 404, "no route"},
		{"remote Host without token", "POST", chatReq("slm", user, "Write: x.", false), []string{"Host", "evil.example"}, 403, "loopback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := f.do(t, tt.method, "/v1/chat/completions", tt.body, tt.hdr...)
			if code != tt.status {
				t.Errorf("status %d, want %d: %.300s", code, tt.status, b)
			}
			if e := errorBody(t, b); !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q lacks %q", e.Message, tt.msg)
			}
		})
	}
	if n := f.auditCount(t) - before; n != 0 {
		t.Errorf("refused requests reached the cloud: %d audit records", n)
	}
}

// TestNoCrossUserContext checks that a request for user B runs on B's
// vault alone: the llm-context baseline sends its whole with-context
// prompt to the cloud, so its audited request shows exactly which context
// the request used; it must hold B's facts and none of A's, be recorded
// under B, and be judged by B's guard (verdict "private": A's guard would
// find nothing of B's in it). Local strategies for B must not put A's
// facts in their output either.
func TestNoCrossUserContext(t *testing.T) {
	f := start(t, options{allowPriv: true})
	a, b := f.dev[0], f.dev[1]
	code, body := f.do(t, "POST", "/v1/chat/completions", chatReq("llm-context", b.ID, "Write a short note: about my plans.", false))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, body)
	}
	var resp serve.ChatResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	_, body = f.do(t, "GET", "/v1/audit?request="+resp.ID, nil)
	var page serve.AuditPage
	if err := json.Unmarshal(body, &page); err != nil || len(page.Data) != 1 {
		t.Fatalf("audit for the request: %v, %.300s", err, body)
	}
	rec := page.Data[0]
	if rec.User != b.ID || rec.Verdict != audit.VerdictPrivate {
		t.Errorf("record user %q verdict %q, want %q and private (B's guard)", rec.User, rec.Verdict, b.ID)
	}
	sent := decodedBody(t, rec.Body)
	if !strings.Contains(sent, b.PrivateFacts[0]) {
		t.Errorf("B's with-context prompt lacks B's first private fact: the request did not use B's vault")
	}
	for _, fact := range append(append([]string{a.Name}, a.PrivateFacts...), a.ActivityLog...) {
		if strings.Contains(sent, fact) {
			t.Errorf("B's request carried A's context (%d bytes of it)", len(fact))
		}
	}

	// Local strategies for B: neither the answer nor the stream holds A's
	// facts, and every audited request of B's runs is B's.
	ids := []string{resp.ID}
	for _, st := range []string{"slm", "sketch", "logits"} {
		for _, stream := range []bool{false, true} {
			code, body := f.do(t, "POST", "/v1/chat/completions", chatReq(st, b.ID, "Write about "+a.Name+": mention what you know of them.", stream))
			if code != http.StatusOK {
				t.Fatalf("%s: status %d: %s", st, code, body)
			}
			if stream {
				s := readStream(t, body)
				if len(s.exts) == 0 || s.exts[0].Request == "" {
					t.Fatalf("%s: no request id in the stream", st)
				}
				ids = append(ids, s.exts[0].Request)
			} else {
				var r serve.ChatResponse
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
			for _, fact := range append(a.PrivateFacts, a.ActivityLog...) {
				if strings.Contains(string(body), fact) {
					t.Errorf("%s stream=%v: B's response holds A's fact", st, stream)
				}
			}
		}
	}
	recs, err := audit.Read(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		for _, id := range ids {
			if r.Request == id {
				n++
				if r.User != b.ID {
					t.Errorf("audit record %d of request %s: user %q, want %q", r.Seq, id, r.User, b.ID)
				}
			}
		}
	}
	if n < 5 {
		t.Errorf("%d audit records for B's %d requests, want at least 5 (llm-context, sketch and logits)", n, len(ids))
	}
}

// decodedBody returns the JSON-decoded message contents of a chat
// request body (so escapes in the facts compare).
func decodedBody(t *testing.T, body string) string {
	t.Helper()
	var req struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatalf("audit body is not a chat request: %v", err)
	}
	var b strings.Builder
	for _, m := range req.Messages {
		b.WriteString(m.Content + "\n")
	}
	return b.String()
}

// TestUserTokenConfined checks that a user token reaches only its own
// user: chat as that user (another user is refused), that user's vault
// entry and audit records, nothing else; with or without a server token.
func TestUserTokenConfined(t *testing.T) {
	f := start(t, options{token: "adm"})
	me, other := f.small[0].ID, f.small[1].ID
	code, b := f.do(t, "POST", "/v1/vault/users/"+me+"/tokens", nil, "Authorization", "Bearer adm")
	var created struct{ User, Token string }
	if err := json.Unmarshal(b, &created); err != nil || code != http.StatusCreated || created.User != me {
		t.Fatalf("create token: %d %s", code, b)
	}
	auth := []string{"Authorization", "Bearer " + created.Token}

	// Chat: no user field means the token's user; another user is refused.
	req := chatReq("sketch", "", "Write a note: for the class.", false)
	delete(req, "user")
	code, b = f.do(t, "POST", "/v1/chat/completions", req, auth...)
	var resp serve.ChatResponse
	if err := json.Unmarshal(b, &resp); err != nil || code != http.StatusOK || resp.Cogen.User != me {
		t.Fatalf("chat with the user token: %d %s", code, b)
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"models", "GET", "/v1/models", nil, 200},
		{"own entry", "GET", "/v1/vault/users/" + me, nil, 200},
		{"own update", "PUT", "/v1/vault/users/" + me, f.small[0], 200},
		{"chat as another user", "POST", "/v1/chat/completions", chatReq("slm", other, "Write: x.", false), 403},
		{"chat as another user, streaming", "POST", "/v1/chat/completions", chatReq("slm", other, "Write: x.", true), 403},
		{"another entry", "GET", "/v1/vault/users/" + other, nil, 403},
		{"update another", "PUT", "/v1/vault/users/" + other, f.small[1], 403},
		{"create", "POST", "/v1/vault/users", map[string]string{"id": "x", "name": "X"}, 403},
		{"delete self", "DELETE", "/v1/vault/users/" + me, nil, 403},
		{"import", "POST", "/v1/vault/import", "[]", 403},
		{"export", "GET", "/v1/vault/export?user=" + me, nil, 403},
		{"mint tokens", "POST", "/v1/vault/users/" + me + "/tokens", nil, 403},
		{"another user's audit", "GET", "/v1/audit?user=" + other, nil, 403},
		{"verify", "GET", "/v1/audit/verify", nil, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := f.do(t, tt.method, tt.path, tt.body, auth...)
			if code != tt.status {
				t.Errorf("status %d, want %d: %.300s", code, tt.status, b)
			}
			if tt.status == 403 && !strings.Contains(errorBody(t, b).Message, "own user") {
				t.Errorf("403 without the reason: %s", b)
			}
		})
	}
	// The user list as the token sees it: its one user.
	code, b = f.do(t, "GET", "/v1/vault/users", nil, auth...)
	var list struct{ Data []vault.Summary }
	if err := json.Unmarshal(b, &list); err != nil || code != http.StatusOK {
		t.Fatalf("list: %d %s", code, b)
	}
	if len(list.Data) != 1 || list.Data[0].ID != me {
		t.Errorf("the user token lists %+v, want only %s", list.Data, me)
	}
	// The audit log as the token sees it: only its user's records, and
	// this request's among them.
	code, b = f.do(t, "GET", "/v1/audit?limit=10000", nil, auth...)
	var page serve.AuditPage
	if err := json.Unmarshal(b, &page); err != nil || code != http.StatusOK {
		t.Fatalf("audit: %d %s", code, b)
	}
	found := false
	for _, r := range page.Data {
		if r.User != me {
			t.Errorf("the user token sees record %d of user %q", r.Seq, r.User)
		}
		found = found || r.Request == resp.ID
	}
	if !found {
		t.Errorf("the token's own request is not in its audit view")
	}
	if code, _ := f.do(t, "GET", "/v1/models", nil, "Authorization", "Bearer cgu_0000"); code != http.StatusUnauthorized {
		t.Errorf("unknown user token: %d, want 401", code)
	}
	// Without a server token (loopback), a user token still confines.
	g := start(t, options{})
	if code, b := g.do(t, "POST", "/v1/chat/completions", chatReq("slm", other, "Write: x.", false), auth...); code != http.StatusForbidden {
		t.Errorf("loopback server, user token, another user: %d %s", code, b)
	}
}

// TestQueueFullIs429 holds the only queue place with a streaming request
// and checks that a second request gets 429 with Retry-After.
func TestQueueFullIs429(t *testing.T) {
	f := start(t, options{queue: 1})
	body, _ := json.Marshal(chatReq("slm", f.small[0].ID, "Write a long note: about the term.", true))
	req, err := http.NewRequestWithContext(t.Context(), "POST", f.srv.URL+"/v1/chat/completions", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first event is sent after the request took its place.
	first := make([]byte, 6)
	if _, err := io.ReadFull(resp.Body, first); err != nil || string(first) != "data: " {
		t.Fatalf("first event: %q %v", first, err)
	}
	code, b := f.do(t, "POST", "/v1/chat/completions", chatReq("slm", f.small[1].ID, "Write: x.", false))
	if code != http.StatusTooManyRequests {
		t.Errorf("second request: %d %s, want 429", code, b)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	if code, b := f.do(t, "POST", "/v1/chat/completions", chatReq("slm", f.small[1].ID, "Write: x.", false)); code != http.StatusOK {
		t.Errorf("after the first finished: %d %s", code, b)
	}
}
