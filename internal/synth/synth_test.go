package synth

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/audit"
	"github.com/cogenesis/cogenesis/internal/egress"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

// fakeCloud answers each step with valid JSON, unless answer overrides
// it for a job attempt ("user/0/0#1"). It counts the calls per attempt.
type fakeCloud struct {
	tasks  int
	answer func(job string) (string, bool)
	delay  time.Duration

	mu          sync.Mutex
	calls       map[string]int
	inFlight    int
	maxInFlight int
}

func (f *fakeCloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req openaiapi.ChatCompletionRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	job := r.Header.Get(JobHeader)
	f.mu.Lock()
	f.calls[job]++
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	f.inFlight--
	f.mu.Unlock()
	content, ok := "", false
	if f.answer != nil {
		content, ok = f.answer(job)
	}
	if !ok {
		content = validAnswer(req.ResponseFormat.JSONSchema.Name, job, f.tasks)
	}
	resp := openaiapi.ChatCompletionResponse{
		Object: openaiapi.ObjectChatCompletion,
		Choices: []openaiapi.ChatChoice{{
			Message:      openaiapi.ChatMessage{Role: llm.RoleAssistant, Content: content},
			FinishReason: openaiapi.FinishStop,
		}},
		Usage: &llm.Usage{PromptTokens: 10, CompletionTokens: 5, TotalTokens: 15},
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp) // the client reports a broken answer
}

func (f *fakeCloud) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func validAnswer(step, job string, tasks int) string {
	items := func(prefix string, n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("%s %d of %s", prefix, i, job))
		}
		return out
	}
	var v any
	switch step {
	case StepPortrait:
		v = Portrait{Group: "night nurses", Description: "work nights", Occupations: items("job", 2)}
	case StepUser:
		v = User{Name: "Ada Quill", Age: 41, Occupation: "nurse", Location: "Oslo, Norway",
			PersonalTraits: items("trait", 2), WritingStyle: items("style", 2), PrivateFacts: items("fact", 5),
			ActivityLog: items("log", 5), AIUsage: items("use", 2)}
	case StepTasks:
		var tl TaskList
		for i := range tasks {
			tl.Tasks = append(tl.Tasks, TaskItem{Title: fmt.Sprintf("Write letter kind %d", i), Detail: fmt.Sprintf("about topic %c for %s", 'a'+i, job)})
		}
		v = tl
	case StepText:
		v = Text{Text: "A short text about the week, written plainly for " + job}
	}
	b, _ := json.Marshal(v) // plain structs
	return string(b)
}

func startFake(t *testing.T, f *fakeCloud) *openaiapi.Client {
	t.Helper()
	f.calls = map[string]int{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	log, err := audit.Open(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	// Through the egress, as cogen synth sends: the generic guard, the
	// audit log, the job header outside them.
	c, err := egress.Dial(egress.Config{
		Policy: egress.Synthetic, Log: log, Guard: privacy.NewGuard(nil),
		Outer: func(rt http.RoundTripper) http.RoundTripper { return &Transport{Base: rt} },
	}, openaiapi.Config{BaseURL: srv.URL + "/v1", Kind: openaiapi.KindVLLM, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openStore(t *testing.T) *Store {
	t.Helper()
	st, err := OpenStore(t.Context(), filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// barEnd matches a progress bar's final line (plain, not a terminal) up
// to its count.
var barEnd = regexp.MustCompile(`(?m)^(\w+: (?:done|stopped at|failed|skipped)(?: \d+%)? \d+/\d+)\b.*$`)

var smallConfig = Config{Portraits: 1, UsersPerPortrait: 1, TasksPerUser: 2, History: 1, Retries: 2,
	Limits: Limits{ItemChars: 80, TextChars: 200}}

func TestRunRetriesInvalidAnswers(t *testing.T) {
	f := &fakeCloud{tasks: 3, answer: func(job string) (string, bool) {
		switch job {
		case "user/0/0#1":
			return `{"name": "Ada", "age": 4`, true // malformed
		case "user/0/0#2":
			return `{"name": "Ada"}`, true // missing fields
		}
		return "", false
	}}
	c := startFake(t, f)
	st := openStore(t)
	rep, err := Run(t.Context(), c, st, smallConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Records) != 2 || len(rep.Failures) != 0 {
		t.Fatalf("got %d records, %d failures; want 2, 0: %+v", len(rep.Records), len(rep.Failures), rep.Failures)
	}
	for _, a := range []string{"user/0/0#1", "user/0/0#2", "user/0/0#3"} {
		if f.calls[a] != 1 {
			t.Errorf("calls of %s = %d, want 1", a, f.calls[a])
		}
	}
	j, err := st.Get(t.Context(), "user/0/0")
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != StatusDone || j.Attempts != 3 || j.PromptTokens != 30 {
		t.Errorf("job user/0/0 = status %s, %d attempts, %d prompt tokens; want done, 3, 30", j.Status, j.Attempts, j.PromptTokens)
	}
	// 1 portrait + 3 user attempts + 1 tasks + 3 texts.
	if got := f.total(); got != 8 || rep.Calls != 8 {
		t.Errorf("calls = %d (report %d), want 8", got, rep.Calls)
	}
}

func TestRunRecordsFailure(t *testing.T) {
	f := &fakeCloud{tasks: 3, answer: func(job string) (string, bool) {
		if strings.HasPrefix(job, "user/0/0#") {
			u := User{Name: "Ada", Age: 30, Occupation: "nurse", Location: "Oslo",
				PersonalTraits: []string{"a", "b"}, WritingStyle: []string{"a", "b"},
				PrivateFacts: []string{"one", "two", "three"}, // too few
				ActivityLog:  []string{"1", "2", "3", "4", "5"}, AIUsage: []string{"a", "b"}}
			b, _ := json.Marshal(u)
			return string(b), true
		}
		return "", false
	}}
	c := startFake(t, f)
	st := openStore(t)
	cfg := smallConfig
	var bars strings.Builder
	cfg.Progress = &bars
	rep, err := Run(t.Context(), c, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Records) != 0 || len(rep.Failures) != 2 {
		t.Fatalf("got %d records, %d failures; want 0, 2", len(rep.Records), len(rep.Failures))
	}
	// The progress says what became of each step: nothing after the
	// failed user ran.
	want := []string{"portraits: done 100% 1/1", "users: failed 1/1", "tasks: skipped 1/1", "texts: skipped 3/3"}
	var got []string
	for _, m := range barEnd.FindAllStringSubmatch(bars.String(), -1) {
		got = append(got, m[1])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("progress mismatch (-want +got):\n%s\n%s", diff, bars.String())
	}
	for _, fl := range rep.Failures {
		if fl.Job != "user/0/0" || !strings.Contains(fl.Reason, "private_facts") || !strings.Contains(fl.Reason, "3 items") {
			t.Errorf("failure = %+v, want job user/0/0 with a private_facts reason", fl)
		}
	}
	if got := f.total(); got != 1+3 {
		t.Errorf("calls = %d, want 4 (no call depends on a failed job)", got)
	}
	j, _ := st.Get(t.Context(), "user/0/0")
	if j.Status != StatusFailed || j.Attempts != 3 || j.Error == "" {
		t.Errorf("job = %+v, want failed after 3 attempts with a reason", j)
	}

	// A resumed run repeats no call: the failure stands.
	rep, err = Run(t.Context(), c, st, smallConfig)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Calls != 0 || len(rep.Failures) != 2 {
		t.Errorf("resumed run: %d calls, %d failures; want 0, 2", rep.Calls, len(rep.Failures))
	}
}

func TestRunResumeAndWrite(t *testing.T) {
	f := &fakeCloud{tasks: 3}
	c := startFake(t, f)
	st := openStore(t)
	cfg := smallConfig
	cfg.UsersPerPortrait = 2
	rep, err := Run(t.Context(), c, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	calls := f.total()
	again, err := Run(t.Context(), c, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if f.total() != calls || again.Calls != 0 {
		t.Errorf("resumed finished run made %d calls, want 0", f.total()-calls)
	}
	if again.TotalPromptTokens != int64(10*calls) {
		t.Errorf("total prompt tokens = %d, want %d", again.TotalPromptTokens, 10*calls)
	}
	cfg.TasksPerUser = 3
	if _, err := Run(t.Context(), c, st, cfg); err == nil {
		t.Error("a run with other parameters resumed the store")
	}

	path := filepath.Join(t.TempDir(), "out.json")
	if err := WriteFile(path, rep.Records); err != nil {
		t.Fatal(err)
	}
	recs, err := privacy.LoadContextFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 4 {
		t.Fatalf("loaded %d records, want 4", len(recs))
	}
	v := recs[0].Vault
	if len(v.PrivateFacts) != 5 || len(v.ActivityLog) != 5 || len(v.History) != 1 || v.Age.IsZero() {
		t.Errorf("vault: %d facts, %d log items, %d history items; want 5, 5, 1", len(v.PrivateFacts), len(v.ActivityLog), len(v.History))
	}
	if recs[0].Task.Personal.IsZero() {
		t.Error("task has no personal section")
	}
}

func TestValidateTasksDropsNearDuplicates(t *testing.T) {
	l := Limits{ItemChars: 80, TextChars: 200}
	tl := TaskList{Tasks: []TaskItem{
		{"Write a wedding toast", "for my sister Mia and her husband in June"},
		{"Write a wedding toast", "for my sister Mia and her husband in  June!"},
		{"Draft a complaint email", "about the broken heater in my flat"},
		{"Plan a week of meals", "low in salt for my blood pressure"},
	}}
	if err := tl.validate(l, 3); err != nil {
		t.Fatal(err)
	}
	if len(tl.Tasks) != 3 || tl.Tasks[1].Title != "Draft a complaint email" {
		t.Errorf("kept %v", tl.Tasks)
	}
	tl = TaskList{Tasks: []TaskItem{
		{"Write a wedding toast", "for my sister Mia"},
		{"Write a wedding toast", "for my sister Mia"},
		{"Plan meals", "low in salt"},
	}}
	if err := tl.validate(l, 3); err == nil || !strings.Contains(err.Error(), "near-duplicates") {
		t.Errorf("err = %v, want a near-duplicate rejection", err)
	}
	tl = TaskList{Tasks: []TaskItem{{"Title: with colon", "x"}, {"b", "y"}, {"c", "z"}}}
	if err := tl.validate(l, 3); err == nil {
		t.Error("a title with a colon passed")
	}
}

func TestValidateUserLimits(t *testing.T) {
	l := Limits{ItemChars: 10, TextChars: 100}
	u := User{Name: "Ada  Quill", Age: 30, Occupation: "nurse", Location: "Oslo",
		PersonalTraits: []string{"a", "b"}, WritingStyle: []string{"a", "b"},
		PrivateFacts: []string{"1", "2", "3", "4", "5"}, ActivityLog: []string{"1", "2", "3", "4", "5"}, AIUsage: []string{"a", "b"}}
	if err := u.validate(l); err != nil {
		t.Fatal(err)
	}
	if u.Name != "Ada Quill" {
		t.Errorf("name not normalized: %q", u.Name)
	}
	for name, mutate := range map[string]func(*User){
		"age":             func(u *User) { u.Age = 7 },
		"private_facts":   func(u *User) { u.PrivateFacts = append(u.PrivateFacts, make([]string, 6)...) },
		"activity_log[1]": func(u *User) { u.ActivityLog = []string{"1", "1", "3", "4", "5"} },
		"name":            func(u *User) { u.Name = "a much too long name" },
		"location":        func(u *User) { u.Location = "a;b" },
	} {
		v := u
		v.ActivityLog = append([]string(nil), u.ActivityLog...)
		mutate(&v)
		err := v.validate(l)
		if ie, ok := err.(*InvalidError); !ok || ie.Field != name {
			t.Errorf("%s: err = %v, want an invalid %s", name, err, name)
		}
	}
}

func TestDecodeRejectsUnknownAndTrailing(t *testing.T) {
	var tx Text
	for _, in := range []string{`{"text":"a","extra":1}`, `{"text":"a"} {}`, `{"text":`, `[]`} {
		if err := decode(in, &tx); err == nil {
			t.Errorf("decode(%q) passed", in)
		}
	}
}

func TestRunBoundsConcurrencyAndRate(t *testing.T) {
	f := &fakeCloud{tasks: 2, delay: 20 * time.Millisecond}
	c := startFake(t, f)
	st := openStore(t)
	cfg := Config{Portraits: 4, UsersPerPortrait: 1, TasksPerUser: 1, History: 1, Concurrency: 2, RPS: 40,
		Limits: Limits{ItemChars: 80, TextChars: 200}}
	start := time.Now()
	rep, err := Run(t.Context(), c, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	// 4 portraits + 4 users + 4 task lists + 8 texts.
	if rep.Calls != 20 || len(rep.Records) != 4 {
		t.Fatalf("%d calls, %d records; want 20, 4", rep.Calls, len(rep.Records))
	}
	if f.maxInFlight > 2 {
		t.Errorf("%d requests in flight at once, want at most 2", f.maxInFlight)
	}
	// 40 requests per second, burst 1: the 20th starts at 19/40 s at the soonest.
	if elapsed < 450*time.Millisecond {
		t.Errorf("20 calls at 40 rps took %v, want at least 475ms", elapsed)
	}
}

func TestTransportSetsJobHeader(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Get(JobHeader) }))
	defer srv.Close()
	hc := &http.Client{Transport: &Transport{Base: http.DefaultTransport}}
	req, err := http.NewRequestWithContext(withJob(t.Context(), "text/1/2/3", 2), http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != "text/1/2/3#2" {
		t.Errorf("header = %q, want text/1/2/3#2", got)
	}
	if req.Header.Get(JobHeader) != "" {
		t.Error("the transport modified the caller's request")
	}
}
