//go:build cgo

package cli_test

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/privacy"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

func readSFT(t *testing.T, path string) [][]llm.Message {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]llm.Message
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var l struct {
			Messages []llm.Message `json:"messages"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		out = append(out, l.Messages)
	}
	return out
}

func TestDataSFT(t *testing.T) {
	data := enginetest.SharedPath("data", "cogenesis", "context_dev.json")
	recs, err := privacy.LoadContextFile(data)
	if err != nil {
		deptest.Missing(t, "dev data not available: %v", err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "sft.jsonl")
	if _, _, err := run(t, "data", "sft", "--data", data, "--out", out, "--records", "0:4"); err != nil {
		t.Fatal(err)
	}
	// An interrupted write leaves a partial line: the next run cuts it and
	// goes on.
	f, _ := os.OpenFile(out, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"messages":[{"role":"sys`)
	f.Close()
	stdout, _, err := run(t, "data", "sft", "--data", data, "--out", out, "--records", "0:6")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "6 examples (2 new)") {
		t.Errorf("resume: %q", stdout)
	}
	ex := readSFT(t, out)
	if len(ex) != 6 {
		t.Fatalf("%d examples, want 6", len(ex))
	}
	for i, m := range ex {
		if len(m) != 3 || m[0].Role != llm.RoleSystem || m[1].Role != llm.RoleUser || m[2].Role != llm.RoleAssistant {
			t.Fatalf("example %d: roles %v", i, m)
		}
		if m[2].Content != recs[i].Reference.UnsafeText() {
			t.Errorf("example %d: the assistant turn is not the reference", i)
		}
		if !strings.Contains(m[1].Content, "## User Writing History") || strings.Contains(m[1].Content, "## Outline") {
			t.Errorf("example %d: user turn is not the with-context prompt", i)
		}
	}

	// With the cloud's outline, as the sketch strategy prompts.
	model := enginetest.SharedModel(t)
	sk := filepath.Join(dir, "sketch.jsonl")
	auditLog := filepath.Join(dir, "audit.jsonl")
	if _, _, err := run(t, "data", "sft", "--data", data, "--out", sk, "--records", "0:2", "--with-sketch",
		"--llm", "local:"+model, "--cloud-max-tokens", "16", "--audit", auditLog); err != nil {
		t.Fatal(err)
	}
	for i, m := range readSFT(t, sk) {
		if !strings.Contains(m[1].Content, "## Outline from a general assistant") {
			t.Errorf("sketch example %d has no outline", i)
		}
	}
	show, _, err := run(t, "audit", "show", auditLog)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(show, "/v1/chat/completions"); n != 2 {
		t.Errorf("%d chat requests in the audit log, want 2 (one outline per record)", n)
	}

	if _, _, err := run(t, "data", "sft", "--data", data, "--out", filepath.Join(dir, "x.jsonl"), "--with-sketch"); err == nil || !strings.Contains(err.Error(), "--llm") {
		t.Errorf("--with-sketch without --llm: %v", err)
	}
}
