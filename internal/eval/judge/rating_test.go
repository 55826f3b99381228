package judge

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestParseRating(t *testing.T) {
	tests := []struct {
		name    string
		answer  string
		want    float64
		wantErr error
	}{
		{name: "plain", answer: "The response is helpful and detailed.\n\nRating: [[8]]", want: 8},
		{name: "decimal", answer: "Rating: [[7.5]]", want: 7.5},
		{name: "trailing point", answer: "Rating: [[7.]]", want: 7},
		{name: "inner spaces", answer: "Rating: [[ 9 ]]", want: 9},
		{name: "lower bound", answer: "Rating: [[1]]", want: 1},
		{name: "upper bound", answer: "Rating: [[10]]", want: 10},
		{name: "upper bound decimal", answer: "Rating: [[10.0]]", want: 10},
		{name: "triple brackets", answer: "Rating: [[[8]]]", want: 8},
		{name: "no rating", answer: "The response is good.", wantErr: ErrNoRating},
		{name: "empty", answer: "", wantErr: ErrNoRating},
		{name: "placeholder only", answer: "I must answer with [[rating]].", wantErr: ErrNoRating},
		{name: "single brackets", answer: "Rating: [8]", wantErr: ErrNoRating},
		{name: "fraction", answer: "Rating: [[8/10]]", wantErr: ErrNoRating},
		{name: "above range", answer: "Rating: [[11]]", wantErr: ErrOutOfRange},
		{name: "zero", answer: "Rating: [[0]]", wantErr: ErrOutOfRange},
		{name: "negative", answer: "Rating: [[-3]]", wantErr: ErrOutOfRange},
		{name: "just above range", answer: "Rating: [[10.5]]", wantErr: ErrOutOfRange},
		{name: "overflowing number", answer: "Rating: [[" + strings.Repeat("9", 400) + "]]", wantErr: ErrOutOfRange},
		// Several counted ratings: equal values agree, different ones conflict.
		{name: "repeated agreeing", answer: "Rating: [[8]]\nFinal rating: [[8.0]]", want: 8},
		{name: "conflicting", answer: "At first glance [[6]]. On reflection, Rating: [[7]]", wantErr: ErrConflictingRatings},
		{name: "unquoted echo conflicts", answer: "Format: for example Rating: [[5]]. The answer is strong. Rating: [[8]]", wantErr: ErrConflictingRatings},
		// Quoted text and code are not counted...
		{
			name:   "echoed example in double quotes",
			answer: `The instructions ask for "[[rating]]", for example: "Rating: [[5]]". The answer is thorough. Rating: [[8]]`,
			want:   8,
		},
		{
			name:    "echoed example only",
			answer:  `I will follow "Rating: [[5]]" as required. The answer misses the user's style.`,
			wantErr: ErrNoRating,
		},
		{name: "single quotes", answer: "Using the format 'Rating: [[5]]' I judge. Rating: [[3]]", want: 3},
		{name: "curly double quotes", answer: "Like “Rating: [[5]]” says. Rating: [[6]]", want: 6},
		{name: "curly single quotes", answer: "Like ‘Rating: [[5]]’ says. Rating: [[6]]", want: 6},
		{name: "inline code", answer: "Use `[[5]]` format. Rating: [[9]]", want: 9},
		{name: "double backtick code", answer: "Use ``a ` [[5]]`` here. Rating: [[9]]", want: 9},
		{name: "fenced code", answer: "Example:\n```\nRating: [[5]]\n```\nMy verdict: [[6]]", want: 6},
		{name: "tilde fence", answer: "~~~text\n[[2]]\n~~~\nRating: [[6]]", want: 6},
		{name: "blockquote lines", answer: "> Rating: [[5]]\n> is the example\nThe answer is fine. Rating: [[7]]", want: 7},
		{name: "quoted answer text", answer: `The response says "I give it [[3]]", which is odd. Rating: [[6]]`, want: 6},
		{name: "quoted out of range ignored", answer: `It claims "[[11]]" is best. Rating: [[7]]`, want: 7},
		// ...unless the quoted span ends the answer.
		{name: "quoted verdict at end", answer: `The answer is solid. Rating: "[[8]]".`, want: 8},
		{name: "code verdict at end", answer: "The answer is solid. Rating: `[[8]]`", want: 8},
		{name: "bold quoted verdict at end", answer: "Solid.\n**Rating: \"[[8]]\"**\n", want: 8},
		{name: "unterminated fence at end", answer: "Explanation.\n```\nRating: [[7]]", want: 7},
		{name: "terminal quote joins bare", answer: `Rating: [[8]] following "Rating: [[5]]"`, wantErr: ErrConflictingRatings},
		// Apostrophes and unmatched marks do not hide a rating.
		{name: "apostrophes", answer: "The assistant's reply fits the user's style; it's fine. Rating: [[4]]", want: 4},
		{name: "leading apostrophe", answer: "'Tis fine. Rating: [[6]]", want: 6},
		{name: "unmatched double quote", answer: `He wrote "great. Rating: [[7]]`, want: 7},
		{name: "unmatched backtick", answer: "Odd ` mark. Rating: [[7]]", want: 7},
		{name: "quote on other line", answer: "He said \"hi.\nRating: [[7]] and \"bye\" later", want: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRating(tt.answer)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("ParseRating(%q) = %v, %v; want error %v", tt.answer, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseRating(%q) = %v, %v; want %v", tt.answer, got, err, tt.want)
			}
		})
	}
}

func TestParseRatingErrorHasNoAnswerText(t *testing.T) {
	for _, answer := range []string{"secret text", "secret [[6]] secret [[7]]", "secret [[12]]"} {
		_, err := ParseRating(answer)
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseRating(%q) error = %v, want an error without answer text", answer, err)
		}
	}
}

func TestCompare(t *testing.T) {
	tests := []struct {
		name string
		a, b float64
		want Outcome
	}{
		{"higher wins", 8, 7, Win},
		{"lower loses", 7, 8, Lose},
		{"equal ties", 7.5, 7.5, Tie},
		{"half point wins", 7.5, 7, Win},
		{"nan ties", math.NaN(), 7, Tie},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Compare(tt.a, tt.b); got != tt.want {
				t.Errorf("Compare(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestOutcomeString(t *testing.T) {
	tests := []struct {
		o    Outcome
		want string
	}{
		{Win, "win"}, {Tie, "tie"}, {Lose, "lose"}, {Outcome(0), "Outcome(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.o.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// bracketed returns the trimmed contents of every "[[...]]" in s, each
// "[[" paired with the first "]]" after it.
func bracketed(s string) []string {
	var out []string
	for i := 0; ; {
		j := strings.Index(s[i:], "[[")
		if j < 0 {
			return out
		}
		start := i + j + 2
		if k := strings.Index(s[start:], "]]"); k >= 0 {
			out = append(out, strings.Trim(s[start:start+k], " \t"))
		}
		i = i + j + 1
	}
}

func FuzzParseRating(f *testing.F) {
	f.Add("Rating: [[8]]")
	f.Add(`The format "[[rating]]", for example: "Rating: [[5]]". Rating: [[7.5]]`)
	f.Add("```\n[[5]]\n```\n[[6]]")
	f.Add("'a' 'b [[3]]' `[[4]]` “[[2]]”")
	f.Fuzz(func(t *testing.T, answer string) {
		got, err := ParseRating(answer)
		if err != nil {
			if !errors.Is(err, ErrNoRating) && !errors.Is(err, ErrOutOfRange) && !errors.Is(err, ErrConflictingRatings) {
				t.Fatalf("ParseRating(%q): unexpected error %v", answer, err)
			}
			return
		}
		if !(got >= MinRating && got <= MaxRating) {
			t.Fatalf("ParseRating(%q) = %v, outside [1, 10]", answer, got)
		}
		for _, lit := range bracketed(answer) {
			// Tolerate "[[[8]]]": the bracketed text then starts with "[".
			lit = strings.TrimLeft(lit, "[")
			if !isDecimal(lit) {
				continue
			}
			if v, err := strconv.ParseFloat(lit, 64); err == nil && v == got {
				return
			}
		}
		t.Fatalf("ParseRating(%q) = %v, which is not written as [[...]] in the answer", answer, got)
	})
}

// isDecimal reports whether s is an optional sign, at least one digit, and
// optionally a point followed by digits: the rating syntax of the paper's
// "[[5]]" format, excluding forms ParseFloat also takes ("1e1", "Inf").
func isDecimal(s string) bool {
	if strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	onlyDigits := func(x string) bool { return strings.Trim(x, "0123456789") == "" }
	return intPart != "" && onlyDigits(intPart) && onlyDigits(frac)
}
