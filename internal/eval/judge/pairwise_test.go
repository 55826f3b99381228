package judge

import (
	"errors"
	"strings"
	"testing"
)

func TestParseVerdict(t *testing.T) {
	tests := []struct {
		name    string
		answer  string
		want    Verdict
		wantErr error
	}{
		{name: "A", answer: "Assistant A follows the style better. [[A]]", want: VerdictA},
		{name: "B", answer: "Final verdict: [[B]]", want: VerdictB},
		{name: "tie", answer: "Both are equally good. [[C]]", want: VerdictTie},
		{name: "spaces", answer: "[[ A ]]", want: VerdictA},
		{name: "repeated agreeing", answer: "[[B]] ... so [[B]]", want: VerdictB},
		{name: "none", answer: "Both are fine.", wantErr: ErrNoVerdict},
		{name: "rating is no verdict", answer: "Rating: [[8]]", wantErr: ErrNoVerdict},
		{name: "lower case", answer: "[[a]]", wantErr: ErrNoVerdict},
		{name: "conflicting", answer: "[[A]] at first, then [[B]]", wantErr: ErrConflictingVerdicts},
		{name: "echoed format in quotes", answer: `The format asks for "[[A]]" if A is better, "[[B]]" if B is better and "[[C]]" for a tie. B is better. [[B]]`, want: VerdictB},
		{name: "only echoed format", answer: `I must write "[[A]]" or "[[B]]" and I refuse.`, wantErr: ErrNoVerdict},
		{name: "quoted verdict at end", answer: `Verdict: "[[A]]"`, want: VerdictA},
		{name: "code block", answer: "```\n[[A]]\n```\nMy verdict: [[C]]", want: VerdictTie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseVerdict(tt.answer)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("ParseVerdict(%q) = %v, %v; want error %v", tt.answer, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseVerdict(%q) = %v, %v; want %v", tt.answer, got, err, tt.want)
			}
		})
	}
}

func TestCombineOrders(t *testing.T) {
	// first: the system is assistant A; swapped: the system is assistant B.
	tests := []struct {
		first, swapped Verdict
		want           Outcome
	}{
		{VerdictA, VerdictB, Win},  // both orders prefer the system
		{VerdictB, VerdictA, Lose}, // both prefer the baseline
		{VerdictA, VerdictA, Tie},  // position bias: always the first answer
		{VerdictB, VerdictB, Tie},  // position bias: always the second answer
		{VerdictTie, VerdictTie, Tie},
		{VerdictA, VerdictTie, Tie}, // a win and a tie is not consistent
		{VerdictTie, VerdictB, Tie},
		{VerdictB, VerdictTie, Tie}, // a loss and a tie
		{VerdictTie, VerdictA, Tie},
	}
	for _, tt := range tests {
		t.Run(tt.first.String()+"-"+tt.swapped.String(), func(t *testing.T) {
			if got := CombineOrders(tt.first, tt.swapped); got != tt.want {
				t.Errorf("CombineOrders(%v, %v) = %v, want %v", tt.first, tt.swapped, got, tt.want)
			}
		})
	}
}

func TestPairPrompt(t *testing.T) {
	sys, user := PairPrompt(PairInput{Question: "Q {answer_b}", Profile: "P", WritingHistory: "H", AnswerA: "first", AnswerB: "second"})
	if sys != SystemPrompt {
		t.Errorf("system = %q", sys)
	}
	a := strings.Index(user, "[The Start of Assistant A's Answer]\nfirst\n[The End of Assistant A's Answer]")
	b := strings.Index(user, "[The Start of Assistant B's Answer]\nsecond\n[The End of Assistant B's Answer]")
	if a < 0 || b < a {
		t.Errorf("answers not in order A, B:\n%s", user)
	}
	for _, want := range []string{"[User Profile and Writing History]\nP\nH", "[Question]\nQ {answer_b}\n", `"[[A]]" if assistant A is better, "[[B]]" if assistant B is better, and "[[C]]" for a tie.`} {
		if !strings.Contains(user, want) {
			t.Errorf("prompt lacks %q:\n%s", want, user)
		}
	}
}

func FuzzParseVerdict(f *testing.F) {
	f.Add("[[A]]")
	f.Add(`"[[A]]" or "[[B]]". [[C]]`)
	f.Add("```\n[[B]]\n```\n[[A]]")
	f.Fuzz(func(t *testing.T, answer string) {
		v, err := ParseVerdict(answer)
		if err != nil {
			if !errors.Is(err, ErrNoVerdict) && !errors.Is(err, ErrConflictingVerdicts) {
				t.Fatalf("ParseVerdict(%q): unexpected error %v", answer, err)
			}
			if strings.Contains(err.Error(), answer) && len(answer) > 8 {
				t.Fatalf("error quotes the answer: %v", err)
			}
			return
		}
		letter := map[Verdict]string{VerdictA: "A", VerdictB: "B", VerdictTie: "C"}[v]
		if letter == "" {
			t.Fatalf("ParseVerdict(%q) = %v, not a verdict", answer, v)
		}
		for _, lit := range bracketed(answer) {
			if strings.TrimLeft(lit, "[") == letter {
				return
			}
		}
		t.Fatalf("ParseVerdict(%q) = %v, which is not written as [[%s]] in the answer", answer, v, letter)
	})
}
