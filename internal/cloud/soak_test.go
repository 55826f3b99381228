//go:build cgo && long

package cloud_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

var soak = flag.Duration("soak", 30*time.Second, "how long the concurrent-streaming soak test runs")

// rssKiB reads the process's resident set size from /proc.
func rssKiB(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		deptest.Missing(t, "no /proc: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kib int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib)
			return kib
		}
	}
	return 0
}

// TestSoakConcurrentStreams runs 8 streaming clients against cogen cloud
// for -soak (30 s; it is part of the long suite: go test -tags long) and checks
// that no request fails and that memory stays flat: the resident set after
// the second half of the run grows by less than 10% over the first half.
func TestSoakConcurrentStreams(t *testing.T) {
	f := start(t, 4)
	c := f.client(t, openaiapi.KindVLLM)
	const clients = 8
	deadline := time.Now().Add(*soak)
	half := time.Now().Add(*soak / 2)
	var (
		requests, tokens, failures atomic.Int64
		mu                         sync.Mutex
		rssHalf                    int64
		lat                        []time.Duration
	)
	rss0 := rssKiB(t)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			for n := 0; time.Now().Before(deadline); n++ {
				if i == 0 && rssHalf == 0 && time.Now().After(half) {
					runtime.GC()
					mu.Lock()
					rssHalf = rssKiB(t)
					mu.Unlock()
				}
				start := time.Now()
				got := 0
				for _, err := range c.ChatStream(t.Context(), openaiapi.ChatCompletionRequest{
					Messages:  []openaiapi.ChatMessage{{Role: llm.RoleUser, Content: fmt.Sprintf("client %d request %d", i, n)}},
					MaxTokens: ptr(32), Seed: ptr(int64(n)),
				}) {
					if err != nil {
						failures.Add(1)
						t.Errorf("client %d request %d: %v", i, n, err)
						return
					}
					got++
				}
				requests.Add(1)
				tokens.Add(int64(got))
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	runtime.GC()
	rssEnd := rssKiB(t)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d clients, %v: %d requests, %d events, %d failures", clients, *soak, requests.Load(), tokens.Load(), failures.Load())
	t.Logf("RSS start %d KiB, half %d KiB, end %d KiB; Go heap in use %d KiB", rss0, rssHalf, rssEnd, ms.HeapInuse/1024)
	if rssHalf > 0 && float64(rssEnd) > 1.1*float64(rssHalf) {
		t.Errorf("memory grew from %d KiB at half time to %d KiB at the end", rssHalf, rssEnd)
	}
	if requests.Load() == 0 {
		t.Errorf("no request completed")
	}
}
