package eval

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"

	"github.com/cogenesis/cogenesis/collab"
)

// weightColor maps the small model's weight w to the paper's Fig. 6
// colours, as collab's trace view does: red for the small model (w = 1),
// blue for the cloud (w = 0), white for an even mix.
func weightColor(w float64) string {
	w = min(max(w, 0), 1)
	if w >= 0.5 {
		a := (w - 0.5) * 2
		v := int(math.Round(255 - a*175))
		return fmt.Sprintf("rgb(255,%d,%d)", v, v)
	}
	a := (0.5 - w) * 2
	return fmt.Sprintf("rgb(%d,%d,255)", int(math.Round(255-a*175)), int(math.Round(255-a*135)))
}

// weightTrace is one output of the weight view.
type weightTrace struct {
	Title string
	Trace *collab.Trace
	MeanW float64
}

var weightsPage = template.Must(template.New("weights").Funcs(template.FuncMap{
	"color": weightColor,
	"css":   func(s string) template.CSS { return template.CSS(s) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>cogen eval: per-token weights</title>
<style>
body{font:15px/1.9 system-ui,sans-serif;max-width:64em;margin:2em auto;color:#222}
.t{white-space:pre-wrap;border-radius:3px;padding:1px 0}
.n{outline:1px dashed #999}
.legend span{display:inline-block;padding:2px 10px;margin-right:4px;border-radius:3px}
.meta{color:#666;font-size:13px}
section{border-top:1px solid #ddd;margin-top:1.2em}
</style></head><body>
<h2>Per-token weights of the small and the cloud model (Fig. 6)</h2>
<p class="legend"><span style="background:{{color 1.0 | css}}">small model (w=1)</span><span style="background:{{color 0.5 | css}};border:1px solid #ccc">even (w=0.5)</span><span style="background:{{color 0.0 | css}}">cloud (w=0)</span><span class="n">dashed: cloud not consulted</span></p>
{{if not .}}<p>No logits or speculative outputs in this evaluation: add a strategy logits or speculative to see the weights.</p>{{end}}
{{range .}}<section><h3>{{.Title}}</h3>
<p class="meta">fusion {{.Trace.Fusion}} · schedule {{.Trace.Schedule}} · {{len .Trace.Steps}} tokens · {{.Trace.CloudCalls}} cloud calls · mean w {{printf "%.2f" .MeanW}}{{if ge .Trace.CloudStopped 0}} · cloud stopped at token {{.Trace.CloudStopped}} by the guard{{end}}</p>
<div>{{range .Trace.Steps}}<span class="t{{if not .Consulted}} n{{end}}" style="background:{{color .W | css}}" title="#{{.Index}} w={{printf "%.2f" .W}}{{if .Guard}} guard: {{.Guard}}{{end}}">{{.Text}}</span>{{end}}</div>
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
		var sum float64
		for _, s := range t.Steps {
			sum += s.W
		}
		traces = append(traces, weightTrace{Title: p.label(g), Trace: t, MeanW: sum / float64(len(t.Steps))})
	}
	var buf bytes.Buffer
	if err := weightsPage.Execute(&buf, traces); err != nil {
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
