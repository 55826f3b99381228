//go:build cgo

package llamacpp

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/cogenesis/cogenesis/internal/deptest"
	"github.com/cogenesis/cogenesis/internal/engine/enginetest"
)

// writeThreadModel writes a random-weight F32 model of about 20 MB: over
// smallModelBytes, so its default is more than one thread where the
// machine has the cores.
func writeThreadModel(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "m.gguf")
	err := enginetest.Write(path, enginetest.Options{Arch: "llama", Type: "f32",
		Shape: enginetest.Shape{Vocab: 512, Hidden: 320, Layers: 4, Heads: 5, KVHeads: 5, FFN: 864, Context: 256}})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func openT(t *testing.T, path string, threads int) *Model {
	t.Helper()
	m, err := Open(path, Options{ContextSize: 256, Threads: threads, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// appliedThreads decodes a token and returns the thread count the
// context ran with.
func appliedThreads(t *testing.T, m *Model) int {
	t.Helper()
	s, err := m.NewSequence(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Append(t.Context(), []int32{1}); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nThreads
}

func TestTwoEnginesShareCores(t *testing.T) {
	path := writeThreadModel(t)
	cores := PhysicalCores()
	a := openT(t, path, 0)
	alone := a.Threads()
	if alone < 1 || alone > cores {
		t.Fatalf("one engine: %d threads, want 1..%d", alone, cores)
	}
	b := openT(t, path, 0)
	na, nb := a.Threads(), b.Threads()
	if na < 1 || nb < 1 || na+nb > max(cores, 2) {
		t.Errorf("two engines: %d + %d threads, want at least 1 each and at most %d together", na, nb, max(cores, 2))
	}
	if got := appliedThreads(t, a); got != na {
		t.Errorf("engine a decoded with %d threads, its share is %d", got, na)
	}
	b.Close()
	if got := a.Threads(); got < na {
		t.Errorf("after the other engine closed: %d threads, had %d", got, na)
	}

	// A fixed count is kept, and the default leaves it its cores.
	f := openT(t, path, 1)
	d := openT(t, path, 0)
	if f.Threads() != 1 {
		t.Errorf("fixed engine: %d threads, want 1", f.Threads())
	}
	if cores >= 3 && a.Threads()+d.Threads() > cores-1 {
		t.Errorf("defaults beside a fixed engine: %d + %d threads, want at most %d", a.Threads(), d.Threads(), cores-1)
	}
}

func TestThreadpoolFreed(t *testing.T) {
	path := enginetest.SharedModel(t)
	osThreads := func() int {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			deptest.Missing(t, "no /proc/self/task: %v", err)
		}
		return len(ents)
	}
	// A pool of n threads has n-1 workers, so a leaked pool shows as
	// more OS threads. No more threads than cores: past that, ggml's
	// spinning barrier makes each decode take seconds.
	n := min(PhysicalCores(), 4)
	open := func(decode bool) {
		m, err := Open(path, Options{ContextSize: 256, Threads: n, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		if m.tp == nil {
			t.Fatal("no threadpool attached")
		}
		if decode {
			if got := appliedThreads(t, m); got != n {
				t.Errorf("decoded with %d threads, want %d", got, n)
			}
		}
		m.Close()
		if m.tp != nil {
			t.Fatal("threadpool not freed on close")
		}
	}
	// The first open decodes, and lets the Go runtime make the threads
	// cgo calls need. The workers exist from the pool's creation, so the
	// others need not decode (which, on a loaded machine, is slow).
	open(true)
	before := osThreads()
	for range 50 {
		open(false)
	}
	// A leak of 50 pools would be 50(n-1) threads; the Go runtime may
	// add a few of its own.
	if after := osThreads(); n > 1 && after > before+min(8, 50*(n-1)/2) {
		t.Errorf("OS threads grew from %d to %d over 50 open/close cycles", before, after)
	}
	procBudget.mu.Lock()
	defer procBudget.mu.Unlock()
	for c := range procBudget.claims {
		if c.fixed && c.want == n {
			t.Error("a closed model's claim is still in the budget")
		}
	}
}
