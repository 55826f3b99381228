//go:build cgo

package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/localcloud"
	"github.com/cogenesis/cogenesis/internal/serve"
	"github.com/cogenesis/cogenesis/internal/statecache"
	"github.com/cogenesis/cogenesis/internal/vault"
	"github.com/cogenesis/cogenesis/openaiapi"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// env is what every test's gateway shares, made once per test binary: the
// real tiny model as the local model (four sequences) and, as local:PATH,
// the cloud; one vault and one audit log. Sharing keeps the local model's
// prompt cache warm across tests: a dev-data user's with-context prompt is
// about 6,000 tokens, seconds to evaluate on two cores.
type env struct {
	slm   *llamacpp.Model
	cloud *collab.Cloud
	local *localcloud.Cloud
	grant *egress.Grant
	log   *audit.Log
	audit string
	store *vault.Store
	dir   string
	dev   []vault.User // dev-data users (records 0 and 1)
	small []vault.User // two hand-written users with short contexts
	err   error
}

var shared struct {
	once sync.Once
	env  *env
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e := shared.env; e != nil {
		e.local.Close()
		e.log.Close()
		e.store.Close()
		e.slm.Close()
		os.RemoveAll(e.dir)
	}
	os.Exit(code)
}

// sharedEnv returns the shared environment, skipping when the model or
// the dev data is missing.
func sharedEnv(t testing.TB) *env {
	t.Helper()
	model := enginetest.SharedModel(t)
	data, err := os.ReadFile(enginetest.SharedPath("data", "cogenesis", "context_dev.json"))
	if err != nil {
		deptest.Missing(t, "dev data not available: %v", err)
	}
	shared.once.Do(func() { shared.env = newEnv(model, data) })
	if shared.env.err != nil {
		t.Fatal(shared.env.err)
	}
	return shared.env
}

func newEnv(model string, data []byte) *env {
	e := &env{}
	ctx := context.Background()
	if e.dir, e.err = os.MkdirTemp("", "serve-test-"); e.err != nil {
		return e
	}
	if e.store, e.err = vault.Open(ctx, filepath.Join(e.dir, "vault.db")); e.err != nil {
		return e
	}
	for i := range 2 {
		res, err := e.store.Import(ctx, "context_dev.json", data, vault.ImportOptions{Index: i})
		if err != nil {
			e.err = err
			return e
		}
		u, err := e.store.Get(ctx, res.IDs[0])
		if err != nil {
			e.err = err
			return e
		}
		e.dev = append(e.dev, u)
	}
	for i, name := range []string{"Lena Small", "Omar Small"} {
		u, err := e.store.Create(ctx, vault.User{
			ID: fmt.Sprintf("small%d", i), Name: name, Occupation: "Teacher", Location: "Porto",
			PrivateFacts: []string{fmt.Sprintf("Plays the cello on Sundays with quartet %d", i), "Is saving for a sailing boat"},
			ActivityLog:  []string{fmt.Sprintf("Calendar: parents evening on Thursday at school %d", i)},
			History:      []vault.History{{Title: "A note to parents", Text: fmt.Sprintf("Dear parents of class %d, the class trip is on Friday. Please send a packed lunch.", i)}},
		})
		if err != nil {
			e.err = err
			return e
		}
		e.small = append(e.small, u)
	}
	// One thread per model: the local model and the cloud decode at the
	// same time, and two spinning thread pools of two threads each on a
	// two-core machine slow both down many times over.
	if e.slm, e.err = llamacpp.Open(model, llamacpp.Options{ContextSize: 8192, Threads: 1, Parallel: 4}); e.err != nil {
		return e
	}
	e.audit = filepath.Join(e.dir, "audit.jsonl")
	if e.log, e.err = audit.Open(e.audit); e.err != nil {
		return e
	}
	e.log.NoSync = true
	// The choke point lets llm-context's private requests through (as
	// "private"); each gateway decides whether it offers llm-context.
	var api openaiapi.Config
	if api, e.local, e.err = localcloud.Target("local:"+model, openaiapi.Config{}, localcloud.Options{Threads: 1}); e.err != nil {
		return e
	}
	e.grant = egress.AllowPrivate("--allow-private-egress")
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: e.log, Detokenize: e.slm.Detokenize, Private: e.grant}, api)
	e.cloud, e.err = collab.NewCloud(c), err
	return e
}

// grantIf returns the environment's grant when allow is set.
func (e *env) grantIf(allow bool) *egress.Grant {
	if !allow {
		return nil
	}
	return e.grant
}

// fixture is a gateway on loopback over the shared environment.
type fixture struct {
	*env
	srv *httptest.Server
	s   *serve.Server
	log lockedBuffer // the gateway's log, at debug level
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type options struct {
	token        string
	allowPriv    bool
	queue        int
	allowOrigins []string
}

func start(t testing.TB, o options) *fixture {
	t.Helper()
	f := &fixture{env: sharedEnv(t)}
	f.s = &serve.Server{
		Store: f.store, SLM: f.slm, Cloud: f.cloud, AuditPath: f.audit, Token: o.token,
		Private: f.grantIf(o.allowPriv), MaxTokens: 64, CloudMaxTokens: 12, MaxQueue: o.queue, AllowOrigins: o.allowOrigins,
		Logger: slog.New(slog.NewTextHandler(&f.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	f.srv = httptest.NewServer(f.s.Handler())
	t.Cleanup(f.srv.Close)
	// No private text in the log: at the end, the log holds none of the
	// users' names, facts, activities or history.
	t.Cleanup(func() {
		log := f.log.String()
		for _, u := range append(append([]vault.User(nil), f.dev...), f.small...) {
			for _, s := range append(append(append([]string{u.Name}, u.PrivateFacts...), u.ActivityLog...), u.History[0].Text[:40]) {
				if strings.Contains(log, s) {
					t.Errorf("the log holds private text of user %s (%d bytes)", u.ID, len(s))
				}
			}
		}
	})
	return f
}

// auditCount returns the number of records in the audit log.
func (f *fixture) auditCount(t testing.TB) int {
	t.Helper()
	recs, err := audit.Read(f.audit)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return len(recs)
}

// do sends a request and returns the status and body. Like any API
// client, it sends Content-Type: application/json with a body and with
// every POST and PUT; hdr pairs override headers ("" removes one), and
// "Host" sets the Host.
func (f *fixture) do(t testing.TB, method, path string, body any, hdr ...string) (int, []byte) {
	t.Helper()
	code, b, _ := f.doHeader(t, method, path, body, hdr...)
	return code, b
}

// doHeader is do that also returns the response headers.
func (f *fixture) doHeader(t testing.TB, method, path string, body any, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, f.srv.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil || method == "POST" || method == "PUT" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		switch {
		case hdr[i] == "Host":
			req.Host = hdr[i+1]
		case hdr[i+1] == "":
			req.Header.Del(hdr[i])
		default:
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// chatReq is a chat request for user with the strategy's model.
func chatReq(strategy, user, task string, stream bool) map[string]any {
	return map[string]any{
		"model": serve.ModelPrefix + strategy, "user": user, "stream": stream,
		"max_tokens": 16, "temperature": 0.8, "seed": 1,
		"messages": []map[string]string{{"role": "system", "content": "ignored"}, {"role": "user", "content": task}},
	}
}

// streamed reads an SSE chat response: the joined text, the chunks'
// extensions and the error events.
type streamed struct {
	text   string
	exts   []serve.Extension
	errors []string
	done   bool
}

func readStream(t testing.TB, body []byte) streamed {
	t.Helper()
	var out streamed
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	var b strings.Builder
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			out.done = true
			continue
		}
		var ev struct {
			serve.ChatChunk
			Error *openaiapi.ErrorDetail `json:"error"`
		}
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			t.Fatalf("event %s: %v", data, err)
		}
		if ev.Error != nil {
			out.errors = append(out.errors, ev.Error.Message)
			continue
		}
		for _, c := range ev.Choices {
			b.WriteString(c.Delta.Content)
		}
		if ev.Cogen != nil {
			out.exts = append(out.exts, *ev.Cogen)
		}
	}
	out.text = b.String()
	return out
}

func errorBody(t testing.TB, b []byte) openaiapi.ErrorDetail {
	t.Helper()
	var e openaiapi.ErrorResponse
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Message == "" {
		t.Errorf("not an OpenAI error body: %s (%v)", b, err)
	}
	return e.Error
}

func TestModelsListStrategies(t *testing.T) {
	f := start(t, options{})
	code, b := f.do(t, "GET", "/v1/models", nil)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	var list openaiapi.ModelList
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	want := "cogen-llm cogen-slm cogen-sketch cogen-sketch-full cogen-logits cogen-speculative"
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("models %q, want %q (llm-context only with --allow-private-egress)", got, want)
	}
}

// TestChatEveryStrategy streams and completes each offered strategy and
// checks that the stream carries the text and a weight for every piece.
func TestChatEveryStrategy(t *testing.T) {
	f := start(t, options{})
	user := f.small[0].ID
	for _, st := range []string{"slm", "sketch", "sketch-full", "logits", "speculative", "llm"} {
		t.Run(st, func(t *testing.T) {
			code, b := f.do(t, "POST", "/v1/chat/completions", chatReq(st, user, "Write a note on my week: keep it short.", false))
			if code != http.StatusOK {
				t.Fatalf("status %d: %s", code, b)
			}
			var resp serve.ChatResponse
			if err := json.Unmarshal(b, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.Cogen == nil || resp.Cogen.Request != resp.ID || resp.Cogen.User != user || resp.Cogen.Strategy != st {
				t.Errorf("extension %+v", resp.Cogen)
			}
			var joined strings.Builder
			for _, p := range resp.Cogen.Pieces {
				joined.WriteString(p.Text)
			}
			if got := resp.Choices[0].Message.Content; joined.String() != got {
				t.Errorf("pieces join to %q, content %q", joined.String(), got)
			}

			code, b = f.do(t, "POST", "/v1/chat/completions", chatReq(st, user, "Write a note on my week: keep it short.", true))
			if code != http.StatusOK {
				t.Fatalf("stream status %d: %s", code, b)
			}
			s := readStream(t, b)
			if !s.done || len(s.errors) > 0 {
				t.Fatalf("stream done %v, errors %v", s.done, s.errors)
			}
			weights := 0
			for _, e := range s.exts {
				if e.W != nil {
					weights++
					if *e.W < 0 || *e.W > 1 {
						t.Errorf("weight %v outside [0, 1]", *e.W)
					}
				}
			}
			if s.text != "" && weights == 0 {
				t.Errorf("streamed %q without weights", s.text)
			}
			if st != "llm" && s.text != resp.Choices[0].Message.Content {
				// The same seed gives the same text; llm's cloud text
				// is sampled by the cloud server with the same seed too,
				// but only local strategies are checked strictly.
				t.Errorf("streamed %q, completed %q", s.text, resp.Choices[0].Message.Content)
			}
		})
	}
}

// TestAuditOverHTTP checks that a sketch request's egress is in the audit
// log under its request id and user, and that the chain verifies.
func TestAuditOverHTTP(t *testing.T) {
	f := start(t, options{})
	user := f.small[1].ID
	code, b := f.do(t, "POST", "/v1/chat/completions", chatReq("sketch", user, "Draft a toast: for my colleagues.", false))
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, b)
	}
	var resp serve.ChatResponse
	if err := json.Unmarshal(b, &resp); err != nil {
		t.Fatal(err)
	}
	code, b = f.do(t, "GET", "/v1/audit?request="+resp.ID, nil)
	if code != http.StatusOK {
		t.Fatalf("audit status %d: %s", code, b)
	}
	var page serve.AuditPage
	if err := json.Unmarshal(b, &page); err != nil {
		t.Fatal(err)
	}
	if !page.ChainOK || len(page.Data) != 1 {
		t.Fatalf("audit page: chain %v, %d records, want 1 (the outline request): %s", page.ChainOK, len(page.Data), b)
	}
	rec := page.Data[0]
	if rec.User != user || rec.Strategy != "sketch" || rec.Verdict != audit.VerdictAllow || !strings.Contains(rec.Body, "Draft a toast") {
		t.Errorf("record user %q strategy %q verdict %q; body holds the public instruction: %v", rec.User, rec.Strategy, rec.Verdict, strings.Contains(rec.Body, "Draft a toast"))
	}
	if strings.Contains(rec.Body, "for my colleagues") {
		t.Errorf("the personal section of the task left the device")
	}
	for _, q := range []string{"&user=" + f.small[0].ID, "&strategy=logits", "&verdict=block", "&since=" + fmt.Sprint(rec.Seq)} {
		_, b = f.do(t, "GET", "/v1/audit?request="+resp.ID+q, nil)
		var p serve.AuditPage
		if err := json.Unmarshal(b, &p); err != nil || len(p.Data) != 0 {
			t.Errorf("GET /v1/audit%s: %d records, want 0 (%v)", q, len(p.Data), err)
		}
	}
	code, b = f.do(t, "GET", "/v1/audit/verify", nil)
	var v struct {
		OK      bool `json:"ok"`
		Records int  `json:"records"`
	}
	if err := json.Unmarshal(b, &v); err != nil || code != http.StatusOK || !v.OK || v.Records < 1 {
		t.Errorf("verify: %d %s", code, b)
	}
	// Records cut from the end leave a valid chain; the head file shows
	// the loss.
	raw, err := os.ReadFile(f.audit)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	if err := os.WriteFile(f.audit, bytes.Join(lines[:len(lines)-1], nil), 0o600); err != nil {
		t.Fatal(err)
	}
	code, b = f.do(t, "GET", "/v1/audit/verify", nil)
	var cut struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &cut); err != nil || code != http.StatusOK || cut.OK || !strings.Contains(cut.Error, "lost records") {
		t.Errorf("verify after the last record was cut: %d %s", code, b)
	}
}

func TestVaultAPI(t *testing.T) {
	f := start(t, options{})
	u := vault.User{
		ID: "carol", Name: "Carol Tester", Occupation: "Beekeeper",
		PrivateFacts: []string{"Keeps bees on the roof of the town hall"},
		History:      []vault.History{{Title: "Spring note", Text: "The bees woke early this year."}},
	}
	code, b := f.do(t, "POST", "/v1/vault/users", u)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, b)
	}
	if code, b = f.do(t, "POST", "/v1/vault/users", u); code != http.StatusConflict {
		t.Errorf("create again: %d %s, want 409", code, b)
	}
	u.ActivityLog = []string{"Buys sugar every Friday"}
	if code, b = f.do(t, "PUT", "/v1/vault/users/carol", u); code != http.StatusOK {
		t.Errorf("update: %d %s", code, b)
	}
	code, b = f.do(t, "GET", "/v1/vault/users/carol", nil)
	var got vault.User
	if err := json.Unmarshal(b, &got); err != nil || code != http.StatusOK || len(got.ActivityLog) != 1 || got.Occupation != "Beekeeper" {
		t.Errorf("read: %d %s", code, b)
	}
	code, b = f.do(t, "GET", "/v1/vault/users", nil)
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"carol"`)) {
		t.Errorf("list: %d %s", code, b)
	}
	tests := []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"no name", "POST", "/v1/vault/users", vault.User{ID: "dave"}, 400, `field "name": required`},
		{"bad id", "POST", "/v1/vault/users", vault.User{ID: "../x", Name: "X"}, 400, `field "id"`},
		{"id mismatch", "PUT", "/v1/vault/users/carol", vault.User{ID: "other", Name: "X"}, 400, "differs"},
		{"update unknown", "PUT", "/v1/vault/users/nobody", vault.User{Name: "X"}, 404, "no such user"},
		{"read unknown", "GET", "/v1/vault/users/nobody", nil, 404, "no such user"},
		{"wrong type", "POST", "/v1/vault/users", `{"id":"x","name":5}`, 400, `field "name"`},
		{"bad import", "POST", "/v1/vault/import", `[{"tid":"z"}]`, 400, "record 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b := f.do(t, tt.method, tt.path, tt.body)
			if code != tt.status {
				t.Errorf("status %d, want %d: %s", code, tt.status, b)
			}
			if e := errorBody(t, b); !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q lacks %q", e.Message, tt.msg)
			}
		})
	}
	data, err := os.ReadFile(enginetest.SharedPath("data", "cogenesis", "context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, b = f.do(t, "POST", "/v1/vault/import?index=5&user=imported", data)
	if code != http.StatusOK || !bytes.Contains(b, []byte(`"imported"`)) {
		t.Errorf("import: %d %s", code, b)
	}
	code, b = f.do(t, "GET", "/v1/vault/export?user=imported", nil)
	var recs []vault.DatasetRecord
	if err := json.Unmarshal(b, &recs); err != nil || code != http.StatusOK || len(recs) != 1 || recs[0].TID != "imported" {
		t.Errorf("export: %d %.200s", code, b)
	}
	if code, b = f.do(t, "DELETE", "/v1/vault/users/carol", nil); code != http.StatusNoContent {
		t.Errorf("delete: %d %s", code, b)
	}
	if code, _ = f.do(t, "GET", "/v1/vault/users/carol", nil); code != http.StatusNotFound {
		t.Errorf("read after delete: %d", code)
	}
}

func TestWebUIServed(t *testing.T) {
	f := start(t, options{token: "secret"})
	for _, p := range []string{"/", "/app.js", "/style.css"} {
		code, b := f.do(t, "GET", p, nil)
		if code != http.StatusOK || len(b) == 0 {
			t.Errorf("GET %s: %d", p, code)
		}
	}
	if code, _ := f.do(t, "POST", "/", "{}"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d, want 405", code)
	}
}

func TestCheckBind(t *testing.T) {
	tests := []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8080", "", true},
		{"127.0.0.2:0", "", true},
		{"[::1]:8080", "", true},
		{"localhost:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"[::]:8080", "", false},
		{"192.168.1.5:8080", "", false},
		{"0.0.0.0:8080", "tok", true},
		{"nonsense", "", false},
	}
	for _, tt := range tests {
		err := serve.CheckBind(tt.addr, tt.token)
		if (err == nil) != tt.ok {
			t.Errorf("CheckBind(%q, %q) = %v, want ok %v", tt.addr, tt.token, err, tt.ok)
		}
		if !tt.ok && tt.addr != "nonsense" && !errors.Is(err, serve.ErrTokenRequired) {
			t.Errorf("CheckBind(%q): %v does not match ErrTokenRequired", tt.addr, err)
		}
	}
}

func errorsAs[T error](err error, target *T) bool { return errors.As(err, target) }

// TestGuardFollowsVaultUpdates checks that a request runs with the guard
// of the user's vault as it is now: a private fact added through the API
// is redacted from the next request's public instruction.
func TestGuardFollowsVaultUpdates(t *testing.T) {
	f := start(t, options{})
	u := f.small[1]
	t.Cleanup(func() {
		if _, err := f.store.Update(context.Background(), u); err != nil {
			t.Error(err)
		}
	})
	task := "Plan the bake sale for the harbour choir: with my usual helpers."
	redactions := func() int {
		t.Helper()
		code, b := f.do(t, "POST", "/v1/chat/completions", chatReq("sketch", u.ID, task, false))
		var resp serve.ChatResponse
		if err := json.Unmarshal(b, &resp); err != nil || code != http.StatusOK {
			t.Fatalf("chat: %d %s", code, b)
		}
		return *resp.Cogen.Redactions
	}
	if n := redactions(); n != 0 {
		t.Fatalf("%d redactions before the fact was added", n)
	}
	v := u
	v.PrivateFacts = append(slices.Clone(u.PrivateFacts), "Organises the bake sale for the harbour choir")
	if code, b := f.do(t, "PUT", "/v1/vault/users/"+u.ID, v); code != http.StatusOK {
		t.Fatalf("update: %d %s", code, b)
	}
	if n := redactions(); n == 0 {
		t.Errorf("the new private fact was not redacted: the request used a stale guard")
	}
}

// TestStatesForgottenWithTheUser chats as a user with saved context
// states, then updates and deletes the user: each deletes the user's
// states, and the other user's stay.
func TestStatesForgottenWithTheUser(t *testing.T) {
	f := start(t, options{})
	states, err := statecache.Open(filepath.Join(t.TempDir(), "states"), statecache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.s.States = states
	// Two users of their own, so that other tests' users stay, with
	// contexts no sequence of another test holds.
	u, v := f.small[0], f.small[1]
	u.ID, u.Occupation = "states-u", "Lighthouse keeper"
	v.ID, v.Occupation = "states-v", "Glassblower"
	for _, x := range []vault.User{u, v} {
		if code, body := f.do(t, "POST", "/v1/vault/users", x); code != http.StatusCreated {
			t.Fatalf("create: %d %s", code, body)
		}
	}
	files := func() int {
		t.Helper()
		st, err := states.Stats()
		if err != nil {
			t.Fatal(err)
		}
		return st.Files
	}
	chat := func(user string) {
		t.Helper()
		if code, body := f.do(t, "POST", "/v1/chat/completions", chatReq("slm", user, "Write a short note.", false)); code != http.StatusOK {
			t.Fatalf("chat as %s: %d %s", user, code, body)
		}
	}
	chat(u.ID)
	chat(v.ID)
	if n := files(); n != 2 {
		st, _ := states.Stats()
		t.Fatalf("%d saved states after two users' chats, want 2: %+v", n, st)
	}
	u.Occupation = "Retired"
	if code, body := f.do(t, "PUT", "/v1/vault/users/"+u.ID, u); code != http.StatusOK {
		t.Fatalf("update: %d %s", code, body)
	}
	if n := files(); n != 1 {
		t.Errorf("%d saved states after the update, want 1 (the other user's)", n)
	}
	chat(u.ID)
	if code, body := f.do(t, "DELETE", "/v1/vault/users/"+u.ID, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	if n := files(); n != 1 {
		t.Errorf("%d saved states after the delete, want 1 (the other user's)", n)
	}
}
