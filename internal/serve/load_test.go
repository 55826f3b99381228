//go:build cgo

package serve_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/internal/deptest"
	"github.com/cogenesis/cogenesis/internal/statecache"
)

var (
	loadFor     = flag.Duration("load", 5*time.Second, "how long TestLoadConcurrentStreams runs its 16 streaming clients (the acceptance run: -load=60s)")
	loadStrats  = flag.String("load-strategies", "slm,sketch,logits,speculative", "strategies TestLoadConcurrentStreams cycles through")
	loadCompare = flag.Bool("load-compare", false, "TestLoadConcurrentStreams: run without saved context states first, and log the ratio of the p50 latencies")
	loadContext = flag.String("load-context", "small", "vaults of TestLoadConcurrentStreams: small (two hand-written users, a few hundred prompt tokens) or dev (two dev-data users, about 6,000 prompt tokens each)")
)

// procStatus reads a field of /proc/self/status in KiB.
func procStatus(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		deptest.Missing(t, "no /proc: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib)
			return kib
		}
	}
	return 0
}

// TestLoadConcurrentStreams runs 16 streaming clients against the gateway
// for -load (default 5s), over the strategies slm, sketch, logits and
// speculative and two users, with the users' saved context states
// (serve.Server.States), and checks that no request fails and that
// memory stays bounded. It logs requests, p50/p95 latency and peak RSS.
// With -load-compare it first runs as long without saved states, and
// logs the ratio of the two p50 latencies.
func TestLoadConcurrentStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	var users []string
	f := start(t, options{})
	switch *loadContext {
	case "dev":
		users = []string{f.dev[0].ID, f.dev[1].ID}
	case "small":
		users = []string{f.small[0].ID, f.small[1].ID}
	default:
		t.Fatalf("-load-context %q: want small or dev", *loadContext)
	}
	var before time.Duration
	if *loadCompare {
		before = loadRun(t, f, users, "without saved states")
		// A gateway of its own for the second run: the first one's
		// runners (one per user, cached) have no states.
		f = start(t, options{})
	}
	states, err := statecache.Open(filepath.Join(t.TempDir(), "states"), statecache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.s.States = states
	after := loadRun(t, f, users, "with saved states")
	st, err := states.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("saved states: %d files of %d users, %d hits, %d misses", st.Files, st.Users, st.Hits, st.Misses)
	if st.Hits == 0 {
		t.Errorf("the gateway did not use the saved states: %+v", st)
	}
	if *loadCompare && before > 0 {
		t.Logf("p50 with saved states / without: %v / %v = %.3f", after.Round(time.Millisecond), before.Round(time.Millisecond), after.Seconds()/before.Seconds())
	}
}

// loadRun runs the load and returns the p50 latency.
func loadRun(t *testing.T, f *fixture, users []string, what string) time.Duration {
	// With dev-data vaults and no saved states, every request whose local
	// sequence last held the other user's prompt evaluates about 6,000
	// prompt tokens again (seconds on two cores): that measures the
	// engine's prompt speed more than the gateway, so the default vaults
	// are small.
	const clients = 16
	strategies := strings.Split(*loadStrats, ",")
	rss0 := procStatus(t, "VmRSS")
	deadline := time.Now().Add(*loadFor)
	var (
		requests, pieces, failures atomic.Int64
		mu                         sync.Mutex
		lat                        []time.Duration
		rssHalf                    int64
	)
	half := time.Now().Add(*loadFor / 2)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				if i == 0 && rssHalf == 0 && time.Now().After(half) {
					runtime.GC()
					mu.Lock()
					rssHalf = procStatus(t, "VmRSS")
					mu.Unlock()
				}
				req := chatReq(strategies[(i+n)%len(strategies)], users[i%len(users)], fmt.Sprintf("Write note %d: for client %d.", n, i), true)
				req["seed"] = i*1000 + n
				body, _ := json.Marshal(req)
				start := time.Now()
				resp, err := http.Post(f.srv.URL+"/v1/chat/completions", "application/json", bytes.NewReader(body))
				if err != nil {
					failures.Add(1)
					t.Errorf("client %d request %d: %v", i, n, err)
					return
				}
				got, done, errEv := 0, false, ""
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					data, ok := strings.CutPrefix(sc.Text(), "data: ")
					switch {
					case !ok:
					case data == "[DONE]":
						done = true
					case strings.HasPrefix(data, `{"error"`):
						errEv = data
					default:
						got++
					}
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !done || errEv != "" || sc.Err() != nil {
					failures.Add(1)
					t.Errorf("client %d request %d: status %d, done %v, error %s %v", i, n, resp.StatusCode, done, errEv, sc.Err())
					return
				}
				requests.Add(1)
				pieces.Add(int64(got))
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	runtime.GC()
	rssEnd, peak := procStatus(t, "VmRSS"), procStatus(t, "VmHWM")
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	t.Logf("%s: %s vaults, strategies %s, %d clients for %v: %d requests (%.1f/s), %d chunks, %d failures", what, *loadContext, *loadStrats, clients, *loadFor, requests.Load(), float64(requests.Load())/loadFor.Seconds(), pieces.Load(), failures.Load())
	t.Logf("latency p50 %v, p95 %v, max %v", pct(0.50).Round(time.Millisecond), pct(0.95).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	t.Logf("RSS start %d MiB, half %d MiB, end %d MiB, peak %d MiB", rss0/1024, rssHalf/1024, rssEnd/1024, peak/1024)
	if requests.Load() == 0 {
		t.Errorf("no request completed")
	}
	if peak > 4<<20 {
		t.Errorf("peak RSS %d MiB is above 4 GiB", peak/1024)
	}
	if *loadFor >= 30*time.Second && rssHalf > 0 && float64(rssEnd) > 1.15*float64(rssHalf) {
		t.Errorf("memory grew from %d MiB at half time to %d MiB at the end", rssHalf/1024, rssEnd/1024)
	}
	return pct(0.50)
}
