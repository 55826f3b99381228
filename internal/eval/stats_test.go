package eval

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cogenesis/cogenesis/collab"
	"github.com/cogenesis/cogenesis/internal/eval/judge"
	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/openaiapi"
	"github.com/cogenesis/cogenesis/privacy"
)

var approx = cmpopts.EquateApprox(0, 1e-12)

func ptr(v float64) *float64 { return &v }

func TestMeanStd(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want Stat
	}{
		{"empty", nil, Stat{}},
		{"all NaN", []float64{math.NaN()}, Stat{}},
		{"one", []float64{7}, Stat{Mean: 7, N: 1}},
		// mean 5, deviations -2 0 2: sum of squares 8, / (3-1) = 4, std 2.
		{"three", []float64{3, 5, 7}, Stat{Mean: 5, Std: 2, N: 3}},
		{"NaN skipped", []float64{8, math.NaN(), 6}, Stat{Mean: 7, Std: math.Sqrt2, N: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, meanStd(tt.xs), approx); diff != "" {
				t.Errorf("meanStd(%v) (-want +got):\n%s", tt.xs, diff)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name    string
		ratings []*float64
		want    float64
		ok      bool
	}{
		{"none", nil, 0, false},
		{"all unrated", []*float64{nil, nil}, 0, false},
		{"one", []*float64{ptr(6)}, 6, true},
		{"odd", []*float64{ptr(9), ptr(2), ptr(5)}, 5, true},
		{"even averages the middle", []*float64{ptr(8), ptr(5), ptr(7), ptr(1)}, 6, true},
		{"unrated left out", []*float64{ptr(3), nil, ptr(9), nil, ptr(4)}, 4, true},
		{"decimal", []*float64{ptr(7.5), ptr(8)}, 7.75, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := median(tt.ratings)
			if got != tt.want || ok != tt.ok {
				t.Errorf("median = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRunningMean(t *testing.T) {
	n, m, se := runningMean([]float64{4, math.NaN(), 6, 8})
	if diff := cmp.Diff([]int{1, 2, 3}, n); diff != "" {
		t.Errorf("n (-want +got):\n%s", diff)
	}
	// Means 4, 5, 6; s.e. of {4,6}: std sqrt(2) / sqrt(2) = 1; of {4,6,8}:
	// std 2 / sqrt(3).
	if diff := cmp.Diff([]float64{4, 5, 6}, m, approx); diff != "" {
		t.Errorf("means (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]float64{0, 1, 2 / math.Sqrt(3)}, se, approx); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestWinTieLosePercent(t *testing.T) {
	w := WinTieLose{Win: 3, Tie: 1, Lose: 0, Unrated: 5}
	a, b, c := w.Percent()
	if diff := cmp.Diff([]float64{75, 25, 0}, []float64{a, b, c}, approx); diff != "" {
		t.Errorf("percent (-want +got):\n%s", diff)
	}
	if a, _, _ := (WinTieLose{Unrated: 2}).Percent(); !math.IsNaN(a) {
		t.Errorf("no decided pair: %v, want NaN", a)
	}
}

// TestAggregate checks the report's arithmetic on a hand-made plan: two
// records, two seeds, a baseline and a system, three judge repeats with
// unrated ones, and pairwise verdicts in both orders.
func TestAggregate(t *testing.T) {
	cfg := &Config{
		Out: t.TempDir(), Seeds: []uint64{1, 2}, Baseline: "base",
		Datasets:   []Dataset{{Name: "d"}},
		Models:     []Model{{Name: "m"}},
		Strategies: []Strategy{{Name: "base", Strategy: "slm"}, {Name: "sys", Strategy: "sketch"}},
		Judge:      Judge{Prompts: []string{"ovl-w"}, Repeats: 3, Pairwise: PairwiseJudge},
	}
	recs := []*record{
		{ds: 0, index: 0, rec: privacy.Record{Reference: privacy.NewPrivate("the cat sat on the mat")}, task: collab.Task{}},
		{ds: 0, index: 1, rec: privacy.Record{Reference: privacy.NewPrivate("a b c d e")}, task: collab.Task{}},
	}
	p := &plan{cfg: cfg, records: [][]*record{recs}, byCell: map[cellKey]*genJob{}}
	// Ratings per strategy, record, seed: three repeats (nil: unrated).
	ratings := map[[3]int][]*float64{
		{0, 0, 1}: {ptr(6), ptr(8), ptr(7)},  // median 7
		{0, 1, 1}: {ptr(5), nil, ptr(5)},     // median 5
		{0, 0, 2}: {ptr(9), ptr(9), ptr(3)},  // median 9
		{0, 1, 2}: {ptr(4), ptr(6), nil},     // median 5
		{1, 0, 1}: {nil, nil, nil},           // unrated
		{1, 1, 1}: {ptr(10), ptr(8), ptr(9)}, // median 9
		{1, 0, 2}: {ptr(8), ptr(8), ptr(8)},  // median 8
		{1, 1, 2}: {ptr(2), ptr(4), ptr(9)},  // median 4
	}
	texts := map[int]string{0: "the cat sat on the mat", 1: "a b c d e"}
	for si := range cfg.Strategies {
		for _, rec := range recs {
			for _, seed := range cfg.Seeds {
				text := texts[rec.index]
				if si == 1 {
					text = "nothing in common here"
				}
				g := &genJob{rec: rec, strat: si, seed: seed, result: &genResult{Text: text, CloudCalls: si}}
				p.gens = append(p.gens, g)
				p.byCell[cellKey{0, 0, si, rec.index, seed}] = g
				for _, r := range ratings[[3]int{si, rec.index, int(seed)}] {
					p.judges = append(p.judges, &judgeJob{gen: g, kind: judge.Overall, result: &judgeResult{Rating: r, Attempts: 1}})
				}
			}
		}
	}
	// Pairwise: system first (A) and swapped (system is B).
	verdicts := map[[2]int][2]string{
		{0, 1}: {"A", "B"},  // win
		{1, 1}: {"B", "A"},  // lose
		{0, 2}: {"A", "A"},  // position bias: tie
		{1, 2}: {"tie", ""}, // unrated in one order
	}
	for k, v := range verdicts {
		g := p.byCell[cellKey{0, 0, 1, k[0], uint64(k[1])}]
		b := p.byCell[cellKey{0, 0, 0, k[0], uint64(k[1])}]
		p.pairs = append(p.pairs,
			&judgeJob{gen: g, base: b, result: &judgeResult{Verdict: v[0]}},
			&judgeJob{gen: g, base: b, swapped: true, result: &judgeResult{Verdict: v[1]}})
	}
	r := &runner{cfg: cfg}
	rep, err := r.aggregate(p)
	if err != nil {
		t.Fatal(err)
	}
	base, sys := rep.Rows[0], rep.Rows[1]
	// Baseline: seed 1 mean (7+5)/2 = 6, seed 2 (9+5)/2 = 7: mean 6.5,
	// std sqrt(0.5).
	if diff := cmp.Diff(Stat{Mean: 6.5, Std: math.Sqrt(0.5), N: 2}, base.Scores["Ovl.(w)"], approx); diff != "" {
		t.Errorf("baseline score (-want +got):\n%s", diff)
	}
	// System: seed 1 only record 1 is rated: 9; seed 2 (8+4)/2 = 6:
	// mean 7.5, std sqrt(4.5); one unrated output.
	if diff := cmp.Diff(Stat{Mean: 7.5, Std: math.Sqrt(4.5), N: 2}, sys.Scores["Ovl.(w)"], approx); diff != "" {
		t.Errorf("system score (-want +got):\n%s", diff)
	}
	if sys.Unrated["Ovl.(w)"] != 1 || base.Unrated["Ovl.(w)"] != 0 {
		t.Errorf("unrated: system %d, baseline %d; want 1, 0", sys.Unrated["Ovl.(w)"], base.Unrated["Ovl.(w)"])
	}
	// Stability samples: per record the mean over seeds; record 0 of the
	// system has only seed 2 rated.
	if diff := cmp.Diff([]float64{8, 6.5}, sys.Samples["Ovl.(w)"], approx); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(WinTieLose{Win: 1, Tie: 1, Lose: 1, Unrated: 1}, sys.Pairwise); diff != "" {
		t.Errorf("pairwise (-want +got):\n%s", diff)
	}
	// The baseline copies the references: BLEU and ROUGE-L 100; the system
	// shares no word with them: 0.
	if base.BLEU.Mean != 100 || base.ROUGEL.Mean != 100 || sys.BLEU.Mean != 0 || sys.ROUGEL.Mean != 0 {
		t.Errorf("BLEU/ROUGE-L: baseline %v/%v, system %v/%v", base.BLEU, base.ROUGEL, sys.BLEU, sys.ROUGEL)
	}
	if rep.Judge.Unrated != 5+1 || rep.Usage[1].CloudCalls != 4 {
		t.Errorf("judge unrated %d (want 6: 5 ratings, 1 verdict), system cloud calls %d (want 4)", rep.Judge.Unrated, rep.Usage[1].CloudCalls)
	}
	if md := rep.table1().Markdown(); !strings.Contains(md, "| m + sys | **7.50 ± 2.12** ↑1.00 (1 unrated) |") {
		t.Errorf("table 1:\n%s", md)
	}
	if md := rep.table3().Markdown(); !strings.Contains(md, "| d | m + sys | 33/33/33 (1 unrated) | 0.00 ± 0.00 | 0.00 ± 0.00 |") {
		t.Errorf("table 3:\n%s", md)
	}
}

// TestJudgeRetries checks the retry rule against a scripted
// OpenAI-protocol server: answers without a rating are asked again with a
// new seed, and after max_retries the output is unrated, never guessed.
func TestJudgeRetries(t *testing.T) {
	tests := []struct {
		name     string
		kind     string
		answers  []string
		pairwise bool
		want     judgeResult
	}{
		{"first answer rated", "vllm", []string{"Good. Rating: [[7]]"}, false, judgeResult{Rating: ptr(7), Attempts: 1}},
		{"rated on the third attempt", "vllm", []string{"no rating", `the format "[[5]]" is required`, "Rating: [[7.5]]"}, false, judgeResult{Rating: ptr(7.5), Attempts: 3}},
		{"out of range then conflicting: unrated", "llamacpp", []string{"[[11]]", "[[3]] or [[4]]", "[[0]]"}, false, judgeResult{Attempts: 3}},
		{"pairwise verdict", "vllm", []string{"hmm", "[[B]]"}, true, judgeResult{Verdict: "B", Attempts: 2}},
		{"pairwise never decided", "vllm", []string{"[[A]] [[B]]", "none", "[[D]]"}, true, judgeResult{Attempts: 3}},
		{"refused: unrated without retry", "vllm", []string{"!400"}, false, judgeResult{Attempts: 1, Refused: "status 400 invalid_request_error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				reqs  []openaiapi.ChatCompletionRequest
				calls int
			)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var req openaiapi.ChatCompletionRequest
				if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
					t.Errorf("decode: %v", err)
				}
				mu.Lock()
				reqs = append(reqs, req)
				answer := tt.answers[calls%len(tt.answers)]
				calls++
				mu.Unlock()
				if answer == "!400" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusBadRequest)
					_, _ = w.Write([]byte(`{"error":{"message":"prompt is 9000 tokens","type":"invalid_request_error"}}`))
					return
				}
				_ = json.NewEncoder(w).Encode(openaiapi.ChatCompletionResponse{
					Object:  "chat.completion",
					Choices: []openaiapi.ChatChoice{{Message: openaiapi.ChatMessage{Role: "assistant", Content: answer}, FinishReason: "stop"}},
					Usage:   &llm.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12},
				})
			}))
			defer srv.Close()
			c, err := openaiapi.New(openaiapi.Config{BaseURL: srv.URL + "/v1", Kind: openaiapi.Kind(tt.kind), Model: "j", MaxRetries: -1, Timeout: time.Minute, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			r := &runner{cfg: &Config{Judge: Judge{MaxRetries: 2, MaxTokens: 64, Grammar: true, Kind: tt.kind}}}
			rec := &record{task: collab.Task{Instruction: privacy.NewPrivate("Q"), Profile: privacy.NewPrivate("P"), History: privacy.NewPrivate("H")}}
			g := &genJob{rec: rec, result: &genResult{Text: "answer"}}
			j := &judgeJob{gen: g, kind: judge.OverallNoProfile, repeat: 1}
			if tt.pairwise {
				j = &judgeJob{gen: g, base: &genJob{rec: rec, result: &genResult{Text: "base"}}, swapped: true}
			}
			got, err := r.judgeOne(t.Context(), c, j)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Answers = tt.answers[:tt.want.Attempts]
			tt.want.PromptTokens, tt.want.CompletionTokens = 10*tt.want.Attempts, 2*tt.want.Attempts
			if tt.want.Refused != "" {
				tt.want.Answers, tt.want.PromptTokens, tt.want.CompletionTokens = []string{}, 0, 0
			}
			if diff := cmp.Diff(&tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			var seeds []int64
			for _, q := range reqs {
				seeds = append(seeds, *q.Seed)
				gram := q.GuidedGrammar
				if tt.kind == "llamacpp" {
					gram = q.Grammar
				}
				if gram == "" || (q.Grammar != "" && q.GuidedGrammar != "") {
					t.Errorf("kind %s: guided_grammar %q, grammar %q", tt.kind, q.GuidedGrammar, q.Grammar)
				}
			}
			wantSeeds := []int64{1, 1001, 2001}[:len(reqs)]
			if tt.pairwise {
				wantSeeds = []int64{0, 1000, 2000}[:len(reqs)]
			}
			if diff := cmp.Diff(wantSeeds, seeds); diff != "" {
				t.Errorf("seeds (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFmtStat(t *testing.T) {
	for _, tt := range []struct {
		s    Stat
		want string
	}{
		{Stat{}, "—"},
		{Stat{Mean: 7.125, N: 1}, "7.12"},
		{Stat{Mean: 6.5, Std: 0.7071, N: 2}, "6.50 ± 0.71"},
	} {
		if got := fmtStat(tt.s); got != tt.want {
			t.Errorf("fmtStat(%+v) = %q, want %q", tt.s, got, tt.want)
		}
	}
	if got := delta(Stat{Mean: 7, N: 1}, Stat{Mean: 7.5, N: 2}); got != "↓0.50" {
		t.Errorf("delta = %q, want ↓0.50", got)
	}
}
