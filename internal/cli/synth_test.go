//go:build cgo

package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/synth"
	"github.com/cogenesis/cogenesis/privacy"
)

// callLog wraps the real cloud handler and records the job header of
// every call the server completed (answered with 200).
type callLog struct {
	mu        sync.Mutex
	completed []string
	// arrive, when set, runs as a request arrives; returning false drops
	// the request unanswered.
	arrive func(job string, completed int) bool
}

func (l *callLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		job := r.Header.Get(synth.JobHeader)
		l.mu.Lock()
		arrive, n := l.arrive, len(l.completed)
		l.mu.Unlock()
		if arrive != nil && !arrive(job, n) {
			http.Error(w, "dropped", http.StatusServiceUnavailable)
			return
		}
		sw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		if sw.status == http.StatusOK && r.URL.Path == "/v1/chat/completions" {
			l.mu.Lock()
			l.completed = append(l.completed, job)
			l.mu.Unlock()
		}
	})
}

func (l *callLog) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.completed...)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// startSynthCloud serves the real tiny model with the vLLM-shaped server
// on loopback, behind a call log.
func startSynthCloud(t *testing.T) (string, *callLog) {
	t.Helper()
	m, err := llamacpp.Open(enginetest.SharedModel(t), llamacpp.Options{ContextSize: 4096, Threads: 1, Parallel: 2, Precise: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() }) // nothing to do about a close error in a test
	l := &callLog{}
	srv := httptest.NewServer(l.wrap((&cloud.Server{Model: m, Name: "tiny", Created: time.Now()}).Handler()))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1", l
}

// synthArgs is a 3 x 2 x 2 run with limits small enough for the tiny
// model to finish its JSON quickly.
func synthArgs(url, dir string, extra ...string) []string {
	return append([]string{"synth", "--llm", url, "--out", filepath.Join(dir, "out.json"), "--db", filepath.Join(dir, "jobs.db"),
		"--portraits", "3", "--users-per-portrait", "2", "--tasks-per-user", "2", "--history", "1",
		"--item-chars", "10", "--text-chars", "100", "--max-tokens", "1024", "--seed", "7", "--retries", "3"}, extra...)
}

const wantRecords = 3 * 2 * 2

var failedLine = regexp.MustCompile(`(?m)^failed (\S+): job (\S+): (.*)$`)

// checkOutput checks the output file against the run's report: every
// expected record is written once or reported as a failure with a reason.
func checkOutput(t *testing.T, dir, stdout string) []privacy.Record {
	t.Helper()
	path := filepath.Join(dir, "out.json")
	recs, err := privacy.LoadContextFile(path)
	if err != nil {
		t.Fatalf("load output: %v", err)
	}
	var raw []struct {
		TID string `json:"tid"`
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range raw {
		if seen[r.TID] {
			t.Errorf("duplicate record %s", r.TID)
		}
		seen[r.TID] = true
	}
	fails := failedLine.FindAllStringSubmatch(stdout, -1)
	for _, f := range fails {
		if strings.TrimSpace(f[3]) == "" {
			t.Errorf("failure %s (job %s) has no reason", f[1], f[2])
		}
		if seen[f[1]] {
			t.Errorf("record %s both written and failed", f[1])
		}
		seen[f[1]] = true
	}
	if len(recs) != wantRecords-len(fails) || len(seen) != wantRecords {
		t.Errorf("%d records + %d failures (%d distinct tids), want %d in all", len(recs), len(fails), len(seen), wantRecords)
	}
	if !strings.Contains(stdout, filepath.Base(path)+": "+strconv.Itoa(len(recs))+" records, "+strconv.Itoa(len(fails))+" failures") {
		t.Errorf("no count line in output:\n%s", stdout)
	}
	if out, _, err := run(t, "data", "validate", path); err != nil && len(recs) > 0 {
		t.Errorf("data validate: %v\n%s", err, out)
	}
	return recs
}

func checkNoRepeats(t *testing.T, calls []string) {
	t.Helper()
	seen := map[string]bool{}
	for _, c := range calls {
		if c == "" {
			t.Errorf("a call without %s", synth.JobHeader)
		}
		if seen[c] {
			t.Errorf("completed call %s repeated", c)
		}
		seen[c] = true
	}
}

func TestSynthEndToEnd(t *testing.T) {
	url, log := startSynthCloud(t)
	dir := t.TempDir()
	start := time.Now()
	stdout, stderr, err := run(t, synthArgs(url, dir)...)
	if err != nil {
		t.Fatalf("synth: %v\n%s\n%s", err, stdout, stderr)
	}
	t.Logf("first run %v, %d calls\n%s", time.Since(start).Round(time.Millisecond), len(log.calls()), stdout)
	recs := checkOutput(t, dir, stdout)
	if len(recs) == 0 {
		t.Fatal("no record survived validation")
	}
	checkNoRepeats(t, log.calls())
	if !strings.Contains(stdout, "usage: this run ") || strings.Contains(stdout, "usage: this run 0 calls") {
		t.Errorf("no usage line for the calls:\n%s", stdout)
	}
	// No generated (private) text reaches the logs.
	for _, r := range recs {
		for _, f := range r.Vault.PrivateFacts {
			if s := f.UnsafeText(); len(s) > 3 && strings.Contains(stderr, s) {
				t.Fatalf("a private fact of %s appears in the log", r.Vault.ID)
			}
		}
	}

	// A second run over the finished store makes no call.
	n := len(log.calls())
	stdout2, _, err := run(t, append(synthArgs(url, dir), "--price-in", "2", "--price-out", "8")...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout2, "cost: this run 0.0000, all runs ") || strings.Contains(stdout2, "all runs 0.0000") {
		t.Errorf("cost line:\n%s", stdout2)
	}
	if len(log.calls()) != n || !strings.Contains(stdout2, "this run 0 calls") {
		t.Errorf("rerun made %d calls", len(log.calls())-n)
	}
}

// barEnd matches a progress bar's final line up to its count.
var barEnd = regexp.MustCompile(`(?m)^(\w+: (?:done|stopped at|failed|skipped)(?: \d+%)? \d+/\d+)\b.*$`)

func TestSynthTotalFailure(t *testing.T) {
	url, log := startSynthCloud(t)
	dir := t.TempDir()
	// One token cannot hold a portrait: the one call is cut at max_tokens,
	// without retries the portrait fails, and nothing else can run.
	stdout, stderr, err := run(t, "synth", "--llm", url, "--out", filepath.Join(dir, "out.json"), "--db", filepath.Join(dir, "jobs.db"),
		"--portraits", "1", "--users-per-portrait", "1", "--tasks-per-user", "1", "--history", "1", "--max-tokens", "1", "--retries", "0")
	if err == nil {
		t.Errorf("synth made no records and succeeded:\n%s", stdout)
	}
	if n := len(log.calls()); n != 1 {
		t.Errorf("%d calls, want 1 (no call for a job whose input failed)", n)
	}
	if !strings.Contains(stdout, "out.json: 0 records, 1 failures") {
		t.Errorf("no count line in output:\n%s", stdout)
	}
	// Each step's bar says what became of it, never "done 100%".
	want := []string{"portraits: failed 1/1", "users: skipped 1/1", "tasks: skipped 1/1", "texts: skipped 2/2"}
	var got []string
	for _, m := range barEnd.FindAllStringSubmatch(stderr, -1) {
		got = append(got, m[1])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress mismatch (-want +got):\n%s\n%s", diff, stderr)
	}
}

// helperCmd runs synthChild (see TestMain) with args.
func helperCmd(t *testing.T, args []string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	enc, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], childArgs...)
	cmd.Env = append(os.Environ(), synthHelperEnv+"=1", synthArgsEnv+"="+string(enc))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	return cmd, &out
}

func TestSynthResumeAfterSIGKILL(t *testing.T) {
	url, log := startSynthCloud(t)
	dir := t.TempDir()

	// One job at a time, so every answered call is committed before the
	// next request arrives; the kill comes as a request arrives, after
	// killAfter completed calls, and that request goes unanswered.
	const killAfter = 14
	cmd, out := helperCmd(t, synthArgs(url, dir, "--concurrency", "1"))
	k := newSigkill(t)
	log.mu.Lock()
	log.arrive = func(job string, completed int) bool {
		if completed < killAfter {
			return true
		}
		k.kill()
		return false
	}
	log.mu.Unlock()
	k.run(cmd, out)
	if _, err := os.Stat(filepath.Join(dir, "out.json")); err == nil {
		t.Fatal("the killed run wrote its output")
	}
	before := len(log.calls())
	if before != killAfter {
		t.Fatalf("%d completed calls before the kill, want %d", before, killAfter)
	}

	log.mu.Lock()
	log.arrive = nil
	log.mu.Unlock()
	cmd, out = helperCmd(t, synthArgs(url, dir, "--concurrency", "2"))
	if err := cmd.Run(); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, out)
	}
	calls := log.calls()
	t.Logf("%d calls before the kill, %d after", before, len(calls)-before)
	checkNoRepeats(t, calls)
	checkOutput(t, dir, out.String())
}

func TestSynthUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"synth", "--out", "x.json", "--portraits", "1", "--users-per-portrait", "1", "--tasks-per-user", "1"},
		{"synth", "--llm", "http://127.0.0.1:1/v1", "--portraits", "1", "--users-per-portrait", "1", "--tasks-per-user", "1"},
		{"synth", "--llm", "http://127.0.0.1:1/v1", "--out", "x.json", "--portraits", "0", "--users-per-portrait", "1", "--tasks-per-user", "1"},
		{"synth", "--llm", "http://127.0.0.1:1/v1", "--out", "x.json", "--portraits", "1", "--users-per-portrait", "1", "--tasks-per-user", "1", "--history", "0"},
	} {
		if _, _, err := run(t, args...); !errors.As(err, new(*cli.UsageError)) {
			t.Errorf("%v: err = %v, want a usage error", args[1:], err)
		}
	}
}
