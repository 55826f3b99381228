// Package progress draws a progress bar for long jobs such as model downloads
// and dataset runs.
//
// A [Bar] writes to an [io.Writer], usually os.Stderr. When that writer is a
// terminal the bar redraws a single line in place with a carriage return
// (bar, percent, count or bytes, rate and ETA), at most ten times a second.
// When it is not a terminal (a CI log, a file) the bar prints a plain line
// only when the job passes another tenth of its total, or every half minute
// when the total is unknown, so logs stay short. [Bar.Done] prints a final
// line in both modes.
//
// The final line says how the job ended: "done"; "stopped at" when it
// ended before its total; "failed" when no unit of work succeeded and some
// failed ([Bar.Fail]); "skipped" when every unit was skipped ([Bar.Skip]),
// for example because the work it depends on failed. Failed and skipped
// units are counted in the bar and named after its figures, such as
// "(2 failed)".
//
// The label is shown as given and must never hold private text: pass model
// names, dataset names or job ids, not prompts.
package progress

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

const (
	// redrawEvery is the shortest time between two redraws on a terminal.
	redrawEvery = 100 * time.Millisecond
	// plainMinGap is the shortest time between two plain log lines.
	plainMinGap = time.Second
	// plainHeartbeat is the longest time without a plain log line while
	// the job advances.
	plainHeartbeat = 30 * time.Second
	// barWidth is the number of cells inside the brackets of the bar.
	barWidth = 24
)

// Option configures a [Bar] in [New].
type Option func(*Bar)

// Bytes shows counts and rates in binary byte units (KiB, MiB, GiB).
func Bytes() Option {
	return func(b *Bar) { b.bytes = true }
}

// Initial starts the bar at n, for example the size of a partial download
// that is being resumed. The rate and the ETA count only progress after n.
func Initial(n int64) Option {
	return func(b *Bar) { b.n, b.base = n, n }
}

// Terminal overrides terminal detection: true draws the in-place bar and
// false prints plain log lines.
func Terminal(on bool) Option {
	return func(b *Bar) { b.tty, b.ttySet = on, true }
}

// Bar is a progress bar for one job. Its methods are safe for concurrent
// use. The caller owns the writer and closes it, if needed, after [Bar.Done].
type Bar struct {
	w      io.Writer
	label  string
	bytes  bool
	tty    bool
	ttySet bool
	now    func() time.Time

	mu       sync.Mutex
	total    int64
	n        int64
	base     int64
	start    time.Time
	lastDraw time.Time // zero until the first draw or plain line
	lastStep int64     // last tenth of the total reported in plain mode
	lineLen  int       // length of the last terminal line, to blank leftovers
	done     bool
	failed   int64 // units counted by Fail, part of n
	skipped  int64 // units counted by Skip, part of n
}

// New returns a bar labelled label that writes to w. A total of zero or less
// means the total is unknown: the bar then shows the count, rate and elapsed
// time but no percentage or ETA. A nil w discards all output.
func New(w io.Writer, label string, total int64, opts ...Option) *Bar {
	if w == nil {
		w = io.Discard
	}
	b := &Bar{w: w, label: label, total: max(total, 0), now: time.Now}
	for _, opt := range opts {
		opt(b)
	}
	if !b.ttySet {
		b.tty = isTerminal(w)
	}
	b.start = b.now()
	b.lastStep = b.step()
	return b
}

// isTerminal reports whether w is a file that refers to a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}

// Add advances the bar by n.
func (b *Bar) Add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += n
	b.update()
}

// Set moves the bar to n.
func (b *Bar) Set(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n = n
	b.update()
}

// Fail advances the bar by n units of work that failed.
func (b *Bar) Fail(n int64) { b.advance(n, &b.failed) }

// Skip advances the bar by n units of work that were not attempted, such
// as those whose input failed.
func (b *Bar) Skip(n int64) { b.advance(n, &b.skipped) }

// advance advances the bar by n units and adds them to count.
func (b *Bar) advance(n int64, count *int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n += n
	*count += n
	b.update()
}

// SetTotal changes the total, for a job whose size becomes known late.
// A total of zero or less means unknown.
func (b *Bar) SetTotal(total int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.total = max(total, 0)
	b.lastStep = b.step()
	b.update()
}

// Current returns the current count.
func (b *Bar) Current() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// Done draws the final state and ends the line. It reports "done" when the
// total was reached or is unknown, "stopped at" when the job ended early,
// and "failed" or "skipped" when no unit succeeded (see [Bar.Fail] and
// [Bar.Skip]). Calls after the first do nothing, and later updates draw
// nothing.
func (b *Bar) Done() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return
	}
	b.done = true
	now := b.now()
	switch out := b.outcome(); {
	case !b.tty:
		b.write(b.plainLine(now, true) + "\n")
	case out == outcomeFailed || out == outcomeSkipped:
		// No bar: a full one would say the work was done.
		b.redraw(b.plainLine(now, true))
		b.write("\n")
	default:
		b.drawTerminal(now, true)
		b.write("\n")
	}
}

// Words of the final line.
const (
	outcomeDone    = "done"
	outcomeStopped = "stopped at"
	outcomeFailed  = "failed"
	outcomeSkipped = "skipped"
)

// outcome returns how the job ended, for the final line. b.mu is held.
func (b *Bar) outcome() string {
	switch {
	case b.total > 0 && b.n < b.total:
		return outcomeStopped
	case b.n-b.failed-b.skipped > 0 || b.failed+b.skipped == 0:
		return outcomeDone
	case b.failed > 0:
		return outcomeFailed
	default:
		return outcomeSkipped
	}
}

// update draws after a change if the throttle allows it. b.mu is held.
func (b *Bar) update() {
	if b.done {
		return
	}
	now := b.now()
	if b.tty {
		if b.lastDraw.IsZero() || now.Sub(b.lastDraw) >= redrawEvery {
			b.drawTerminal(now, false)
		}
		return
	}
	last := b.lastDraw
	if last.IsZero() {
		last = b.start
	}
	gap := now.Sub(last)
	step := b.step()
	if (step > b.lastStep && gap >= plainMinGap) || gap >= plainHeartbeat {
		b.lastStep = step
		b.lastDraw = now
		b.write(b.plainLine(now, false) + "\n")
	}
}

// step returns how many tenths of the total are done, or 0 when the total
// is unknown. b.mu is held.
func (b *Bar) step() int64 {
	if b.total <= 0 {
		return 0
	}
	return min(b.n, b.total) * 10 / b.total
}

// drawTerminal redraws the terminal line. b.mu is held.
func (b *Bar) drawTerminal(now time.Time, final bool) {
	b.lastDraw = now
	var s strings.Builder
	s.WriteString(b.label)
	if b.total > 0 {
		filled := int(min(max(b.n, 0), b.total) * barWidth / b.total)
		s.WriteString(" [")
		s.WriteString(strings.Repeat("=", filled))
		if filled < barWidth {
			s.WriteString(">")
			s.WriteString(strings.Repeat(" ", barWidth-filled-1))
		}
		s.WriteString("]")
		fmt.Fprintf(&s, " %3d%%", b.percent())
	}
	b.stats(&s, now, final)
	b.redraw(s.String())
}

// redraw replaces the terminal line with line. b.mu is held.
func (b *Bar) redraw(line string) {
	pad := max(b.lineLen-len(line), 0)
	b.lineLen = len(line)
	b.write("\r" + line + strings.Repeat(" ", pad))
}

// plainLine formats one log line for a non-terminal writer. b.mu is held.
func (b *Bar) plainLine(now time.Time, final bool) string {
	var s strings.Builder
	s.WriteString(b.label)
	s.WriteString(":")
	if !final {
		if b.total > 0 {
			fmt.Fprintf(&s, " %d%%", b.percent())
		}
		b.stats(&s, now, false)
		return s.String()
	}
	switch out := b.outcome(); out {
	case outcomeFailed, outcomeSkipped:
		// Neither a percentage nor a rate: nothing was made.
		fmt.Fprintf(&s, " %s %s", out, b.amount(b.n))
		if b.total > 0 {
			s.WriteString("/" + b.amount(b.total))
		}
		s.WriteString(" in " + formatDuration(now.Sub(b.start)))
		if b.failed > 0 && b.skipped > 0 {
			b.tally(&s)
		}
	default:
		s.WriteString(" " + out)
		if b.total > 0 {
			fmt.Fprintf(&s, " %d%%", b.percent())
		}
		b.stats(&s, now, true)
	}
	return s.String()
}

// tally appends the failed and skipped counts, such as " (2 failed,
// 1 skipped)". b.mu is held.
func (b *Bar) tally(s *strings.Builder) {
	var parts []string
	if b.failed > 0 {
		parts = append(parts, b.amount(b.failed)+" failed")
	}
	if b.skipped > 0 {
		parts = append(parts, b.amount(b.skipped)+" skipped")
	}
	if len(parts) > 0 {
		s.WriteString(" (" + strings.Join(parts, ", ") + ")")
	}
}

// stats appends the count, rate and ETA or elapsed time. b.mu is held.
func (b *Bar) stats(s *strings.Builder, now time.Time, final bool) {
	s.WriteString(" ")
	s.WriteString(b.amount(b.n))
	if b.total > 0 {
		s.WriteString("/")
		s.WriteString(b.amount(b.total))
	}
	elapsed := now.Sub(b.start)
	rate := 0.0
	if elapsed > 0 {
		rate = float64(b.n-b.base) / elapsed.Seconds()
	}
	if rate > 0 {
		s.WriteString(" ")
		s.WriteString(b.rate(rate))
	}
	switch {
	case final:
		s.WriteString(" in ")
		s.WriteString(formatDuration(elapsed))
	case b.total > 0 && rate > 0 && b.n < b.total:
		eta := time.Duration(float64(b.total-b.n) / rate * float64(time.Second))
		s.WriteString(" ETA ")
		s.WriteString(formatDuration(eta))
	case b.total <= 0:
		s.WriteString(" ")
		s.WriteString(formatDuration(elapsed))
	}
	b.tally(s)
}

// percent returns the share of the total done, clamped to 0..100. b.mu is
// held and the total is known.
func (b *Bar) percent() int64 {
	return min(max(b.n, 0), b.total) * 100 / b.total
}

// amount formats a count in the bar's unit.
func (b *Bar) amount(n int64) string {
	if b.bytes {
		return FormatBytes(n)
	}
	return strconv.FormatInt(n, 10)
}

// rate formats a rate per second in the bar's unit.
func (b *Bar) rate(r float64) string {
	if b.bytes {
		return FormatBytes(int64(r)) + "/s"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "/s"
}

// write sends text to the writer. b.mu is held.
func (b *Bar) write(text string) {
	// Progress output is best effort: a closed or full stderr must not
	// fail the job whose progress it shows.
	_, _ = io.WriteString(b.w, text)
}

// FormatBytes formats n bytes with binary units, such as "512 B" or
// "1.5 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	suffixes := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := -1
	for (v >= unit || v <= -unit) && i < len(suffixes)-1 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + suffixes[i]
}

// formatDuration formats d rounded to whole seconds, such as "42s",
// "3m05s" or "1h02m".
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}

// Reader returns a reader that reads from r and advances b by every byte
// read. Closing r stays the caller's job.
func (b *Bar) Reader(r io.Reader) io.Reader {
	return &countingReader{r: r, b: b}
}

// Writer returns a writer that writes to w and advances b by every byte
// written. Closing w stays the caller's job.
func (b *Bar) Writer(w io.Writer) io.Writer {
	return &countingWriter{w: w, b: b}
}

// countingReader advances a bar as it reads.
type countingReader struct {
	r io.Reader
	b *Bar
}

// Read reads from the wrapped reader and counts the bytes read.
func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.b.Add(int64(n))
	}
	return n, err
}

// countingWriter advances a bar as it writes.
type countingWriter struct {
	w io.Writer
	b *Bar
}

// Write writes to the wrapped writer and counts the bytes written.
func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	if n > 0 {
		c.b.Add(int64(n))
	}
	return n, err
}
