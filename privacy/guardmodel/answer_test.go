package guardmodel

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/privacy"
)

func TestLocate(t *testing.T) {
	ctxF := func(s, e int) privacy.Finding { return privacy.Finding{Rule: RuleContext, Start: s, End: e} }
	piiF := func(s, e int) privacy.Finding { return privacy.Finding{Rule: RulePII, Start: s, End: e} }
	for _, tc := range []struct {
		name, text, answer string
		want               []privacy.Finding
		dropped            int
	}{
		{name: "none", text: "Write a poem about autumn.", answer: `{"spans":[]}`},
		{
			name: "exact", text: "Write to Marisol in Graz.",
			answer: `{"spans":[{"text":"Marisol","reason":"context"},{"text":"Graz","reason":"context"}]}`,
			want:   []privacy.Finding{ctxF(9, 16), ctxF(20, 24)},
		},
		{
			name: "case folded", text: "MARISOL asked marisol and Marisol.",
			answer: `{"spans":[{"text":"marisol","reason":"context"}]}`,
			want:   []privacy.Finding{ctxF(0, 7), ctxF(14, 21), ctxF(26, 33)},
		},
		{
			name: "overlapping occurrences", text: "aaa",
			answer: `{"spans":[{"text":"aa","reason":"pii"}]}`,
			want:   []privacy.Finding{piiF(0, 2), piiF(1, 3)},
		},
		{
			name: "not in the request", text: "Write a poem about autumn.",
			answer:  `{"spans":[{"text":"Tobias","reason":"context"},{"text":"poem","reason":"context"},{"text":"   ","reason":"pii"}]}`,
			want:    []privacy.Finding{ctxF(8, 12)},
			dropped: 2,
		},
		{
			name: "space trimmed", text: "Mail marisol.qh@example.org today",
			answer: `{"spans":[{"text":" marisol.qh@example.org\n","reason":"pii"}]}`,
			want:   []privacy.Finding{piiF(5, 27)},
		},
		{
			name: "same span twice", text: "Graz",
			answer: `{"spans":[{"text":"Graz","reason":"context"},{"text":"graz","reason":"context"}]}`,
			want:   []privacy.Finding{ctxF(0, 4)},
		},
		{
			name: "both reasons", text: "Graz",
			answer: `{"spans":[{"text":"Graz","reason":"context"},{"text":"Graz","reason":"pii"}]}`,
			want:   []privacy.Finding{ctxF(0, 4), piiF(0, 4)},
		},
		{
			// U+212A KELVIN SIGN (3 bytes) folds to k (1 byte): the
			// offsets are the request's bytes, not the span's.
			name: "offsets of the request's bytes", text: "Ünter \u212Aelvin St",
			answer: `{"spans":[{"text":"kelvin st","reason":"pii"},{"text":"ünter","reason":"context"}]}`,
			want:   []privacy.Finding{ctxF(0, 6), piiF(7, 18)},
		},
		{
			name: "escaped in the answer", text: `Say "hi" to Nele`,
			answer: `{"spans":[{"text":"\"hi\" to \u004eele","reason":"context"}]}`,
			want:   []privacy.Finding{ctxF(4, 16)},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans, complete, err := parseAnswer(tc.answer)
			if err != nil || !complete {
				t.Fatalf("parseAnswer: complete %v, %v", complete, err)
			}
			got, dropped := locate(tc.text, spans)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			if dropped != tc.dropped {
				t.Errorf("dropped %d, want %d", dropped, tc.dropped)
			}
		})
	}
}

func TestParseAnswerCut(t *testing.T) {
	// Every prefix of a valid answer (generation stopped at its token
	// bound) parses, keeping the spans that are complete.
	full := `{ "spans": [{"text": "Graz", "reason": "context"}, {"text":"a\"b\u00e9","reason":"pii"} ] } `
	all, complete, err := parseAnswer(full)
	if err != nil || !complete || len(all) != 2 {
		t.Fatalf("full answer: %d spans, complete %v, %v", len(all), complete, err)
	}
	end := strings.LastIndex(full, "}")
	for n := range len(full) {
		spans, complete, err := parseAnswer(full[:n])
		if err != nil {
			t.Fatalf("prefix %d: %v", n, err)
		}
		if complete != (n > end) {
			t.Errorf("prefix %d: complete %v", n, complete)
		}
		if !slices.Equal(spans, all[:len(spans)]) {
			t.Errorf("prefix %d: spans %v are not a prefix of %v", n, spans, all)
		}
	}
}

func TestParseAnswerErrors(t *testing.T) {
	const secret = "Tobias gambling"
	for _, tc := range []struct{ name, answer, want string }{
		{"not an object", `["` + secret + `"]`, "does not match the schema at byte 1"},
		{"other key", `{"secret":"` + secret + `"}`, "does not match the schema at byte"},
		{"unknown reason", `{"spans":[{"text":"` + secret + `","reason":"` + secret + `"}]}`, "span 0: reason is not context or pii"},
		{"unknown field", `{"spans":[{"text":"` + secret + `","reason":"pii","why":"` + secret + `"}]}`, "an unknown field"},
		{"empty text", `{"spans":[{"text":"","reason":"pii"}]}`, "span 0: empty text"},
		{"wrong type", `{"spans":[{"text":["` + secret + `"],"reason":"pii"}]}`, `field "text"`},
		{"malformed", `{"spans":[{"text":"` + secret + `" "reason":"pii"}]}`, "malformed JSON at byte"},
		{"too many", `{"spans":[` + strings.Repeat(`{"text":"`+secret+`","reason":"pii"},`, MaxSpans) + `{"text":"x","reason":"pii"}]}`, "more than 8 spans"},
		{"text after", `{"spans":[]} {"spans":[{"text":"` + secret + `"}]}`, "text after the object"},
		{"trailing key", `{"spans":[],"secret":"` + secret + `"}`, "does not match the schema at byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := parseAnswer(tc.answer)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			for _, w := range strings.Fields(secret) {
				if strings.Contains(err.Error(), w) {
					t.Errorf("error %q holds answer text", err)
				}
			}
		})
	}
}

// TestMergeOnlyAdds checks Merge's properties on random findings: the
// result holds every base finding as often as base does, holds every
// extra finding, holds nothing else, is ordered by start, and leaves its
// arguments alone.
func TestMergeOnlyAdds(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 2))
	rules := []string{privacy.RuleName, privacy.RuleFact, RuleContext, RulePII}
	random := func() []privacy.Finding {
		fs := make([]privacy.Finding, rng.IntN(8))
		for i := range fs {
			s := rng.IntN(30)
			fs[i] = privacy.Finding{Rule: rules[rng.IntN(len(rules))], Start: s, End: s + 1 + rng.IntN(10)}
		}
		if rng.IntN(2) == 0 { // sorted as Guard.Check returns them
			slices.SortFunc(fs, func(a, b privacy.Finding) int { return a.Start - b.Start })
		}
		return fs
	}
	count := func(fs []privacy.Finding) map[privacy.Finding]int {
		m := map[privacy.Finding]int{}
		for _, f := range fs {
			m[f]++
		}
		return m
	}
	for trial := range 2000 {
		base, extra := random(), random()
		if trial%5 == 0 && len(base) > 0 {
			extra = append(extra, base[rng.IntN(len(base))]) // a finding both have
		}
		base0, extra0 := slices.Clone(base), slices.Clone(extra)
		got := privacy.MergeFindings(base, extra)
		if !slices.Equal(base, base0) || !slices.Equal(extra, extra0) {
			t.Fatalf("trial %d: Merge modified its arguments", trial)
		}
		g, b, e := count(got), count(base), count(extra)
		for f, n := range b {
			if g[f] < n {
				t.Errorf("trial %d: base finding %v %d times in the result, %d in base", trial, f, g[f], n)
			}
		}
		for f := range e {
			if g[f] == 0 {
				t.Errorf("trial %d: extra finding %v missing", trial, f)
			}
		}
		for f, n := range g {
			if want := max(b[f], min(e[f], 1)); n != want {
				t.Errorf("trial %d: %v %d times in the result, want %d", trial, f, n, want)
			}
		}
		if !slices.IsSortedFunc(got, func(a, b privacy.Finding) int { return a.Start - b.Start }) {
			t.Errorf("trial %d: result not ordered by start: %v", trial, got)
		}
	}
}

func TestSchemaLimits(t *testing.T) {
	var s struct {
		Properties struct {
			Spans struct {
				MaxItems int `json:"maxItems"`
				Items    struct {
					Properties struct {
						Text struct {
							MaxLength int `json:"maxLength"`
						} `json:"text"`
						Reason struct {
							Enum []string `json:"enum"`
						} `json:"reason"`
					} `json:"properties"`
				} `json:"items"`
			} `json:"spans"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(Schema), &s); err != nil {
		t.Fatal(err)
	}
	sp := s.Properties.Spans
	if sp.MaxItems != MaxSpans || sp.Items.Properties.Text.MaxLength != MaxSpanChars {
		t.Errorf("schema: maxItems %d, maxLength %d; want %d, %d", sp.MaxItems, sp.Items.Properties.Text.MaxLength, MaxSpans, MaxSpanChars)
	}
	var reasons []string
	for r := range reasonRules {
		reasons = append(reasons, r)
	}
	slices.Sort(reasons)
	if diff := cmp.Diff(reasons, sp.Items.Properties.Reason.Enum); diff != "" {
		t.Errorf("schema reasons (-rules +schema):\n%s", diff)
	}
	for _, want := range []string{fmt.Sprintf("at most %d characters, at most %d spans", MaxSpanChars, MaxSpans), `"context"`, `"pii"`} {
		if !strings.Contains(SystemPrompt, want) {
			t.Errorf("SystemPrompt does not say %s", want)
		}
	}
	if !strings.Contains(UserPrompt, contextHole) || !strings.Contains(UserPrompt, requestHole) {
		t.Error("UserPrompt lacks a placeholder")
	}
}

func TestGrammarCompact(t *testing.T) {
	g, err := grammar()
	if err != nil {
		t.Fatal(err)
	}
	var space []string
	for l := range strings.Lines(g) {
		if strings.HasPrefix(l, "space ::=") {
			space = append(space, strings.TrimSpace(l))
		}
	}
	if diff := cmp.Diff([]string{`space ::= " "?`}, space); diff != "" {
		t.Errorf("space rule (-want +got):\n%s", diff)
	}
	for _, want := range []string{`{0,7}`, `char{1,64}`, `"\"context\""`, `"\"pii\""`} {
		if !strings.Contains(g, want) {
			t.Errorf("grammar lacks %s:\n%s", want, g)
		}
	}
}

func FuzzLocate(f *testing.F) {
	f.Add("Write to Marisol in Graz.", "marisol")
	f.Add("Ünter \u212Aelvin St", "kelvin st")
	f.Add("aaaa", "aa")
	f.Add("\xff\xfeabc", "\ufffdabc")
	f.Fuzz(func(t *testing.T, text, needle string) {
		raw, _ := json.Marshal(span{Text: needle, Reason: "context"})
		spans, complete, err := parseAnswer(`{"spans":[` + string(raw) + `]}`)
		if needle == "" {
			if err == nil {
				t.Fatal("empty span text accepted")
			}
			return
		}
		if err != nil || !complete {
			t.Fatalf("parseAnswer: complete %v, %v", complete, err)
		}
		fs, dropped := locate(text, spans)
		if (len(fs) == 0) != (dropped == 1) {
			t.Fatalf("%d findings, %d dropped", len(fs), dropped)
		}
		want := strings.TrimSpace(spans[0].Text)
		for _, f := range fs {
			if f.Start < 0 || f.End > len(text) || f.Start >= f.End {
				t.Fatalf("finding %v outside the text of %d bytes", f, len(text))
			}
			if !strings.EqualFold(text[f.Start:f.End], want) && !strings.Contains(text[f.Start:f.End], "\ufffd") && !strings.Contains(want, "\ufffd") {
				t.Fatalf("finding %v: %q does not fold to %q", f, text[f.Start:f.End], want)
			}
		}
		if len(fs) == 0 && strings.Contains(strings.ToValidUTF8(text, "\ufffd"), want) && want != "" && !strings.Contains(want, "\ufffd") {
			t.Fatalf("span %q is in the text but was not found", want)
		}
	})
}

func Example_merge() {
	text := "Write to Marisol in Graz about the choir."
	base := []privacy.Finding{{Rule: privacy.RuleName, Start: 9, End: 16}}
	extra := []privacy.Finding{ // as Checker.Check returns them
		{Rule: RuleContext, Start: 9, End: 16},
		{Rule: RuleContext, Start: 20, End: 24},
		{Rule: RuleContext, Start: 35, End: 40},
	}
	for _, f := range privacy.MergeFindings(base, extra) {
		fmt.Printf("%-16s %q\n", f.Rule, text[f.Start:f.End])
	}
	// Output:
	// entity.name      "Marisol"
	// model.context    "Marisol"
	// model.context    "Graz"
	// model.context    "choir"
}

func FuzzParseAnswer(f *testing.F) {
	f.Add(`{"spans":[]}`)
	f.Add(`{ "spans": [{"text": "Graz", "reason": "context"}, {"text":"a\"b\u00e9","reason":"pii"} ] } `)
	f.Add(`{"spans":[{"text":"Graz","reason":"context"},{"text":"x`)
	f.Add(`{"spans":[{"text":"Graz","reason":"other"}]}`)
	f.Fuzz(func(t *testing.T, answer string) {
		spans, complete, err := parseAnswer(answer)
		if err != nil {
			return
		}
		if len(spans) > MaxSpans {
			t.Fatalf("%d spans", len(spans))
		}
		for i, s := range spans {
			if s.Text == "" || reasonRules[s.Reason] == "" {
				t.Fatalf("span %d: %+v", i, s)
			}
		}
		if complete && !json.Valid([]byte(answer)) {
			t.Fatalf("complete answer %q is not valid JSON", answer)
		}
	})
}
