package collab

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func sampleTrace() *Trace {
	return &Trace{
		Strategy: "logits", Fusion: "mean", Schedule: "all", CloudCalls: 2, CloudStopped: -1,
		Steps: []Step{
			{Index: 0, Token: 5, Text: "Hello", W: 1, Consulted: false, SLM: []Choice{{Token: 5, Text: "Hello", Prob: 0.9}}},
			{Index: 1, Token: 7, Text: " <b>world</b>", W: 0, Consulted: true, Cloud: []Choice{{Token: 7, Text: " <b>world</b>", Prob: 0.8}}},
			{Index: 2, Token: 9, Text: "!", W: 0.5, Consulted: true, Guard: "stop-cloud: fact.shingle"},
			{Index: 3, Token: 13, Text: "\n\n", W: 0.25, Consulted: true},
		},
	}
}

func TestTraceJSONRoundTrip(t *testing.T) {
	tr := sampleTrace()
	var b bytes.Buffer
	if err := tr.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Trace
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(tr, &back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestTraceHTML(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTrace().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		WeightColor(1), WeightColor(0), WeightColor(0.5), // the three tokens' colours
		"&lt;b&gt;world&lt;/b&gt;", // token text escaped
		"guard: stop-cloud: fact.shingle",
		`class="t n"`, // the token where the cloud was not consulted
		`data-w="0.2500"`, `data-w="1.0000"`,
		"↵\n↵\n",              // line breaks shown
		"w from 0.00 to 1.00", // the weights' span
	} {
		if !strings.Contains(html, want) {
			t.Errorf("heat map lacks %q", want)
		}
	}
	if strings.Contains(html, "<b>world") {
		t.Errorf("token text not escaped")
	}
	// The embedded JSON is the trace.
	_, js, ok := strings.Cut(html, `<script type="application/json" id="trace">`)
	js, _, ok2 := strings.Cut(js, "</script>")
	var back Trace
	if !ok || !ok2 {
		t.Fatalf("no embedded trace")
	}
	if err := json.Unmarshal([]byte(js), &back); err != nil {
		t.Fatalf("embedded trace: %v", err)
	}
	if diff := cmp.Diff(sampleTrace(), &back); diff != "" {
		t.Errorf("embedded trace (-want +got):\n%s", diff)
	}
}

func TestWeightColor(t *testing.T) {
	tests := []struct {
		w    float64
		want string
	}{
		{1, "rgb(255,80,80)"},
		{0.5, "rgb(255,255,255)"},
		{0, "rgb(80,120,255)"},
		{2, "rgb(255,80,80)"},
		{-1, "rgb(80,120,255)"},
	}
	for _, tt := range tests {
		if got := WeightColor(tt.w); got != tt.want {
			t.Errorf("WeightColor(%v) = %s, want %s", tt.w, got, tt.want)
		}
	}
}
