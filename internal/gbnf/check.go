package gbnf

import (
	"fmt"
	"slices"
	"strings"
)

// Default limits. Every grammar the project produces passes them with
// room to spare: llama.cpp's JSON-schema grammars for real schemas are a
// few KB with under 100 rules and nest a few groups deep, the judge's
// rating grammar expands to about 2,000 rules, and regex translations nest
// about twice as deep as the regex.
const (
	// DefaultMaxBytes bounds the grammar text (llama.cpp's JSON-schema
	// converter, as ollama calls it, returns at most 1 MiB).
	DefaultMaxBytes = 1 << 20
	// DefaultMaxDepth bounds the nesting of groups (llama.cpp's parser
	// recurses twice per level).
	DefaultMaxDepth = 128
	// DefaultMaxRules bounds the rules llama.cpp builds: named rules,
	// groups and the rules a repetition expands into.
	DefaultMaxRules = 1 << 15
	// DefaultMaxElements bounds the grammar elements llama.cpp builds; a
	// repetition {m,n} copies its operand m times and builds n-m rules.
	DefaultMaxElements = 1 << 20
	// DefaultMaxChain bounds how deep llama.cpp recurses in C to find the
	// next characters a grammar position allows (rule references
	// followed before a character is reached, and nullable items passed).
	DefaultMaxChain = 1000
	// DefaultMaxPaths bounds how many ways llama.cpp enumerates from one
	// grammar position to the next characters; each costs time on every
	// generated token.
	DefaultMaxPaths = 1 << 12
)

// Limits bounds what [Sanitize] accepts. A zero field takes its default.
type Limits struct {
	MaxBytes, MaxDepth, MaxRules, MaxElements, MaxChain, MaxPaths int
}

func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.MaxBytes, DefaultMaxBytes)
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxRules, DefaultMaxRules)
	def(&l.MaxElements, DefaultMaxElements)
	def(&l.MaxChain, DefaultMaxChain)
	def(&l.MaxPaths, DefaultMaxPaths)
	return l
}

// Options configure [Sanitize].
type Options struct {
	Limits
	// Token resolves a token reference <name> to a token id; ok is false
	// when name is not exactly one token. With Token nil a token name is
	// an error. A resolved name is printed as <[id]>.
	Token func(name string) (id int32, ok bool)
	// VocabSize, when above 0, is the vocabulary size token ids must be
	// below.
	VocabSize int
}

// Sanitize parses src, checks it against the limits, rewrites it into an
// equivalent grammar that llama.cpp's grammar code handles without
// unbounded recursion, and returns that grammar as GBNF text. Its errors
// are [*Error] values naming the rule or the limit at fault.
func Sanitize(src string, opts Options) (string, error) {
	lim := opts.Limits.withDefaults()
	if len(src) > lim.MaxBytes {
		return "", &Error{Limit: "MaxBytes", Msg: fmt.Sprintf("grammar is %d bytes; the limit is %d", len(src), lim.MaxBytes)}
	}
	g, err := Parse(src, lim.MaxDepth)
	if err != nil {
		return "", err
	}
	if err := g.resolveTokens(opts); err != nil {
		return "", err
	}
	// The expansion limits first: they bound the work of what follows.
	if err := g.checkSize(lim); err != nil {
		return "", err
	}
	a := newAnalysis(g)
	if err := a.checkLeftRecursion(); err != nil {
		return "", err
	}
	a.rewrite()
	out := g.String()
	// Check what llama.cpp will get: it must parse to itself and pass
	// every limit with no rewriting left to do (the rewrite may nest a
	// level deeper or grow the text; allow for that).
	lim2 := lim
	lim2.MaxDepth = 2*lim.MaxDepth + 2
	lim2.MaxBytes = 4 * lim.MaxBytes
	if err := Check(out, lim2); err != nil {
		return "", err
	}
	return out, nil
}

// Check reports whether src is a grammar that llama.cpp's grammar code
// handles without unbounded recursion, as printed by [Sanitize]: within
// the limits, without left recursion, with no repetition of a nullable
// operand and at most one way for any rule to match the empty string. It
// does not rewrite.
func Check(src string, lim Limits) error {
	lim = lim.withDefaults()
	if len(src) > lim.MaxBytes {
		return &Error{Limit: "MaxBytes", Msg: fmt.Sprintf("grammar is %d bytes; the limit is %d", len(src), lim.MaxBytes)}
	}
	g, err := Parse(src, lim.MaxDepth)
	if err != nil {
		return err
	}
	if err := g.checkSize(lim); err != nil {
		return err
	}
	a := newAnalysis(g)
	if err := a.checkLeftRecursion(); err != nil {
		return err
	}
	return a.checkCost(lim)
}

func (g *Grammar) resolveTokens(opts Options) error {
	var err error
	for _, r := range g.Rules {
		r.Body = mapNodes(r.Body, func(n *Node) *Node {
			if n.Kind != Token || err != nil {
				return n
			}
			if n.TokenName != "" {
				if opts.Token == nil {
					err = &Error{Rule: r.Name, Msg: "token references by name need a vocabulary"}
					return n
				}
				id, ok := opts.Token(n.TokenName)
				if !ok {
					err = &Error{Rule: r.Name, Msg: fmt.Sprintf("token reference of %d bytes is not exactly one token", len(n.TokenName))}
					return n
				}
				return &Node{Kind: Token, TokenID: uint32(id), Negated: n.Negated}
			}
			if opts.VocabSize > 0 && int64(n.TokenID) >= int64(opts.VocabSize) {
				err = &Error{Rule: r.Name, Msg: fmt.Sprintf("token <[%d]> is outside the vocabulary [0, %d)", n.TokenID, opts.VocabSize)}
			}
			return n
		})
	}
	return err
}

// mapNodes rebuilds n bottom-up with f applied to every node.
func mapNodes(n *Node, f func(*Node) *Node) *Node {
	if len(n.Subs) == 0 {
		return f(n)
	}
	c := *n
	c.Subs = make([]*Node, len(n.Subs))
	for i, s := range n.Subs {
		c.Subs[i] = mapNodes(s, f)
	}
	return f(&c)
}

// checkSize counts the rules and elements llama.cpp's parser builds.
func (g *Grammar) checkSize(lim Limits) error {
	rules, elems := 0, 0
	var count func(n *Node) int // elements n adds to its enclosing rule
	alt := func(n *Node) int {  // elements of a rule with body n
		if n.Kind != Alt {
			return count(n) + 1
		}
		k := 0
		for _, s := range n.Subs {
			k += count(s) + 1 // ALT or END
		}
		return k
	}
	count = func(n *Node) int {
		switch n.Kind {
		case Alt: // a group: a rule of its own
			rules++
			elems += alt(n)
			return 1
		case Seq:
			k := 0
			for _, s := range n.Subs {
				k += count(s)
			}
			return k
		case Lit:
			return len(n.Chars)
		case Class:
			k := 0
			for i := 0; i+1 < len(n.Ranges); i += 2 {
				k++
				if n.Ranges[i] != n.Ranges[i+1] {
					k++
				}
			}
			return k
		case Repeat:
			sub := count(n.Subs[0])
			elems = min(elems, lim.MaxElements+1)
			opt := n.Max - n.Min
			if n.Max < 0 {
				opt = 1
			}
			rules += opt
			elems += opt * (sub + 3)
			k := min(n.Min*sub, lim.MaxElements+1) // nested repetitions multiply
			if opt > 0 {
				k++
			}
			return k
		}
		return 1 // Any, Ref, Token
	}
	for _, r := range g.Rules {
		rules++
		elems += alt(r.Body)
		if rules > lim.MaxRules {
			return &Error{Rule: r.Name, Limit: "MaxRules", Msg: fmt.Sprintf("grammar expands to more than %d rules", lim.MaxRules)}
		}
		if elems > lim.MaxElements {
			return &Error{Rule: r.Name, Limit: "MaxElements", Msg: fmt.Sprintf("grammar expands to more than %d elements", lim.MaxElements)}
		}
	}
	return nil
}

// analysis holds what the checks and rewrites know of a grammar.
type analysis struct {
	g        *Grammar
	nullable map[string]bool
	epsFree  map[string]string // rule -> its rule minus the empty string ("" while being built)
	none     map[string]bool   // rules that match only the empty string
	done     map[string]bool   // rules normalized
}

func newAnalysis(g *Grammar) *analysis {
	a := &analysis{g: g, nullable: map[string]bool{}, epsFree: map[string]string{}, none: map[string]bool{}, done: map[string]bool{}}
	for changed := true; changed; {
		changed = false
		for _, r := range g.Rules {
			if !a.nullable[r.Name] && a.isNullable(r.Body) {
				a.nullable[r.Name] = true
				changed = true
			}
		}
	}
	return a
}

// isNullable reports whether n matches the empty string, given what is
// known of the rules.
func (a *analysis) isNullable(n *Node) bool {
	switch n.Kind {
	case Alt:
		return slices.ContainsFunc(n.Subs, a.isNullable)
	case Seq:
		for _, s := range n.Subs {
			if !a.isNullable(s) {
				return false
			}
		}
		return true
	case Ref:
		return a.nullable[n.Name]
	case Repeat:
		return n.Min == 0 || n.Max == 0 || a.isNullable(n.Subs[0])
	}
	return false // Lit, Class, Any, Token
}

// leftRefs calls f for each rule reference in n that can be reached
// without consuming input. inRepeat reports a reference inside a
// repetition of a nullable operand (llama.cpp expands those into left
// recursion).
func (a *analysis) leftRefs(n *Node, f func(name string)) {
	switch n.Kind {
	case Alt:
		for _, s := range n.Subs {
			a.leftRefs(s, f)
		}
	case Seq:
		for _, s := range n.Subs {
			a.leftRefs(s, f)
			if !a.isNullable(s) {
				return
			}
		}
	case Ref:
		f(n.Name)
	case Repeat:
		a.leftRefs(n.Subs[0], f)
	}
}

// checkLeftRecursion rejects a rule that can reach itself without
// consuming input: llama.cpp cannot parse with it. llama.cpp's own check
// misses rules that are nullable only through other rules, and then
// recurses without bound.
func (a *analysis) checkLeftRecursion() error {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var path []string
	var visit func(name string) error
	visit = func(name string) error {
		switch color[name] {
		case grey:
			i := slices.Index(path, name)
			cycle := append(slices.Clone(path[i:]), name)
			return &Error{Rule: name, Msg: fmt.Sprintf("left recursion: rule %s can reach itself without consuming input (%s)", name, strings.Join(cycle, " -> "))}
		case black:
			return nil
		}
		color[name] = grey
		path = append(path, name)
		var err error
		a.leftRefs(a.g.byName[name].Body, func(ref string) {
			if err == nil {
				err = visit(ref)
			}
		})
		if err != nil {
			return err
		}
		path = path[:len(path)-1]
		color[name] = black
		return nil
	}
	for _, r := range a.g.Rules {
		if err := visit(r.Name); err != nil {
			return err
		}
	}
	return nil
}
