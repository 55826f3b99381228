package progress

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeClock is a clock that moves only when the test advances it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// withClock makes the bar read time from c.
func withClock(c *fakeClock) Option {
	return func(b *Bar) { b.now = c.Now }
}

// lastLine returns the text after the last carriage return, without the
// trailing padding and newline.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndex(s, "\r"); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimRight(s, " ")
}

func TestTerminalThrottle(t *testing.T) {
	clk := newFakeClock()
	var out bytes.Buffer
	b := New(&out, "job", 1000, Terminal(true), withClock(clk))

	redraws := func() int { return strings.Count(out.String(), "\r") }
	steps := []struct {
		name    string
		advance time.Duration
		adds    int
		want    int
	}{
		{name: "first update draws at once", adds: 1, want: 1},
		{name: "burst without time passing is throttled", adds: 50, want: 1},
		{name: "just under the interval still throttled", advance: 99 * time.Millisecond, adds: 1, want: 1},
		{name: "interval elapsed draws again", advance: time.Millisecond, adds: 1, want: 2},
		{name: "many updates in one interval draw once", advance: 100 * time.Millisecond, adds: 20, want: 3},
		{name: "one second holds at most ten redraws", advance: 0, adds: 0, want: 3},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		for range st.adds {
			b.Add(1)
		}
		if got := redraws(); got != st.want {
			t.Errorf("%s: redraws = %d, want %d", st.name, got, st.want)
		}
	}

	// Simulate a busy second: an update every millisecond.
	before := redraws()
	for range 1000 {
		clk.Advance(time.Millisecond)
		b.Add(0)
	}
	if got := redraws() - before; got > 10 {
		t.Errorf("redraws in one busy second = %d, want at most 10", got)
	}

	b.Done()
	if !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("output after Done does not end with a newline: %q", out.String())
	}
	after := out.String()
	b.Add(5)
	b.Done()
	if out.String() != after {
		t.Errorf("output changed after Done: %q", strings.TrimPrefix(out.String(), after))
	}
}

func TestTerminalLine(t *testing.T) {
	tests := []struct {
		name    string
		total   int64
		opts    []Option
		elapsed time.Duration
		set     int64
		done    bool
		want    string
	}{
		{
			name:    "bytes with total",
			total:   4 << 20,
			opts:    []Option{Bytes()},
			elapsed: 2 * time.Second,
			set:     1 << 20,
			want:    "model [======>                 ]  25% 1.0 MiB/4.0 MiB 512.0 KiB/s ETA 6s",
		},
		{
			name:    "count with total",
			total:   200,
			elapsed: 10 * time.Second,
			set:     50,
			want:    "model [======>                 ]  25% 50/200 5.0/s ETA 30s",
		},
		{
			name:    "unknown total shows elapsed time",
			elapsed: 90 * time.Second,
			set:     3 << 30,
			opts:    []Option{Bytes()},
			want:    "model 3.0 GiB 34.1 MiB/s 1m30s",
		},
		{
			name:    "count above total is clamped",
			total:   10,
			elapsed: time.Second,
			set:     15,
			want:    "model [========================] 100% 15/10 15.0/s",
		},
		{
			name:    "resumed download counts rate after initial",
			total:   100 << 20,
			opts:    []Option{Bytes(), Initial(50 << 20)},
			elapsed: 10 * time.Second,
			set:     60 << 20,
			want:    "model [==============>         ]  60% 60.0 MiB/100.0 MiB 1.0 MiB/s ETA 40s",
		},
		{
			name:    "done line shows total time",
			total:   100,
			elapsed: 2 * time.Hour,
			set:     100,
			done:    true,
			want:    "model [========================] 100% 100/100 0.0/s in 2h00m",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			var out bytes.Buffer
			opts := append([]Option{Terminal(true), withClock(clk)}, tt.opts...)
			b := New(&out, "model", tt.total, opts...)
			clk.Advance(tt.elapsed)
			b.Set(tt.set)
			if tt.done {
				clk.Advance(redrawEvery)
				b.Done()
			}
			if diff := cmp.Diff(tt.want, lastLine(out.String())); diff != "" {
				t.Errorf("line mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTerminalPadsShorterLine(t *testing.T) {
	clk := newFakeClock()
	var out bytes.Buffer
	b := New(&out, "rows", 0, Terminal(true), withClock(clk))
	clk.Advance(time.Second)
	b.Set(123456789) // long count and rate
	first := out.Len()
	clk.Advance(time.Hour)
	b.Set(1) // short count and rate
	second := out.String()[first:]
	if got, want := len(second), first; got < want {
		t.Errorf("second redraw is %d bytes, want at least %d to blank the first: %q", got, want, second)
	}
	if !strings.HasPrefix(second, "\r") {
		t.Errorf("redraw does not start with a carriage return: %q", second)
	}
}

func TestPlainLines(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		every time.Duration // time between updates
		adds  int
		want  []string
	}{
		{
			name:  "one line per tenth when slow",
			total: 100,
			every: time.Second,
			adds:  100,
			want: []string{
				"job: 10% 10/100 1.0/s ETA 1m30s",
				"job: 20% 20/100 1.0/s ETA 1m20s",
				"job: 30% 30/100 1.0/s ETA 1m10s",
				"job: 40% 40/100 1.0/s ETA 1m00s",
				"job: 50% 50/100 1.0/s ETA 50s",
				"job: 60% 60/100 1.0/s ETA 40s",
				"job: 70% 70/100 1.0/s ETA 30s",
				"job: 80% 80/100 1.0/s ETA 20s",
				"job: 90% 90/100 1.0/s ETA 10s",
				"job: 100% 100/100 1.0/s",
				"job: done 100% 100/100 1.0/s in 1m40s",
			},
		},
		{
			name:  "fast job prints only the final line",
			total: 1000,
			every: 500 * time.Microsecond,
			adds:  1000,
			want:  []string{"job: done 100% 1000/1000 2000.0/s in 1s"},
		},
		{
			name:  "unknown total prints a heartbeat",
			every: time.Second,
			adds:  95,
			want: []string{
				"job: 30 1.0/s 30s",
				"job: 60 1.0/s 1m00s",
				"job: 90 1.0/s 1m30s",
				"job: done 95 1.0/s in 1m35s",
			},
		},
		{
			name:  "early end says stopped",
			total: 100,
			every: 50 * time.Millisecond,
			adds:  5,
			want:  []string{"job: stopped at 5% 5/100 20.0/s in 0s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			var out bytes.Buffer
			b := New(&out, "job", tt.total, Terminal(false), withClock(clk))
			for range tt.adds {
				clk.Advance(tt.every)
				b.Add(1)
			}
			b.Done()
			if strings.Contains(out.String(), "\r") {
				t.Errorf("plain output contains a carriage return: %q", out.String())
			}
			got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOutcome(t *testing.T) {
	tests := []struct {
		name                string
		total               int64
		ok, failed, skipped int64
		wantPlain, wantTerm string
	}{
		{
			name: "all failed", total: 3, failed: 3,
			wantPlain: "job: failed 3/3 in 2s",
			wantTerm:  "job: failed 3/3 in 2s",
		},
		{
			name: "all skipped", total: 4, skipped: 4,
			wantPlain: "job: skipped 4/4 in 2s",
			wantTerm:  "job: skipped 4/4 in 2s",
		},
		{
			name: "failed and skipped", total: 3, failed: 1, skipped: 2,
			wantPlain: "job: failed 3/3 in 2s (1 failed, 2 skipped)",
			wantTerm:  "job: failed 3/3 in 2s (1 failed, 2 skipped)",
		},
		{
			name: "some done", total: 4, ok: 3, failed: 1,
			wantPlain: "job: done 100% 4/4 2.0/s in 2s (1 failed)",
			wantTerm:  "job [========================] 100% 4/4 2.0/s in 2s (1 failed)",
		},
		{
			name: "stopped early", total: 4, ok: 1, failed: 1,
			wantPlain: "job: stopped at 50% 2/4 1.0/s in 2s (1 failed)",
			wantTerm:  "job [============>           ]  50% 2/4 1.0/s in 2s (1 failed)",
		},
		{
			name: "unknown total", failed: 2,
			wantPlain: "job: failed 2 in 2s",
			wantTerm:  "job: failed 2 in 2s",
		},
		{
			name: "nothing to do", total: 0,
			wantPlain: "job: done 0 in 2s",
			wantTerm:  "job 0 in 2s",
		},
	}
	for _, tt := range tests {
		for _, tty := range []bool{false, true} {
			name, want := tt.name+"/plain", tt.wantPlain
			if tty {
				name, want = tt.name+"/terminal", tt.wantTerm
			}
			t.Run(name, func(t *testing.T) {
				clk := newFakeClock()
				var out bytes.Buffer
				b := New(&out, "job", tt.total, Terminal(tty), withClock(clk))
				b.Add(tt.ok)
				b.Fail(tt.failed)
				b.Skip(tt.skipped)
				clk.Advance(2 * time.Second)
				b.Done()
				got := lastLine(out.String())
				if !tty {
					lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
					got = lines[len(lines)-1]
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("final line mismatch (-want +got):\n%s", diff)
				}
				if b.Current() != tt.ok+tt.failed+tt.skipped {
					t.Errorf("Current() = %d, want %d", b.Current(), tt.ok+tt.failed+tt.skipped)
				}
			})
		}
	}
}

func TestConcurrentAdd(t *testing.T) {
	const workers, each = 8, 1000
	clk := newFakeClock()
	var out bytes.Buffer
	b := New(&out, "par", workers*each, Terminal(true), withClock(clk))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				clk.Advance(time.Millisecond)
				b.Add(1)
			}
		})
	}
	wg.Wait()
	b.Done()
	if got, want := b.Current(), int64(workers*each); got != want {
		t.Errorf("Current() = %d, want %d", got, want)
	}
	if got, want := lastLine(out.String()), "par [========================] 100% 8000/8000 1000.0/s in 8s"; got != want {
		t.Errorf("final line = %q, want %q", got, want)
	}
}

func TestReaderWriter(t *testing.T) {
	data := strings.Repeat("x", 10_000)
	tests := []struct {
		name string
		copy func(b *Bar) (int64, error)
	}{
		{
			name: "reader",
			copy: func(b *Bar) (int64, error) {
				return io.Copy(io.Discard, b.Reader(strings.NewReader(data)))
			},
		},
		{
			name: "writer",
			copy: func(b *Bar) (int64, error) {
				return io.Copy(b.Writer(io.Discard), strings.NewReader(data))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(io.Discard, "copy", int64(len(data)), Bytes())
			n, err := tt.copy(b)
			if err != nil {
				t.Fatalf("copy: %v", err)
			}
			if got := b.Current(); got != n || got != int64(len(data)) {
				t.Errorf("Current() = %d after copying %d of %d bytes", got, n, len(data))
			}
		})
	}
}

func TestTerminalDetection(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatalf("create log file: %v", err)
	}
	defer f.Close()
	tests := []struct {
		name string
		w    io.Writer
		opts []Option
		want bool
	}{
		{name: "buffer", w: &bytes.Buffer{}, want: false},
		{name: "regular file", w: f, want: false},
		{name: "nil writer", w: nil, want: false},
		{name: "forced on", w: f, opts: []Option{Terminal(true)}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := New(tt.w, "x", 1, tt.opts...).tty; got != tt.want {
				t.Errorf("terminal = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{5 << 20, "5.0 MiB"},
		{3<<30 + 512<<20, "3.5 GiB"},
		{2 << 40, "2.0 TiB"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := FormatBytes(tt.n); got != tt.want {
				t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}
