package llamacpp

import (
	"bufio"
	"bytes"
	"cmp"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Thread defaults.
//
// llama.cpp's CPU backend runs a graph on n threads that meet at a
// spinning barrier after every operation. On a machine with fewer free
// cores than threads, a thread waiting at the barrier spins through its
// time slice while the one it waits for is descheduled, so too many
// threads cost not a fair share but most of the speed (measured on 2
// cores: 10-100x). The default is therefore chosen per engine from:
//
//   - the physical cores this process may run on (SMT siblings counted
//     once; the affinity mask and a cgroup CPU quota respected),
//   - the model's size: a model under [smallModelBytes] decodes fastest on
//     one thread, since the barrier costs more than the work it splits,
//   - the load: cores busy with other processes are not counted. The
//     open samples /proc/stat for [loadSample]; then, while any engine
//     decodes, the load is sampled again every [resenseEvery] and the
//     counts follow it,
//   - the other engines open in the process, which share the cores (see
//     [budget]).
//
// Options.Threads > 0 overrides all of it.
const (
	// smallModelBytes is the weight size below which one thread is the
	// fastest. Decode tokens/s at 1 and 2 threads on an idle 2-core
	// machine (AVX-512): 0.9 MB 12393/4893, 3.6 MB 5032/2676, 11.7 MB
	// 1798/1417, 13.5 MB 2067/1974, 27 MB 747/729, 44 MB 709/939,
	// 91 MB 237/234, 528 MB (Qwen2-0.5B Q8_0) 35/40; prompts gain from
	// the second thread from 3.6 MB up.
	smallModelBytes = 16 << 20
	// loadSample is how long the open samples /proc/stat for the load of
	// other processes. It is spent only for models that could use more
	// than one thread.
	loadSample = 50 * time.Millisecond
	// poll is the polling level of each engine's ggml threadpool (0-100):
	// how long an idle worker spins before it sleeps. 0 sleeps at once,
	// so idle engines take no CPU from other engines or processes.
	poll = 0
	// resenseEvery is how often decoding re-samples the load.
	resenseEvery = time.Second
)

// PhysicalCores returns the number of physical cores this process may
// use: the budget the default thread counts of all its models share.
func PhysicalCores() int { return physicalCores("/") }

// physicalCores returns the number of distinct physical cores among the
// CPUs the process may run on, read from sysfs under root ("/" outside
// tests): /proc/self/status's Cpus_allowed_list, then each CPU's
// topology/physical_package_id and core_id. A CPU quota of the process's
// cgroup caps the count. Anything unreadable falls back to
// runtime.NumCPU (which honours the affinity mask).
func physicalCores(root string) int {
	n := runtime.NumCPU()
	cpus := allowedCPUs(root)
	if len(cpus) > 0 {
		cores := make(map[[2]string]bool)
		for _, c := range cpus {
			dir := filepath.Join(root, "sys/devices/system/cpu", "cpu"+strconv.Itoa(c), "topology")
			pkg, err1 := os.ReadFile(filepath.Join(dir, "physical_package_id"))
			core, err2 := os.ReadFile(filepath.Join(dir, "core_id"))
			if err1 != nil || err2 != nil {
				cores = nil
				break
			}
			cores[[2]string{string(bytes.TrimSpace(pkg)), string(bytes.TrimSpace(core))}] = true
		}
		if len(cores) > 0 {
			n = len(cores)
		}
	}
	if q := cgroupQuota(root); q > 0 && q < float64(n) {
		n = max(1, int(math.Ceil(q)))
	}
	return max(n, 1)
}

// allowedCPUs returns the CPU ids in Cpus_allowed_list of
// root/proc/self/status, or nil.
func allowedCPUs(root string) []int {
	b, err := os.ReadFile(filepath.Join(root, "proc/self/status"))
	if err != nil {
		return nil
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return parseCPUList(strings.TrimSpace(v))
		}
	}
	return nil
}

// parseCPUList parses a Linux CPU list such as "0-3,8,10-11"; nil when
// malformed.
func parseCPUList(s string) []int {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 1<<16 {
				return nil
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out
}

// cgroupQuota returns the CPU quota of the process's cgroup in cores
// (cgroup v2 cpu.max or v1 cpu.cfs_quota_us), or 0 when there is none.
func cgroupQuota(root string) float64 {
	base := filepath.Join(root, "sys/fs/cgroup")
	if b, err := os.ReadFile(filepath.Join(base, "cpu.max")); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && f[0] != "max" {
			q, err1 := strconv.ParseFloat(f[0], 64)
			p, err2 := strconv.ParseFloat(f[1], 64)
			if err1 == nil && err2 == nil && q > 0 && p > 0 {
				return q / p
			}
		}
		return 0
	}
	qb, err1 := os.ReadFile(filepath.Join(base, "cpu/cpu.cfs_quota_us"))
	pb, err2 := os.ReadFile(filepath.Join(base, "cpu/cpu.cfs_period_us"))
	if err1 != nil || err2 != nil {
		return 0
	}
	q, err1 := strconv.ParseFloat(string(bytes.TrimSpace(qb)), 64)
	p, err2 := strconv.ParseFloat(string(bytes.TrimSpace(pb)), 64)
	if err1 != nil || err2 != nil || q <= 0 || p <= 0 {
		return 0
	}
	return q / p
}

// cpuTimes is a sample of the machine's and the process's CPU time.
type cpuTimes struct {
	busy, total uint64 // all CPUs, in clock ticks (/proc/stat)
	self        uint64 // this process, in clock ticks (/proc/self/stat)
	ncpu        int
}

// readCPUTimes reads /proc/stat and /proc/self/stat under root.
func readCPUTimes(root string) (cpuTimes, bool) {
	var t cpuTimes
	f, err := os.Open(filepath.Join(root, "proc/stat"))
	if err != nil {
		return t, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || !strings.HasPrefix(fields[0], "cpu") {
			continue
		}
		if fields[0] != "cpu" {
			t.ncpu++
			continue
		}
		// user nice system idle iowait irq softirq steal guest guest_nice;
		// guest time is already counted in user.
		for i, s := range fields[1:min(len(fields), 9)] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return t, false
			}
			t.total += v
			if i != 3 && i != 4 { // idle, iowait
				t.busy += v
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "proc/self/stat"))
	if err != nil {
		return t, false
	}
	// The command name (field 2) may hold spaces; count from its ')'.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 {
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 12 {
			u, err1 := strconv.ParseUint(f[11], 10, 64) // utime, field 14
			s, err2 := strconv.ParseUint(f[12], 10, 64) // stime, field 15
			if err1 == nil && err2 == nil {
				t.self = u + s
			}
		}
	}
	return t, t.total > 0 && t.ncpu > 0
}

// busyCores returns how many cores other processes kept busy between
// samples a and b, rounded to the nearest core.
func busyCores(a, b cpuTimes) int {
	if b.total <= a.total || b.ncpu == 0 {
		return 0
	}
	perCPU := float64(b.total-a.total) / float64(b.ncpu)
	other := float64(b.busy-a.busy) - float64(b.self-a.self)
	return max(0, int(math.Round(other/perCPU)))
}

// senseBusy samples the CPU load of other processes for d.
func senseBusy(root string, d time.Duration) int {
	a, ok := readCPUTimes(root)
	if !ok {
		return 0
	}
	time.Sleep(d)
	b, ok := readCPUTimes(root)
	if !ok {
		return 0
	}
	return busyCores(a, b)
}

// wantThreads returns the most threads a model of size bytes of weights
// uses to advantage on a machine with cores physical cores.
func wantThreads(size uint64, cores int) int {
	if size < smallModelBytes {
		return 1
	}
	return max(cores, 1)
}

// claim is one open engine's share of the process's cores.
type claim struct {
	want  int    // threads the engine can use (the fixed count when fixed)
	size  uint64 // weight bytes: larger models get more of a contested budget
	fixed bool   // Options.Threads was set
	seq   uint64 // order of registration
	n     int    // threads assigned
	// set is called, with the budget's lock held, when n changes. It must
	// not call back into the budget.
	set func(n int)
}

// budget is the process-wide registry of the engines open and the threads
// each uses, so that two engines (a local model and an in-process cloud)
// split the cores instead of each taking all of them. Engines that chose
// their count (Options.Threads) keep it and leave the rest to the others.
type budget struct {
	root   string // "/" but in tests
	mu     sync.Mutex
	cores  int // usable cores: physical less those busy with other processes
	seq    uint64
	claims map[*claim]bool

	physical int
	last     cpuTimes // the latest load sample
	lastAt   time.Time
}

// procBudget is the budget of this process's engines. It is the one
// mutable package global: the cores are a process-wide resource.
var procBudget = &budget{root: "/", claims: make(map[*claim]bool)}

// add registers c and rebalances every claim. physical is the number of
// physical cores, busy those other processes keep busy; sensed says
// whether busy was measured, and only then (or for the first claim) does
// it replace the budget's count.
func (b *budget) add(c *claim, physical, busy int, sensed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.physical = max(physical, 1)
	if sensed || len(b.claims) == 0 || b.cores == 0 {
		b.cores = max(physical-busy, 1)
	}
	if sensed {
		// The next re-sample measures from here.
		if t, ok := readCPUTimes(b.root); ok {
			b.last, b.lastAt = t, time.Now()
		}
	}
	b.seq++
	c.seq = b.seq
	b.claims[c] = true
	b.rebalance()
}

// remove unregisters c and gives its threads to the others.
func (b *budget) remove(c *claim) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.claims[c] {
		delete(b.claims, c)
		b.rebalance()
	}
}

// resense samples the load again when resenseEvery has passed since the
// last sample and some engine could use more than one thread, and
// rebalances when the usable cores changed. Engines call it before each
// decode; it never blocks on another engine.
func (b *budget) resense(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastAt) < resenseEvery {
		return
	}
	adaptive := false
	for c := range b.claims {
		adaptive = adaptive || (!c.fixed && c.want > 1)
	}
	if !adaptive {
		return
	}
	t, ok := readCPUTimes(b.root)
	if !ok {
		return
	}
	prev, prevAt := b.last, b.lastAt
	b.last, b.lastAt = t, now
	if prevAt.IsZero() {
		return
	}
	if usable := max(b.physical-busyCores(prev, t), 1); usable != b.cores {
		b.cores = usable
		b.rebalance()
	}
}

func (b *budget) rebalance() {
	claims := make([]*claim, 0, len(b.claims))
	for c := range b.claims {
		claims = append(claims, c)
	}
	slices.SortFunc(claims, func(x, y *claim) int { return cmp.Compare(x.seq, y.seq) })
	for c, n := range split(claims, b.cores) {
		if c.n != n {
			c.n = n
			if c.set != nil {
				c.set(n)
			}
		}
	}
}

// split assigns threads: fixed claims get their count; the cores left
// (at least one each) go to the others, one at a time, to the claim with
// the largest size/(n+1) (D'Hondt: in proportion to size) that wants more.
// Ties go to the earlier claim in the slice.
func split(claims []*claim, cores int) map[*claim]int {
	out := make(map[*claim]int, len(claims))
	left := cores
	var auto []*claim
	for _, c := range claims {
		if c.fixed {
			out[c] = c.want
			left -= c.want
			continue
		}
		out[c] = 1
		left--
		auto = append(auto, c)
	}
	for left > 0 {
		var best *claim
		var bestQ float64
		for _, c := range auto {
			if out[c] >= c.want {
				continue
			}
			q := float64(c.size) / float64(out[c]+1)
			if best == nil || q > bestQ {
				best, bestQ = c, q
			}
		}
		if best == nil {
			break
		}
		out[best]++
		left--
	}
	return out
}
