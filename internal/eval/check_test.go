package eval

import (
	"errors"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/eval/judge"
)

// TestMissing checks which finished plans fail with ErrNoResults: those
// where a whole kind of output is missing, not those with a few unrated.
func TestMissing(t *testing.T) {
	rated := func() *judgeResult { return &judgeResult{Rating: ptr(7), Attempts: 1} }
	unrated := func() *judgeResult { return &judgeResult{Attempts: 4} }
	refused := func() *judgeResult { return &judgeResult{Attempts: 1, Refused: "status 400 invalid_request_error"} }
	verdict := func() *judgeResult { return &judgeResult{Verdict: "A", Attempts: 1} }
	tests := []struct {
		name    string
		grammar bool
		texts   []string
		// ratings holds per output the Ovl.(w) and Per. results; pairs
		// the pairwise results.
		ratings [][2]*judgeResult
		pairs   []*judgeResult
		want    []string // in the error, in order; nil: no error
	}{
		{
			name:    "all rated",
			texts:   []string{"a", "b"},
			ratings: [][2]*judgeResult{{rated(), rated()}, {rated(), rated()}},
			pairs:   []*judgeResult{verdict(), verdict()},
		},
		{
			// One rating of each kind is enough: the tables have a value.
			name:    "partly unrated",
			texts:   []string{"a", "b"},
			ratings: [][2]*judgeResult{{rated(), unrated()}, {unrated(), rated()}},
			pairs:   []*judgeResult{unrated(), verdict()},
		},
		{
			name:    "one prompt never rated",
			texts:   []string{"a", "b"},
			ratings: [][2]*judgeResult{{rated(), unrated()}, {rated(), unrated()}},
			pairs:   []*judgeResult{verdict(), verdict()},
			want:    []string{"evaluation produced no results: the judge gave no Per. rating: 2 of 2 request series unrated, 0 refused", `set judge.grammar = true`},
		},
		{
			name:    "grammar on",
			grammar: true,
			texts:   []string{"a"},
			ratings: [][2]*judgeResult{{unrated(), unrated()}},
			want:    []string{"no Ovl.(w) rating: 1 of 1", "no Per. rating: 1 of 1", "raise judge.max_tokens"},
		},
		{
			name:    "refused",
			texts:   []string{"a"},
			ratings: [][2]*judgeResult{{refused(), refused()}},
			pairs:   []*judgeResult{refused()},
			want:    []string{"no Ovl.(w) rating: 1 of 1 request series unrated, 1 refused", "no pairwise verdict: 1 of 1", "longer than its context"},
		},
		{
			name:    "empty outputs",
			texts:   []string{"", " \n"},
			ratings: [][2]*judgeResult{{rated(), rated()}, {rated(), rated()}},
			want:    []string{"every generated output is empty (2 of 2; max_tokens 256)"},
		},
		{
			name:    "some outputs empty",
			texts:   []string{"", "b"},
			ratings: [][2]*judgeResult{{rated(), rated()}, {rated(), rated()}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{MaxTokens: 256, Judge: Judge{Prompts: []string{"ovl-w", "per"}, Repeats: 1, Grammar: tt.grammar}}
			p := &plan{cfg: cfg}
			for i, text := range tt.texts {
				g := &genJob{result: &genResult{Text: text}}
				p.gens = append(p.gens, g)
				p.judges = append(p.judges,
					&judgeJob{gen: g, kind: judge.Overall, result: tt.ratings[i][0]},
					&judgeJob{gen: g, kind: judge.Personalization, result: tt.ratings[i][1]})
			}
			for _, r := range tt.pairs {
				p.pairs = append(p.pairs, &judgeJob{gen: p.gens[0], base: p.gens[0], result: r})
			}
			err := p.missing()
			if tt.want == nil {
				if err != nil {
					t.Errorf("missing() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrNoResults) {
				t.Fatalf("missing() = %v, want ErrNoResults", err)
			}
			msg := err.Error()
			for _, w := range tt.want {
				i := strings.Index(msg, w)
				if i < 0 {
					t.Errorf("error %q lacks %q", msg, w)
					continue
				}
				msg = msg[i+len(w):]
			}
		})
	}
}
