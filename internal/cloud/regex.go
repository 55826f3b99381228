package cloud

import (
	"fmt"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode"
)

// regexToGBNF translates a regular expression (Go/RE2 syntax, which covers
// the Python patterns vLLM's guided_regex is given in practice) into a GBNF
// grammar whose language is the set of strings the expression matches in
// full, as vLLM's guided decoding reads it. Anchors are allowed only where
// they match trivially (^ at the start, $ at the end); word boundaries and
// mid-pattern anchors are not expressible in GBNF and are rejected.
func regexToGBNF(pattern string) (string, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", fmt.Errorf("guided_regex: %w", err)
	}
	re = collapse(re)
	var b strings.Builder
	if err := writeRegex(&b, re, true, true); err != nil {
		return "", fmt.Errorf("guided_regex: %w", err)
	}
	return "root ::= " + b.String() + "\n", nil
}

// writeRegex writes re as a GBNF expression. first and last report whether
// re starts or ends the whole pattern (where ^ and $ are trivial).
func writeRegex(b *strings.Builder, re *syntax.Regexp, first, last bool) error {
	switch re.Op {
	case syntax.OpNoMatch:
		return fmt.Errorf("pattern matches nothing")
	case syntax.OpEmptyMatch:
		b.WriteString(`""`)
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			b.WriteString("(")
			for i, r := range re.Rune {
				if i > 0 {
					b.WriteString(" ")
				}
				writeClass(b, foldRanges(r))
			}
			b.WriteString(")")
			return nil
		}
		b.WriteString(gbnfString(string(re.Rune)))
	case syntax.OpCharClass:
		if len(re.Rune) == 0 {
			return fmt.Errorf("empty character class")
		}
		writeClass(b, re.Rune)
	case syntax.OpAnyCharNotNL:
		b.WriteString(`[^\n]`)
	case syntax.OpAnyChar:
		b.WriteString(`[\x00-\U0010FFFF]`)
	case syntax.OpBeginLine, syntax.OpBeginText:
		if !first {
			return fmt.Errorf("anchor ^ inside the pattern is not supported")
		}
		b.WriteString(`""`)
	case syntax.OpEndLine, syntax.OpEndText:
		if !last {
			return fmt.Errorf("anchor $ inside the pattern is not supported")
		}
		b.WriteString(`""`)
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return fmt.Errorf("word boundaries are not supported")
	case syntax.OpCapture:
		// Compound expressions bracket themselves.
		return writeRegex(b, re.Sub[0], first, last)
	case syntax.OpStar:
		return writeGroup(b, re.Sub[0], false, false, "*")
	case syntax.OpPlus:
		return writeGroup(b, re.Sub[0], false, false, "+")
	case syntax.OpQuest:
		return writeGroup(b, re.Sub[0], false, false, "?")
	case syntax.OpRepeat:
		rep := "{" + strconv.Itoa(re.Min) + ","
		if re.Max >= 0 {
			rep += strconv.Itoa(re.Max)
		}
		return writeGroup(b, re.Sub[0], false, false, rep+"}")
	case syntax.OpConcat:
		b.WriteString("(")
		for i, sub := range re.Sub {
			if i > 0 {
				b.WriteString(" ")
			}
			if err := writeRegex(b, sub, first && i == 0, last && i == len(re.Sub)-1); err != nil {
				return err
			}
		}
		b.WriteString(")")
	case syntax.OpAlternate:
		b.WriteString("(")
		for i, sub := range re.Sub {
			if i > 0 {
				b.WriteString(" | ")
			}
			if err := writeRegex(b, sub, first, last); err != nil {
				return err
			}
		}
		b.WriteString(")")
	default:
		return fmt.Errorf("unsupported construct %v", re.Op)
	}
	return nil
}

func writeGroup(b *strings.Builder, sub *syntax.Regexp, first, last bool, suffix string) error {
	b.WriteString("(")
	if err := writeRegex(b, sub, first, last); err != nil {
		return err
	}
	b.WriteString(")" + suffix)
	return nil
}

// foldRanges returns the character ranges of r and its case variants.
func foldRanges(r rune) []rune {
	out := []rune{r, r}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		out = append(out, f, f)
	}
	return out
}

// writeClass writes a GBNF character class of rune ranges (lo, hi pairs).
func writeClass(b *strings.Builder, ranges []rune) {
	b.WriteString("[")
	for i := 0; i+1 < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		b.WriteString(classRune(lo))
		if hi != lo {
			b.WriteString("-" + classRune(hi))
		}
	}
	b.WriteString("]")
}

// classRune escapes r for a GBNF character class. GBNF has no escapes
// for ^ and -, so they are written in hex.
func classRune(r rune) string {
	switch r {
	case '\\', ']', '[':
		return `\` + string(r)
	case '^', '-':
		return fmt.Sprintf(`\x%02X`, r)
	}
	return escapeRune(r)
}

// collapse rewrites repetitions of repetitions, through capture groups,
// into one: (a*)*, (a?)*, (a*)+ and (a+)* are a*, (a+)+ is a+, and (a?)?
// is a?. The GBNF validator rewrites the general case (a repetition of
// anything that matches the empty string); this keeps the common one
// small.
func collapse(re *syntax.Regexp) *syntax.Regexp {
	for i, sub := range re.Sub {
		re.Sub[i] = collapse(sub)
	}
	switch re.Op {
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
	default:
		return re
	}
	inner := re.Sub[0]
	for inner.Op == syntax.OpCapture {
		inner = inner.Sub[0]
	}
	switch inner.Op {
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest:
	default:
		return re
	}
	op := syntax.OpStar
	switch {
	case re.Op == inner.Op:
		op = re.Op
	case re.Op != syntax.OpStar && inner.Op != syntax.OpStar && re.Op != inner.Op:
		op = syntax.OpStar // (a+)? and (a?)+ are a*
	}
	return &syntax.Regexp{Op: op, Flags: re.Flags, Sub: []*syntax.Regexp{inner.Sub[0]}}
}

// gbnfString returns s as a GBNF string literal.
func gbnfString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteString(`\` + string(r))
		default:
			b.WriteString(escapeRune(r))
		}
	}
	b.WriteByte('"')
	return b.String()
}

// escapeRune writes printable runes as they are and everything else as a
// GBNF escape.
func escapeRune(r rune) string {
	switch {
	case r == '\n':
		return `\n`
	case r == '\r':
		return `\r`
	case r == '\t':
		return `\t`
	case r < 0x20 || r == 0x7f:
		return fmt.Sprintf(`\x%02X`, r)
	case !unicode.IsPrint(r) && r <= 0xFFFF:
		return fmt.Sprintf(`\u%04X`, r)
	case !unicode.IsPrint(r):
		return fmt.Sprintf(`\U%08X`, r)
	}
	return string(r)
}
