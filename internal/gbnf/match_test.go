package gbnf

// matcher decides whether a grammar's root matches a string of code
// points, straight from the AST: an oracle independent of the rewriting
// and of llama.cpp. It does not handle left recursion (a left-recursive
// reference matches nothing), which Sanitize rejects anyway.
type matcher struct {
	g    *Grammar
	s    []uint32
	memo map[refAt][]bool
	busy map[refAt]bool
}

type refAt struct {
	name string
	i    int
}

func matches(g *Grammar, s []uint32) bool {
	m := &matcher{g: g, s: s, memo: map[refAt][]bool{}, busy: map[refAt]bool{}}
	return m.ends(&Node{Kind: Ref, Name: "root"}, 0)[len(s)]
}

// ends returns the set of positions where a match of n from i can end.
func (m *matcher) ends(n *Node, i int) []bool {
	out := make([]bool, len(m.s)+1)
	switch n.Kind {
	case Alt:
		for _, sub := range n.Subs {
			or(out, m.ends(sub, i))
		}
	case Seq:
		cur := make([]bool, len(m.s)+1)
		cur[i] = true
		for _, sub := range n.Subs {
			cur = m.step(sub, cur)
		}
		copy(out, cur)
	case Lit:
		j := i
		for _, c := range n.Chars {
			if j >= len(m.s) || m.s[j] != c {
				return out
			}
			j++
		}
		out[j] = true
	case Class:
		if i < len(m.s) {
			in := false
			for k := 0; k+1 < len(n.Ranges); k += 2 {
				in = in || n.Ranges[k] <= m.s[i] && m.s[i] <= n.Ranges[k+1]
			}
			out[i+1] = in != n.Negated
		}
	case Any:
		if i < len(m.s) {
			out[i+1] = true
		}
	case Ref:
		k := refAt{n.Name, i}
		if v, ok := m.memo[k]; ok {
			return v
		}
		if m.busy[k] {
			return out
		}
		m.busy[k] = true
		out = m.ends(m.g.Rule(n.Name).Body, i)
		m.memo[k] = out
		delete(m.busy, k)
	case Repeat:
		cur := make([]bool, len(m.s)+1)
		cur[i] = true
		if n.Min == 0 {
			out[i] = true
		}
		// An iteration past the minimum that matches nothing can be
		// dropped, so more than Min+len(s) iterations add nothing.
		last := n.Min + len(m.s) + 1
		if n.Max >= 0 {
			last = min(last, n.Max)
		}
		for k := 1; k <= last; k++ {
			cur = m.step(n.Subs[0], cur)
			if k >= n.Min {
				or(out, cur)
			}
		}
	}
	return out
}

// step returns the ends of n from every start in from.
func (m *matcher) step(n *Node, from []bool) []bool {
	out := make([]bool, len(m.s)+1)
	for j, v := range from {
		if v {
			or(out, m.ends(n, j))
		}
	}
	return out
}

func or(dst, src []bool) {
	for j, v := range src {
		dst[j] = dst[j] || v
	}
}
