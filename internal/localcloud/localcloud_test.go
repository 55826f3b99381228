//go:build cgo

package localcloud_test

import (
	"log/slog"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
	"github.com/cogenesis/cogenesis/internal/localcloud"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// The in-process cloud answers only its own process: another process on
// the machine that finds its loopback port gets a 401, not the model (a
// crafted request there could otherwise use or crash it).
func TestLocalCloudNeedsItsKey(t *testing.T) {
	lc, err := localcloud.Start(enginetest.SharedModel(t), localcloud.Options{Threads: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lc.Close() }) // nothing to do about a close error in a test
	if len(lc.Key) < 32 {
		t.Fatalf("key %q is too short", lc.Key)
	}
	get := func(auth string) int {
		req, err := http.NewRequestWithContext(t.Context(), "GET", lc.URL+"/models", nil)
		if err != nil {
			t.Fatal(err)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", got)
	}
	if got := get("Bearer not-the-key"); got != http.StatusUnauthorized {
		t.Errorf("wrong token: status %d, want 401", got)
	}
	if got := get("Bearer " + lc.Key); got != http.StatusOK {
		t.Errorf("the key: status %d, want 200", got)
	}

	// A client for the target "local:PATH", built by the egress, carries
	// the key.
	api, local, err := localcloud.Target("local:"+enginetest.SharedModel(t), openaiapi.Config{}, localcloud.Options{Threads: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	c, err := egress.Dial(egress.Config{Policy: egress.User, Log: log, Guard: privacy.NewGuard(nil)}, api)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Models(t.Context()); err != nil {
		t.Errorf("models through the egress: %v", err)
	}
}
