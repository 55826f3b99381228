package gbnf

import (
	"fmt"
	"strconv"
)

// rewrite turns g, which has no left recursion, into an equivalent grammar
// in which no repetition has a nullable operand (llama.cpp expands X* into
// S ::= X S | "", left recursion through a nullable X) and no rule or group
// has two ways to match the empty string (each doubles the work of
// llama.cpp's stack expansion, exponentially across a sequence).
func (a *analysis) rewrite() {
	// Rules added by minusEps are built from normalized bodies; the loop
	// reaches them too.
	for i := 0; i < len(a.g.Rules); i++ {
		a.normRule(a.g.Rules[i].Name)
	}
	for range 64 {
		changed := false
		e := map[string]int{}
		for i := 0; i < len(a.g.Rules); i++ {
			r := a.g.Rules[i]
			r.Body = a.reduce(r.Body, e, &changed)
		}
		if !changed {
			return
		}
	}
	// Whatever is left, Check reports.
}

func (a *analysis) normRule(name string) *Node {
	r := a.g.byName[name]
	if !a.done[name] {
		a.done[name] = true
		r.Body = a.normalize(r.Body)
	}
	return r.Body
}

// normalize rewrites every repetition of a nullable operand X into one of
// X minus the empty string: X{m,n} = (X-"")){0,n} when X matches "".
func (a *analysis) normalize(n *Node) *Node {
	switch n.Kind {
	case Alt, Seq:
		c := *n
		c.Subs = make([]*Node, len(n.Subs))
		for i, s := range n.Subs {
			c.Subs[i] = a.normalize(s)
		}
		return &c
	case Repeat:
		sub := a.normalize(n.Subs[0])
		if n.Max == 0 {
			return &Node{Kind: Seq}
		}
		if !a.isNullable(sub) {
			return &Node{Kind: Repeat, Subs: []*Node{sub}, Min: n.Min, Max: n.Max}
		}
		y := a.minusEps(sub)
		if y == nil {
			return &Node{Kind: Seq}
		}
		for (y.Kind == Alt || y.Kind == Seq) && len(y.Subs) == 1 {
			y = y.Subs[0]
		}
		if y.Kind == Repeat && y.Min == 1 && (y.Max < 0 || n.Max < 0) {
			// (Y+){0,n} and (Y{1,m})* are Y*.
			return &Node{Kind: Repeat, Subs: y.Subs, Min: 0, Max: -1}
		}
		return &Node{Kind: Repeat, Subs: []*Node{y}, Min: 0, Max: n.Max}
	}
	return n
}

// minusEps returns n without the empty string, or nil when that leaves
// nothing.
func (a *analysis) minusEps(n *Node) *Node {
	if !a.isNullable(n) {
		return n
	}
	switch n.Kind {
	case Alt:
		var subs []*Node
		for _, s := range n.Subs {
			if m := a.minusEps(s); m != nil {
				subs = append(subs, m)
			}
		}
		return alt(subs)
	case Seq:
		// e1 e2 ... ek - "" = (e1-"") e2 ... ek | (e2-"") e3 ... ek | ...
		var subs []*Node
		for i, s := range n.Subs {
			if m := a.minusEps(s); m != nil {
				subs = append(subs, seq(append([]*Node{m}, n.Subs[i+1:]...)))
			}
		}
		return alt(subs)
	case Ref:
		name := a.epsFreeRule(n.Name)
		if name == "" {
			return nil
		}
		return &Node{Kind: Ref, Name: name}
	case Repeat:
		// X{m,n} - "" is Y{1,n} for Y = X - "".
		y := n.Subs[0]
		if n.Max == 0 {
			return nil
		}
		if a.isNullable(y) {
			if y = a.minusEps(y); y == nil {
				return nil
			}
		}
		if n.Max == 1 {
			return y
		}
		return &Node{Kind: Repeat, Subs: []*Node{y}, Min: 1, Max: n.Max}
	}
	return nil
}

// epsFreeRule returns the name of a rule matching what rule name matches
// except the empty string, adding it on first use; "" when that is
// nothing.
func (a *analysis) epsFreeRule(name string) string {
	if ne, ok := a.epsFree[name]; ok {
		return ne
	}
	if a.none[name] {
		return ""
	}
	body := a.normRule(name)
	ne := name + "-ne"
	for i := 2; a.g.byName[ne] != nil; i++ {
		ne = name + "-ne" + strconv.Itoa(i)
	}
	// Claim the name before building the body (a right-recursive rule
	// refers to itself); left recursion has been ruled out, so the body
	// never needs the rule being built at a left position.
	a.epsFree[name] = ne
	r := &Rule{Name: ne, Body: &Node{Kind: Seq}}
	a.g.add(r)
	a.done[ne] = true
	m := a.minusEps(body)
	if m == nil {
		// Matches only "": drop the placeholder.
		a.none[name] = true
		delete(a.epsFree, name)
		a.g.Rules = a.g.Rules[:len(a.g.Rules)-1]
		delete(a.g.byName, ne)
		return ""
	}
	// m may hold parts of a body still being normalized.
	r.Body = a.normalize(m)
	return ne
}

func alt(subs []*Node) *Node {
	switch len(subs) {
	case 0:
		return nil
	case 1:
		return subs[0]
	}
	return &Node{Kind: Alt, Subs: subs}
}

func seq(subs []*Node) *Node {
	if len(subs) == 1 {
		return subs[0]
	}
	return &Node{Kind: Seq, Subs: subs}
}

// reduce rewrites every alternation with two or more ways to match the
// empty string into (alternation - "")?, bottom-up. e memoizes rules'
// counts (0, 1 or 2 for more).
func (a *analysis) reduce(n *Node, e map[string]int, changed *bool) *Node {
	if n.Kind != Alt && n.Kind != Seq && n.Kind != Repeat {
		return n
	}
	c := *n
	c.Subs = make([]*Node, len(n.Subs))
	for i, s := range n.Subs {
		c.Subs[i] = a.reduce(s, e, changed)
	}
	if c.Kind != Alt || a.epsWays(&c, e) < 2 {
		return &c
	}
	*changed = true
	y := a.minusEps(&c)
	if y == nil {
		return &Node{Kind: Seq}
	}
	return &Node{Kind: Repeat, Subs: []*Node{y}, Min: 0, Max: 1}
}

// epsWays counts the ways n matches the empty string: 0, 1, or 2 for
// more.
func (a *analysis) epsWays(n *Node, e map[string]int) int {
	switch n.Kind {
	case Alt:
		k := 0
		for _, s := range n.Subs {
			k += a.epsWays(s, e)
		}
		return min(k, 2)
	case Seq:
		k := 1
		for _, s := range n.Subs {
			k = min(k*a.epsWays(s, e), 2)
			if k == 0 {
				return 0
			}
		}
		return k
	case Ref:
		if v, ok := e[n.Name]; ok {
			return v
		}
		if !a.nullable[n.Name] {
			return 0
		}
		e[n.Name] = 2 // while counting: a cycle would be left recursion
		v := a.epsWays(a.g.byName[n.Name].Body, e)
		e[n.Name] = v
		return v
	case Repeat:
		if a.isNullable(n.Subs[0]) {
			return 2
		}
		if n.Min == 0 {
			return 1
		}
	}
	return 0
}

// cost is what llama.cpp's stack expansion (llama_grammar_advance_stack)
// does from one grammar position: eps ways to match the empty string,
// paths to a character, and the C recursion depth to pass the empty
// string (depthEps) and to reach a character (depth).
type cost struct{ eps, paths, depthEps, depth int }

const sat = 1 << 40

func satAdd(a, b int) int { return min(a+b, sat) }
func satMul(a, b int) int {
	if a != 0 && b > sat/a {
		return sat
	}
	return a * b
}

// then is the cost of c followed by s.
func (c cost) then(s cost) cost {
	r := cost{eps: satMul(c.eps, s.eps), paths: satAdd(c.paths, satMul(c.eps, s.paths)), depth: c.depth, depthEps: satAdd(c.depthEps, s.depthEps)}
	if c.eps > 0 {
		r.depth = max(r.depth, satAdd(c.depthEps, s.depth))
	}
	return r
}

type costs struct {
	a       *analysis
	nodes   map[*Node]cost
	rules   map[string]cost
	busy    map[string]bool
	lim     Limits
	err     error
	current string // rule being checked, for errors
}

func (a *analysis) checkCost(lim Limits) error {
	c := &costs{a: a, nodes: map[*Node]cost{}, rules: map[string]cost{}, busy: map[string]bool{}, lim: lim}
	for _, r := range a.g.Rules {
		c.current = r.Name
		c.rule(r.Name)
		c.suffixes(r.Body)
		if c.err != nil {
			return c.err
		}
	}
	c.current = "root"
	c.check(c.rule("root"))
	return c.err
}

func (c *costs) fail(limit, format string, args ...any) {
	if c.err == nil {
		c.err = &Error{Rule: c.current, Limit: limit, Msg: fmt.Sprintf(format, args...)}
	}
}

func (c *costs) rule(name string) cost {
	if v, ok := c.rules[name]; ok {
		return v
	}
	if c.busy[name] {
		return cost{eps: sat, paths: sat, depth: sat, depthEps: sat}
	}
	c.busy[name] = true
	v := c.node(c.a.g.byName[name].Body, true)
	if v.eps > 1 {
		c.fail("", "rule %s matches the empty string in %d or more ways", name, min(v.eps, 1000))
	}
	c.rules[name] = v
	return v
}

// node is the cost of n; top reports a rule body (not a group).
func (c *costs) node(n *Node, top bool) cost {
	if top {
		return c.node1(n, true)
	}
	if v, ok := c.nodes[n]; ok {
		return v
	}
	v := c.node1(n, false)
	c.nodes[n] = v
	return v
}

func (c *costs) node1(n *Node, top bool) cost {
	switch n.Kind {
	case Alt:
		var v cost
		for _, s := range n.Subs {
			sc := c.node(s, false)
			v.eps = satAdd(v.eps, sc.eps)
			v.paths = satAdd(v.paths, sc.paths)
			v.depth = max(v.depth, sc.depth)
			if sc.eps > 0 {
				v.depthEps = max(v.depthEps, sc.depthEps)
			}
		}
		if !top {
			if v.eps > 1 {
				c.fail("", "a group matches the empty string in %d or more ways", min(v.eps, 1000))
			}
			v.depth++
			v.depthEps++
		}
		return v
	case Seq:
		v := cost{eps: 1}
		// Left to right, as far as the empty string reaches.
		var items []cost
		for _, s := range n.Subs {
			sc := c.node(s, false)
			items = append(items, sc)
			if sc.eps == 0 {
				break
			}
		}
		for i := len(items) - 1; i >= 0; i-- {
			v = items[i].then(v)
		}
		return v
	case Lit, Class, Any, Token:
		return cost{paths: 1, depth: 1}
	case Ref:
		v := c.rule(n.Name)
		v.depth = satAdd(v.depth, 1)
		v.depthEps = satAdd(v.depthEps, 1)
		return v
	case Repeat:
		sub := c.node(n.Subs[0], false)
		if sub.eps > 0 {
			c.fail("", "a repetition of something that matches the empty string")
		}
		if n.Min > 0 {
			return sub
		}
		// The reference to llama.cpp's repetition rule S ::= X S | "".
		return cost{eps: 1, paths: sub.paths, depth: satAdd(sub.depth, 1), depthEps: 1}
	}
	return cost{}
}

// suffixes checks the cost from every position of every sequence in n:
// where llama.cpp's stack expansion starts after each character.
func (c *costs) suffixes(n *Node) {
	for _, s := range n.Subs {
		c.suffixes(s)
	}
	if n.Kind != Seq {
		return
	}
	v := cost{eps: 1}
	for i := len(n.Subs) - 1; i >= 0; i-- {
		v = c.node(n.Subs[i], false).then(v)
		c.check(v)
	}
}

func (c *costs) check(v cost) {
	if v.paths > c.lim.MaxPaths {
		c.fail("MaxPaths", "more than %d ways lead from one position to the next character", c.lim.MaxPaths)
	}
	if v.depth > c.lim.MaxChain || v.depthEps > c.lim.MaxChain {
		c.fail("MaxChain", "reaching the next character takes more than %d nested steps", c.lim.MaxChain)
	}
}
