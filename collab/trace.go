package collab

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// Choice is one candidate token in a trace step, with its probability.
type Choice struct {
	Token int32   `json:"token"`
	Text  string  `json:"text"`
	Prob  float64 `json:"prob"`
}

// Step is one generated token of a run in which the local model writes.
type Step struct {
	Index int    `json:"index"`
	Token int32  `json:"token"`
	Text  string `json:"text"`
	// W is the weight of the small model in the fused distribution
	// (1: small model alone, 0: cloud alone).
	W float64 `json:"w"`
	// Consulted reports whether the cloud was asked at this step.
	Consulted bool     `json:"consulted"`
	SLM       []Choice `json:"slm,omitempty"`
	Cloud     []Choice `json:"cloud,omitempty"`
	// Guard holds a guard event at this step, such as the leak-aware stop
	// ("stop-cloud: fact.shingle"); never text.
	Guard string `json:"guard,omitempty"`
}

// Trace records a run in which the local model writes (slm, sketch,
// sketch-full, logits, speculative) token by token; llm and llm-context
// have none, the cloud writing the whole answer in one request. It holds
// generated text, which can carry private context: it stays on the
// device.
type Trace struct {
	Strategy string `json:"strategy"`
	Fusion   string `json:"fusion"`
	Schedule string `json:"schedule"`
	Steps    []Step `json:"steps"`
	// CloudCalls counts requests to the cloud; CloudStopped is the step at
	// which the leak-aware stop ended cloud consultation (-1: never).
	CloudCalls   int `json:"cloud_calls"`
	CloudStopped int `json:"cloud_stopped"`
	// Sketch is the cloud's outline or draft (sketch strategies).
	Sketch string `json:"sketch,omitempty"`
}

// WriteJSON writes the trace as indented JSON.
func (t *Trace) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// WeightColor maps w to the paper's Fig. 6 colours: red for the small
// model (w = 1), blue for the cloud (w = 0), white for an even mix. Each
// channel is linear in w on either side of 0.5 and rounded: w ≥ 0.5 gives
// rgb(255, g, g) with g = 255 − 350(w − 0.5); w < 0.5 gives
// rgb(r, b', 255) with r = 255 − 350(0.5 − w), b' = 255 − 270(0.5 − w).
func WeightColor(w float64) string {
	w = min(max(w, 0), 1)
	if w >= 0.5 {
		a := (w - 0.5) * 2
		return fmt.Sprintf("rgb(255,%d,%d)", int(math.Round(255-a*175)), int(math.Round(255-a*175)))
	}
	a := (0.5 - w) * 2
	return fmt.Sprintf("rgb(%d,%d,255)", int(math.Round(255-a*175)), int(math.Round(255-a*135)))
}

func choices(cs []Choice) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%q %.3f  ", c.Text, c.Prob)
	}
	return b.String()
}

// WeightRange returns the least and the greatest weight of the steps
// (0, 0 for none).
func (t *Trace) WeightRange() (lo, hi float64) {
	for i, s := range t.Steps {
		if i == 0 || s.W < lo {
			lo = s.W
		}
		if i == 0 || s.W > hi {
			hi = s.W
		}
	}
	return lo, hi
}

// MeanWeight returns the steps' mean weight (0 for none).
func (t *Trace) MeanWeight() float64 {
	if len(t.Steps) == 0 {
		return 0
	}
	var sum float64
	for _, s := range t.Steps {
		sum += s.W
	}
	return sum / float64(len(t.Steps))
}

// shown makes a token's line breaks visible: each becomes ↵ followed by
// the break, so that a run of newline tokens shows its colours instead of
// a blank gap.
func shown(text string) string { return strings.ReplaceAll(text, "\n", "↵\n") }

var tokenSpans = template.Must(template.New("tokens").Funcs(template.FuncMap{
	"color":   WeightColor,
	"choices": choices,
	"shown":   shown,
	"css":     func(s string) template.CSS { return template.CSS(s) },
}).Parse(`{{range .}}<span class="t{{if not .Consulted}} n{{end}}" data-w="{{printf "%.4f" .W}}" style="background:{{color .W | css}}" title="#{{.Index}} w={{printf "%.2f" .W}}{{if .Guard}} guard: {{.Guard}}{{end}}{{if .SLM}}&#10;small: {{choices .SLM}}{{end}}{{if .Cloud}}&#10;cloud: {{choices .Cloud}}{{end}}">{{shown .Text}}</span>{{end}}`))

// TokensHTML renders the steps as coloured spans, one per token: the
// background is [WeightColor] of the step's weight, data-w holds the
// weight, the title the models' top choices, and line breaks show as ↵.
// A token where the cloud was not consulted has the class n.
func (t *Trace) TokensHTML() (template.HTML, error) {
	var b strings.Builder
	if err := tokenSpans.Execute(&b, t.Steps); err != nil {
		return "", err
	}
	return template.HTML(b.String()), nil // #nosec: the template escaped the token texts
}

// HeatmapStyle is the style sheet for [Trace.TokensHTML] and
// [LegendHTML].
const HeatmapStyle template.CSS = `.t{white-space:pre-wrap;border-radius:3px;padding:1px 0}
.n{outline:1px dashed #999}
.legend span{display:inline-block;padding:2px 10px;margin-right:4px;border-radius:3px}`

// LegendHTML explains the colours of [Trace.TokensHTML].
var LegendHTML = template.HTML(fmt.Sprintf(`<p class="legend"><span style="background:%s">small model (w=1)</span><span style="background:%s;border:1px solid #ccc">even (w=0.5)</span><span style="background:%s">cloud (w=0)</span><span class="n">dashed: cloud not consulted</span></p>`,
	WeightColor(1), WeightColor(0.5), WeightColor(0)))

var heatmap = template.Must(template.New("trace").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>cogenesis token weights</title>
<style>
body{font:15px/1.9 system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}
.meta{color:#666;font-size:13px}
.sketch{white-space:pre-wrap;background:#f4f4f8;padding:.5em 1em;border-left:3px solid #88f}
{{.Style}}
</style></head><body>
<h2>Token weights</h2>
{{with .T}}<p class="meta">strategy {{.Strategy}}{{if .Fusion}} · fusion {{.Fusion}}{{end}}{{if .Schedule}} · schedule {{.Schedule}}{{end}} · {{len .Steps}} tokens · {{.CloudCalls}} cloud calls{{if .Steps}} · w from {{printf "%.2f" $.Lo}} to {{printf "%.2f" $.Hi}}, mean {{printf "%.2f" .MeanWeight}}{{end}}{{if ge .CloudStopped 0}} · cloud stopped at token {{.CloudStopped}} by the guard{{end}}</p>
{{if not .Fusion}}<p class="meta">The local model wrote every token (w = 1); hover a token for its top choices.</p>{{end}}
{{$.Legend}}
{{if .Sketch}}<p class="meta">The cloud's {{if eq .Strategy "sketch-full"}}draft{{else}}outline{{end}}, from the public instruction only:</p><div class="sketch">{{.Sketch}}</div>{{end}}{{end}}
<div>{{.Tokens}}</div>
<script type="application/json" id="trace">{{.JSON}}</script>
</body></html>
`))

// WriteHTML renders the trace as a self-contained HTML heat map like the
// paper's Fig. 6: each token coloured by its fusion weight, with the two
// models' top choices on hover, and the trace as JSON in the script
// element with id "trace".
func (t *Trace) WriteHTML(w io.Writer) error {
	toks, err := t.TokensHTML()
	if err != nil {
		return err
	}
	// The trace itself rides along as JSON, for tools that read the page.
	// encoding/json escapes <, > and &, so it cannot end the script.
	js, err := json.Marshal(t)
	if err != nil {
		return err
	}
	lo, hi := t.WeightRange()
	return heatmap.Execute(w, struct {
		T      *Trace
		Tokens template.HTML
		Legend template.HTML
		Style  template.CSS
		JSON   template.JS
		Lo, Hi float64
	}{t, toks, LegendHTML, HeatmapStyle, template.JS(js), lo, hi})
}
