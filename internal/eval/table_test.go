package eval

import (
	"bytes"
	"encoding/csv"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTableMarkdown(t *testing.T) {
	tests := []struct {
		name string
		tab  Table
		want string
	}{
		{
			name: "pipes escaped everywhere",
			tab: Table{
				Header: []string{"a|b", "c"},
				Rows:   [][]Cell{{{Text: "x|y"}, {Text: "1", Delta: "↑|", Note: "(n|m)"}}},
			},
			want: "| a\\|b | c |\n|---|---|\n| x\\|y | 1 ↑\\| (n\\|m) |\n",
		},
		{
			name: "ranks, delta and note",
			tab: Table{
				Header: []string{"setting", "score", "other"},
				Rows: [][]Cell{
					{{Text: "s"}, {Text: "7.50", Rank: RankBest, Delta: "↑0.18"}, {Text: "6.00", Rank: RankSecond, Note: "(2 unrated)"}},
					{{Text: "t"}, {Text: "—"}, {Text: "5.00", Delta: "↓1.00", Note: "(1 unrated)"}},
				},
			},
			want: "| setting | score | other |\n|---|---|---|\n" +
				"| s | **7.50** ↑0.18 | <u>6.00</u> (2 unrated) |\n" +
				"| t | — | 5.00 ↓1.00 (1 unrated) |\n",
		},
		{
			name: "no rows",
			tab:  Table{Header: []string{"a"}, Notes: []string{"not in Markdown"}},
			want: "| a |\n|---|\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.tab.Markdown()); diff != "" {
				t.Errorf("Markdown (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTableCSV(t *testing.T) {
	tab := Table{
		Header: []string{"name", "value, with comma"},
		Rows: [][]Cell{
			{{Text: `say "hi"`}, {Text: "1,5"}},
			{{Text: "two\nlines"}, {Text: "7.50", Rank: RankBest, Delta: "↑0.18", Note: "(1 unrated)"}},
			{{Text: ""}, {Text: "plain"}},
		},
	}
	got, err := tab.CSV()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	want := "name,\"value, with comma\"\n" +
		"\"say \"\"hi\"\"\",\"1,5\"\n" +
		"\"two\nlines\",7.50 ↑0.18 (1 unrated)\n" +
		",plain\n"
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("CSV (-want +got):\n%s", diff)
	}
	// The output reads back as the cells' plain texts.
	recs, err := csv.NewReader(bytes.NewReader(got)).ReadAll()
	if err != nil {
		t.Fatalf("read CSV back: %v", err)
	}
	wantRecs := [][]string{tab.Header}
	for _, row := range tab.Rows {
		var line []string
		for _, c := range row {
			line = append(line, c.plain())
		}
		wantRecs = append(wantRecs, line)
	}
	if diff := cmp.Diff(wantRecs, recs); diff != "" {
		t.Errorf("CSV read back (-want +got):\n%s", diff)
	}
}

func TestTableHTMLEscapes(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	tab := Table{
		Name:   "Table " + evil,
		Title:  "Title " + evil,
		Header: []string{"head " + evil, "score"},
		Labels: 1,
		Rows: [][]Cell{
			{{Text: "label " + evil, Base: true}, {Text: "7.50 " + evil, Rank: RankBest, Delta: "↓" + evil, Note: "note " + evil, Base: true}},
		},
		Notes: []string{"note " + evil},
	}
	got, err := tab.HTML()
	if err != nil {
		t.Fatalf("HTML: %v", err)
	}
	page := string(got)
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Errorf("HTML holds an unescaped <script>:\n%s", page)
	}
	if n := strings.Count(page, "&lt;script&gt;"); n != 8 {
		t.Errorf("HTML holds %d escaped <script> tags, want 8 (name, title, header, label, text, delta, note, table note):\n%s", n, page)
	}
	// The escaped text reads back as the original.
	for _, want := range []string{"label " + evil, "7.50 " + evil, "↓" + evil, "note " + evil} {
		if !strings.Contains(html.UnescapeString(page), want) {
			t.Errorf("HTML lacks %q:\n%s", want, page)
		}
	}
	for _, want := range []string{
		`<th class="l">head `,
		`<td class="l base">label `,
		`<td class="base"><span class="best">7.50 `,
		`<span class="down">↓`,
		`<span class="meta">note `,
		`<p class="meta">note `,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("HTML lacks %q:\n%s", want, page)
		}
	}
}

// TestReportTablesHTML checks that the HTML pages of Tables 1 and 3 show
// every cell of their Markdown tables, and their notes.
func TestReportTablesHTML(t *testing.T) {
	rep := goldenReport(PairwiseJudge)
	tags := regexp.MustCompile(`<[^>]*>`)
	for _, tab := range []*Table{rep.table1(), rep.table3()} {
		t.Run(tab.Name, func(t *testing.T) {
			b, err := tab.HTML()
			if err != nil {
				t.Fatalf("HTML: %v", err)
			}
			text := html.UnescapeString(tags.ReplaceAllString(string(b), ""))
			var want []string
			want = append(want, tab.Title)
			want = append(want, tab.Header...)
			for _, row := range tab.Rows {
				for _, c := range row {
					want = append(want, c.plain())
				}
			}
			want = append(want, tab.Notes...)
			for _, w := range want {
				if !strings.Contains(text, w) {
					t.Errorf("HTML text lacks %q", w)
				}
			}
		})
	}
}
