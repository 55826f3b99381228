// Package ahocorasick finds every occurrence of a fixed set of patterns in a
// sequence in one pass, in time linear in the length of the sequence plus
// the number of matches (Aho and Corasick, 1975).
//
// Symbols are any comparable type: the privacy guard matches sequences of
// normalized words (S = string), and the tests match bytes. A [Matcher] is
// immutable once built and safe for concurrent use.
package ahocorasick

import "slices"

// Match is one occurrence of a pattern: the symbols text[Start:End] equal
// patterns[Pattern].
type Match struct {
	Pattern    int
	Start, End int
}

// Matcher is a built Aho-Corasick automaton. The zero value matches nothing.
type Matcher[S comparable] struct {
	nodes []node[S]
	lens  []int // length of each pattern, by index
}

type node[S comparable] struct {
	next map[S]int32
	fail int32
	// out lists the patterns that end exactly at this node (duplicates of one
	// sequence share a node).
	out []int32
	// dict is the nearest node on the fail chain (excluding this one) whose
	// out is not empty, or -1.
	dict int32
}

// New builds a matcher for patterns. Pattern indices in [Match] refer to
// this slice. Empty patterns never match. New copies what it needs; the
// caller may reuse patterns afterwards.
func New[S comparable](patterns [][]S) *Matcher[S] {
	m := &Matcher[S]{lens: make([]int, len(patterns))}
	m.nodes = append(m.nodes, node[S]{dict: -1})
	for i, p := range patterns {
		m.lens[i] = len(p)
		if len(p) == 0 {
			continue
		}
		cur := int32(0)
		for _, s := range p {
			nx, ok := m.nodes[cur].next[s]
			if !ok {
				nx = int32(len(m.nodes))
				m.nodes = append(m.nodes, node[S]{dict: -1})
				if m.nodes[cur].next == nil {
					m.nodes[cur].next = make(map[S]int32)
				}
				m.nodes[cur].next[s] = nx
			}
			cur = nx
		}
		m.nodes[cur].out = append(m.nodes[cur].out, int32(i))
	}
	// Breadth-first over the trie: a node's fail link points to the longest
	// proper suffix of its string that is also a trie node.
	queue := make([]int32, 0, len(m.nodes))
	for _, child := range m.nodes[0].next {
		m.nodes[child].fail = 0
		queue = append(queue, child)
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for s, v := range m.nodes[u].next {
			f := m.nodes[u].fail
			for {
				if nx, ok := m.nodes[f].next[s]; ok && nx != v {
					m.nodes[v].fail = nx
					break
				}
				if f == 0 {
					m.nodes[v].fail = 0
					break
				}
				f = m.nodes[f].fail
			}
			fv := m.nodes[v].fail
			if len(m.nodes[fv].out) > 0 {
				m.nodes[v].dict = fv
			} else {
				m.nodes[v].dict = m.nodes[fv].dict
			}
			queue = append(queue, v)
		}
	}
	return m
}

// State is a position of the automaton while reading a sequence. The zero
// State is the start.
type State int32

// Step reads one symbol from state st and returns the next state.
func (m *Matcher[S]) Step(st State, s S) State {
	if len(m.nodes) == 0 {
		return 0
	}
	cur := int32(st)
	for {
		if nx, ok := m.nodes[cur].next[s]; ok {
			return State(nx)
		}
		if cur == 0 {
			return 0
		}
		cur = m.nodes[cur].fail
	}
}

// Ends calls yield with the index of every pattern that ends at state st,
// longest first, and stops early when yield returns false.
func (m *Matcher[S]) Ends(st State, yield func(pattern int) bool) {
	if len(m.nodes) == 0 {
		return
	}
	for n := int32(st); n >= 0; n = m.nodes[n].dict {
		for _, p := range m.nodes[n].out {
			if !yield(int(p)) {
				return
			}
		}
		if n == 0 {
			return
		}
	}
}

// FindAll returns every occurrence of every pattern in text, ordered by End,
// then by Start (longest first), then by pattern index.
func (m *Matcher[S]) FindAll(text []S) []Match {
	var out []Match
	st := State(0)
	for i, s := range text {
		st = m.Step(st, s)
		start := len(out)
		m.Ends(st, func(p int) bool {
			out = append(out, Match{Pattern: p, Start: i + 1 - m.lens[p], End: i + 1})
			return true
		})
		// Within one end position, patterns on the same node share a
		// length; sort them by index for a deterministic order.
		slices.SortFunc(out[start:], func(a, b Match) int {
			if a.Start != b.Start {
				return a.Start - b.Start
			}
			return a.Pattern - b.Pattern
		})
	}
	return out
}

// Len reports the number of patterns the matcher was built from.
func (m *Matcher[S]) Len() int { return len(m.lens) }
