//go:build cgo

package serve_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/vault"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

var (
	screenshot     = flag.String("screenshot", "", "where TestBrowserWriteWithSketch saves its screenshot (default: a temporary directory)")
	screenshot1280 = flag.String("screenshot-1280", "", "where TestBrowserTaskPrefillAndAuditHeaders saves its screenshot of a 1280×800 window (default: a temporary directory)")
)

// chromium finds a Chromium or Chrome binary.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser starts headless Chromium for the test, skipping under
// -short or without a Chromium binary; the context ends with the test.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test")
	}
	bin := chromium()
	if bin == "" {
		deptest.Missing(t, "no chromium binary found (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless,
		chromedp.WindowSize(1500, 1000), chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestBrowserWriteWithSketch drives the web UI in headless Chromium:
// create a user, write with sketch, see the streamed text and the audit
// record of the request, and save a screenshot.
func TestBrowserWriteWithSketch(t *testing.T) {
	ctx := newBrowser(t)
	f := start(t, options{})

	const fact = "Keeps bees on the roof of the town hall"
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(f.srv.URL + "/"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#strategy option').length > 0`),
		chromedp.Click("#user-new"),
		chromedp.SetValue(`#user-form input[name=id]`, "bea"),
		chromedp.SetValue(`#user-form input[name=name]`, "Bea Tester"),
		chromedp.SetValue(`#user-form input[name=occupation]`, "Beekeeper"),
		chromedp.SetValue(`#user-form textarea[name=private_facts]`, fact),
		chromedp.SetValue(`#user-form textarea[name=activity_log]`, "Buys sugar every Friday"),
		chromedp.SetValue(`#history .h-title`, "Spring note"),
		chromedp.SetValue(`#history .h-text`, "The bees woke early this year, and so did I."),
		chromedp.Click("#user-save"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#form-title').textContent === 'Edit bea'`),
		chromedp.SetValue("#strategy", "cogen-sketch"),
		chromedp.SetValue("#max-tokens", "32"),
		chromedp.SetValue("#task", "Write a short newsletter: tell my readers about the bees."),
		chromedp.Click("#write"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#output').dataset.done === '1'`, chromedp.WithPollingTimeout(2*time.Minute)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#audit tbody tr.mine')].some(tr => tr.dataset.strategy === 'sketch')`, chromedp.WithPollingTimeout(30*time.Second)),
		chromedp.Click(`#audit tbody tr.mine`),
		chromedp.WaitVisible("#audit-body"),
	}
	if err := chromedp.Do(ctx, steps...); err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text("#status"))
		t.Fatalf("UI: %v (status line %q)", err, status)
	}
	out, err := chromedp.Run(ctx, chromedp.Text("#output"))
	if err != nil {
		t.Fatal(err)
	}
	spans, err := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('#output span')].filter(s => s.style.background).length`))
	if err != nil {
		t.Fatal(err)
	}
	meta, err := chromedp.Run(ctx, chromedp.Text("#write-meta"))
	if err != nil {
		t.Fatal(err)
	}
	sent, err := chromedp.Run(ctx, chromedp.Text("#audit-body"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) == "" || spans == 0 {
		t.Errorf("output %q in %d coloured spans", out, spans)
	}
	if !strings.Contains(meta, "1 cloud calls") {
		t.Errorf("write meta %q: want one cloud call", meta)
	}
	if !strings.Contains(sent, "Write a short newsletter") || !strings.Contains(sent, "allow") {
		t.Errorf("audit body shown lacks the public instruction or the verdict:\n%.500s", sent)
	}
	if strings.Contains(sent, fact) || strings.Contains(sent, "tell my readers") {
		t.Errorf("the audit body shows private text: the private fact or the personal section left the device")
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	path := *screenshot
	if path == "" {
		path = filepath.Join(t.TempDir(), "serve-ui.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("output of %d bytes; %s; screenshot %s", len(out), meta, path)
}

// TestBrowserCrossSiteRequestsChangeNothing is the cross-site request
// forgery attack on a gateway on loopback without a token: a page of
// another origin, open in the user's browser, sends the requests a page
// may send without asking the gateway first (no-cors fetches of
// untyped, text/plain bodies and none, and a text/plain form that
// submits itself) to import a dataset over a user, create users, mint a
// token and chat. The page is served from the same host on another port
// (same-site) and from another host name (cross-site). Nothing in the
// vault may change, and every request must have reached the gateway and
// been refused.
func TestBrowserCrossSiteRequestsChangeNothing(t *testing.T) {
	ctx := newBrowser(t)
	f := start(t, options{})
	bg := context.WithoutCancel(t.Context())
	if _, err := f.store.Create(t.Context(), vault.User{
		ID: "csrf-victim", Name: "Vic Tim", PrivateFacts: []string{"Hides the spare key under the blue pot"},
		History: []vault.History{{Title: "Note", Text: "A short note about the garden and the weather this week."}},
	}); err != nil {
		t.Fatal(err)
	}
	victim, err := f.store.Get(t.Context(), "csrf-victim")
	if err != nil {
		t.Fatal(err)
	}
	made := []string{"csrf-import", "csrf-blob", "csrf-text", "csrf-form"}
	t.Cleanup(func() {
		for _, id := range append(made, victim.ID) {
			_ = f.store.Delete(bg, id) // a user the attack made, or the victim
		}
	})

	// The attacker's dataset: one record of the dev data, whose first
	// conversation value the form splits to place the "=" of
	// text/plain's name=value inside a string.
	data, err := os.ReadFile(enginetest.SharedPath("data", "cogenesis", "context_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(data, &recs); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(recs[0], &rec); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]any{rec})
	if err != nil {
		t.Fatal(err)
	}
	dataset := string(b)
	split := strings.Index(dataset, `"value":"`) + len(`"value":"`)
	js := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	gw := f.srv.URL
	page := `<!doctype html><html><body>
<iframe name="sink"></iframe>
<form id="f" method="POST" target="sink" enctype="text/plain" action="` + html.EscapeString(gw+"/v1/vault/import?user=csrf-form") + `">
<input type="hidden" name="` + html.EscapeString(dataset[:split]) + `" value="` + html.EscapeString(dataset[split:]) + `">
</form>
<script>
const gw = ` + js(gw) + `, dataset = ` + js(dataset) + `;
const post = (path, body, headers) => fetch(gw + path, {method: "POST", mode: "no-cors", body, headers: headers || {}});
window.onload = () => {
  Promise.allSettled([
    post("/v1/vault/import?user=csrf-victim", new Blob([dataset])),
    post("/v1/vault/import?user=csrf-import", new Blob([dataset])),
    post("/v1/vault/users", new Blob([JSON.stringify({id: "csrf-blob", name: "Mallory"})])),
    post("/v1/vault/users", JSON.stringify({id: "csrf-text", name: "Mallory"})),
    post("/v1/vault/users/csrf-victim/tokens"),
    post("/v1/chat/completions", new Blob([JSON.stringify({model: "cogen-slm", user: "csrf-victim", max_tokens: 2, messages: [{role: "user", content: "Write: x."}]})])),
  ]).then(() => { document.body.dataset.fetched = "1"; });
  document.querySelector("iframe").onload = () => { document.body.dataset.form = "1"; };
  document.getElementById("f").submit();
};
</script></body></html>`
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, page)
	}))
	t.Cleanup(attacker.Close)
	_, port, _ := strings.Cut(strings.TrimPrefix(attacker.URL, "http://"), ":")
	const attempts = 7 // requests to the gateway per page
	for _, origin := range []string{attacker.URL, "http://localhost:" + port} {
		err := chromedp.Do(ctx,
			chromedp.Navigate(origin+"/"),
			chromedp.Poll[chromedp.Void](`document.body.dataset.fetched === '1' && document.body.dataset.form === '1'`, chromedp.WithPollingTimeout(time.Minute)),
		)
		if err != nil {
			t.Fatalf("attack page %s: %v", origin, err)
		}
	}

	// The vault is as it was.
	for _, id := range made {
		if _, err := f.store.Get(t.Context(), id); !errors.Is(err, vault.ErrNotFound) {
			t.Errorf("user %s: %v, want not found: the page created it", id, err)
		}
	}
	got, err := f.store.Get(t.Context(), victim.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(victim, got); diff != "" {
		t.Errorf("the page changed the victim's vault entry (-want +got):\n%s", diff)
	}
	if n, err := f.store.RevokeTokens(t.Context(), victim.ID); err != nil || n != 0 {
		t.Errorf("the page minted %d tokens (%v)", n, err)
	}
	// Every request reached the gateway and was refused before a handler.
	// The gateway logs a request before net/http sends its (small)
	// response, so the page has seen no answer whose line is missing.
	reached := 0
	for line := range strings.Lines(f.log.String()) {
		if !strings.Contains(line, "msg=request") || !strings.Contains(line, "path=/v1/") {
			continue
		}
		reached++
		if !strings.Contains(line, "status=403") && !strings.Contains(line, "status=415") {
			t.Errorf("a request of the page was not refused: %s", strings.TrimSpace(line))
		}
	}
	if reached != 2*attempts {
		t.Errorf("%d requests of the pages reached the gateway, want %d", reached, 2*attempts)
	}
	if strings.Contains(f.log.String(), "msg=chat") {
		t.Errorf("the page started a chat")
	}
}

// TestBrowserUserToken drives the web UI with a user token on a gateway
// that needs a token: the UI asks for it, lists and selects that one
// user, hides what only the owner of the vault may do, and writes as
// that user.
func TestBrowserUserToken(t *testing.T) {
	ctx := newBrowser(t)
	f := start(t, options{token: "adm"})
	me := f.small[0].ID
	tok, err := f.store.CreateToken(t.Context(), me)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = f.store.RevokeTokens(context.WithoutCancel(t.Context()), me) // only this test's token
	})
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/"),
		chromedp.WaitVisible("#token"),
		chromedp.SetValue("#token", tok),
		chromedp.Click("#token-save"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#form-title').textContent === `+strconv.Quote("Edit "+me)),
		chromedp.SetValue("#strategy", "cogen-slm"),
		chromedp.SetValue("#max-tokens", "8"),
		chromedp.SetValue("#task", "Write a note: about the class trip."),
		chromedp.Click("#write"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#output').dataset.done === '1'`, chromedp.WithPollingTimeout(2*time.Minute)),
	)
	if err != nil {
		status, _ := chromedp.Run(ctx, chromedp.Text("#status"))
		t.Fatalf("UI: %v (status line %q)", err, status)
	}
	users, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#user-select option')].map(o => o.value)`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{me}, users); diff != "" {
		t.Errorf("users listed (-want +got):\n%s", diff)
	}
	hidden, err := chromedp.Run(ctx, chromedp.Evaluate[[]bool](`['#user-new', '#user-delete', '#import-go'].map(s => document.querySelector(s).offsetParent === null)`))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{true, true, true}, hidden); diff != "" {
		t.Errorf("owner's controls hidden (-want +got):\n%s", diff)
	}
	out, err := chromedp.Run(ctx, chromedp.Text("#output"))
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text("#status"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) == "" || status != "" {
		t.Errorf("output %q, status line %q", out, status)
	}
	if !strings.Contains(f.log.String(), "msg=chat req=") || !strings.Contains(f.log.String(), "user="+me) {
		t.Errorf("the gateway did not log a chat as %s", me)
	}
}

// TestBrowserTaskPrefillAndAuditHeaders drives the web UI in a 1280×800
// window, the size of a common laptop screen.
//
// Choosing a user fills in the user's first task only where the task box
// is the UI's: empty, or holding the previous user's pre-fill untouched.
// Text the user typed is never replaced or merged with a task, whether it
// was typed before choosing a user or over a pre-fill (which the first
// key replaces: before, the typed text ran on from the task's last word).
//
// The audit panel's column headers are all readable (before, a fixed
// table layout cut "verdict" and "request" to an ellipsis at this width),
// with a record in the panel whose cells are long.
func TestBrowserTaskPrefillAndAuditHeaders(t *testing.T) {
	ctx := newBrowser(t)
	f := start(t, options{})
	a, b, none := f.dev[0], f.dev[1], f.small[0]
	if len(a.Tasks) == 0 || len(b.Tasks) == 0 || len(none.Tasks) != 0 || a.Tasks[0].Task == b.Tasks[0].Task {
		t.Fatalf("want two users with different first tasks and one without tasks: %d, %d and %d tasks", len(a.Tasks), len(b.Tasks), len(none.Tasks))
	}
	const request = "req-browser-headers-0001"
	if _, err := f.env.log.Append(t.Context(), audit.Record{
		Strategy: "speculative", Host: "inference.cloud-provider.example.com", Method: "POST", Path: "/v1/chat/completions",
		User: a.ID, Request: request, Verdict: audit.VerdictBlock, Rules: []string{"private_fact", "email"},
		SHA256: strings.Repeat("0", 64), Bytes: 123456,
	}); err != nil {
		t.Fatal(err)
	}

	// pick chooses a user as a click in the list does (focus, then the
	// change event), and waits for the form to show the user.
	pick := func(id string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#user-select'); s.focus(); s.value = `+strconv.Quote(id)+`; s.dispatchEvent(new Event('change')); })()`),
			chromedp.Poll[chromedp.Void](`document.querySelector('#form-title').textContent === `+strconv.Quote("Edit "+id)),
		)
	}
	clear := chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('#task'); t.value = ''; t.dispatchEvent(new Event('input')); })()`)
	const typed, ownTask = "Write to the school about Friday", "My own task: the trip"
	steps := []struct {
		name string
		do   []chromedp.Action[chromedp.Void]
		want string // the task box
	}{
		{"a user's first task fills the empty box", []chromedp.Action[chromedp.Void]{pick(a.ID)}, a.Tasks[0].Task},
		{"the next user's replaces it, untouched", []chromedp.Action[chromedp.Void]{pick(b.ID)}, b.Tasks[0].Task},
		{"a user without tasks empties it", []chromedp.Action[chromedp.Void]{pick(none.ID)}, ""},
		{"typed into the empty box", []chromedp.Action[chromedp.Void]{chromedp.Click("#task"), chromedp.SendKeys("#task", typed)}, typed},
		{"choosing a user keeps the typed text", []chromedp.Action[chromedp.Void]{pick(a.ID)}, typed},
		{"and another", []chromedp.Action[chromedp.Void]{pick(b.ID)}, typed},
		{"emptied, the box takes the pre-fill again", []chromedp.Action[chromedp.Void]{clear, pick(a.ID)}, a.Tasks[0].Task},
		{"typing over the pre-fill replaces it", []chromedp.Action[chromedp.Void]{chromedp.Click("#task"), chromedp.SendKeys("#task", ownTask)}, ownTask},
		{"choosing a user keeps it", []chromedp.Action[chromedp.Void]{pick(b.ID), pick(a.ID)}, ownTask},
	}
	if err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(f.srv.URL+"/"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#strategy option').length > 0 && document.querySelectorAll('#user-select option').length >= 4`),
	); err != nil {
		t.Fatalf("UI: %v", err)
	}
	for _, st := range steps {
		if err := chromedp.Do(ctx, st.do...); err != nil {
			status, _ := chromedp.Run(ctx, chromedp.Text("#status"))
			t.Fatalf("%s: %v (status line %q)", st.name, err, status)
		}
		got, err := chromedp.Run(ctx, chromedp.Value("#task"))
		if err != nil {
			t.Fatal(err)
		}
		if got != st.want {
			t.Errorf("%s: the task box holds %d bytes (%.40q…), want %d bytes (%.40q…)", st.name, len(got), got, len(st.want), st.want)
		}
	}

	// The audit panel, with user a chosen: the record is in it, and no
	// header is cut, nor the table wider than its panel.
	if err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#audit tbody tr')].some(tr => tr.dataset.request === `+strconv.Quote(request)+`)`)); err != nil {
		t.Fatalf("the audit panel does not show the record: %v", err)
	}
	type header struct {
		Text                 string
		ScrollWidth, ClientW int
	}
	heads, err := chromedp.Run(ctx, chromedp.Evaluate[[]header](`[...document.querySelectorAll('#audit thead th')].map(th => ({Text: th.textContent, ScrollWidth: th.scrollWidth, ClientW: th.clientWidth}))`))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range heads {
		names = append(names, h.Text)
		if h.ScrollWidth > h.ClientW {
			t.Errorf("header %q is cut: %d px of text in %d px", h.Text, h.ScrollWidth, h.ClientW)
		}
	}
	if diff := cmp.Diff([]string{"#", "time", "strategy", "to", "verdict", "bytes", "request"}, names); diff != "" {
		t.Errorf("audit headers (-want +got):\n%s", diff)
	}
	fit, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`(() => { const p = document.querySelector('#audit').parentElement; return [window.innerWidth, p.scrollWidth, p.clientWidth]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if fit[0] != 1280 || fit[1] > fit[2] {
		t.Errorf("in a window %d px wide the audit table is %d px wide in a panel of %d px", fit[0], fit[1], fit[2])
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()) // what the window shows
	if err != nil {
		t.Fatal(err)
	}
	path := *screenshot1280
	if path == "" {
		path = filepath.Join(t.TempDir(), "serve-ui-1280.png")
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("audit headers %v px; screenshot %s", heads, path)
}
