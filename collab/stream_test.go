package collab

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStreamerTrimsAndJoinsUTF8(t *testing.T) {
	euro := []byte("€") // three bytes
	tests := []struct {
		name   string
		feed   func(s *streamer)
		want   []string
		joined string
	}{
		{
			name: "text",
			feed: func(s *streamer) {
				for _, p := range []string{"\n ", " Hello", " ", "world", " \n", "\n"} {
					s.text(Piece{Text: p, W: 1})
				}
			},
			want:   []string{"Hello", " ", "world"},
			joined: "Hello world",
		},
		{
			name: "inner white space kept",
			feed: func(s *streamer) {
				for _, p := range []string{"a ", "\n\n", "b"} {
					s.text(Piece{Text: p})
				}
			},
			want:   []string{"a", " ", "\n\n", "b"},
			joined: "a \n\nb",
		},
		{
			name: "split character",
			feed: func(s *streamer) {
				s.bytes([]byte(" x"), 0.5, true)
				s.bytes(euro[:1], 0.2, true)
				s.bytes(euro[1:2], 0.3, true)
				s.bytes(euro[2:], 0.4, true)
				s.bytes([]byte("y "), 1, false)
			},
			want:   []string{"x", "€", "y"},
			joined: "x€y",
		},
		{
			name:   "only space",
			feed:   func(s *streamer) { s.text(Piece{Text: "  \n"}) },
			joined: "",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			s := newStreamer(func(p Piece) { got = append(got, p.Text) })
			tt.feed(s)
			s.flush()
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("pieces (-want +got):\n%s", diff)
			}
			if j := strings.Join(got, ""); j != tt.joined {
				t.Errorf("joined %q, want %q", j, tt.joined)
			}
		})
	}
}

func TestStreamerWeightOfSplitCharacter(t *testing.T) {
	var got []Piece
	s := newStreamer(func(p Piece) { got = append(got, p) })
	euro := []byte("€")
	s.bytes(euro[:2], 0.25, true)
	s.bytes(euro[2:], 0.75, false)
	s.flush()
	want := []Piece{{Text: "€", W: 0.25, Consulted: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
