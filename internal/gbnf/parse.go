package gbnf

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of a [Node].
type Kind int

// The node kinds.
const (
	Alt    Kind = iota // alternatives Subs, at least one
	Seq                // sequence Subs; empty matches the empty string
	Lit                // literal Chars, at least one
	Class              // character class Ranges (lo, hi pairs), Negated
	Any                // any character: .
	Ref                // reference to rule Name
	Token              // token reference TokenID (or TokenName unresolved), Negated
	Repeat             // Subs[0] repeated Min to Max times (Max -1: unbounded)
)

// Node is one expression of a grammar. Nodes are not modified once built;
// rewriting builds new ones.
type Node struct {
	Kind      Kind
	Subs      []*Node
	Chars     []uint32 // Lit: code points (llama.cpp's, up to 0xFFFFFFFF)
	Ranges    []uint32 // Class: lo, hi pairs
	Negated   bool     // Class [^...], Token !<...>
	Name      string   // Ref
	TokenID   uint32   // Token
	TokenName string   // Token given as <name>, before it is resolved
	Min, Max  int      // Repeat
}

// Rule is one named rule.
type Rule struct {
	Name string
	Body *Node
}

// Grammar is a parsed grammar: its rules in order of first definition. A
// rule defined twice keeps its last definition, as in llama.cpp.
type Grammar struct {
	Rules  []*Rule
	byName map[string]*Rule
}

// Rule returns the rule called name, or nil.
func (g *Grammar) Rule(name string) *Rule { return g.byName[name] }

func (g *Grammar) add(r *Rule) {
	if g.byName == nil {
		g.byName = map[string]*Rule{}
	}
	if old := g.byName[r.Name]; old != nil {
		old.Body = r.Body
		return
	}
	g.byName[r.Name] = r
	g.Rules = append(g.Rules, r)
}

// maxRepetition is llama.cpp's MAX_REPETITION_THRESHOLD: the largest m
// or n it accepts in {m,n}.
const maxRepetition = 2000

// parser mirrors llama_grammar_parser (src/llama-grammar.cpp) on a byte
// string with a NUL sentinel, so that it accepts and rejects what
// llama.cpp does, with the same messages, except that a position is given
// as line and column instead of quoting the rest of the grammar.
type parser struct {
	src      string
	maxDepth int
	refs     map[string]int // referenced rule name -> offset of first use
}

func (p *parser) at(i int) byte {
	if i < len(p.src) {
		return p.src[i]
	}
	return 0
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &Error{Pos: pos, Line: lineCol(p.src, pos), Msg: fmt.Sprintf(format, args...)}
}

func lineCol(src string, pos int) string {
	pos = min(pos, len(src))
	line := 1 + strings.Count(src[:pos], "\n")
	col := pos - strings.LastIndexByte(src[:pos], '\n')
	return fmt.Sprintf("line %d col %d", line, col)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isWord(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || isDigit(c)
}

func (p *parser) space(pos int, newlineOK bool) int {
	for {
		c := p.at(pos)
		switch {
		case c == '#':
			for p.at(pos) != 0 && p.at(pos) != '\r' && p.at(pos) != '\n' {
				pos++
			}
		case c == ' ' || c == '\t' || newlineOK && (c == '\r' || c == '\n'):
			pos++
		default:
			return pos
		}
	}
}

func (p *parser) name(pos int) (int, error) {
	end := pos
	for isWord(p.at(end)) {
		end++
	}
	if end == pos {
		return 0, p.errorf(pos, "expecting name")
	}
	return end, nil
}

// integer parses a decimal number; llama.cpp's std::stoul fails on more
// than fits 64 bits, and no number we accept needs more than 9 digits.
func (p *parser) integer(pos int) (int, int, error) {
	end := pos
	for isDigit(p.at(end)) {
		end++
	}
	if end == pos {
		return 0, 0, p.errorf(pos, "expecting integer")
	}
	if end-pos > 9 {
		return 0, 0, p.errorf(pos, "integer of %d digits is too large", end-pos)
	}
	n, _ := strconv.Atoi(p.src[pos:end])
	return n, end, nil
}

func (p *parser) hex(pos, size int) (uint32, int, error) {
	var v uint32
	i := pos
	for ; i < pos+size && p.at(i) != 0; i++ {
		c := p.at(i)
		v <<= 4
		switch {
		case 'a' <= c && c <= 'f':
			v += uint32(c-'a') + 10
		case 'A' <= c && c <= 'F':
			v += uint32(c-'A') + 10
		case isDigit(c):
			v += uint32(c - '0')
		default:
			return 0, 0, p.errorf(pos, "expecting %d hex chars", size)
		}
	}
	if i != pos+size {
		return 0, 0, p.errorf(pos, "expecting %d hex chars", size)
	}
	return v, i, nil
}

// char parses one character of a literal or class: an escape, or one
// UTF-8 sequence decoded as llama.cpp's decode_utf8 does (without
// validation).
func (p *parser) char(pos int) (uint32, int, error) {
	c := p.at(pos)
	if c == '\\' {
		switch p.at(pos + 1) {
		case 'x':
			return p.hex(pos+2, 2)
		case 'u':
			return p.hex(pos+2, 4)
		case 'U':
			return p.hex(pos+2, 8)
		case 't':
			return '\t', pos + 2, nil
		case 'r':
			return '\r', pos + 2, nil
		case 'n':
			return '\n', pos + 2, nil
		case '\\', '"', '[', ']':
			return uint32(p.at(pos + 1)), pos + 2, nil
		}
		return 0, 0, p.errorf(pos, "unknown escape")
	}
	if c == 0 {
		return 0, 0, p.errorf(pos, "unexpected end of input")
	}
	n := [16]int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4}[c>>4]
	v := uint32(c) & (1<<(8-n) - 1)
	i := pos + 1
	for ; i < pos+n && p.at(i) != 0; i++ {
		v = v<<6 + uint32(p.at(i)&0x3F)
	}
	return v, i, nil
}

func (p *parser) token(pos int) (*Node, int, error) {
	n := &Node{Kind: Token}
	if p.at(pos) == '!' {
		n.Negated = true
		pos++
	}
	if p.at(pos) != '<' {
		return nil, 0, p.errorf(pos, "expecting '<'")
	}
	start := pos
	pos++
	if p.at(pos) == '[' {
		id, end, err := p.integer(pos + 1)
		if err != nil {
			return nil, 0, err
		}
		if p.at(end) != ']' {
			return nil, 0, p.errorf(end, "expecting ']'")
		}
		if p.at(end+1) != '>' {
			return nil, 0, p.errorf(end+1, "expecting '>'")
		}
		n.TokenID = uint32(id)
		return n, end + 2, nil
	}
	for p.at(pos) != 0 && p.at(pos) != '>' {
		pos++
	}
	if p.at(pos) != '>' {
		return nil, 0, p.errorf(pos, "expecting '>'")
	}
	n.TokenName = p.src[start : pos+1]
	return n, pos + 1, nil
}

// alternates parses alternatives up to the first byte that ends them.
func (p *parser) alternates(pos int, nested bool, depth int) (*Node, int, error) {
	if depth > p.maxDepth {
		return nil, 0, &Error{Pos: pos, Line: lineCol(p.src, pos), Limit: "MaxDepth", Msg: fmt.Sprintf("groups nest deeper than %d", p.maxDepth)}
	}
	alt := &Node{Kind: Alt}
	for {
		seq, end, err := p.sequence(pos, nested, depth)
		if err != nil {
			return nil, 0, err
		}
		alt.Subs = append(alt.Subs, seq)
		pos = end
		if p.at(pos) != '|' {
			return alt, pos, nil
		}
		pos = p.space(pos+1, true)
	}
}

func (p *parser) sequence(pos int, nested bool, depth int) (*Node, int, error) {
	seq := &Node{Kind: Seq}
	// last is the item a repetition applies to; nil where llama.cpp has
	// no preceding element (nothing yet, or an item of zero elements).
	var last *Node
	push := func(n *Node) {
		seq.Subs = append(seq.Subs, n)
		last = n
	}
	repeat := func(at, lo, hi int) error {
		if last == nil {
			return p.errorf(at, "expecting preceding item to */+/?/{")
		}
		seq.Subs = seq.Subs[:len(seq.Subs)-1]
		r := &Node{Kind: Repeat, Subs: []*Node{last}, Min: lo, Max: hi}
		if hi == 0 {
			// llama.cpp emits no element for x{0}: nothing follows to
			// repeat again.
			last = nil
			seq.Subs = append(seq.Subs, r)
			return nil
		}
		push(r)
		return nil
	}
	for p.at(pos) != 0 {
		c := p.at(pos)
		switch {
		case c == '"':
			pos++
			n := &Node{Kind: Lit}
			for p.at(pos) != '"' {
				if p.at(pos) == 0 {
					return nil, 0, p.errorf(pos, "unexpected end of input")
				}
				ch, end, err := p.char(pos)
				if err != nil {
					return nil, 0, err
				}
				n.Chars = append(n.Chars, ch)
				pos = end
			}
			pos = p.space(pos+1, nested)
			if len(n.Chars) == 0 {
				last = nil
				continue
			}
			push(n)
		case c == '[':
			pos++
			n := &Node{Kind: Class}
			if p.at(pos) == '^' {
				pos++
				n.Negated = true
			}
			for p.at(pos) != ']' {
				if p.at(pos) == 0 {
					return nil, 0, p.errorf(pos, "unexpected end of input")
				}
				lo, end, err := p.char(pos)
				if err != nil {
					return nil, 0, err
				}
				pos = end
				hi := lo
				if p.at(pos) == '-' && p.at(pos+1) != ']' {
					if p.at(pos+1) == 0 {
						return nil, 0, p.errorf(pos+1, "unexpected end of input")
					}
					hi, end, err = p.char(pos + 1)
					if err != nil {
						return nil, 0, err
					}
					pos = end
				}
				n.Ranges = append(n.Ranges, lo, hi)
			}
			pos = p.space(pos+1, nested)
			if len(n.Ranges) == 0 {
				// llama.cpp emits no element for [] or [^]: it matches
				// the empty string.
				last = nil
				continue
			}
			push(n)
		case c == '<' || c == '!':
			n, end, err := p.token(pos)
			if err != nil {
				return nil, 0, err
			}
			pos = p.space(end, nested)
			push(n)
		case isWord(c):
			end, _ := p.name(pos)
			name := p.src[pos:end]
			if _, ok := p.refs[name]; !ok {
				p.refs[name] = pos
			}
			pos = p.space(end, nested)
			push(&Node{Kind: Ref, Name: name})
		case c == '(':
			open := pos
			alt, end, err := p.alternates(p.space(pos+1, true), true, depth+1)
			if err != nil {
				return nil, 0, err
			}
			if p.at(end) != ')' {
				return nil, 0, p.errorf(end, "expecting ')' (for the '(' at %s)", lineCol(p.src, open))
			}
			pos = p.space(end+1, nested)
			push(alt)
		case c == '.':
			pos = p.space(pos+1, nested)
			push(&Node{Kind: Any})
		case c == '*' || c == '+' || c == '?':
			at := pos
			pos = p.space(pos+1, nested)
			lo, hi := 0, -1
			if c == '+' {
				lo = 1
			} else if c == '?' {
				hi = 1
			}
			if err := repeat(at, lo, hi); err != nil {
				return nil, 0, err
			}
		case c == '{':
			at := pos
			pos = p.space(pos+1, nested)
			if !isDigit(p.at(pos)) {
				return nil, 0, p.errorf(pos, "expecting an int")
			}
			lo, end, err := p.integer(pos)
			if err != nil {
				return nil, 0, err
			}
			pos = p.space(end, nested)
			hi := -1
			switch p.at(pos) {
			case '}':
				hi = lo
				pos = p.space(pos+1, nested)
			case ',':
				pos = p.space(pos+1, nested)
				if isDigit(p.at(pos)) {
					hi, end, err = p.integer(pos)
					if err != nil {
						return nil, 0, err
					}
					pos = p.space(end, nested)
				}
				if p.at(pos) != '}' {
					return nil, 0, p.errorf(pos, "expecting '}'")
				}
				pos = p.space(pos+1, nested)
			default:
				return nil, 0, p.errorf(pos, "expecting ','")
			}
			if lo > maxRepetition || hi > maxRepetition {
				return nil, 0, &Error{Pos: at, Line: lineCol(p.src, at), Limit: "MaxRepeat", Msg: fmt.Sprintf("number of repetitions exceeds sane defaults, please reduce the number of repetitions (at most %d)", maxRepetition)}
			}
			if hi >= 0 && hi < lo {
				// llama.cpp computes hi-lo in unsigned arithmetic and
				// tries to build 2^64 rules.
				return nil, 0, p.errorf(at, "repetition {%d,%d}: the maximum is below the minimum", lo, hi)
			}
			if err := repeat(at, lo, hi); err != nil {
				return nil, 0, err
			}
		default:
			return seq, pos, nil
		}
	}
	return seq, pos, nil
}

// Parse parses src as llama.cpp would, with groups nested at most
// maxDepth deep (0: [DefaultMaxDepth]). It checks that every referenced
// rule is defined and that there is a root rule.
func Parse(src string, maxDepth int) (*Grammar, error) {
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if i := strings.IndexByte(src, 0); i >= 0 {
		return nil, &Error{Pos: i, Line: lineCol(src, i), Msg: "grammar contains a NUL byte"}
	}
	p := &parser{src: src, maxDepth: maxDepth, refs: map[string]int{}}
	g := &Grammar{}
	pos := p.space(0, true)
	for p.at(pos) != 0 {
		end, err := p.name(pos)
		if err != nil {
			return nil, err
		}
		name := src[pos:end]
		pos = p.space(end, false)
		if !strings.HasPrefix(src[min(pos, len(src)):], "::=") {
			return nil, p.errorf(pos, "expecting ::=")
		}
		body, end, err := p.alternates(p.space(pos+3, true), false, 0)
		if err != nil {
			return nil, err
		}
		pos = end
		switch p.at(pos) {
		case '\r':
			pos++
			if p.at(pos) == '\n' {
				pos++
			}
		case '\n':
			pos++
		case 0:
		default:
			return nil, p.errorf(pos, "expecting newline or end")
		}
		pos = p.space(pos, true)
		g.add(&Rule{Name: name, Body: body})
	}
	if len(g.Rules) == 0 {
		return nil, &Error{Msg: "empty grammar"}
	}
	for name, at := range p.refs {
		if g.byName[name] == nil {
			return nil, &Error{Pos: at, Line: lineCol(src, at), Rule: name, Msg: fmt.Sprintf("Undefined rule identifier '%s'", name)}
		}
	}
	if g.byName["root"] == nil {
		return nil, &Error{Msg: "grammar does not contain a 'root' symbol"}
	}
	return g, nil
}

// Error is a grammar that is malformed, unsafe or over a limit.
type Error struct {
	// Rule names the rule at fault, when there is one.
	Rule string
	// Limit names the [Limits] field exceeded, when one was.
	Limit string
	// Pos is the byte offset in the grammar text, when known (Line is
	// set then).
	Pos  int
	Line string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gbnf: ")
	if e.Line != "" {
		b.WriteString(e.Line + ": ")
	}
	if e.Rule != "" && !strings.Contains(e.Msg, "'"+e.Rule+"'") {
		b.WriteString("rule " + e.Rule + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}
