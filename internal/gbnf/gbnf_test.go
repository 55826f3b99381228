package gbnf

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The probes of the security review: each crashed llama.cpp (as
// guided_grammar, or as the GBNF of a guided_regex).
var probes = []struct{ name, src, want string }{
	{"quest star", `root ::= ("a"?)*`, `root ::= "a"*`},
	{"star star", `root ::= ("a"*)*`, `root ::= "a"*`},
	{"quest star then b", `root ::= ("a"?)* "b"`, `root ::= "a"* "b"`},
	{"empty alt star", `root ::= ("" | "a")* "b"`, `root ::= "a"* "b"`},
	{"star plus", `root ::= ("a"*)+`, `root ::= "a"*`},
	{"two stars star", `root ::= ("a"* "b"*)*`, `root ::= ("a"+ "b"* | "b"+)*`},
	{"nested rule", `root ::= x*` + "\n" + `x ::= y` + "\n" + `y ::= "a" | ""`, "root ::= x-ne*\nx ::= y\ny ::= \"a\" | \"\"\nx-ne ::= y-ne\ny-ne ::= \"a\"\n"},
	{"empty group star", `root ::= (())*`, `root ::= ""`},
	{"bounded nullable", `root ::= ("a"?){3,5}`, `root ::= "a"{0,5}`},
	{"two empty ways", `root ::= ("a"? | "b"?) "c"`, `root ::= ("a" | "b")? "c"`},
	{"regex (a*)*", `root ::= ((("a"))*)*`, `root ::= "a"*`},
	{"regex (|a)*b", `root ::= (("" | "a"))* "b"`, `root ::= "a"* "b"`},
}

func TestSanitizeProbes(t *testing.T) {
	for _, tt := range probes {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Sanitize(tt.src, Options{})
			if err != nil {
				t.Fatalf("Sanitize(%q): %v", tt.src, err)
			}
			if strings.TrimSpace(got) != strings.TrimSpace(tt.want) {
				t.Errorf("Sanitize(%q) =\n%s\nwant\n%s", tt.src, got, tt.want)
			}
			assertEquivalent(t, tt.src, got, "ab", 7)
		})
	}
}

// assertEquivalent checks that two grammars match the same strings over
// alphabet up to length n.
func assertEquivalent(t *testing.T, a, b, alphabet string, n int) {
	t.Helper()
	ga, err := Parse(a, 0)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := Parse(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	var s []uint32
	var walk func() bool
	walk = func() bool {
		if ma, mb := matches(ga, s), matches(gb, s); ma != mb {
			t.Errorf("%q: original matches %v, rewritten %v\noriginal:\n%s\nrewritten:\n%s", string(runes(s)), ma, mb, a, b)
			return false
		}
		if len(s) == n {
			return true
		}
		for _, c := range alphabet {
			s = append(s, uint32(c))
			ok := walk()
			s = s[:len(s)-1]
			if !ok {
				return false
			}
		}
		return true
	}
	walk()
}

func runes(s []uint32) []rune {
	r := make([]rune, len(s))
	for i, c := range s {
		r[i] = rune(c)
	}
	return r
}

// TestSanitizeRandom rewrites random grammars rich in nullable parts and
// checks the result against the original with the matcher, and that it
// is a fixed point.
func TestSanitizeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 150
	if testing.Short() {
		n = 40
	}
	accepted := 0
	for i := range n {
		src := randomGrammar(rng)
		got, err := Sanitize(src, Options{})
		if err != nil {
			var ge *Error
			if !errors.As(err, &ge) || !strings.Contains(ge.Msg, "left recursion") {
				t.Errorf("grammar %d:\n%s\nSanitize: %v", i, src, err)
			}
			continue
		}
		accepted++
		assertEquivalent(t, src, got, "ab", 4)
		again, err := Sanitize(got, Options{})
		if err != nil || again != got {
			t.Errorf("grammar %d: not a fixed point:\n%s\n->\n%s (%v)", i, got, again, err)
		}
		if t.Failed() {
			return
		}
	}
	if accepted < n/2 {
		t.Errorf("only %d of %d random grammars accepted", accepted, n)
	}
}

func randomGrammar(rng *rand.Rand) string {
	rules := []string{"root", "x", "y"}
	var expr func(d int) string
	atom := func(d int) string {
		switch rng.IntN(8) {
		case 0:
			return `"a"`
		case 1:
			return `"b"`
		case 2:
			return `""`
		case 3:
			return `[ab]`
		case 4:
			return `"ab"`
		case 5:
			// Only later rules, so that most grammars are not left
			// recursive.
			return rules[1+rng.IntN(2)]
		}
		if d > 2 {
			return `"a"`
		}
		return "(" + expr(d+1) + ")"
	}
	expr = func(d int) string {
		var alts []string
		for range 1 + rng.IntN(3) {
			var items []string
			for range rng.IntN(3) + 1 {
				item := atom(d)
				if item != `""` {
					item += []string{"", "", "*", "+", "?", "{0,2}", "{2}", "{1,}"}[rng.IntN(8)]
				}
				items = append(items, item)
			}
			alts = append(alts, strings.Join(items, " "))
		}
		return strings.Join(alts, " | ")
	}
	var b strings.Builder
	for i, r := range rules {
		e := expr(0)
		if i == 2 {
			// y refers to no rule: the rule graph ends.
			e = strings.NewReplacer("x", `"a"`, "y", `"b"`).Replace(e)
		}
		fmt.Fprintf(&b, "%s ::= %s\n", r, e)
	}
	return b.String()
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"unclosed group", `root ::= (`, "expecting ')'"},
		{"no root", `a ::= "x"`, "does not contain a 'root' symbol"},
		{"undefined", `root ::= a`, "Undefined rule identifier 'a'"},
		{"bad escape", `root ::= [\-]`, "unknown escape"},
		{"repeat nothing", `root ::= ""*`, "expecting preceding item"},
		{"repeat empty class", `root ::= []+`, "expecting preceding item"},
		{"repeat after {0}", `root ::= "a"{0}*`, "expecting preceding item"},
		{"max below min", `root ::= "a"{5,2}`, "maximum is below the minimum"},
		{"too many repetitions", `root ::= "a"{2001}`, "exceeds sane defaults"},
		{"huge number", `root ::= "a"{99999999999999999999}`, "too large"},
		{"short hex", `root ::= "\x4"`, "expecting 2 hex chars"},
		{"newline in rule", "root ::= \"a\"\n| \"b\"", "expecting name"},
		{"no ::=", `root = "a"`, "expecting ::="},
		{"trailing", `root ::= "a" )`, "expecting newline or end"},
		{"nul", "root ::= \"a\x00\"", "NUL"},
		{"token name without vocab", `root ::= <hi>`, "need a vocabulary"},
		{"empty", "# nothing\n", "empty grammar"},
		{"left recursion", "root ::= root \"a\" | \"b\"", "left recursion: rule root"},
		{"left recursion via nullable rule", "root ::= x root | \"b\"\nx ::= y\ny ::= \"a\"?", "left recursion: rule root can reach itself without consuming input (root -> root)"},
		{"left recursion via rule", "root ::= x \"a\" | \"b\"\nx ::= root", "root -> x -> root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sanitize(tt.src, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Sanitize(%q) = %v, want error containing %q", tt.src, err, tt.want)
			}
		})
	}
}

func TestLimits(t *testing.T) {
	nest := func(n int) string { return "root ::= " + strings.Repeat("(", n) + `"a"` + strings.Repeat(")", n) }
	chain := func(n int) string {
		var b strings.Builder
		b.WriteString("root ::= r0\n")
		for i := range n {
			fmt.Fprintf(&b, "r%d ::= r%d \"x\"\n", i, i+1)
		}
		fmt.Fprintf(&b, "r%d ::= \"y\"\n", n)
		return b.String()
	}
	tests := []struct {
		name, src, limit string
	}{
		{"50,000 parentheses", nest(50000), "MaxDepth"},
		{"depth at the limit", nest(DefaultMaxDepth), ""},
		{"depth over the limit", nest(DefaultMaxDepth + 1), "MaxDepth"},
		{"bytes", "root ::= \"" + strings.Repeat("a", DefaultMaxBytes) + "\"", "MaxBytes"},
		{"rules", "root ::= " + strings.Repeat(`"a"{0,2000} `, 17), "MaxRules"},
		{"elements", "root ::= " + strings.Repeat(`"`+strings.Repeat("a", 1000)+`"{1000} `, 2), "MaxElements"},
		{"nested groups repeated", "root ::= " + strings.Repeat("(", 10) + `"a"` + strings.Repeat("){2000}", 10), ""},
		{"repeated repetition", `root ::= "a"{2000}{2000}`, "MaxElements"},
		{"left chain", chain(DefaultMaxChain + 10), "MaxChain"},
		{"nullable run", "root ::= " + strings.Repeat(`"a"? `, DefaultMaxChain+10), "MaxChain"},
		{"ambiguous chain", func() string {
			var b strings.Builder
			b.WriteString("root ::= r0\n")
			for i := range 20 {
				fmt.Fprintf(&b, "r%d ::= r%d | r%d\n", i, i+1, i+1)
			}
			b.WriteString("r20 ::= \"a\"\n")
			return b.String()
		}(), "MaxPaths"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Sanitize(tt.src, Options{})
			if tt.limit == "" {
				if err != nil {
					t.Errorf("Sanitize: %v", err)
				}
				return
			}
			var ge *Error
			if !errors.As(err, &ge) || ge.Limit != tt.limit {
				t.Errorf("Sanitize = %v, want an error over %s", err, tt.limit)
			}
		})
	}
}

// TestProjectGrammars checks that the grammars the project produces (the
// judge's, regex translations, llama.cpp's JSON-schema grammars in
// testdata) pass unchanged in meaning, and print back to themselves.
func TestProjectGrammars(t *testing.T) {
	srcs := map[string]string{
		"rating 2000": `root ::= expl "Rating: [[" rating "]]"` + "\n" + `expl ::= [^\[\]]{0,2000}` + "\n" + `rating ::= "10" | [1-9]` + "\n",
		"verdict":     `root ::= expl "[[" ("A" | "B" | "C") "]]"` + "\n" + `expl ::= [^\[\]]{0,1000}` + "\n",
	}
	files, err := filepath.Glob("testdata/grammars/*.gbnf")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata grammars: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[filepath.Base(f)] = string(b)
	}
	for name, src := range srcs {
		t.Run(name, func(t *testing.T) {
			g, err := Parse(src, 0)
			if err != nil {
				t.Fatal(err)
			}
			printed := g.String()
			g2, err := Parse(printed, 0)
			if err != nil || g2.String() != printed {
				t.Errorf("print is not a fixed point: %v", err)
			}
			out, err := Sanitize(src, Options{})
			if err != nil {
				t.Fatalf("Sanitize: %v", err)
			}
			// Half the limits still pass: the defaults leave room.
			half := Limits{MaxBytes: DefaultMaxBytes / 2, MaxDepth: DefaultMaxDepth / 2, MaxRules: DefaultMaxRules / 2, MaxElements: DefaultMaxElements / 2, MaxChain: DefaultMaxChain / 2, MaxPaths: DefaultMaxPaths / 2}
			if _, err := Sanitize(src, Options{Limits: half}); err != nil {
				t.Errorf("Sanitize with half the limits: %v", err)
			}
			if len(out) > 2*len(printed)+64 {
				t.Errorf("rewritten grammar is %d bytes, printed %d", len(out), len(printed))
			}
		})
	}
}

func TestTokens(t *testing.T) {
	opts := Options{VocabSize: 100, Token: func(name string) (int32, bool) {
		if name == "<think>" {
			return 7, true
		}
		return 0, false
	}}
	got, err := Sanitize(`root ::= <think> !<[3]> "a"`, opts)
	if err != nil || strings.TrimSpace(got) != `root ::= <[7]> !<[3]> "a"` {
		t.Errorf("Sanitize = %q, %v", got, err)
	}
	for _, src := range []string{`root ::= <[100]>`, `root ::= <nope>`} {
		if _, err := Sanitize(src, opts); err == nil {
			t.Errorf("Sanitize(%q) accepted", src)
		}
	}
}

func TestPrintEscapes(t *testing.T) {
	src := `root ::= "\"\\\n\t\x01é\u2028\U0001F600" [\x2D\x5E\]\[a-z"] [^\n]` + "\n"
	g, err := Parse(src, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := g.String()
	g2, err := Parse(out, 0)
	if err != nil {
		t.Fatalf("reparse %q: %v", out, err)
	}
	if g2.String() != out {
		t.Errorf("print not stable: %q then %q", out, g2.String())
	}
	want := `root ::= "\"\\\n\t\x01é\u2028😀" [\x2D\x5E\]\[a-z\x22] [^\n]` + "\n"
	if out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
}
