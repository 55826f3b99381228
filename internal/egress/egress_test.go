package egress

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// recording is a server that keeps every request body it receives.
type recording struct {
	mu     sync.Mutex
	bodies []string
	srv    *httptest.Server
}

func newRecording(t *testing.T) *recording {
	rc := &recording{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, string(b))
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"object":"list","data":[]}`)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *recording) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.bodies)
}

func openLog(t *testing.T) (*audit.Log, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := audit.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, p
}

func post(t *testing.T, hc *http.Client, ctx context.Context, url, body string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return err
}

func lastRecord(t *testing.T, path string) audit.Record {
	t.Helper()
	recs, err := audit.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("nothing recorded")
	}
	return recs[len(recs)-1]
}

var vault = &privacy.Vault{Name: privacy.NewPrivate("Ada Quill")}

const (
	publicBody  = `{"prompt":"Write a poem about the sea."}`
	privateBody = `{"prompt":"Write to Ada Quill about the sea."}`
)

func TestNoGuardSendsNothing(t *testing.T) {
	rc := newRecording(t)
	log, path := openLog(t)
	hc, err := HTTPClient(Config{Policy: User, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	err = post(t, hc, t.Context(), rc.srv.URL, publicBody)
	if !errors.Is(err, ErrNoGuard) || !errors.Is(err, audit.ErrBlocked) {
		t.Fatalf("err = %v, want ErrNoGuard and ErrBlocked", err)
	}
	if rc.count() != 0 {
		t.Fatal("a request with no guard reached the server")
	}
	if r := lastRecord(t, path); r.Verdict != audit.VerdictBlock || r.Policy != string(User) || r.Body != "" {
		t.Errorf("record: verdict %q policy %q body %q, want a block under user without the body", r.Verdict, r.Policy, r.Body)
	}
}

func TestGrantMustBeHeldAndCarried(t *testing.T) {
	rc := newRecording(t)
	log, path := openLog(t)
	held := AllowPrivate("--allow-private-egress")
	other := AllowPrivate("--allow-private-egress")
	for _, tt := range []struct {
		name    string
		private *Grant // the client's
		carried *Grant // the request's
		body    string
		verdict string
	}{
		{"public, no grant", nil, nil, publicBody, audit.VerdictAllow},
		{"private, no grant", nil, nil, privateBody, audit.VerdictBlock},
		{"private, grant held but not carried", held, nil, privateBody, audit.VerdictBlock},
		{"private, grant carried but not held", nil, held, privateBody, audit.VerdictBlock},
		{"private, another grant carried", held, other, privateBody, audit.VerdictBlock},
		{"private, grant held and carried", held, held, privateBody, audit.VerdictPrivate},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hc, err := HTTPClient(Config{Policy: User, Log: log, Guard: privacy.NewGuard(vault), Private: tt.private})
			if err != nil {
				t.Fatal(err)
			}
			before := rc.count()
			err = post(t, hc, WithGrant(t.Context(), tt.carried), rc.srv.URL, tt.body)
			r := lastRecord(t, path)
			if r.Verdict != tt.verdict {
				t.Errorf("verdict %q, want %q (err %v)", r.Verdict, tt.verdict, err)
			}
			sent := rc.count() > before
			if blocked := tt.verdict == audit.VerdictBlock; blocked == sent || blocked != (err != nil) {
				t.Errorf("sent %v, err %v, want blocked %v", sent, err, blocked)
			}
		})
	}
}

func TestRunGuardTakesThePlaceOfTheClients(t *testing.T) {
	rc := newRecording(t)
	log, _ := openLog(t)
	hc, err := HTTPClient(Config{Policy: User, Log: log, Guard: privacy.NewGuard(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := post(t, hc, t.Context(), rc.srv.URL, privateBody); err != nil {
		t.Fatalf("the client's guard knows no vault: %v", err)
	}
	ctx := WithGuard(t.Context(), privacy.NewGuard(vault))
	if err := post(t, hc, ctx, rc.srv.URL, privateBody); !errors.Is(err, audit.ErrBlocked) {
		t.Fatalf("the run's guard did not block: %v", err)
	}
}

func TestSyntheticPolicyRecordsFindings(t *testing.T) {
	rc := newRecording(t)
	log, path := openLog(t)
	hc, err := HTTPClient(Config{Policy: Synthetic, Log: log, Guard: privacy.NewGuard(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if err := post(t, hc, t.Context(), rc.srv.URL, `{"prompt":"Mail ada@example.com"}`); err != nil {
		t.Fatal(err)
	}
	if r := lastRecord(t, path); r.Verdict != audit.VerdictSynthetic || len(r.Rules) == 0 || r.Policy != string(Synthetic) {
		t.Errorf("record: verdict %q rules %v policy %q", r.Verdict, r.Rules, r.Policy)
	}
}

func TestDownloadPolicy(t *testing.T) {
	rc := newRecording(t)
	path := filepath.Join(t.TempDir(), "downloads.audit.jsonl")
	hc, err := HTTPClient(Config{Policy: Download, LogPath: path})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(rc.srv.URL + "/o/r/resolve/main/m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := lastRecord(t, path); r.Verdict != audit.VerdictAllow || r.Policy != string(Download) || r.Method != http.MethodGet {
		t.Errorf("record: verdict %q policy %q method %s", r.Verdict, r.Policy, r.Method)
	}
	before := rc.count()
	if err := post(t, hc, t.Context(), rc.srv.URL, publicBody); !errors.Is(err, audit.ErrBlocked) {
		t.Errorf("a download client sent a POST with a body: %v", err)
	}
	if rc.count() != before {
		t.Error("the POST reached the server")
	}
}

func TestConfigErrors(t *testing.T) {
	log, _ := openLog(t)
	for name, cfg := range map[string]Config{
		"no policy": {Log: log, Guard: privacy.NewGuard(nil)},
		"no log":    {Policy: User, Guard: privacy.NewGuard(nil)},
	} {
		if _, err := HTTPClient(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Dial(Config{Policy: User, Log: log}, openaiapi.Config{BaseURL: "http://x.test/v1", HTTPClient: &http.Client{}}); err == nil {
		t.Error("Dial accepted a client built elsewhere")
	}
	if _, err := Dial(Config{Policy: Download, Log: log}, openaiapi.Config{BaseURL: "http://x.test/v1"}); err == nil {
		t.Error("Dial built a model client under the download policy")
	}
	c, err := Dial(Config{Policy: User, Log: log}, openaiapi.Config{BaseURL: "http://x.test/v1"})
	if err != nil || c == nil {
		t.Fatalf("Dial: %v", err)
	}
}
