//go:build cgo

package cli_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/eval"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

// evalServer serves the real tiny model with the vLLM-shaped server on
// loopback and counts the requests it answered, per path.
type evalServer struct {
	url string
	mu  sync.Mutex
	ok  map[string]int
	// arrive, when set, runs as a request arrives with the number of
	// chat completions answered so far; returning false drops the request.
	arrive func(chats int) bool
}

func startEvalServer(t *testing.T) *evalServer {
	t.Helper()
	m, err := llamacpp.Open(enginetest.SharedModel(t), llamacpp.Options{ContextSize: 8192, Threads: 1, Parallel: 2, Precise: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() }) // nothing to do about a close error in a test
	s := &evalServer{ok: map[string]int{}}
	h := (&cloud.Server{Model: m, Name: "tiny", Created: time.Now()}).Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		arrive, chats := s.arrive, s.ok["/v1/chat/completions"]
		s.mu.Unlock()
		if arrive != nil && !arrive(chats) {
			http.Error(w, "dropped", http.StatusServiceUnavailable)
			return
		}
		sw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if sw.status == http.StatusOK {
			s.mu.Lock()
			s.ok[r.URL.Path]++
			s.mu.Unlock()
		}
	}))
	t.Cleanup(srv.Close)
	s.url = srv.URL + "/v1"
	return s
}

// total returns the answered requests, all paths together, and the chat
// completions among them.
func (s *evalServer) total() (all, chats int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.ok {
		all += n
	}
	return all, s.ok["/v1/chat/completions"]
}

const evalData = "../../../shared/data/cogenesis/context_dev.json"

// evalConfig writes an evaluation config for the tiny model: 5 records of
// context_dev.json, 2 seeds, the cloud and judge at target, the judge
// grammar-constrained.
func evalConfig(t *testing.T, dir, target string, strategies, extraJudge string) string {
	t.Helper()
	data, err := filepath.Abs(evalData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); err != nil {
		deptest.Missing(t, "dataset not available: %v", err)
	}
	cfg := fmt.Sprintf(`out = "out"
seeds = [1, 2]
max_tokens = 24
cloud_max_tokens = 24
threads = 1
weights = 4

[sampling]
temperature = 0.7
top_p = 0.9

[[datasets]]
name = "context"
path = %q
records = "0:5"

%s

[[models]]
name = "tiny"
slm = %q

[cloud]
target = %q
model = "tiny"

[judge]
target = %q
model = "tiny"
max_tokens = 48
grammar = true
allow_private = true
%s

[prices]
cloud_in = 1.5
cloud_out = 2
judge_in = 10
judge_out = 30
`, data, strategies, enginetest.SharedModel(t), target, target, extraJudge)
	path := filepath.Join(dir, "eval.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var modelCalls = regexp.MustCompile(`model calls this run: (\d+) `)

func callsLine(t *testing.T, stderr string) string {
	t.Helper()
	m := modelCalls.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no model calls line:\n%s", stderr)
	}
	return m[1]
}

func TestEvalEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("real-model evaluation")
	}
	srv := startEvalServer(t)
	dir := t.TempDir()
	path := evalConfig(t, dir, srv.url, `[[strategies]]
strategy = "slm"

[[strategies]]
name = "logits-max"
strategy = "logits"
fusion = "max"
`, "")
	start := time.Now()
	stdout, stderr, err := run(t, "eval", "--config", path)
	if err != nil {
		t.Fatalf("eval: %v\n%s\n%s", err, stdout, stderr)
	}
	all, chats := srv.total()
	t.Logf("first run %v: %d requests (%d chat)\n%s", time.Since(start).Round(time.Millisecond), all, chats, stdout)
	// 20 outputs x 3 prompts + 10 pairs x 2 orders judge requests (the
	// grammar makes every answer rated: no retry); logits asks the cloud
	// for every token.
	if chats != 20*3+10*2 {
		t.Errorf("%d chat completions, want %d judge requests", chats, 20*3+10*2)
	}
	if all <= chats {
		t.Errorf("no logits request reached the cloud (%d requests)", all)
	}
	out := filepath.Join(dir, "out")
	checkEvalOutputs(t, out, stdout)
	// Generated texts come from private context: owner-only, like the vault.
	for _, name := range []string{"eval.db", "judge-audit.jsonl"} {
		fi, err := os.Stat(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, perm)
		}
	}

	// Nothing private reaches the log.
	recs, err := privacy.LoadContextFile(evalData)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs[:5] {
		for _, f := range r.Vault.PrivateFacts {
			if s := f.UnsafeText(); len(s) > 8 && strings.Contains(stderr, s) {
				t.Fatalf("a private fact of record %s appears in the log", r.Vault.ID)
			}
		}
	}
	// The judge requests are recorded, most of them carrying private
	// context.
	var res struct {
		Judge eval.JudgeUsage `json:"judge"`
		Usage []eval.UsageRow `json:"usage"`
	}
	readJSON(t, filepath.Join(out, "results.json"), &res)
	// Beside the 80 judge requests, the judge's log holds the bodiless GETs
	// that detected its kind (no kind given: auto).
	judgeLog, err := audit.Read(filepath.Join(out, "judge-audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	probes := 0
	for _, a := range judgeLog {
		if a.Method == http.MethodGet && a.Bytes == 0 {
			probes++
		}
	}
	if probes == 0 || res.Judge.Requests != 80+probes || res.Judge.Private == 0 || res.Judge.Unrated != 0 || res.Judge.Cost <= 0 {
		t.Errorf("judge usage %+v, %d detection probes", res.Judge, probes)
	}
	if u := res.Usage[1]; u.Requests == 0 || u.CloudCalls == 0 || u.Leaks != 0 || u.Cost <= 0 {
		t.Errorf("logits usage %+v", u)
	}

	// A rerun makes no model call and writes the same tables.
	before, _ := srv.total()
	table1, err := os.ReadFile(filepath.Join(out, "table1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	stdout2, stderr2, err := run(t, "eval", "--config", path)
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, stderr2)
	}
	if after, _ := srv.total(); after != before {
		t.Errorf("rerun made %d requests", after-before)
	}
	if n := callsLine(t, stderr2); n != "0" {
		t.Errorf("rerun reports %s model calls", n)
	}
	table1b, err := os.ReadFile(filepath.Join(out, "table1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(table1, table1b) || stdout2 != stdout {
		t.Errorf("rerun changed the tables:\n%s\n%s", stdout, stdout2)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkEvalOutputs checks that every output exists and parses.
func checkEvalOutputs(t *testing.T, out, stdout string) {
	t.Helper()
	for _, want := range []string{"| Model and setting | context Ovl.(w) | context Per. | context Ovl.(w/o) |", "| tiny + slm |", "| tiny + logits-max |", "Win/Tie/Lose (%)", "| Strategy | Outputs |"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	// Table 1 CSV: a header and one row per setting, numbers in the mean
	// columns.
	f, err := os.Open(filepath.Join(out, "table1.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	_ = f.Close() // read-only
	if err != nil || len(rows) != 3 || len(rows[0]) != 3+3*3 {
		t.Fatalf("table1.csv: %v, %v", rows, err)
	}
	for _, r := range rows[1:] {
		for _, c := range []int{3, 6, 9} {
			var v float64
			if _, err := fmt.Sscan(r[c], &v); err != nil || v < 1 || v > 10 {
				t.Errorf("table1.csv row %v column %d: %q is not a score", r[:2], c, r[c])
			}
		}
	}
	f, err = os.Open(filepath.Join(out, "table3.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err = csv.NewReader(f).ReadAll()
	_ = f.Close() // read-only
	if err != nil || len(rows) != 3 {
		t.Fatalf("table3.csv: %v, %v", rows, err)
	}
	if r := rows[2]; r[2] != "logits-max" || r[4] == "" || r[11] == "" || r[13] == "" {
		t.Errorf("table3.csv row %v: want counts, BLEU and ROUGE-L", r)
	}
	for _, name := range []string{"table1.html", "table3.html"} {
		b, err := os.ReadFile(filepath.Join(out, name))
		// html/template writes "+" as "&#43;": compare the unescaped text.
		if err != nil || !bytes.Contains(b, []byte("<table>")) || !strings.Contains(html.UnescapeString(string(b)), "tiny + logits-max") {
			t.Errorf("%s: %v\n%s", name, err, b)
		}
	}
	for _, name := range []string{"table1.md", "table3.md", "report.md", "usage.md"} {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || !bytes.HasPrefix(bytes.TrimSpace(b), []byte("|")) && name != "report.md" {
			t.Errorf("%s: %v\n%s", name, err, b)
		}
	}
	for _, kind := range []string{"ovl-w", "per", "ovl-wo"} {
		path := filepath.Join(out, "stability-"+kind+".png")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 250 || len(data) < 5000 {
			t.Errorf("%s: %v, %d bytes", path, b, len(data))
		}
		// The lines are drawn in colour: some pixels are neither grey nor
		// white.
		colored := 0
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
				r, g, b, _ := img.At(x, y).RGBA()
				if max(r, g, b)-min(r, g, b) > 0x4000 {
					colored++
				}
			}
		}
		if colored < 50 {
			t.Errorf("%s: %d coloured pixels: no lines drawn", path, colored)
		}
	}
	w, err := os.ReadFile(filepath.Join(out, "weights.html"))
	if err != nil {
		t.Fatal(err)
	}
	spans := regexp.MustCompile(`<span class="t[^"]*" data-w="[0-9.]+" style="background:rgb\((\d+),(\d+),(\d+)\)"`).FindAllStringSubmatch(string(w), -1)
	tinted := 0
	for _, s := range spans {
		if s[1] != "255" || s[2] != "255" || s[3] != "255" {
			tinted++
		}
	}
	if len(spans) < 20 || tinted == 0 || !strings.Contains(string(w), "logits-max") {
		t.Errorf("weights.html: %d token spans, %d coloured", len(spans), tinted)
	}
}

// evalHelperCmd runs evalChild (see TestMain) with the config file.
func evalHelperCmd(config string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], childArgs...)
	cmd.Env = append(os.Environ(), evalHelperEnv+"=1", evalConfigEnv+"="+config)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func TestEvalResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("real-model evaluation")
	}
	srv := startEvalServer(t)
	dir := t.TempDir()
	path := evalConfig(t, dir, srv.url, `[[strategies]]
strategy = "slm"

[[strategies]]
strategy = "sketch"
`, `prompts = ["ovl-wo"]`)
	// Every chat completion is one job: a sketch (one outline) or a judge
	// request (the grammar makes every answer rated). 10 sketches, 20
	// ratings, 10 pairs x 2 orders.
	const wantChats = 10 + 20 + 20
	// The kill comes as a request arrives, after killAfter answered chat
	// completions (in the judge phase), and that request goes unanswered.
	const killAfter = 27
	cmd, out := evalHelperCmd(path)
	k := newSigkill(t)
	srv.mu.Lock()
	srv.arrive = func(chats int) bool {
		if chats < killAfter {
			return true
		}
		k.kill()
		return false
	}
	srv.mu.Unlock()
	k.run(cmd, out)
	if _, err := os.Stat(filepath.Join(dir, "out", "table1.md")); err == nil {
		t.Fatal("the killed run wrote its tables")
	}
	db := filepath.Join(dir, "out", "eval.db")
	ctx := t.Context()
	doneGen, err := eval.DoneKeys(ctx, db, "gen")
	if err != nil {
		t.Fatal(err)
	}
	doneJudged, err := eval.DoneKeys(ctx, db, "judged")
	if err != nil {
		t.Fatal(err)
	}
	journal, err := eval.ReadJournal(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(doneGen) != 20 || len(doneJudged) != killAfter-10 {
		t.Fatalf("before the kill: %d generations, %d judge jobs done; want 20, %d", len(doneGen), len(doneJudged), killAfter-10)
	}

	srv.mu.Lock()
	srv.arrive = nil
	srv.mu.Unlock()
	cmd, out = evalHelperCmd(path)
	if err := cmd.Run(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	_, chats := srv.total()
	if chats != wantChats {
		t.Errorf("%d chat completions answered in both runs, want %d: finished work was repeated", chats, wantChats)
	}
	journal2, err := eval.ReadJournal(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	done := map[string]bool{}
	for _, k := range append(doneGen, doneJudged...) {
		done[k] = true
	}
	for _, e := range journal2[len(journal):] {
		if done[e.Key] {
			t.Errorf("resumed run started finished %s job %s again", e.Phase, e.Key[:12])
		}
	}
	if n := len(journal2) - len(journal); n != wantChats-killAfter {
		t.Errorf("resumed run started %d jobs, want %d", n, wantChats-killAfter)
	}
	if !strings.Contains(out.String(), "generate: 20 outputs, 20 cached, 0 to run") {
		t.Errorf("resumed run output:\n%s", out)
	}
	for _, name := range []string{"table1.md", "table3.csv", "stability-ovl-wo.png", "weights.html"} {
		if _, err := os.Stat(filepath.Join(dir, "out", name)); err != nil {
			t.Errorf("resumed run: %v", err)
		}
	}
}

// TestEvalLocalTargets runs the cloud and the judge as local:PATH: one
// in-process cogen cloud serves both.
func TestEvalLocalTargets(t *testing.T) {
	if testing.Short() {
		t.Skip("real-model evaluation")
	}
	dir := t.TempDir()
	path := evalConfig(t, dir, "local:"+enginetest.SharedModel(t), `[[strategies]]
strategy = "sketch"
`, `prompts = ["ovl-wo", "per"]`)
	cfg, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg = bytes.Replace(cfg, []byte(`records = "0:5"`), []byte(`records = "3:5"`), 1)
	cfg = bytes.Replace(cfg, []byte(`seeds = [1, 2]`), []byte(`seeds = [7]`), 1)
	cfg = bytes.ReplaceAll(cfg, []byte(`model = "tiny"`), nil)
	if err := os.WriteFile(path, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	// The tiny model is F32: its logits change in a batch, so with
	// --concurrency its outputs still run one at a time, and say so.
	stdout, stderr, err := run(t, "eval", "--config", path, "--concurrency", "2")
	if err != nil {
		t.Fatalf("eval: %v\n%s\n%s", err, stdout, stderr)
	}
	if !strings.Contains(stderr, "its outputs run one at a time, so that they equal those of concurrency 1") {
		t.Errorf("--concurrency 2 on the F32 tiny model: no one-at-a-time note\n%s", stderr)
	}
	// 2 generations with one cloud call each, 2 x 2 judge requests.
	if n := callsLine(t, stderr); n == "0" || !strings.Contains(stderr, "(2 generations, ") || !strings.Contains(stderr, ", 4 judge requests)") {
		t.Errorf("first run: %s calls\n%s", n, stderr)
	}
	if !strings.Contains(stdout, "| tiny + sketch |") {
		t.Errorf("stdout:\n%s", stdout)
	}
	// The output holds private-derived text: its folders are the owner's
	// alone, like its files.
	for _, d := range []string{"out", filepath.Join("out", "audit")} {
		fi, err := os.Stat(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm != 0o700 {
			t.Errorf("%s: mode %v, want 0700", d, perm)
		}
	}
	_, stderr, err = run(t, "eval", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	if n := callsLine(t, stderr); n != "0" {
		t.Errorf("rerun: %s model calls\n%s", n, stderr)
	}
}

func TestEvalUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	if err := os.WriteFile(bad, []byte("out = \"x\"\nseedz = [1]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"eval"},
		{"eval", "--config", filepath.Join(dir, "missing.toml")},
		{"eval", "--config", bad},
		{"eval", "--config", bad, "extra"},
		{"eval", "--config", bad, "--concurrency", "0"},
		{"eval", "--config", bad, "--concurrency", "17"},
	} {
		_, _, err := run(t, args...)
		if !errors.As(err, new(*cli.UsageError)) {
			t.Errorf("%v: err = %v, want a usage error", args[1:], err)
		}
	}
	_, _, err := run(t, "eval", "--config", bad)
	if err == nil || !strings.Contains(err.Error(), "bad.toml:2: seedz: unknown key") {
		t.Errorf("error %v: want file, line and key", err)
	}
	if _, _, err := run(t, "eval", "--config", bad, "--concurrency", "17"); err == nil || !strings.Contains(err.Error(), "--concurrency 17: must be in [1, 16]") {
		t.Errorf("--concurrency 17: err = %v, want the range", err)
	}
}

// TestEvalNoResults: a run whose judge never gives a rating (1 answer
// token, no grammar) writes its tables, says so on its progress lines and
// fails with eval.ErrNoResults; so does its rerun, from the cache. The
// progress output counts the outputs up front and estimates their time.
func TestEvalNoResults(t *testing.T) {
	if testing.Short() {
		t.Skip("real-model evaluation")
	}
	data, err := filepath.Abs(evalData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); err != nil {
		deptest.Missing(t, "dataset not available: %v", err)
	}
	model := enginetest.SharedModel(t)
	dir := t.TempDir()
	// Record 138 is the shortest of context_dev.json.
	cfg := fmt.Sprintf(`out = "out"
seeds = [1, 2]
max_tokens = 24
threads = 1

[[datasets]]
name = "context"
path = %q
records = "138:139"

[[strategies]]
strategy = "slm"

[[models]]
name = "tiny"
slm = %q

[cloud]
target = "local:%s"

[judge]
target = "local:%s"
prompts = ["ovl-wo"]
grammar = false
max_tokens = 1
pairwise = "off"
allow_private = true
`, data, model, model, model)
	path := filepath.Join(dir, "eval.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, "eval", "--config", path)
	if !errors.Is(err, eval.ErrNoResults) || errors.As(err, new(*cli.UsageError)) {
		t.Fatalf("err = %v, want eval.ErrNoResults\n%s", err, stderr)
	}
	if want := `the judge gave no Ovl.(w/o) rating: 2 of 2 request series unrated, 0 refused by the judge (set judge.grammar = true`; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if !strings.Contains(stdout, "| tiny + slm | — (2 unrated) |") {
		t.Errorf("stdout: want Table 1 with the unrated outputs:\n%s", stdout)
	}
	for _, want := range []string{
		"eval: 2 outputs to generate, then 2 judge request series (2 ratings, 0 pairwise); a time estimate follows the first outputs\n",
		"generate: estimate about ",
		" for the 1 output left (per output so far: slm ",
		"judge: estimate about ",
		"judge: failed: none of the 2 request series gave a rating or verdict (0 refused by the judge)\n",
		"wrote " + filepath.Join(dir, "out", "table1.md"),
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "request series rated") || strings.Contains(stderr, "judge: done") {
		t.Errorf("stderr reports judging done:\n%s", stderr)
	}

	// The rerun runs nothing, says so, and fails the same way.
	_, stderr, err = run(t, "eval", "--config", path)
	if !errors.Is(err, eval.ErrNoResults) {
		t.Fatalf("rerun: err = %v, want eval.ErrNoResults\n%s", err, stderr)
	}
	for _, want := range []string{
		"eval: all 2 outputs cached; up to 2 judge request series (2 ratings, 0 pairwise) to run\n",
		"generate: 2 outputs, 2 cached, 0 to run: skipped\n",
		"judge: 2 request series (2 ratings, 0 pairwise), 2 cached, 0 to run: skipped\n",
		"model calls this run: 0 ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("rerun stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestEvalGenerationFails: with the cloud unreachable the first sketch
// fails; the progress output says how far generation got and that judging
// was skipped, never "done".
func TestEvalGenerationFails(t *testing.T) {
	if testing.Short() {
		t.Skip("real-model evaluation")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String() + "/v1"
	_ = l.Close() // nothing listens there any more: connections are refused
	dir := t.TempDir()
	path := evalConfig(t, dir, closed, `[[strategies]]
strategy = "sketch"
`, "")
	_, stderr, err := run(t, "eval", "--config", path)
	if err == nil || errors.Is(err, eval.ErrNoResults) {
		t.Fatalf("err = %v, want the cloud's error\n%s", err, stderr)
	}
	for _, want := range []string{
		"eval: 10 outputs to generate, then 30 judge request series (30 ratings, 0 pairwise)",
		"generate: failed after 0 of 10 outputs\n",
		"judge: skipped (generation did not finish)\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "done") || strings.Contains(stderr, "wrote ") {
		t.Errorf("stderr reports work done:\n%s", stderr)
	}
}
