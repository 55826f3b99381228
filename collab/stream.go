package collab

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Piece is a piece of a run's final text, handed to [Options.OnToken] as
// the run produces it. The pieces of a run, joined, are exactly
// [Result.Text]: leading white space is dropped and trailing white space
// is held back until more text follows it.
//
// A Piece holds generated text, which can carry private context: it stays
// on the device.
type Piece struct {
	Text string
	// W is the small model's weight in the distribution the piece was
	// drawn from, as in [Step.W]: 1 for text the local model wrote alone
	// (slm, sketch, sketch-full, and logit-fusion steps that did not
	// consult the cloud), 0 for the cloud's text (llm, llm-context), the
	// fusion weight otherwise.
	W float64
	// Consulted reports whether the cloud contributed to the piece.
	Consulted bool
}

// streamer turns generated text into [Piece]s for a callback: it joins
// token bytes into whole UTF-8 characters and trims the text as Result.Text
// is trimmed. A nil streamer does nothing.
type streamer struct {
	fn      func(Piece)
	started bool    // some non-space text was emitted
	held    []Piece // trailing white space, emitted when text follows
	pending []byte  // an incomplete UTF-8 sequence from token bytes
	pw      Piece   // the weight and flag of the pending bytes
}

func newStreamer(fn func(Piece)) *streamer {
	if fn == nil {
		return nil
	}
	return &streamer{fn: fn}
}

// text emits a piece of visible text.
func (s *streamer) text(p Piece) {
	if s == nil || p.Text == "" {
		return
	}
	if !s.started {
		p.Text = strings.TrimLeftFunc(p.Text, isSpace)
		if p.Text == "" {
			return
		}
	}
	body := strings.TrimRightFunc(p.Text, isSpace)
	if body == "" {
		s.held = append(s.held, p)
		return
	}
	for _, h := range s.held {
		s.fn(h)
	}
	s.held = s.held[:0]
	s.started = true
	tail := p.Text[len(body):]
	p.Text = body
	s.fn(p)
	if tail != "" {
		s.held = append(s.held, Piece{Text: tail, W: p.W, Consulted: p.Consulted})
	}
}

// bytes emits the text of a token given as raw bytes, which may end
// inside a UTF-8 sequence; the incomplete end waits for the next token.
func (s *streamer) bytes(b []byte, w float64, consulted bool) {
	if s == nil {
		return
	}
	if len(s.pending) == 0 {
		s.pw = Piece{W: w, Consulted: consulted}
	}
	s.pending = append(s.pending, b...)
	n := validPrefix(s.pending)
	if n == 0 {
		return
	}
	p := s.pw
	p.Text = string(s.pending[:n])
	s.pending = append(s.pending[:0], s.pending[n:]...)
	s.pw = Piece{W: w, Consulted: consulted}
	s.text(p)
}

// flush ends the stream: pending bytes are emitted as they are, held white
// space is dropped.
func (s *streamer) flush() {
	if s == nil {
		return
	}
	if len(s.pending) > 0 {
		p := s.pw
		p.Text = string(s.pending)
		s.pending = nil
		s.text(p)
	}
	s.held = nil
}

// validPrefix returns the length of the longest prefix of b that does not
// end inside a UTF-8 sequence that more bytes could still complete.
func validPrefix(b []byte) int {
	n := len(b)
	// Look back at most utf8.UTFMax-1 bytes for the start of a sequence.
	for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
		if !utf8.RuneStart(b[i]) {
			continue
		}
		if utf8.FullRune(b[i:]) {
			return n
		}
		return i
	}
	return n
}

// isSpace is the white space strings.TrimSpace trims.
func isSpace(r rune) bool { return unicode.IsSpace(r) }
