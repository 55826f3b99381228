package eval

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
)

// genEstimate measures the generation stage and prints once, as soon as
// every strategy entry with outputs left has one measured output, how
// long the outputs left should take: for each strategy entry, the outputs
// left times its mean seconds per output so far, divided by the number of
// outputs that run at once (each output's seconds are its own, however
// many ran beside it). It is safe for concurrent use.
type genEstimate struct {
	out    io.Writer
	names  []string // strategy entry names, by index
	judges int      // judge request series planned after generation

	mu      sync.Mutex
	width   int         // outputs that run at once
	left    map[int]int // outputs left to generate, by strategy entry
	sum     map[int]float64
	n       map[int]int
	printed bool
}

// newGenEstimate returns the estimate of the pending jobs; judges is the
// number of judge request series that follow them.
func newGenEstimate(out io.Writer, cfg *Config, pending []*genJob, judges int) *genEstimate {
	e := &genEstimate{out: out, width: 1, left: map[int]int{}, sum: map[int]float64{}, n: map[int]int{}, judges: judges}
	for _, s := range cfg.Strategies {
		e.names = append(e.names, s.Name)
	}
	for _, j := range pending {
		e.left[j.strat]++
	}
	return e
}

// setWidth sets how many outputs run at once from now on.
func (e *genEstimate) setWidth(width int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.width = max(width, 1)
}

// observe records that one output of strategy entry strat took seconds,
// and prints the estimate when it is first known.
func (e *genEstimate) observe(strat int, seconds float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.left[strat]--
	e.sum[strat] += seconds
	e.n[strat]++
	if e.printed {
		return
	}
	total, left := 0.0, 0
	var per []string
	for s := range e.names {
		if e.n[s] == 0 {
			if e.left[s] > 0 {
				return // not measured yet
			}
			continue
		}
		mean := e.sum[s] / float64(e.n[s])
		total += mean * float64(e.left[s])
		left += e.left[s]
		per = append(per, fmt.Sprintf("%s %s", e.names[s], fmtSeconds(mean)))
	}
	if left == 0 {
		return // nothing left to estimate
	}
	e.printed = true
	total /= float64(e.width)
	at := ""
	if e.width > 1 {
		at = fmt.Sprintf(", %d at once", e.width)
	}
	then := ""
	if e.judges > 0 {
		then = fmt.Sprintf("; judging (%d request series) follows, estimated once it starts", e.judges)
	}
	fmt.Fprintf(e.out, "generate: estimate %s for the %s left (per output so far: %s%s)%s\n",
		about(time.Duration(total*float64(time.Second))), count(left, "output"), strings.Join(per, ", "), at, then)
}

// judgeEstimate measures the judge stage and prints once, after a tenth of
// the series (at least one round of concurrent requests, at most 10
// series), how long the series left should take at the throughput so far.
// The first series pays for evaluating its long prompt, which the next
// ones on the same record share: one series alone overestimates. It is
// safe for concurrent use.
type judgeEstimate struct {
	out   io.Writer
	total int
	need  int // series done before the estimate is printed
	start time.Time
	now   func() time.Time

	mu      sync.Mutex
	done    int
	printed bool
}

// newJudgeEstimate returns the estimate of total pending series run
// concurrency at a time.
func newJudgeEstimate(out io.Writer, total, concurrency int, now func() time.Time) *judgeEstimate {
	return &judgeEstimate{out: out, total: total, need: max(1, concurrency, min(total/10, 10)), start: now(), now: now}
}

// observe records one finished series and prints the estimate when it is
// first known.
func (e *judgeEstimate) observe() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done++
	left := e.total - e.done
	if e.printed || e.done < e.need || left <= 0 {
		return
	}
	e.printed = true
	per := e.now().Sub(e.start).Seconds() / float64(e.done)
	fmt.Fprintf(e.out, "judge: estimate %s for the %d request series left (%s each so far)\n",
		about(time.Duration(per*float64(left)*float64(time.Second))), left, fmtSeconds(per))
}

// about writes a duration for an estimate: "about 40 s", "about 12 min",
// "about 3.5 h".
func about(d time.Duration) string {
	switch {
	case d < 90*time.Second:
		return fmt.Sprintf("about %d s", max(1, int(math.Round(d.Seconds()))))
	case d < 90*time.Minute:
		return fmt.Sprintf("about %d min", int(math.Round(d.Minutes())))
	}
	return fmt.Sprintf("about %.1f h", d.Hours())
}

// fmtSeconds writes seconds per output: "0.42 s", "3.1 s", "27 s".
func fmtSeconds(s float64) string {
	switch {
	case s < 1:
		return fmt.Sprintf("%.2f s", s)
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	}
	return fmt.Sprintf("%.0f s", s)
}

// count writes "1 output", "2 outputs".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
