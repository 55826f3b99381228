package tokmap_test

import (
	"math"
	"slices"
	"testing"

	"github.com/cogenesis/cogenesis/llm"
	"github.com/cogenesis/cogenesis/tokmap"
)

// vocab is a small SentencePiece-like vocabulary: regular pieces, and
// byte-fallback tokens whose text is the byte itself.
type vocab []string

func (v vocab) VocabSize() int { return len(v) }
func (v vocab) AppendPiece(dst []byte, tok int32) []byte {
	return append(dst, v[tok]...)
}

var testVocab = vocab{
	0: "<unk>",
	1: "D",    // regular token
	2: "\x44", // byte token <0x44>: also "D"
	3: "\xe4", // byte token: a lead byte alone
	4: "\xb8", // byte token: a continuation byte alone
	5: " the",
	6: "\xe4\xb8", // a piece of a three-byte character
	7: "中",
	8: "\ufffd", // a real token whose text is U+FFFD
}

func TestMap(t *testing.T) {
	m := tokmap.New(testVocab)
	if got, want := m.Invalid(), []int32{3, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("Invalid %v, want %v", got, want)
	}
	for _, tt := range []struct {
		text  string
		id    int32
		named bool
	}{
		{" the", 5, true},
		{"中", 7, true},
		{"<unk>", 0, true},
		{"D", 0, false},           // two tokens render it
		{"\ufffd", 0, false},      // three byte tokens render to it, and token 8 is it
		{"\ufffd\ufffd", 6, true}, // token 6 byte by byte: only it renders so
		{"x", 0, false},
	} {
		id, ok := m.Lookup(tt.text)
		if tt.named && (!ok || id != tt.id) {
			t.Errorf("Lookup(%q) = %d, %v; want %d", tt.text, id, ok, tt.id)
		}
		if !tt.named && ok {
			t.Errorf("Lookup(%q) = %d, want no single token", tt.text, id)
		}
	}
	for id, want := range []bool{true, false, false, false, false, true, false, true, false} {
		if got := m.Named(int32(id)); got != want {
			t.Errorf("Named(%d) = %v, want %v", id, got, want)
		}
	}
}

func TestApply(t *testing.T) {
	m := tokmap.New(testVocab)
	top := []llm.TopLogprob{
		{Token: -1, Text: " the", Logprob: math.Log(0.5)},
		{Token: -1, Text: "\ufffd", Logprob: math.Log(0.2)},
		{Token: -1, Text: "D", Logprob: math.Log(0.1)},
		{Token: 7, Text: "中", Logprob: math.Log(0.05)}, // already has an id
		{Token: -1, Text: "nowhere", Logprob: math.Log(0.01)},
	}
	r := m.Apply(top)
	if len(r.Top) != 2 || r.Top[0].Token != 5 || r.Top[1].Token != 7 {
		t.Errorf("mapped %+v, want tokens 5 and 7", r.Top)
	}
	if r.Unmapped != 3 || math.Abs(r.UnmappedMass-0.31) > 1e-12 {
		t.Errorf("unmapped %d (mass %g), want 3 (0.31)", r.Unmapped, r.UnmappedMass)
	}
}
