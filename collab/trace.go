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

// Step is one generated token of a logit-fusion run.
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

// Trace records a logit-fusion run token by token. It holds generated text,
// which can carry private context: it stays on the device.
type Trace struct {
	Strategy string `json:"strategy"`
	Fusion   string `json:"fusion"`
	Schedule string `json:"schedule"`
	Steps    []Step `json:"steps"`
	// CloudCalls counts requests to the cloud; CloudStopped is the step at
	// which the leak-aware stop ended cloud consultation (-1: never).
	CloudCalls   int `json:"cloud_calls"`
	CloudStopped int `json:"cloud_stopped"`
}

// WriteJSON writes the trace as indented JSON.
func (t *Trace) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// weightColor maps w to the paper's Fig. 6 colours: red for the small
// model (w = 1), blue for the cloud (w = 0), white for an even mix.
func weightColor(w float64) string {
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

var heatmap = template.Must(template.New("trace").Funcs(template.FuncMap{
	"color":   weightColor,
	"choices": choices,
	"css":     func(s string) template.CSS { return template.CSS(s) },
}).Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>cogenesis token weights</title>
<style>
body{font:15px/1.9 system-ui,sans-serif;max-width:60em;margin:2em auto;color:#222}
.t{white-space:pre-wrap;border-radius:3px;padding:1px 0}
.n{outline:1px dashed #999}
.legend span{display:inline-block;padding:2px 10px;margin-right:4px;border-radius:3px}
.meta{color:#666;font-size:13px}
</style></head><body>
<h2>Token weights</h2>
<p class="meta">strategy {{.Strategy}} · fusion {{.Fusion}} · schedule {{.Schedule}} · {{len .Steps}} tokens · {{.CloudCalls}} cloud calls{{if ge .CloudStopped 0}} · cloud stopped at token {{.CloudStopped}} by the guard{{end}}</p>
<p class="legend"><span style="background:{{color 1.0 | css}}">small model (w=1)</span><span style="background:{{color 0.5 | css}};border:1px solid #ccc">even (w=0.5)</span><span style="background:{{color 0.0 | css}}">cloud (w=0)</span><span class="n">dashed: cloud not consulted</span></p>
<div>{{range .Steps}}<span class="t{{if not .Consulted}} n{{end}}" style="background:{{color .W | css}}" title="#{{.Index}} w={{printf "%.2f" .W}}{{if .Guard}} guard: {{.Guard}}{{end}}&#10;small: {{choices .SLM}}&#10;cloud: {{choices .Cloud}}">{{.Text}}</span>{{end}}</div>
</body></html>
`))

// WriteHTML renders the trace as a self-contained HTML heat map like the
// paper's Fig. 6: each token coloured by its fusion weight, with the two
// models' top choices on hover.
func (t *Trace) WriteHTML(w io.Writer) error {
	return heatmap.Execute(w, t)
}
