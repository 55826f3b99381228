//go:build cgo

package interop_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/openaiapi"
)

// TestDetectLive identifies each running server's kind with
// openaiapi.Client.Detect, through the egress, and checks that a wrong
// explicit kind is refused naming the right one (the mistake the issue
// met: --llm-kind vllm against llama-server failed with "the cloud
// tokenizes a probe text into 0 tokens").
func TestDetectLive(t *testing.T) {
	for _, name := range serverNames {
		t.Run(name, func(t *testing.T) {
			s := startServer(t, name)
			probe := *s
			probe.kind = openaiapi.KindOpenAI // the client's own kind plays no part
			c, log := dial(t, &probe, nil, nil)
			kind, d, err := openaiapi.ResolveKind(t.Context(), c.Client(), openaiapi.KindAuto)
			if err != nil {
				t.Fatal(err)
			}
			if kind != s.kind || !d.Conclusive {
				t.Errorf("detected %s (conclusive %v, %s), want %s", kind, d.Conclusive, d.Evidence, s.kind)
			}
			if d.ContextSize != 0 && d.ContextSize != cloudContext {
				t.Errorf("context %d, want %d (or unknown)", d.ContextSize, cloudContext)
			}
			t.Logf("%s: %s, version %q, context %d; probes: %s", name, d.Evidence, d.Version, d.ContextSize, strings.Join(d.Probes, "; "))
			wrong := openaiapi.KindVLLM
			if s.kind == openaiapi.KindVLLM {
				wrong = openaiapi.KindLlamaCpp
			}
			_, _, err = openaiapi.ResolveKind(t.Context(), c.Client(), wrong)
			var mis *openaiapi.KindMismatchError
			if !errors.As(err, &mis) || mis.Detected != s.kind || !strings.Contains(err.Error(), string(s.kind)) {
				t.Errorf("--llm-kind %s against %s: err %v, want a mismatch naming %s", wrong, name, err, s.kind)
			}
			for _, r := range readRecords(t, log) {
				if r.Method != "GET" || r.Bytes != 0 {
					t.Errorf("probe %s %s carried %d bytes, want a bodiless GET", r.Method, r.Path, r.Bytes)
				}
			}
		})
	}
}
