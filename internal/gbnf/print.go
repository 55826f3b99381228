package gbnf

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// String prints g as GBNF text that llama.cpp (and [Parse]) read back as
// the same grammar: one rule a line, in order.
func (g *Grammar) String() string {
	var b strings.Builder
	for _, r := range g.Rules {
		b.WriteString(r.Name)
		b.WriteString(" ::= ")
		writeNode(&b, r.Body, true)
		b.WriteByte('\n')
	}
	return b.String()
}

// String prints n as a GBNF expression.
func (n *Node) String() string {
	var b strings.Builder
	writeNode(&b, n, true)
	return b.String()
}

// writeNode writes n; top reports whether n stands alone (a rule body or
// a group's contents), where alternatives need no parentheses.
func writeNode(b *strings.Builder, n *Node, top bool) {
	switch n.Kind {
	case Alt:
		if len(n.Subs) == 1 {
			writeNode(b, n.Subs[0], top)
			return
		}
		if !top {
			b.WriteByte('(')
		}
		for i, s := range n.Subs {
			if i > 0 {
				b.WriteString(" | ")
			}
			writeNode(b, s, true)
		}
		if !top {
			b.WriteByte(')')
		}
	case Seq:
		items := seqItems(n)
		if len(items) == 0 {
			b.WriteString(`""`)
			return
		}
		if len(items) == 1 {
			writeNode(b, items[0], top)
			return
		}
		if !top {
			b.WriteByte('(')
		}
		for i, s := range items {
			if i > 0 {
				b.WriteByte(' ')
			}
			writeNode(b, s, false)
		}
		if !top {
			b.WriteByte(')')
		}
	case Lit:
		b.WriteByte('"')
		for _, c := range n.Chars {
			switch c {
			case '"', '\\':
				b.WriteByte('\\')
				b.WriteByte(byte(c))
			default:
				writeChar(b, c)
			}
		}
		b.WriteByte('"')
	case Class:
		b.WriteByte('[')
		if n.Negated {
			b.WriteByte('^')
		}
		for i := 0; i+1 < len(n.Ranges); i += 2 {
			writeClassChar(b, n.Ranges[i])
			if n.Ranges[i+1] != n.Ranges[i] {
				b.WriteByte('-')
				writeClassChar(b, n.Ranges[i+1])
			}
		}
		b.WriteByte(']')
	case Any:
		b.WriteByte('.')
	case Ref:
		b.WriteString(n.Name)
	case Token:
		if n.Negated {
			b.WriteByte('!')
		}
		if n.TokenName != "" {
			b.WriteString(n.TokenName)
		} else {
			b.WriteString("<[" + strconv.FormatUint(uint64(n.TokenID), 10) + "]>")
		}
	case Repeat:
		sub := unwrap(n.Subs[0])
		switch sub.Kind {
		case Lit, Class, Any, Ref, Token:
			writeNode(b, sub, false)
		default:
			b.WriteByte('(')
			writeNode(b, sub, true)
			b.WriteByte(')')
		}
		switch {
		case n.Min == 0 && n.Max < 0:
			b.WriteByte('*')
		case n.Min == 1 && n.Max < 0:
			b.WriteByte('+')
		case n.Min == 0 && n.Max == 1:
			b.WriteByte('?')
		case n.Max < 0:
			fmt.Fprintf(b, "{%d,}", n.Min)
		case n.Min == n.Max:
			fmt.Fprintf(b, "{%d}", n.Min)
		default:
			fmt.Fprintf(b, "{%d,%d}", n.Min, n.Max)
		}
	}
}

// writeChar writes a code point of a literal: printable runes as UTF-8,
// everything else as an escape.
func writeChar(b *strings.Builder, c uint32) {
	switch {
	case c == '\n':
		b.WriteString(`\n`)
	case c == '\r':
		b.WriteString(`\r`)
	case c == '\t':
		b.WriteString(`\t`)
	case c < 0x80 && c >= 0x20 && c != 0x7f:
		b.WriteByte(byte(c))
	case c < 0x100 && !(c >= 0xA0 && unicode.IsPrint(rune(c))):
		fmt.Fprintf(b, `\x%02X`, c)
	case c <= unicode.MaxRune && utf8.ValidRune(rune(c)) && unicode.IsPrint(rune(c)):
		b.WriteRune(rune(c))
	case c <= 0xFFFF:
		fmt.Fprintf(b, `\u%04X`, c)
	default:
		fmt.Fprintf(b, `\U%08X`, c)
	}
}

// writeClassChar writes a code point inside [...]. llama.cpp has no
// escapes for - and ^, so they are written in hex.
func writeClassChar(b *strings.Builder, c uint32) {
	switch c {
	case '\\', ']', '[':
		b.WriteByte('\\')
		b.WriteByte(byte(c))
	case '-', '^', '"':
		fmt.Fprintf(b, `\x%02X`, c)
	default:
		writeChar(b, c)
	}
}

// seqItems returns the items of a sequence that are not the empty
// sequence.
func seqItems(n *Node) []*Node {
	var items []*Node
	for _, s := range n.Subs {
		if !isEmpty(s) {
			items = append(items, s)
		}
	}
	return items
}

// isEmpty reports whether n is written as nothing: an empty sequence.
func isEmpty(n *Node) bool {
	switch n.Kind {
	case Seq:
		for _, s := range n.Subs {
			if !isEmpty(s) {
				return false
			}
		}
		return true
	case Alt:
		return len(n.Subs) == 1 && isEmpty(n.Subs[0])
	}
	return false
}

// unwrap returns the single item that a one-item alternation or sequence
// stands for, or n.
func unwrap(n *Node) *Node {
	for {
		switch {
		case n.Kind == Alt && len(n.Subs) == 1:
			n = n.Subs[0]
		case n.Kind == Seq && len(seqItems(n)) == 1:
			n = seqItems(n)[0]
		default:
			return n
		}
	}
}
