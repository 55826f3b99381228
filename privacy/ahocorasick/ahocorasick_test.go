package ahocorasick

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// naive returns every occurrence of every non-empty pattern in text, in the
// order FindAll promises.
func naive[S comparable](patterns [][]S, text []S) []Match {
	var out []Match
	for end := 1; end <= len(text); end++ {
		for start := 0; start < end; start++ {
			for p, pat := range patterns {
				if len(pat) == end-start && slices.Equal(pat, text[start:end]) {
					out = append(out, Match{Pattern: p, Start: start, End: end})
				}
			}
		}
	}
	return out
}

func words(s string) []string { return strings.Fields(s) }

func TestFindAll(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		text     string
		want     []Match
	}{
		{
			name:     "classic he she his hers",
			patterns: []string{"he", "she", "his", "hers"},
			text:     "ushers",
			want:     []Match{{1, 1, 4}, {0, 2, 4}, {3, 2, 6}},
		},
		{
			name:     "overlapping repeats",
			patterns: []string{"aa", "a"},
			text:     "aaa",
			want:     []Match{{1, 0, 1}, {0, 0, 2}, {1, 1, 2}, {0, 1, 3}, {1, 2, 3}},
		},
		{
			name:     "duplicate and empty patterns",
			patterns: []string{"ab", "", "ab"},
			text:     "xabx",
			want:     []Match{{0, 1, 3}, {2, 1, 3}},
		},
		{
			name:     "no match",
			patterns: []string{"abc"},
			text:     "ababab",
			want:     nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pats := make([][]byte, len(tt.patterns))
			for i, p := range tt.patterns {
				pats[i] = []byte(p)
			}
			got := New(pats).FindAll([]byte(tt.text))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("FindAll mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(naive(pats, []byte(tt.text)), got); diff != "" {
				t.Errorf("FindAll differs from naive matcher (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFindAllWords(t *testing.T) {
	pats := [][]string{words("monthly dinner party"), words("dinner party"), words("party host")}
	text := words("she hosts a monthly dinner party host event")
	got := New(pats).FindAll(text)
	if diff := cmp.Diff(naive(pats, text), got); diff != "" {
		t.Errorf("FindAll mismatch (-want +got):\n%s", diff)
	}
	if len(got) != 3 {
		t.Errorf("FindAll found %d matches, want 3", len(got))
	}
}

func TestZeroMatcher(t *testing.T) {
	var m Matcher[byte]
	if got := m.FindAll([]byte("abc")); got != nil {
		t.Errorf("zero Matcher FindAll = %v, want nil", got)
	}
}

// FuzzAhoCorasick checks the automaton against the naive matcher. The input
// is split on 0xff into patterns, and the last piece is the text; the
// alphabet is folded to four symbols so that matches are frequent.
func FuzzAhoCorasick(f *testing.F) {
	f.Add([]byte("he\xffshe\xffhis\xffhers\xffushers"))
	f.Add([]byte("a\xffaa\xffaaa\xffaaaaaaa"))
	f.Add([]byte("abab\xffbab\xff\xffabababab"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parts := bytes.Split(data, []byte{0xff})
		if len(parts) > 40 {
			parts = parts[:40]
		}
		text := fold(parts[len(parts)-1])
		if len(text) > 512 {
			text = text[:512]
		}
		var pats [][]byte
		for _, p := range parts[:len(parts)-1] {
			if len(p) > 16 {
				p = p[:16]
			}
			pats = append(pats, fold(p))
		}
		got := New(pats).FindAll(text)
		if diff := cmp.Diff(naive(pats, text), got); diff != "" {
			t.Errorf("FindAll differs from naive matcher (-want +got):\n%s", diff)
		}
	})
}

func fold(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = 'a' + c%4
	}
	return out
}
