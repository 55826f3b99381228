package llamacpp

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fakeRoot writes a fake /proc and /sys under a temp dir: the allowed
// CPU list, each CPU's package and core ids, and files (path: content).
func fakeRoot(t *testing.T, allowed string, topo [][2]int, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		p = filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if allowed != "" {
		write("proc/self/status", "Name:\tcogen\nCpus_allowed:\tff\nCpus_allowed_list:\t"+allowed+"\nMems_allowed:\t1\n")
	}
	for cpu, pc := range topo {
		dir := filepath.Join("sys/devices/system/cpu", "cpu"+strconv.Itoa(cpu), "topology")
		write(filepath.Join(dir, "physical_package_id"), strconv.Itoa(pc[0])+"\n")
		write(filepath.Join(dir, "core_id"), strconv.Itoa(pc[1])+"\n")
	}
	for p, s := range files {
		write(p, s)
	}
	return root
}

func TestPhysicalCores(t *testing.T) {
	// Linux numbers SMT siblings apart: cpu0 and cpu4 share core 0.
	smt := [][2]int{{0, 0}, {0, 1}, {0, 2}, {0, 3}, {0, 0}, {0, 1}, {0, 2}, {0, 3}}
	twoSockets := [][2]int{{0, 0}, {0, 1}, {1, 0}, {1, 1}}
	tests := []struct {
		name    string
		allowed string
		topo    [][2]int
		files   map[string]string
		want    int
	}{
		{"smt siblings counted once", "0-7", smt, nil, 4},
		{"affinity mask", "0,4", smt, nil, 1},
		{"affinity mask across cores", "0-1,5", smt, nil, 2},
		{"same core id on two packages", "0-3", twoSockets, nil, 4},
		{"cgroup v2 quota rounds up", "0-7", smt, map[string]string{"sys/fs/cgroup/cpu.max": "150000 100000\n"}, 2},
		{"cgroup v2 no quota", "0-7", smt, map[string]string{"sys/fs/cgroup/cpu.max": "max 100000\n"}, 4},
		{"cgroup v2 quota above cores", "0-7", smt, map[string]string{"sys/fs/cgroup/cpu.max": "1600000 100000\n"}, 4},
		{"cgroup v1 quota", "0-7", smt, map[string]string{"sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000\n", "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}, 1},
		{"cgroup v1 unlimited", "0-7", smt, map[string]string{"sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}, 4},
		{"no topology: NumCPU", "0-7", nil, nil, runtime.NumCPU()},
		{"no status file: NumCPU", "", smt, nil, runtime.NumCPU()},
		{"malformed list: NumCPU", "0-x", smt, nil, runtime.NumCPU()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := fakeRoot(t, tt.allowed, tt.topo, tt.files)
			if got := physicalCores(root); got != tt.want {
				t.Errorf("physicalCores = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-3", []int{0, 1, 2, 3}},
		{"0-1,4,6-7", []int{0, 1, 4, 6, 7}},
		{"", nil},
		{"3-1", nil},
		{"a", nil},
		{"-1", nil},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parseCPUList(tt.in)); diff != "" {
			t.Errorf("parseCPUList(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestBusyCores(t *testing.T) {
	// Two CPUs, 100 ticks each between the samples.
	a := cpuTimes{busy: 1000, total: 5000, self: 300, ncpu: 2}
	tests := []struct {
		name string
		b    cpuTimes
		want int
	}{
		{"idle", cpuTimes{busy: 1000, total: 5200, self: 300, ncpu: 2}, 0},
		{"one busy process", cpuTimes{busy: 1100, total: 5200, self: 300, ncpu: 2}, 1},
		{"one busy process, noisy sample", cpuTimes{busy: 1085, total: 5200, self: 300, ncpu: 2}, 1},
		{"our own threads are not load", cpuTimes{busy: 1190, total: 5200, self: 390, ncpu: 2}, 1},
		{"both cores busy", cpuTimes{busy: 1200, total: 5200, self: 300, ncpu: 2}, 2},
		{"a blip", cpuTimes{busy: 1030, total: 5200, self: 300, ncpu: 2}, 0},
		{"no time passed", a, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := busyCores(a, tt.b); got != tt.want {
				t.Errorf("busyCores = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReadCPUTimes(t *testing.T) {
	root := fakeRoot(t, "", nil, map[string]string{
		"proc/stat": "cpu  100 5 50 800 20 1 2 3 7 0\ncpu0 50 2 25 400 10 0 1 1 0 0\ncpu1 50 3 25 400 10 1 1 2 0 0\nintr 1 2 3\nctxt 99\n",
		// A command name with a space and a parenthesis.
		"proc/self/stat": "42 (my (cmd) x) S 1 42 42 0 -1 4194304 100 0 0 0 17 4 0 0 20 0 3 0 100 0 0\n",
	})
	got, ok := readCPUTimes(root)
	if !ok {
		t.Fatal("readCPUTimes failed")
	}
	// busy: user nice system irq softirq steal = 100+5+50+1+2+3; total
	// adds idle and iowait; guest is inside user and not added.
	want := cpuTimes{busy: 161, total: 981, self: 21, ncpu: 2}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(cpuTimes{})); diff != "" {
		t.Errorf("readCPUTimes (-want +got):\n%s", diff)
	}
	if _, ok := readCPUTimes(t.TempDir()); ok {
		t.Error("readCPUTimes of an empty root: ok")
	}
}

func TestWantThreads(t *testing.T) {
	tests := []struct {
		name  string
		size  uint64
		cores int
		want  int
	}{
		{"260K model", 1 << 20, 8, 1},
		{"just under the threshold", smallModelBytes - 1, 8, 1},
		{"at the threshold", smallModelBytes, 8, 8},
		{"0.5B Q8_0", 530 << 20, 2, 2},
		{"one core", 530 << 20, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wantThreads(tt.size, tt.cores); got != tt.want {
				t.Errorf("wantThreads(%d, %d) = %d, want %d", tt.size, tt.cores, got, tt.want)
			}
		})
	}
}

func TestSplit(t *testing.T) {
	type c struct {
		want  int
		size  uint64
		fixed bool
	}
	tests := []struct {
		name   string
		cores  int
		claims []c
		want   []int
	}{
		{"one engine takes what it wants", 8, []c{{8, 500, false}}, []int{8}},
		{"small model wants one", 8, []c{{1, 1, false}}, []int{1}},
		{"two equal engines halve", 8, []c{{8, 500, false}, {8, 500, false}}, []int{4, 4}},
		{"two equal engines, odd cores", 3, []c{{3, 500, false}, {3, 500, false}}, []int{2, 1}},
		{"two cores: one each", 2, []c{{2, 500, false}, {2, 500, false}}, []int{1, 1}},
		{"tiny local beside a large cloud", 8, []c{{1, 1, false}, {8, 500, false}}, []int{1, 7}},
		{"in proportion to size", 8, []c{{8, 100, false}, {8, 300, false}}, []int{2, 6}},
		{"fixed claim keeps its count", 8, []c{{3, 100, true}, {8, 500, false}}, []int{3, 5}},
		{"oversubscribed by fixed claims: still one", 4, []c{{4, 100, true}, {4, 500, false}}, []int{4, 1}},
		{"more engines than cores: one each", 2, []c{{2, 5, false}, {2, 5, false}, {2, 5, false}}, []int{1, 1, 1}},
		{"wants fewer than the cores", 8, []c{{2, 500, false}, {2, 500, false}}, []int{2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var claims []*claim
			for _, x := range tt.claims {
				claims = append(claims, &claim{want: x.want, size: x.size, fixed: x.fixed})
			}
			got := split(claims, tt.cores)
			var gotN []int
			for _, cl := range claims {
				gotN = append(gotN, got[cl])
			}
			if diff := cmp.Diff(tt.want, gotN); diff != "" {
				t.Errorf("split (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBudgetRebalances(t *testing.T) {
	b := &budget{root: t.TempDir(), claims: make(map[*claim]bool)}
	var la, lb []int // the counts each engine was told, in order
	a := &claim{want: 8, size: 500, set: func(n int) { la = append(la, n) }}
	c := &claim{want: 8, size: 500, set: func(n int) { lb = append(lb, n) }}
	tiny := &claim{want: 1, size: 1, set: func(int) {}}

	b.add(a, 8, 0, true)     // a alone: all 8
	b.add(c, 8, 0, true)     // c arrives: 4 each
	b.add(tiny, 8, 6, false) // a 4, c 3, tiny 1
	if b.cores != 8 {
		t.Errorf("an unsensed open changed the cores to %d", b.cores)
	}
	b.remove(c)          // a gets the rest back, beside tiny: 7
	b.remove(c)          // twice is harmless
	b.add(c, 8, 5, true) // a busier machine: one each
	if diff := cmp.Diff([]int{8, 4, 7, 1}, la); diff != "" {
		t.Errorf("engine a was told (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{4, 3, 1}, lb); diff != "" {
		t.Errorf("engine c was told (-want +got):\n%s", diff)
	}
}

func TestBudgetResense(t *testing.T) {
	// Two CPUs; each sample adds 100 ticks per CPU, busy ones to user
	// time (field 1) and the rest to idle (field 4). The process itself
	// takes self ticks.
	root := fakeRoot(t, "", nil, map[string]string{"proc/stat": "", "proc/self/stat": ""})
	var user, idle, self int
	sample := func(busy, own int) {
		t.Helper()
		user += busy
		idle += 200 - busy
		self += own
		stat := fmt.Sprintf("cpu  %d 0 0 %d 0 0 0 0 0 0\ncpu0 0 0 0 0 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\n", user, idle)
		pstat := fmt.Sprintf("7 (cogen) R 1 7 7 0 -1 0 0 0 0 0 %d 0 0 0 20 0 3 0 1 0 0\n", self)
		for p, s := range map[string]string{"proc/stat": stat, "proc/self/stat": pstat} {
			if err := os.WriteFile(filepath.Join(root, p), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	b := &budget{root: root, claims: make(map[*claim]bool)}
	var told []int
	a := &claim{want: 2, size: 500, set: func(n int) { told = append(told, n) }}
	sample(0, 0)
	b.add(a, 2, 0, true) // idle at open: 2
	t0 := b.lastAt

	sample(100, 0)                      // another process takes a core...
	b.resense(t0.Add(resenseEvery / 2)) // ...but it is too soon to look
	b.resense(t0.Add(2 * resenseEvery)) // now: 1
	sample(190, 95)                     // our own threads are busy, the other process too: still 1
	b.resense(t0.Add(4 * resenseEvery))
	sample(10, 0) // it went away: 2 again
	b.resense(t0.Add(6 * resenseEvery))
	if diff := cmp.Diff([]int{2, 1, 2}, told); diff != "" {
		t.Errorf("engine was told (-want +got):\n%s", diff)
	}

	// Only fixed or single-thread claims: nothing to adapt, no sampling.
	f := &budget{root: root, claims: make(map[*claim]bool)}
	f.add(&claim{want: 2, fixed: true}, 2, 0, false)
	f.add(&claim{want: 1, size: 1}, 2, 0, false)
	f.resense(time.Now())
	if !f.lastAt.IsZero() {
		t.Error("a budget with nothing to adapt sampled the load")
	}
}
