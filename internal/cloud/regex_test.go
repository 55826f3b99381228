package cloud

import (
	"strings"
	"testing"
)

func TestRegexToGBNF(t *testing.T) {
	tests := []struct {
		pattern, want, err string
	}{
		{pattern: `Rating: \[\[(10|[1-9])\]\]`, want: `root ::= ("Rating: [[" ("10" | [1-9]) "]]")`},
		{pattern: `^a"b\\c$`, want: `root ::= ("" "a\"b\\c" "")`},
		{pattern: `[^\]\n-]x{2,3}y*z+w?`, want: `root ::= ([\x00-\t\x0B-,.-\\\x5E-\U0010FFFF] ("x"){2,3} ("y")* ("z")+ ("w")?)`},
		{pattern: `(a*)*`, want: `root ::= ("a")*`},
		{pattern: `(a?)*b`, want: `root ::= (("a")* "b")`},
		{pattern: `(a*)+`, want: `root ::= ("a")*`},
		{pattern: `((a+)?)?`, want: `root ::= ("a")*`},
		{pattern: `(a+)+`, want: `root ::= ("a")+`},
		{pattern: `\d{3,}`, want: `root ::= ([0-9]){3,}`},
		{pattern: `(?i)ok`, want: "root ::= ([Oo] [Kk\u212A])"}, // with the Kelvin sign, as RE2 folds
		{pattern: `.`, want: `root ::= [^\n]`},
		{pattern: `a^b`, err: "anchor ^"},
		{pattern: `a$b`, err: "anchor $"},
		{pattern: `\bword`, err: "word boundaries"},
		{pattern: `a(`, err: "missing closing )"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			got, err := regexToGBNF(tt.pattern)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("regexToGBNF(%q) = %q, %v; want error %q", tt.pattern, got, err, tt.err)
				}
				return
			}
			if err != nil || strings.TrimSpace(got) != tt.want {
				t.Errorf("regexToGBNF(%q) =\n%s (%v)\nwant\n%s", tt.pattern, got, err, tt.want)
			}
		})
	}
}
