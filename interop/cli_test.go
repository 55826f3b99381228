//go:build cgo

package interop_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cli"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// shortRecord is the dev record with the shortest private context (the
// local model evaluates it before the first token: a long one costs
// seconds on two cores).
const shortRecord = "138"

// TestGenerateAgainstRealServers runs cogen generate as a user would,
// with the default --llm-kind auto, against each real server: logits must
// run, and speculative must be refused before any request unless
// --per-token-fallback is given.
func TestGenerateAgainstRealServers(t *testing.T) {
	data := enginetest.SharedPath("data", "cogenesis", "context_dev.json")
	slm := enginetest.SharedModel(t)
	for _, name := range []string{"llama-server", "ollama"} {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, name)
			generate := func(extra ...string) (string, string, []audit.Record, error) {
				auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
				args := append([]string{"generate", "--slm", slm, "--llm", s.url, "--llm-model", s.model,
					"--dataset", data, "--index", shortRecord, "--max-tokens", "6", "--threads", "2", "--audit", auditPath}, extra...)
				var stdout, stderr bytes.Buffer
				err := cli.Run(t.Context(), args, &stdout, &stderr)
				recs, rerr := audit.Read(auditPath)
				if rerr != nil && err == nil {
					t.Fatal(rerr)
				}
				return stdout.String(), stderr.String(), recs, err
			}
			out, errOut, recs, err := generate("--strategy", "logits")
			if err != nil {
				t.Fatalf("logits: %v\n%s", err, errOut)
			}
			completions := 0
			for _, r := range recs {
				if r.Method == "POST" {
					completions++
				}
			}
			if completions == 0 {
				t.Errorf("logits: no POST in the audit log (%d records)", len(recs))
			}
			t.Logf("logits: %q, %d audit records", strings.TrimSpace(out), len(recs))

			_, _, recs, err = generate("--strategy", "speculative")
			if err == nil || !strings.Contains(err.Error(), "top-k at every position") || !strings.Contains(err.Error(), "--per-token-fallback") {
				t.Errorf("speculative: err %v, want unsupported naming the capability and --per-token-fallback", err)
			}
			for _, r := range recs {
				if r.Method != "GET" {
					t.Errorf("speculative was refused after sending %s %s", r.Method, r.Path)
				}
			}
			if _, errOut, _, err = generate("--strategy", "speculative", "--per-token-fallback"); err != nil {
				t.Errorf("speculative --per-token-fallback: %v\n%s", err, errOut)
			}
		})
	}
}

// TestCloudCheckAgainstRealServers runs cogen cloud check against each
// real server: the verdicts must be what the matrix (TestMatrix) finds by
// running the strategies.
func TestCloudCheckAgainstRealServers(t *testing.T) {
	slm := enginetest.SharedModel(t)
	for _, name := range serverNames {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, name)
			var stdout, stderr bytes.Buffer
			err := cli.Run(t.Context(), []string{"cloud", "check", "--llm", s.url, "--llm-model", s.model, "--slm", slm,
				"--audit", filepath.Join(t.TempDir(), "audit.jsonl")}, &stdout, &stderr)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr.String())
			}
			out := stdout.String()
			rows := map[string]string{}
			for _, line := range strings.Split(out, "\n") {
				f := strings.Fields(line)
				if len(f) >= 2 {
					rows[f[0]] = strings.Join(f[1:], " ")
				}
			}
			if !strings.HasPrefix(rows["kind"], string(s.kind)) || !strings.HasPrefix(rows["tokenizer"], "matches") {
				t.Errorf("kind %q tokenizer %q, want %s and a match:\n%s", rows["kind"], rows["tokenizer"], s.kind, out)
			}
			for _, c := range cells {
				st := strings.Fields(c.name)[0]
				got := rows[st]
				want := "ok"
				if w := wantUnsupported[s.name][st]; w != "" {
					want = "unsupported"
				}
				if !strings.HasPrefix(got, want) {
					t.Errorf("%s: %q, want %s (as the matrix runs it)", st, got, want)
				}
			}
			t.Logf("\n%s", out)
		})
	}
}
