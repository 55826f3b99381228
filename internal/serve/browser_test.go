//go:build cgo

package serve_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

var screenshot = flag.String("screenshot", "", "where TestBrowserWriteWithSketch saves its screenshot (default: a temporary directory)")

// chromium finds a Chromium or Chrome binary.
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserWriteWithSketch drives the web UI in headless Chromium:
// create a user, write with sketch, see the streamed text and the audit
// record of the request, and save a screenshot.
func TestBrowserWriteWithSketch(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test")
	}
	bin := chromium()
	if bin == "" {
		t.Skip("no chromium binary found (apt-get install chromium)")
	}
	f := start(t, options{})
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless,
		chromedp.WindowSize(1500, 1000), chromedp.Flag("disable-gpu", true))
	actx, cancel := chromedp.NewExecAllocator(t.Context(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()

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
