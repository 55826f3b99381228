//go:build newcomer

package newcomer

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// world is the fresh clone and what it needs.
type world struct {
	t      *testing.T
	clone  string // the fresh clone
	shared string // ../shared beside it
	model  string // the tiny real model
	out    string // a scratch directory outside the clone
}

func setup(t *testing.T) *world {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := filepath.Abs(filepath.Join(root, "..", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(shared, "models", "aidreams260K.gguf")); err != nil {
		t.Fatalf("the newcomer test needs ../shared beside the checkout: %v", err)
	}
	dir := t.TempDir()
	if err := os.Symlink(shared, filepath.Join(dir, "shared")); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, clone: filepath.Join(dir, "cogenesis"), shared: filepath.Join(dir, "shared"), out: t.TempDir()}
	w.model = filepath.Join(w.shared, "models", "aidreams260K.gguf")
	if out, err := exec.Command("git", "clone", "-q", root, w.clone).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	return w
}

// run runs a command in the clone and returns its combined output; a
// non-zero exit fails the test.
func (w *world) run(timeout time.Duration, env []string, name string, args ...string) string {
	w.t.Helper()
	out, err := w.try(timeout, env, name, args...)
	if err != nil {
		w.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out, 4000))
	}
	return out
}

func (w *world) try(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(w.t.Context(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = w.clone
	cmd.Env = append(os.Environ(), env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	err := cmd.Run()
	return b.String(), err
}

// cogen runs the clone's bin/cogen.
func (w *world) cogen(args ...string) string {
	w.t.Helper()
	return w.run(10*time.Minute, nil, filepath.Join(w.clone, "bin", "cogen"), args...)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

const demoTask = "Write a short newsletter for the bakery's spring menu that mentions Olav the sourdough starter turning twelve and hints at the plans for a second bakery in Bodø."

// private are the demo user's private items (examples/user.toml), and
// words only they contain, written out here rather than read through the
// code under test.
var private = []string{
	"Marguerite", "Okonkwo", "Lindqvist", "Tromsø", "marguerite@sourdough-nord.example", "912 34 567",
	"wrist fracture", "skiing accident", "Bodø", "Olav", "twelve years old",
	"4:30 every weekday", "physiotherapy", "business loan",
}

func TestNewcomer(t *testing.T) {
	w := setup(t)
	t.Run("demo", w.demo)
	t.Run("readme", w.readme)
	t.Run("clean", func(t *testing.T) {
		// Everything the demo and the commands wrote in the clone is
		// git-ignored.
		if out := w.run(time.Minute, nil, "git", "status", "--porcelain"); strings.TrimSpace(out) != "" {
			t.Errorf("files the commands wrote are not ignored:\n%s", out)
		}
	})
}

func (w *world) demo(t *testing.T) {
	start := time.Now()
	out := w.run(60*time.Minute, []string{"MODEL=" + w.model}, "make", "demo")
	t.Logf("make demo: %s", time.Since(start).Round(time.Second))
	demoOut := filepath.Join(w.clone, "demo-out")
	for _, f := range []string{"audit.jsonl", "trace-slm.html", "trace-sketch.html", "trace-logits.html", "trace-speculative.html"} {
		if fi, err := os.Stat(filepath.Join(demoOut, f)); err != nil {
			t.Errorf("make demo did not write %s: %v", f, err)
		} else if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is mode %v; it holds private text", f, fi.Mode().Perm())
		}
	}
	if !strings.Contains(out, "trace: strategy llm has no per-token trace") {
		t.Errorf("the demo does not say that llm has no trace")
	}
	for _, s := range []string{"slm", "sketch", "logits", "speculative"} {
		checkHeatmap(t, filepath.Join(demoOut, "trace-"+s+".html"), s == "logits" || s == "speculative")
	}

	// What the cloud saw: the guarded instruction, in every strategy that
	// asked the cloud, and none of the private context.
	guarded := w.cogen("guard", "check", "--user", "examples/user.toml", "--json", demoTask)
	var check struct{ Public string }
	if err := json.Unmarshal([]byte(guarded), &check); err != nil || !strings.Contains(check.Public, "[PRIVATE]") {
		t.Fatalf("guard check: %v, public %q", err, check.Public)
	}
	_, saw, ok := strings.Cut(out, "What the cloud saw")
	saw, _, ok2 := strings.Cut(saw, "The private context of")
	if !ok || !ok2 {
		t.Fatalf("the demo does not show what the cloud saw:\n%s", tail(out, 3000))
	}
	sections := strings.Split(saw, "\n== ")[1:]
	if len(sections) != 4 {
		t.Errorf("what the cloud saw has %d strategy sections, want llm, sketch, logits, speculative", len(sections))
	}
	for _, sec := range sections {
		name, _, _ := strings.Cut(sec, ":")
		if !strings.Contains(sec, check.Public) {
			t.Errorf("%s: the guarded instruction %q is not in what the cloud saw", name, check.Public)
		}
		for _, p := range private {
			if strings.Contains(sec, p) {
				t.Errorf("%s: the cloud saw %q", name, p)
			}
		}
	}
	if !strings.Contains(out, "None of the 10 private items was in a request sent without your grant.") {
		t.Errorf("the demo does not list the private items as not sent")
	}
	if !regexp.MustCompile(`audit.jsonl: \d+ records, chain intact, head matches`).MatchString(out) {
		t.Errorf("the demo's audit log does not verify")
	}
}

var span = regexp.MustCompile(`<span class="t( n)?" data-w="([0-9.]+)" style="background:rgb\((\d+),(\d+),(\d+)\)"`)

// checkHeatmap checks each token's colour in a heat map against its
// weight in the trace embedded in the page, by the colour scale the
// README states (computed here, not by the code under test), and with
// fusion that the weights span at least 0.3.
func checkHeatmap(t *testing.T, path string, fused bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	html := string(b)
	_, js, _ := strings.Cut(html, `<script type="application/json" id="trace">`)
	js, _, _ = strings.Cut(js, "</script>")
	var tr struct {
		Steps []struct {
			W         float64
			Consulted bool
		}
	}
	if err := json.Unmarshal([]byte(js), &tr); err != nil {
		t.Errorf("%s: the embedded trace: %v", path, err)
		return
	}
	spans := span.FindAllStringSubmatch(html, -1)
	if len(spans) != len(tr.Steps) || len(spans) == 0 {
		t.Errorf("%s: %d coloured tokens, %d trace steps", path, len(spans), len(tr.Steps))
		return
	}
	lo, hi := 1.0, 0.0
	for i, m := range spans {
		w := tr.Steps[i].W
		lo, hi = min(lo, w), max(hi, w)
		got := [3]int{atoi(m[3]), atoi(m[4]), atoi(m[5])}
		if want := colour(w); got != want {
			t.Errorf("%s: token %d has w %.4f and colour %v, want %v", path, i, w, got, want)
		}
		if dw, _ := strconv.ParseFloat(m[2], 64); math.Abs(dw-w) > 1e-4 {
			t.Errorf("%s: token %d: data-w %s, trace %v", path, i, m[2], w)
		}
		if (m[1] == "") != tr.Steps[i].Consulted {
			t.Errorf("%s: token %d: dashed %v, consulted %v", path, i, m[1] != "", tr.Steps[i].Consulted)
		}
	}
	if fused && hi-lo < 0.3 {
		t.Errorf("%s: the weights span %.2f..%.2f, less than 0.3", path, lo, hi)
	}
	if !fused && (lo != 1 || hi != 1) {
		t.Errorf("%s: the local model wrote alone, yet w spans %.2f..%.2f", path, lo, hi)
	}
	t.Logf("%s: %d tokens, w %.2f..%.2f", filepath.Base(path), len(spans), lo, hi)
}

// colour is the README's scale: white at w = 0.5, to rgb(255,80,80) at
// w = 1 (the local model) and rgb(80,120,255) at w = 0 (the cloud),
// linear on each side.
func colour(w float64) [3]int {
	r := func(x float64) int { return int(math.Round(x)) }
	if w >= 0.5 {
		g := 255 - (w-0.5)/0.5*(255-80)
		return [3]int{255, r(g), r(g)}
	}
	a := (0.5 - w) / 0.5
	return [3]int{r(255 - a*(255-80)), r(255 - a*(255-120)), 255}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// freePort returns a loopback address no one listens on now.
func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitHTTP waits until url answers.
func waitHTTP(t *testing.T, url string) {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s did not answer within 2 minutes", url)
}

// readme runs the README's commands, each as its table shows it, on the
// tiny model and the shared data, and checks the files each promises.
func (w *world) readme(t *testing.T) {
	m, dev := w.model, filepath.Join(w.shared, "data", "cogenesis", "context_dev.json")
	o := func(name string) string { return filepath.Join(w.out, name) }
	exists := func(paths ...string) {
		t.Helper()
		for _, p := range paths {
			if fi, err := os.Stat(p); err != nil {
				t.Errorf("not written: %v", err)
			} else if fi.Size() == 0 && !fi.IsDir() {
				t.Errorf("%s is empty", p)
			}
		}
	}
	task := "Write a toast for my sister's wedding"
	steps := []struct {
		args  []string
		files []string
	}{
		{args: []string{"--version"}},
		{args: []string{"help"}},
		{args: []string{"generate", "--slm", m, "--max-tokens", "8", "--seed", "1", "Once upon"}},
		{args: []string{"generate", "--strategy", "logits", "--slm", m, "--llm", "local:" + m, "--user", "examples/user.toml", "--max-tokens", "16", "--fusion", "max", "--trace", o("trace.json"), "--audit", o("audit.jsonl"), task}, files: []string{o("trace.json"), o("audit.jsonl")}},
		{args: []string{"generate", "--strategy", "speculative", "--slm", m, "--llm", "local:" + m, "--dataset", dev, "--index", "3", "--max-tokens", "16", "--audit", o("audit.jsonl")}},
		{args: []string{"audit", "show", o("audit.jsonl")}},
		{args: []string{"audit", "seen", o("audit.jsonl"), "--slm", m, "--user", "examples/user.toml"}},
		{args: []string{"audit", "verify", o("audit.jsonl")}},
		{args: []string{"model", "info", m}},
		{args: []string{"testmodel", "--arch", "qwen2", "--shape", "tiny", "--type", "q8_0", "--out", o("tiny.gguf")}, files: []string{o("tiny.gguf")}},
		{args: []string{"bench", "engine", "--model", m, "--reps", "1"}},
		{args: []string{"data", "validate", dev}},
		{args: []string{"data", "stats", dev}},
		{args: []string{"data", "sft", "--data", dev, "--records", "0:4", "--out", o("sft.jsonl")}, files: []string{o("sft.jsonl")}},
		{args: []string{"vault", "import", "--vault", o("vault.db"), "--dataset", dev}, files: []string{o("vault.db")}},
		{args: []string{"vault", "import", "--vault", o("vault.db"), "--dataset", "examples/user.toml"}},
		{args: []string{"vault", "list", "--vault", o("vault.db")}},
		{args: []string{"vault", "export", "--vault", o("vault.db"), "--out", o("users.json")}, files: []string{o("users.json")}},
		{args: []string{"guard", "check", "--user", "examples/user.toml", task + " in Tromsø"}},
		{args: []string{"guard", "eval", "--pupa", filepath.Join(w.shared, "data", "pupa", "PUPA_New.csv")}},
		{args: []string{"fusion", "extract", "--slm", m, "--llm", "local:" + m, "--data", dev, "--out", o("extract"), "--records", "0:3", "--allow-private-egress"}, files: []string{o("extract")}},
		{args: []string{"fusion", "extract", "--slm", m, "--llm", "local:" + m, "--data", dev, "--out", o("extract-dev"), "--records", "100:102", "--allow-private-egress"}, files: []string{o("extract-dev")}},
		{args: []string{"fusion", "train", "--train", o("extract"), "--dev", o("extract-dev"), "--out", o("comb.safetensors")}, files: []string{o("comb.safetensors")}},
		{args: []string{"fusion", "eval", "--data", o("extract-dev"), "--comb", o("comb.safetensors"), "--markdown"}},
		{args: []string{"generate", "--strategy", "logits", "--fusion", "learned", "--comb", o("comb.safetensors"), "--slm", m, "--llm", "local:" + m, "--user", "examples/user.toml", "--max-tokens", "8", "--audit", o("audit2.jsonl"), task}},
		{args: []string{"bench", "collab", "--slm", m, "--llm", "local:" + m, "--latency", "10ms", "--tokens", "32"}},
		{args: []string{"eval", "--config", "examples/eval.toml"}, files: []string{filepath.Join(w.clone, "eval-out")}},
	}
	for _, st := range steps {
		start := time.Now()
		w.cogen(st.args...)
		t.Logf("cogen %s: %s", strings.Join(st.args, " "), time.Since(start).Round(time.Millisecond))
		exists(st.files...)
	}

	// The servers: cogen cloud, cloud check against it, and the gateway.
	addr := freePort(t)
	cloud := exec.Command(filepath.Join(w.clone, "bin", "cogen"), "cloud", "--model", m, "--addr", addr)
	cloud.Dir = w.clone
	if err := cloud.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cloud.Process.Kill(); cloud.Wait() }()
	waitHTTP(t, "http://"+addr+"/v1/models")
	w.cogen("cloud", "check", "--llm", "http://"+addr+"/v1", "--slm", m, "--audit", o("check.jsonl"))
	gw := freePort(t)
	serve := exec.Command(filepath.Join(w.clone, "bin", "cogen"), "serve", "--slm", m, "--llm", "http://"+addr+"/v1", "--addr", gw, "--vault", o("vault.db"))
	serve.Dir = w.clone
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { serve.Process.Kill(); serve.Wait() }()
	waitHTTP(t, "http://"+gw+"/")
	resp, err := http.Get("http://" + gw + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the web UI: %s", resp.Status)
	}
}
