// Package tokmap maps tokens that a server names by text or bytes, never
// by id, back to the ids of a local vocabulary that shares the server's
// tokenizer. Ollama reports its top log-probabilities this way, and so
// does SGLang's legacy logprobs shape.
//
// Not every candidate can be mapped. A server that renders a token whose
// text is not valid UTF-8 (a byte-fallback token, a piece of a multi-byte
// character) turns its bytes into U+FFFD, so all such tokens look the same;
// and two tokens of one vocabulary may share a text. Such candidates are
// reported as unmapped, with their probability mass, and left out: the
// caller treats their mass as part of the distribution's unreported tail.
package tokmap

import (
	"math"
	"strings"
	"unicode/utf8"

	"github.com/cogenesis/cogenesis/llm"
)

// Vocab is a local vocabulary: its size and the text of each token.
type Vocab interface {
	VocabSize() int
	AppendPiece(dst []byte, tok int32) []byte
}

// Map maps token texts to the ids of one vocabulary.
type Map struct {
	ids     map[string]int32 // text -> id, for texts of exactly one token
	shared  map[string]int   // text -> number of tokens that render to it, when more than one
	invalid []int32
	named   []bool // named[id]: id is the one token its text names
}

// New builds the map of v: every token under its text, and a token whose
// text is not valid UTF-8 also under the forms a server renders it in
// (each run of invalid bytes, or each invalid byte, as U+FFFD).
func New(v Vocab) *Map {
	n := v.VocabSize()
	m := &Map{ids: map[string]int32{}, shared: map[string]int{}, named: make([]bool, n)}
	pieces := make([]string, n)
	var buf []byte
	for id := range int32(n) {
		buf = v.AppendPiece(buf[:0], id)
		pieces[id] = string(buf)
		keys := []string{string(buf)}
		if !utf8.Valid(buf) {
			m.invalid = append(m.invalid, id)
			keys = append(keys, strings.ToValidUTF8(string(buf), "\uFFFD"), perByte(buf))
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				continue
			}
			seen[k] = true
			m.add(k, id)
		}
	}
	for id, p := range pieces {
		got, ok := m.ids[p]
		m.named[id] = ok && got == int32(id) && utf8.ValidString(p)
	}
	return m
}

// Named reports whether a server that names tokens by text can name id:
// no other token renders to its text, and its text is valid UTF-8. (In a
// SentencePiece vocabulary with byte fallback, the byte token <0x44>
// renders "D" as the token "D" does.)
func (m *Map) Named(id int32) bool {
	return id >= 0 && int(id) < len(m.named) && m.named[id]
}

func (m *Map) add(key string, id int32) {
	if n, ok := m.shared[key]; ok {
		m.shared[key] = n + 1
		return
	}
	if _, ok := m.ids[key]; ok {
		delete(m.ids, key)
		m.shared[key] = 2
		return
	}
	m.ids[key] = id
}

// perByte renders b with every byte of an invalid sequence as U+FFFD.
func perByte(b []byte) string {
	var s strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			s.WriteString("\uFFFD")
		} else {
			s.Write(b[:n])
		}
		b = b[n:]
	}
	return s.String()
}

// Lookup returns the id of the one token whose text is text, and false when
// no token or several tokens render to it.
func (m *Map) Lookup(text string) (int32, bool) {
	id, ok := m.ids[text]
	return id, ok
}

// Invalid returns the tokens whose text alone is not valid UTF-8, in id
// order. A server cannot name them apart, and llama.cpp's server fails on
// generated text that ends inside one (see openaiapi's BanTokens).
func (m *Map) Invalid() []int32 { return m.invalid }

// Mapped is the result of [Map.Apply].
type Mapped struct {
	// Top holds the candidates mapped to ids, in the order given.
	Top []llm.TopLogprob
	// Unmapped counts the candidates left out, and UnmappedMass is their
	// total probability.
	Unmapped     int
	UnmappedMass float64
}

// Apply sets the Token of every candidate that carries [NoToken] (-1, as
// openaiapi reports a token named by text only) from its Text, and leaves
// out those it cannot map. A candidate that already has an id is kept.
func (m *Map) Apply(top []llm.TopLogprob) Mapped {
	var r Mapped
	r.Top = make([]llm.TopLogprob, 0, len(top))
	for _, t := range top {
		if t.Token < 0 {
			id, ok := m.Lookup(t.Text)
			if !ok {
				r.Unmapped++
				r.UnmappedMass += math.Exp(t.Logprob)
				continue
			}
			t.Token = id
		}
		r.Top = append(r.Top, t)
	}
	return r
}
