package eval

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAbout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "about 1 s"},
		{400 * time.Millisecond, "about 1 s"},
		{42 * time.Second, "about 42 s"},
		{89 * time.Second, "about 89 s"},
		{90 * time.Second, "about 2 min"},
		{12*time.Minute + 20*time.Second, "about 12 min"},
		{89 * time.Minute, "about 89 min"},
		{3*time.Hour + 30*time.Minute, "about 3.5 h"},
	}
	for _, tt := range tests {
		if got := about(tt.d); got != tt.want {
			t.Errorf("about(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestGenEstimate: the estimate waits until every strategy entry with
// outputs left has a measured output, then prints once the sum over the
// entries of outputs left times their mean seconds so far.
func TestGenEstimate(t *testing.T) {
	cfg := &Config{Strategies: []Strategy{{Name: "slm"}, {Name: "sketch"}, {Name: "unused"}}}
	// Two records x (slm seeds 1, 2, then sketch seeds 1, 2), record-major
	// as pendingGens orders them; no job of the third entry is pending.
	var pending []*genJob
	for range 2 {
		for _, s := range []int{0, 0, 1, 1} {
			pending = append(pending, &genJob{strat: s})
		}
	}
	var out strings.Builder
	e := newGenEstimate(&out, cfg, pending, 24)
	e.observe(0, 4) // slm measured, sketch not yet
	e.observe(0, 2)
	if out.Len() != 0 {
		t.Fatalf("printed before sketch was measured: %q", out.String())
	}
	e.observe(1, 10)
	// Left: slm 2 at mean 3 s, sketch 3 at 10 s: 36 s.
	want := "generate: estimate about 36 s for the 5 outputs left (per output so far: slm 3.0 s, sketch 10 s); judging (24 request series) follows, estimated once it starts\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("estimate (-want +got):\n%s", diff)
	}
	e.observe(1, 10)
	e.observe(0, 1)
	if out.String() != want {
		t.Errorf("printed twice:\n%s", out.String())
	}

	// Four at once: the same outputs left take a quarter of the time.
	out.Reset()
	e = newGenEstimate(&out, cfg, pending, 0)
	e.setWidth(4)
	for _, o := range []struct {
		strat   int
		seconds float64
	}{{0, 4}, {0, 2}, {1, 10}} {
		e.observe(o.strat, o.seconds)
	}
	want = "generate: estimate about 9 s for the 5 outputs left (per output so far: slm 3.0 s, sketch 10 s, 4 at once)\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("estimate at 4 at once (-want +got):\n%s", diff)
	}

	// Nothing left once measured: no estimate.
	out.Reset()
	e = newGenEstimate(&out, cfg, pending[:1], 0)
	e.observe(0, 5)
	if out.Len() != 0 {
		t.Errorf("estimate with nothing left: %q", out.String())
	}
}

// TestJudgeEstimate: with concurrency 2 and 40 series the estimate waits
// for a tenth of them (4), then extrapolates the throughput so far.
func TestJudgeEstimate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	var out strings.Builder
	e := newJudgeEstimate(&out, 40, 2, clock)
	for range 3 {
		now = now.Add(3 * time.Second)
		e.observe()
	}
	if out.Len() != 0 {
		t.Fatalf("printed after 3 of 40: %q", out.String())
	}
	now = now.Add(3 * time.Second)
	e.observe() // 4 done in 12 s: 3 s each, 36 left
	e.observe()
	want := "judge: estimate about 2 min for the 36 request series left (3.0 s each so far)\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("estimate (-want +got):\n%s", diff)
	}

	// A single series: nothing left to estimate.
	out.Reset()
	e = newJudgeEstimate(&out, 1, 4, clock)
	e.observe()
	if out.Len() != 0 {
		t.Errorf("estimate with nothing left: %q", out.String())
	}
}
