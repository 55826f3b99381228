package eval

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/cloud"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/engine/llamacpp"
	"github.com/cogenesis/cogenesis/internal/localcloud"
	"github.com/cogenesis/cogenesis/openaiapi"
)

// TestKindAutoResolves dials a cogen cloud at a URL with the default kind
// (auto) as the generation cloud and as the judge: each resolves to vllm,
// its probes recorded as bodiless GETs in that client's audit log. A kind
// the server contradicts is refused before any model request.
func TestKindAutoResolves(t *testing.T) {
	// The default: a URL target without kind is auto; a local: one is vllm.
	path := writeConfig(t, strings.Replace(strings.Replace(validConfig, `kind = "vllm"`, "", 1), `target = "local:{model}"`, "target = \"local:{model}\"\nkind = \"auto\"", 1))
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.Judge.Kind != string(openaiapi.KindAuto) || c.Cloud.Kind != string(openaiapi.KindVLLM) {
		t.Fatalf("judge kind %q, cloud kind %q: want auto for a URL, vllm for local:", c.Judge.Kind, c.Cloud.Kind)
	}

	m, err := llamacpp.Open(enginetest.SharedModel(t), llamacpp.Options{ContextSize: 256, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() }) // nothing to do about a close error in a test
	h := (&cloud.Server{Model: m, Name: "tiny", Created: time.Now()}).Handler()
	var posts atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			posts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	out := t.TempDir()
	if err := os.MkdirAll(filepath.Join(out, "audit"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := &Config{
		Out:        out,
		Strategies: []Strategy{{Name: "sketch", Strategy: "sketch"}},
		Cloud:      Cloud{Target: srv.URL + "/v1", Kind: "auto", Model: "tiny"},
		Judge:      Judge{Target: srv.URL + "/v1", Kind: "auto", Model: "tiny", Grammar: true},
	}
	r := &runner{cfg: cfg, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), out: io.Discard,
		locals: map[string]*localcloud.Cloud{}, ids: map[string]string{}}

	jc, closeJudge, err := r.judgeClient(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	closeJudge()
	pool := r.newCloudPool(nil)
	cc, err := pool.cloudFor(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Each generation worker has a client of its own (its usage counts
	// are one job's), dialled without detecting the kind again.
	again, err := pool.cloudFor(t.Context(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pool.cloudFor(t.Context(), 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	pool.close()
	if again != cc || other == cc || other.Client() == cc.Client() || other.Client().Kind() != openaiapi.KindVLLM {
		t.Errorf("worker clouds: same worker %v, other worker distinct %v, other kind %q", again == cc, other != cc, other.Client().Kind())
	}
	if jc.Kind() != openaiapi.KindVLLM || cc.Client().Kind() != openaiapi.KindVLLM {
		t.Errorf("judge kind %q, cloud kind %q: want vllm (cogen cloud)", jc.Kind(), cc.Client().Kind())
	}
	for _, log := range []string{"judge-audit.jsonl", filepath.Join("audit", "sketch.jsonl")} {
		recs, err := audit.Read(filepath.Join(out, log))
		if err != nil {
			t.Fatal(err)
		}
		models := false
		for _, a := range recs {
			if a.Method != http.MethodGet || a.Bytes != 0 {
				t.Errorf("%s: %s %s with %d bytes: detection sends bodiless GETs only", log, a.Method, a.Path, a.Bytes)
			}
			models = models || a.Path == "/v1/models"
		}
		if !models {
			t.Errorf("%s: %d records, none GET /v1/models: the probes were not recorded", log, len(recs))
		}
	}

	cfg.Judge.Kind = string(openaiapi.KindLlamaCpp)
	if _, _, err := r.judgeClient(t.Context()); err == nil || !strings.Contains(err.Error(), "judge.kind llamacpp") || !strings.Contains(err.Error(), "looks like vllm") {
		t.Errorf("judge.kind llamacpp against cogen cloud: err = %v, want a mismatch naming both kinds", err)
	}
	if n := posts.Load(); n != 0 {
		t.Errorf("%d requests other than GET reached the server", n)
	}
}
