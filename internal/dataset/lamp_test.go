package dataset_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/dataset"
)

var (
	paperQ = filepath.Join("testdata", "lamp", "paper_questions.json")
	paperO = filepath.Join("testdata", "lamp", "paper_outputs.json")
	emailQ = filepath.Join("testdata", "lamp", "email_questions.json")
	emailO = filepath.Join("testdata", "lamp", "email_outputs.json")
)

// The history items of the fixtures, as rendered.
const (
	itemGraph    = "Title: Graph neural networks for traffic forecasting\nContent: Traffic forecasting with graph neural networks on sensor networks. We propose a spatial model."
	itemSpeech   = "Title: Neural speech recognition\nContent: An end-to-end neural model that transcribes speech."
	itemDB       = "Title: A study of database indexing\nContent: We compare B-trees and hash indexes on disk-based storage."
	itemTemporal = "Title: Temporal indexes\nContent: Versioned records need indexes over time."
	refGraph     = "We study how graph neural networks can forecast traffic on road networks. Our model learns from sensor graphs and beats classical baselines on two city datasets."
	refTemporal  = "We index temporal data with a layered structure that keeps every past version of a record reachable in logarithmic time and linear space."
)

func paperPromptOf(target string, items ...string) string {
	return dataset.SystemPrompt + "\n\n## History Paper Abstracts\n" + strings.Join(items, "\n\n") +
		"\n\n## Task\nCompose an abstract for the title '" + target + "' that matches the author's unique content, style and tone.\n"
}

func TestProcessLaMP(t *testing.T) {
	type rec struct{ TID, Prompt, Without, Reference string }
	paperWo := func(target string) string {
		return "Compose an abstract for the title '" + target + "' that matches the author's unique content, style and tone."
	}
	tests := []struct {
		name      string
		q, o      string
		opts      dataset.LaMPOptions
		wantRep   dataset.LaMPReport
		wantFirst *rec // the first record, when any
		wantTIDs  []string
	}{
		{
			// Question 100: the gold title's newline is collapsed; profile
			// item 1004 is the target itself (same title, other case and
			// spacing) and 1005 has no title, so both are left out. By BM25
			// against "graph neural networks for road traffic", 1001 shares
			// five query words, 1003 only "neural", 1002 none: 1001, 1003,
			// 1002. Question 101 is too short (18 < 128 characters), 102
			// too long (1223 > 1024), 103 has no gold output.
			name: "paper, defaults", q: paperQ, o: paperO, opts: dataset.LaMPOptions{Kind: dataset.KindPaper},
			wantRep: dataset.LaMPReport{Questions: 5, NoGold: 1, TooShort: 1, TooLong: 1, Kept: 2, HistoryItems: 4},
			wantFirst: &rec{"100", paperPromptOf("Graph neural networks for road traffic", itemGraph, itemSpeech, itemDB),
				paperWo("Graph neural networks for road traffic"), refGraph},
			wantTIDs: []string{"100", "104"},
		},
		{
			name: "paper, k 1", q: paperQ, o: paperO, opts: dataset.LaMPOptions{Kind: dataset.KindPaper, K: 1},
			wantRep:   dataset.LaMPReport{Questions: 5, NoGold: 1, TooShort: 1, TooLong: 1, Kept: 2, HistoryItems: 2},
			wantFirst: &rec{"100", paperPromptOf("Graph neural networks for road traffic", itemGraph), paperWo("Graph neural networks for road traffic"), refGraph},
			wantTIDs:  []string{"100", "104"},
		},
		{
			// The budget fits the best item alone: the next would overflow.
			name: "paper, budget of one item", q: paperQ, o: paperO, opts: dataset.LaMPOptions{Kind: dataset.KindPaper, Budget: len(itemGraph)},
			wantRep:   dataset.LaMPReport{Questions: 5, NoGold: 1, TooShort: 1, TooLong: 1, Kept: 2, HistoryItems: 2},
			wantFirst: &rec{"100", paperPromptOf("Graph neural networks for road traffic", itemGraph), paperWo("Graph neural networks for road traffic"), refGraph},
			wantTIDs:  []string{"100", "104"},
		},
		{
			// A budget below the smaller item, itemTemporal, fits nothing;
			// the item just under it skips the larger items and keeps it.
			name: "paper, budget too small", q: paperQ, o: paperO, opts: dataset.LaMPOptions{Kind: dataset.KindPaper, Budget: len(itemTemporal) - 1},
			wantRep: dataset.LaMPReport{Questions: 5, NoGold: 1, TooShort: 1, TooLong: 1, NoHistory: 2},
		},
		{
			name: "paper, no length bounds", q: paperQ, o: paperO, opts: dataset.LaMPOptions{Kind: dataset.KindPaper, MinChars: -1, MaxChars: -1},
			wantRep:  dataset.LaMPReport{Questions: 5, NoGold: 1, Kept: 4, HistoryItems: 6},
			wantTIDs: []string{"100", "101", "102", "104"},
		},
		{
			// Question 200: "review" is in 2002's title and text, no query
			// word in 2001. Question 201 is too short (7 < 64 characters).
			name: "email, defaults", q: emailQ, o: emailO, opts: dataset.LaMPOptions{Kind: dataset.KindEmail},
			wantRep: dataset.LaMPReport{Questions: 2, TooShort: 1, Kept: 1, HistoryItems: 2},
			wantFirst: &rec{"200",
				dataset.SystemPrompt + "\n\n## History Emails\n" +
					"Title: Quarterly review agenda\nContent: Here is the agenda for the quarterly review. Budget first, then hiring.\n\n" +
					"Title: Lunch on Friday\nContent: Who is in for lunch on Friday? I will book a table.\n\n" +
					"## Task\nCompose an email for the subject 'Review moved to Thursday' that matches the author's unique style and tone.\n",
				"Compose an email for the subject 'Review moved to Thursday' that matches the author's unique style and tone.",
				"Hi all, the quarterly review moves to Thursday at ten. Please bring your budget numbers."},
			wantTIDs: []string{"200"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, rep, err := dataset.ProcessLaMP(t.Context(), tt.q, tt.o, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantRep, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			var tids []string
			for i, r := range f.Records {
				tids = append(tids, r.TID)
				if f.Without[i].TID != r.TID || f.Without[i].Reference() != r.Reference() {
					t.Errorf("record %d: the without-context record does not pair", i)
				}
			}
			if diff := cmp.Diff(tt.wantTIDs, tids); diff != "" {
				t.Errorf("tids (-want +got):\n%s", diff)
			}
			if tt.wantFirst != nil {
				got := rec{f.Records[0].TID, f.Records[0].Prompt(), f.Without[0].Prompt(), f.Records[0].Reference()}
				if diff := cmp.Diff(*tt.wantFirst, got); diff != "" {
					t.Errorf("first record (-want +got):\n%s", diff)
				}
			}
			if len(f.Records) == 0 {
				return
			}
			// What ProcessLaMP makes, WriteRecords writes and Validate accepts.
			dir := t.TempDir()
			main, wo := filepath.Join(dir, "x.json"), filepath.Join(dir, "x_wo.json")
			if err := dataset.WriteRecords(main, f.Records); err != nil {
				t.Fatal(err)
			}
			if err := dataset.WriteRecords(wo, f.Without); err != nil {
				t.Fatal(err)
			}
			back, err := dataset.LoadWith(main, dataset.Options{Without: wo})
			if err != nil {
				t.Fatalf("the written files do not validate: %v", err)
			}
			if back.Kind != tt.opts.Kind {
				t.Errorf("written file detected as %s, want %s", back.Kind, tt.opts.Kind)
			}
			if diff := cmp.Diff(f.Records, back.Records); diff != "" {
				t.Errorf("records read back (-written +read):\n%s", diff)
			}
		})
	}
}

func TestProcessLaMPTemporalRecord(t *testing.T) {
	f, _, err := dataset.ProcessLaMP(t.Context(), paperQ, paperO, dataset.LaMPOptions{Kind: dataset.KindPaper})
	if err != nil {
		t.Fatal(err)
	}
	r := f.Records[1]
	if diff := cmp.Diff(paperPromptOf("Indexing the past", itemTemporal), r.Prompt()); diff != "" {
		t.Errorf("prompt (-want +got):\n%s", diff)
	}
	if r.Reference() != refTemporal {
		t.Errorf("reference %q, want %q", r.Reference(), refTemporal)
	}
}

func TestProcessLaMPErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	full, err := os.ReadFile(paperQ)
	if err != nil {
		t.Fatal(err)
	}
	truncated := write("truncated.json", string(full[:len(full)/2]))
	noTask := write("golds.json", `{"golds":[{"id":100,"output":"T"}]}`)
	dup := write("dup.json", `[{"id":"7","input":"Generate a title for the following abstract of a paper: A.","profile":[]},{"id":"7","input":"Generate a title for the following abstract of a paper: B.","profile":[]}]`)
	badOutputs := write("bad_outputs.json", `{"task":"LaMP_5","golds":[`)
	tests := []struct {
		name string
		q, o string
		kind dataset.Kind
		want dataset.Problem
	}{
		{"outputs of the other task", paperQ, paperO, dataset.KindEmail,
			dataset.Problem{Path: paperO, Index: -1, Reason: "outputs of task LaMP_5, want LaMP_6"}},
		{"questions of the other task", paperQ, noTask, dataset.KindEmail,
			dataset.Problem{Path: paperQ, Index: 0, TID: "100", Field: "input", Reason: "lacks the LaMP_6 input prefix: a question of another LaMP task"}},
		{"truncated questions", truncated, paperO, dataset.KindPaper,
			dataset.Problem{Path: truncated, Index: 2, Reason: "truncated JSON at byte " + itoa(len(full)/2)}},
		{"duplicate id", dup, noTask, dataset.KindPaper,
			dataset.Problem{Path: dup, Index: 1, TID: "7", Field: "id", Reason: "duplicate id (first at record 0)"}},
		{"truncated outputs", paperQ, badOutputs, dataset.KindPaper,
			dataset.Problem{Path: badOutputs, Index: -1, Reason: "truncated JSON at byte 26"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := dataset.ProcessLaMP(t.Context(), tt.q, tt.o, dataset.LaMPOptions{Kind: tt.kind})
			pe, ok := errors.AsType[*dataset.ProblemError](err)
			if !ok {
				t.Fatalf("got %v, want a *ProblemError", err)
			}
			if diff := cmp.Diff([]dataset.Problem{tt.want}, pe.Problems, ignoreOffset); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProcessLaMPCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := dataset.ProcessLaMP(ctx, paperQ, paperO, dataset.LaMPOptions{Kind: dataset.KindPaper}); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
