//go:build cgo

package cli_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/localcloud"
)

// startCheckCloud serves the tiny test model with cogen cloud on loopback,
// as a remote vLLM-shaped server would be reached: by URL, with its key in
// the environment.
func startCheckCloud(t *testing.T) (url, model string) {
	t.Helper()
	model = enginetest.SharedModel(t)
	lc, err := localcloud.Start(model, localcloud.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lc.Close() }) // nothing to do about a close error in a test
	t.Setenv("COGEN_API_KEY", lc.Key)
	return lc.URL, model
}

// checkTable returns the STRATEGY/SUPPORT rows and the lines above them
// (key → value) of cogen cloud check's output.
func checkTable(t *testing.T, out string) (head, rows map[string]string) {
	t.Helper()
	head, rows = map[string]string{}, map[string]string{}
	cols := regexp.MustCompile(`\s{2,}`)
	table := false
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if line == "" {
			continue
		}
		kv := cols.Split(line, 2)
		if len(kv) != 2 {
			t.Fatalf("line %q is not two columns:\n%s", line, out)
		}
		switch {
		case kv[0] == "STRATEGY":
			table = true
		case table:
			rows[kv[0]] = kv[1]
		default:
			head[kv[0]] = kv[1]
		}
	}
	return head, rows
}

func TestCloudCheckVLLMKind(t *testing.T) {
	url, model := startCheckCloud(t)
	auditPath := filepath.Join(t.TempDir(), "audit.jsonl")
	out, _, err := run(t, "cloud", "check", "--llm", url, "--slm", model, "--threads", "1", "--ctx", "512", "--audit", auditPath)
	if err != nil {
		t.Fatalf("cloud check: %v\n%s", err, out)
	}
	head, rows := checkTable(t, out)
	want := map[string]string{
		"llm":                                 "ok",
		"sketch":                              "ok",
		"sketch-full":                         "ok",
		"logits":                              "ok",
		"speculative":                         "ok",
		"fusion extract (CombModel training)": "ok",
		"llm-context":                         "ok with limits: sends the private context to the cloud; needs --allow-private-egress",
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("support table (-want +got):\n%s\n%s", diff, out)
	}
	for key, want := range map[string]string{
		"cloud":     strings.TrimSuffix(url, "/v1"),
		"kind":      `vllm (detected: GET /v1/models lists models owned_by "cogenesis" (cogen cloud, which speaks vLLM's protocol))`,
		"version":   "cogenesis",
		"top-k":     "at most 20 per position by default; --top-k 10 fits",
		"tokenizer": "matches the local model's",
	} {
		if got := head[key]; !strings.HasPrefix(got, want) {
			t.Errorf("%s: %q, want %q\n%s", key, got, want, out)
		}
	}
	if !regexp.MustCompile(`^[1-9][0-9]* tokens$`).MatchString(head["context"]) {
		t.Errorf("context: %q, want the server's max_model_len", head["context"])
	}

	// Everything it sent went through the egress and is in the audit log:
	// the detection's bodiless GETs and one tokenize request.
	recs, err := audit.Read(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		if r.Verdict != audit.VerdictAllow {
			t.Errorf("%s %s: verdict %s", r.Method, r.Path, r.Verdict)
		}
		if r.Method == http.MethodGet && r.Bytes != 0 {
			t.Errorf("GET %s carried %d bytes", r.Path, r.Bytes)
		}
		got = append(got, r.Method+" "+r.Path)
	}
	wantReqs := []string{"GET /props", "GET /api/version", "GET /get_server_info", "GET /v1/models", "GET /version", "POST /tokenize"}
	if diff := cmp.Diff(wantReqs, got); diff != "" {
		t.Errorf("audited requests (-want +got):\n%s", diff)
	}
}

func TestCloudCheckKindGiven(t *testing.T) {
	url, _ := startCheckCloud(t)
	dir := t.TempDir()
	t.Run("agrees", func(t *testing.T) {
		out, _, err := run(t, "cloud", "check", "--llm", url, "--llm-kind", "vllm", "--audit", filepath.Join(dir, "a.jsonl"))
		if err != nil {
			t.Fatalf("cloud check --llm-kind vllm: %v", err)
		}
		head, rows := checkTable(t, out)
		if !strings.HasPrefix(head["kind"], "vllm (--llm-kind, and the server agrees") || rows["speculative"] != "ok" {
			t.Errorf("kind %q, speculative %q\n%s", head["kind"], rows["speculative"], out)
		}
		if !strings.HasPrefix(head["tokenizer"], "not checked") {
			t.Errorf("tokenizer without --slm: %q", head["tokenizer"])
		}
	})
	t.Run("contradicted", func(t *testing.T) {
		_, _, err := run(t, "cloud", "check", "--llm", url, "--llm-kind", "llamacpp", "--audit", filepath.Join(dir, "b.jsonl"))
		if err == nil {
			t.Fatal("--llm-kind llamacpp against cogen cloud: no error")
		}
		for _, want := range []string{"--llm-kind llamacpp, but " + strings.TrimSuffix(url, "/v1") + " looks like vllm", "GET /v1/models", "use --llm-kind vllm or auto"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if _, _, err := run(t, "cloud", "check", "--llm", url, "--llm-kind", "tgi", "--audit", filepath.Join(dir, "c.jsonl")); err == nil || !strings.Contains(err.Error(), "tgi") {
			t.Errorf("--llm-kind tgi: err = %v", err)
		}
	})
}
