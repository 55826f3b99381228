//go:build cgo

package collab_test

import (
	"log/slog"
	"net/http"
	"testing"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// The in-process cloud answers only its own process: another process on
// the machine that finds its loopback port gets a 401, not the model (a
// crafted request there could otherwise use or crash it).
func TestLocalCloudNeedsItsKey(t *testing.T) {
	lc, err := collab.StartLocalCloud(enginetest.SharedModel(t), 0, 1, slog.New(slog.DiscardHandler))
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

	// DialCloud's client carries the key.
	c, local, err := collab.DialCloud(collab.CloudConfig{Target: "local:" + enginetest.SharedModel(t), Threads: 1, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = local.Close() })
	if _, err := c.Client().Models(t.Context()); err != nil {
		t.Errorf("models through DialCloud: %v", err)
	}
}
