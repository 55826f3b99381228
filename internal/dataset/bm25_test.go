package dataset_test

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"lower-cases and splits on punctuation", "Graph-Neural  networks, 2024!", []string{"graph", "neural", "networks", "2024"}},
		{"keeps letters beyond ASCII", "Ünïcode Straße", []string{"ünïcode", "straße"}},
		{"nothing but punctuation", " -- !! ", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, dataset.Tokenize(tt.in)); diff != "" {
				t.Errorf("Tokenize(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// TestBM25HandWorked checks BM25 against scores worked out by hand.
//
// Documents (tokens): d0 "graph neural networks" (3), d1 "neural networks
// for neural speech" (5), d2 "database indexing" (2). N = 3, avgdl = 10/3.
// Query "neural graph"; k1 = 1.2, b = 0.75.
//
//	idf(neural) = ln(1 + (3 − 2 + 0.5)/(2 + 0.5)) = ln(1.6)      = 0.470004
//	idf(graph)  = ln(1 + (3 − 1 + 0.5)/(1 + 0.5)) = ln(2.666667) = 0.980829
//
//	d0: |d| = 3, 1 − b + b·3/(10/3) = 0.25 + 0.675 = 0.925, k1·0.925 = 1.11
//	    neural: tf 1 → 0.470004 · 1·2.2/(1 + 1.11) = 0.470004 · 1.042654 = 0.490052
//	    graph:  tf 1 → 0.980829 · 1.042654                        = 1.022665
//	    score = 1.512717
//	d1: |d| = 5, 0.25 + 0.75·1.5 = 1.375, k1·1.375 = 1.65
//	    neural: tf 2 → 0.470004 · 2·2.2/(2 + 1.65) = 0.470004 · 1.205479 = 0.566580
//	    score = 0.566580
//	d2: no query term → 0
func TestBM25HandWorked(t *testing.T) {
	m := dataset.NewBM25([]string{"graph neural networks", "neural networks for neural speech", "database indexing"})
	want := []float64{1.512717, 0.566580, 0}
	got := m.Scores("neural graph")
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-5 })); diff != "" {
		t.Errorf("Scores (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{0, 1, 2}, m.Rank("neural graph")); diff != "" {
		t.Errorf("Rank (-want +got):\n%s", diff)
	}
	// A repeated query term counts once.
	if diff := cmp.Diff(got, m.Scores("Neural, graph neural"), cmp.Comparer(func(a, b float64) bool { return math.Abs(a-b) < 1e-12 })); diff != "" {
		t.Errorf("repeated query term changed the scores (-want +got):\n%s", diff)
	}
}

func TestBM25Ties(t *testing.T) {
	tests := []struct {
		name  string
		docs  []string
		query string
		want  []int
	}{
		{"no match keeps document order", []string{"a", "b", "c"}, "zzz", []int{0, 1, 2}},
		{"equal documents keep order", []string{"x y", "q", "x y"}, "x", []int{0, 2, 1}},
		{"shorter document wins at equal tf", []string{"x a b c d e", "x a"}, "x", []int{1, 0}},
		{"no documents", nil, "x", []int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, dataset.NewBM25(tt.docs).Rank(tt.query)); diff != "" {
				t.Errorf("Rank (-want +got):\n%s", diff)
			}
		})
	}
}
