package eval

import (
	"bytes"
	"encoding/json"
	"html/template"
	"io"
	"sort"

	"github.com/cogenesis/cogenesis/collab"
)

// weightTrace is one output of the weight view.
type weightTrace struct {
	Title  string
	Trace  *collab.Trace
	Tokens template.HTML
}

var weightsPage = template.Must(template.New("weights").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>cogen eval: per-token weights</title>
<style>
body{font:15px/1.9 system-ui,sans-serif;max-width:64em;margin:2em auto;color:#222}
.meta{color:#666;font-size:13px}
section{border-top:1px solid #ddd;margin-top:1.2em}
{{.Style}}
</style></head><body>
<h2>Per-token weights of the small and the cloud model (Fig. 6)</h2>
{{.Legend}}
{{if not .Traces}}<p>No logits or speculative outputs in this evaluation: add a strategy logits or speculative to see the weights.</p>{{end}}
{{range .Traces}}<section><h3>{{.Title}}</h3>
<p class="meta">fusion {{.Trace.Fusion}} · schedule {{.Trace.Schedule}} · {{len .Trace.Steps}} tokens · {{.Trace.CloudCalls}} cloud calls · mean w {{printf "%.2f" .Trace.MeanWeight}}{{if ge .Trace.CloudStopped 0}} · cloud stopped at token {{.Trace.CloudStopped}} by the guard{{end}}</p>
<div>{{.Tokens}}</div>
</section>{{end}}
</body></html>
`))

// weightsHTML renders the per-token weight view of the first outputs (at
// most cfg.Weights) that have a fusion trace.
func (r *runner) weightsHTML(p *plan) ([]byte, error) {
	var traces []weightTrace
	gens := append([]*genJob(nil), p.gens...)
	sort.SliceStable(gens, func(a, b int) bool {
		ga, gb := gens[a], gens[b]
		if ga.strat != gb.strat {
			return ga.strat < gb.strat
		}
		return ga.seed < gb.seed
	})
	for _, g := range gens {
		if len(traces) >= r.cfg.Weights {
			break
		}
		t := g.result.Trace
		if t == nil || len(t.Steps) == 0 {
			continue
		}
		toks, err := t.TokensHTML()
		if err != nil {
			return nil, err
		}
		traces = append(traces, weightTrace{Title: p.label(g), Trace: t, Tokens: toks})
	}
	var buf bytes.Buffer
	err := weightsPage.Execute(&buf, struct {
		Traces []weightTrace
		Legend template.HTML
		Style  template.CSS
	}{traces, collab.LegendHTML, collab.HeatmapStyle})
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// jsonEncoder returns an indenting JSON encoder.
func jsonEncoder(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc
}
