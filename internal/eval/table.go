package eval

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html/template"
	"strings"
)

// Table is one table of the report, rendered as Markdown, CSV or an HTML
// page. A Table is a plain value: build it once, then render it in any
// format. The renderers do not modify it, so concurrent renders are safe.
type Table struct {
	// Name is the table's short name, the title of its HTML page
	// ("Table 1").
	Name string
	// Title is the heading of the HTML page.
	Title string
	// Header holds the column names.
	Header []string
	// Labels is the number of leading columns that hold labels: the HTML
	// page aligns them left and centres the values of the others.
	Labels int
	// Rows holds the cells, one slice per row.
	Rows [][]Cell
	// Notes are paragraphs that explain the table, shown below it on the
	// HTML page.
	Notes []string
}

// Cell is one cell of a [Table]: a text with an optional rank mark, a
// change against the baseline and a note.
type Cell struct {
	// Text is the cell's value.
	Text string
	// Rank marks the best and second-best value of a column.
	Rank Rank
	// Delta is the change against the baseline ("↑0.18", "↓0.52"), shown
	// after the text.
	Delta string
	// Note is shown after the delta, such as "(2 unrated)".
	Note string
	// Base marks a cell of the baseline's row, shaded on the HTML page.
	Base bool
}

// Rank marks a value as the best or second best of its column.
type Rank int

// The ranks: Markdown shows the best in bold and the second underlined,
// as the paper does.
const (
	RankNone Rank = iota
	RankBest
	RankSecond
)

// String returns the rank's CSS class: "best", "second" or "".
func (r Rank) String() string {
	switch r {
	case RankBest:
		return "best"
	case RankSecond:
		return "second"
	}
	return ""
}

// plain returns the cell's text, delta and note, separated by spaces.
func (c Cell) plain() string {
	s := c.Text
	if c.Delta != "" {
		s += " " + c.Delta
	}
	if c.Note != "" {
		s += " " + c.Note
	}
	return s
}

// Markdown renders the header and the rows as a Markdown table, with "|"
// escaped in every cell, the best value of a column in bold and the
// second underlined. Name, Title and Notes are not part of it.
func (t *Table) Markdown() string {
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	head := make([]string, len(t.Header))
	for i, h := range t.Header {
		head[i] = mdEscape(h)
	}
	line(head)
	b.WriteString("|" + strings.Repeat("---|", len(t.Header)) + "\n")
	for _, row := range t.Rows {
		cells := make([]string, len(row))
		for i, c := range row {
			txt := mdEscape(c.Text)
			switch c.Rank {
			case RankBest:
				txt = "**" + txt + "**"
			case RankSecond:
				txt = "<u>" + txt + "</u>"
			}
			cells[i] = Cell{Text: txt, Delta: mdEscape(c.Delta), Note: mdEscape(c.Note)}.plain()
		}
		line(cells)
	}
	return b.String()
}

// mdEscape escapes the "|" of a Markdown table cell.
func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// CSV renders the header and the rows as CSV (encoding/csv quoting), each
// cell as its text, delta and note separated by spaces.
func (t *Table) CSV() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(t.Header); err != nil {
		return nil, fmt.Errorf("csv %s: %w", t.Name, err)
	}
	for _, row := range t.Rows {
		line := make([]string, len(row))
		for i, c := range row {
			line[i] = c.plain()
		}
		if err := w.Write(line); err != nil {
			return nil, fmt.Errorf("csv %s: %w", t.Name, err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("csv %s: %w", t.Name, err)
	}
	return buf.Bytes(), nil
}

// HTML renders the table as a self-contained HTML page: Title as its
// heading, then the table, then the Notes.
func (t *Table) HTML() ([]byte, error) {
	var buf bytes.Buffer
	if err := tablePage.Execute(&buf, t); err != nil {
		return nil, fmt.Errorf("html %s: %w", t.Name, err)
	}
	return buf.Bytes(), nil
}

// tablePage is the HTML page of a [Table].
var tablePage = template.Must(template.New("table").Funcs(template.FuncMap{
	"cellClass": func(labels, col int, c Cell) string {
		var cls []string
		if col < labels {
			cls = append(cls, "l")
		}
		if c.Base {
			cls = append(cls, "base")
		}
		return strings.Join(cls, " ")
	},
	"deltaClass": func(delta string) string {
		if strings.HasPrefix(delta, "↓") {
			return "down"
		}
		return "up"
	},
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>cogen eval: {{.Name}}</title>
<style>
body{font:14px/1.5 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}
th,td{border:1px solid #bbb;padding:4px 10px;text-align:center}
td.l,th.l{text-align:left}
td.base{background:#f3f3f3}
.best{font-weight:bold}.second{text-decoration:underline}
.up{color:#1a7f37;font-size:85%}.down{color:#c62828;font-size:85%}
.meta{color:#666;font-size:13px}
</style></head><body>
<h2>{{.Title}}</h2>
<table>
<tr>{{range $i, $h := .Header}}<th{{if lt $i $.Labels}} class="l"{{end}}>{{$h}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range $i, $c := .}}<td{{with cellClass $.Labels $i $c}} class="{{.}}"{{end}}>
{{- if .Rank}}<span class="{{.Rank}}">{{.Text}}</span>{{else}}{{.Text}}{{end}}
{{- with .Delta}} <span class="{{deltaClass .}}">{{.}}</span>{{end}}
{{- with .Note}} <span class="meta">{{.}}</span>{{end}}</td>{{end}}</tr>
{{end}}</table>
{{range .Notes}}<p class="meta">{{.}}</p>
{{end}}</body></html>
`))
