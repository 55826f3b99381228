package collab

import (
	"fmt"
	"strconv"
	"strings"
)

// Schedule decides at which generation steps (0-based) the cloud is
// consulted in logit fusion.
type Schedule struct {
	kind          string
	n             int // first:N
	period, burst int // pkt:P,K,T
	until         int
}

// ScheduleAll consults the cloud at every step.
var ScheduleAll = Schedule{kind: "all"}

// ParseSchedule parses "all", "first:N" (the cloud sees only the first N
// generated tokens, the paper's Table 4) or "pkt:P,K,T" (the paper code's
// periodic schedule: in every period of P steps the first K consult the
// cloud, up to step T; T = 0 means no end).
func ParseSchedule(s string) (Schedule, error) {
	name, args, _ := strings.Cut(s, ":")
	ints := func(want int) ([]int, error) {
		parts := strings.Split(args, ",")
		if len(parts) != want {
			return nil, fmt.Errorf("schedule %q: want %d numbers after %q", s, want, name+":")
		}
		out := make([]int, want)
		for i, p := range parts {
			v, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || v < 0 {
				return nil, fmt.Errorf("schedule %q: %q is not a non-negative integer", s, p)
			}
			out[i] = v
		}
		return out, nil
	}
	switch name {
	case "all", "":
		if args != "" {
			return Schedule{}, fmt.Errorf("schedule %q: all takes no arguments", s)
		}
		return ScheduleAll, nil
	case "first":
		v, err := ints(1)
		if err != nil {
			return Schedule{}, err
		}
		return Schedule{kind: "first", n: v[0]}, nil
	case "pkt":
		v, err := ints(3)
		if err != nil {
			return Schedule{}, err
		}
		if v[0] == 0 || v[1] > v[0] {
			return Schedule{}, fmt.Errorf("schedule %q: want P > 0 and K <= P", s)
		}
		return Schedule{kind: "pkt", period: v[0], burst: v[1], until: v[2]}, nil
	}
	return Schedule{}, fmt.Errorf("schedule %q: want all, first:N or pkt:P,K,T", s)
}

// Consult reports whether the cloud is consulted at step k.
func (s Schedule) Consult(k int) bool {
	switch s.kind {
	case "first":
		return k < s.n
	case "pkt":
		if s.until > 0 && k >= s.until {
			return false
		}
		return k%s.period < s.burst
	}
	return true
}

// String returns the schedule in the form ParseSchedule reads.
func (s Schedule) String() string {
	switch s.kind {
	case "first":
		return fmt.Sprintf("first:%d", s.n)
	case "pkt":
		return fmt.Sprintf("pkt:%d,%d,%d", s.period, s.burst, s.until)
	}
	return "all"
}
