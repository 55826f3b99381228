//go:build cgo

package cli_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// TestAuditSeen runs llm and speculative fusion for the demo user with a
// task that names two private facts, then asks audit seen what the cloud
// saw. The guarded instruction that guard check prints (an independent
// path to it) must be in both strategies' requests, the speculative one
// decoded from token ids; no private item may be; and a request carrying
// a fact, appended afterwards, must be named and fail the command, while
// one sent under the llm-context grant is reported as such.
func TestAuditSeen(t *testing.T) {
	model := enginetest.SharedModel(t)
	user := filepath.Join("..", "..", "examples", "user.toml")
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.jsonl")
	task := "Write a short note about Olav the sourdough starter turning twelve and the second bakery in Bodø."
	for _, st := range []string{"llm", "speculative"} {
		if _, errOut, err := run(t, "generate", "--strategy", st, "--slm", model, "--llm", "local:"+model, "--user", user,
			"--max-tokens", "8", "--cloud-max-tokens", "8", "--threads", "1", "--audit", log, task); err != nil {
			t.Fatalf("generate %s: %v\n%s", st, err, errOut)
		}
	}
	out, _, err := run(t, "guard", "check", "--user", user, "--json", task)
	if err != nil {
		t.Fatal(err)
	}
	var check struct{ Public string }
	if err := json.Unmarshal([]byte(out), &check); err != nil || !strings.Contains(check.Public, "[PRIVATE]") {
		t.Fatalf("guard check: %v, public %q", err, check.Public)
	}

	out, errOut, err := run(t, "audit", "seen", log, "--slm", model, "--user", user, "--json")
	if err != nil {
		t.Fatalf("audit seen: %v\n%s", err, errOut)
	}
	var rep struct {
		Strategies []struct {
			Strategy string
			Requests int
			Tokens   int
			Sent     []struct {
				Seq   []int
				Parts []struct{ Label, Text string }
			}
		}
		Private []struct {
			Kind, Text string
			SeenIn     []int `json:"seen_in"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Strategies) != 2 {
		t.Fatalf("strategies %+v, want llm and speculative", rep.Strategies)
	}
	for _, s := range rep.Strategies {
		var all strings.Builder
		for _, q := range s.Sent {
			for _, p := range q.Parts {
				all.WriteString(p.Text + "\n")
			}
		}
		if !strings.Contains(all.String(), check.Public) {
			t.Errorf("%s: the guarded instruction %q is not in what the cloud saw:\n%s", s.Strategy, check.Public, all.String())
		}
		for _, w := range []string{"Olav", "Bodø"} {
			if strings.Contains(all.String(), w) {
				t.Errorf("%s: %q in what the cloud saw", s.Strategy, w)
			}
		}
		if s.Tokens <= 0 {
			t.Errorf("%s: %d tokens sent", s.Strategy, s.Tokens)
		}
	}
	if n := len(rep.Private); n != 10 {
		t.Errorf("%d private items of the demo user, want 10 (name, location, e-mail, phone, 3 facts, 3 activities)", n)
	}
	for _, it := range rep.Private {
		if len(it.SeenIn) > 0 {
			t.Errorf("%s %q seen in %v", it.Kind, it.Text, it.SeenIn)
		}
	}

	// A request that carries a fact, and one under the llm-context grant.
	l, err := audit.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	leak, _ := json.Marshal(map[string]any{"messages": []map[string]string{{"role": "user", "content": "Olav, her starter, is twelve this year."}}})
	granted, _ := json.Marshal(map[string]any{"messages": []map[string]string{{"role": "user", "content": "Secretly planning to open a second bakery in Bodø next spring"}}})
	for _, r := range []audit.Record{
		{Host: "cloud.example", Method: "POST", Path: "/v1/chat/completions", Verdict: audit.VerdictAllow, Body: string(leak)},
		{Host: "cloud.example", Method: "POST", Path: "/v1/chat/completions", Verdict: audit.VerdictPrivate, Body: string(granted)},
	} {
		if _, err := l.Append(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, _, err = run(t, "audit", "seen", log, "--user", user)
	if err == nil {
		t.Fatalf("audit seen passed a log with a fact in a request:\n%s", out)
	}
	for _, want := range []string{
		"SENT in #", // the leaking request, named
		"Olav and is twelve years old",
		"sent only with your grant (llm-context) in #",
		"1 of the 10 private items were sent without your grant",
		"? tokens", // no --slm: token counts unknown
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit seen output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(err.Error(), "private context left the device") {
		t.Errorf("error %v", err)
	}
}
