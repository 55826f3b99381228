package openaiapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxEventBytes bounds the size of one server-sent event, so that a
// misbehaving server cannot make the decoder buffer without limit.
const maxEventBytes = 16 << 20

// errEventTooLarge is returned for an event over maxEventBytes.
var errEventTooLarge = errors.New("sse event too large")

// sseEvent is one dispatched server-sent event.
type sseEvent struct {
	// Event is the "event:" field; empty means "message".
	Event string
	// Data is the "data:" lines joined by newlines.
	Data string
}

// sseDecoder reads server-sent events (the WHATWG event-stream format) from
// a response body. It handles LF, CRLF and CR line ends, comments, fields
// without a value, multi-line data and a leading byte-order mark.
type sseDecoder struct {
	r       *bufio.Reader
	started bool
	// pending holds the lines already split off the last read that have
	// not been consumed (a read may hold several lines separated by CR).
	pending [][]byte
	// partial reports that the last pending line ended at EOF without a
	// line terminator.
	partial bool
	eof     bool
}

func newSSEDecoder(r io.Reader) *sseDecoder {
	return &sseDecoder{r: bufio.NewReaderSize(r, 64<<10)}
}

// line returns the next line without its terminator. complete is false for
// a last line cut off by EOF. At the end of input it returns io.EOF.
func (d *sseDecoder) line() (line []byte, complete bool, err error) {
	for len(d.pending) == 0 {
		if d.eof {
			return nil, false, io.EOF
		}
		raw, err := d.readRaw()
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		if errors.Is(err, io.EOF) {
			d.eof = true
		}
		if len(raw) == 0 {
			continue
		}
		// raw ends with "\n" unless cut by EOF. Split off every line it
		// holds; a bare CR also ends a line.
		terminated := raw[len(raw)-1] == '\n'
		if terminated {
			raw = raw[:len(raw)-1]
			raw = bytes.TrimSuffix(raw, []byte("\r"))
		}
		parts := bytes.Split(raw, []byte("\r"))
		if !terminated && len(parts) > 1 && len(parts[len(parts)-1]) == 0 {
			// "...\r" at EOF: the CR terminated the last line.
			parts = parts[:len(parts)-1]
			terminated = true
		}
		d.pending = parts
		d.partial = !terminated
	}
	line = d.pending[0]
	d.pending = d.pending[1:]
	complete = len(d.pending) > 0 || !d.partial
	if !d.started {
		d.started = true
		line = bytes.TrimPrefix(line, []byte("\xEF\xBB\xBF"))
	}
	return line, complete, nil
}

// readRaw reads up to and including the next "\n", refusing lines longer
// than maxEventBytes.
func (d *sseDecoder) readRaw() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxEventBytes {
			return nil, errEventTooLarge
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return buf, err
	}
}

// Next returns the next event. At a clean end of input it returns io.EOF;
// when the input ends in the middle of an event it returns an error
// matching io.ErrUnexpectedEOF.
func (d *sseDecoder) Next() (sseEvent, error) {
	var (
		ev      sseEvent
		data    bytes.Buffer
		hasData bool
		inEvent bool // a field line has been read since the last dispatch
	)
	for {
		line, complete, err := d.line()
		if errors.Is(err, io.EOF) {
			if inEvent {
				return sseEvent{}, fmt.Errorf("sse stream cut mid-event: %w", io.ErrUnexpectedEOF)
			}
			return sseEvent{}, io.EOF
		}
		if err != nil {
			return sseEvent{}, err
		}
		if !complete {
			if !inEvent && len(line) > 0 && line[0] == ':' {
				return sseEvent{}, io.EOF // a comment cut by EOF loses nothing
			}
			return sseEvent{}, fmt.Errorf("sse stream cut mid-line: %w", io.ErrUnexpectedEOF)
		}
		if len(line) == 0 {
			if hasData {
				ev.Data = string(bytes.TrimSuffix(data.Bytes(), []byte("\n")))
				return ev, nil
			}
			// An event without data is not dispatched.
			ev, inEvent = sseEvent{}, false
			continue
		}
		if line[0] == ':' {
			continue // comment
		}
		inEvent = true
		name, value, found := bytes.Cut(line, []byte(":"))
		if found {
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(name) {
		case "data":
			if data.Len()+len(value) > maxEventBytes {
				return sseEvent{}, errEventTooLarge
			}
			data.Write(value)
			data.WriteByte('\n')
			hasData = true
		case "event":
			ev.Event = string(value)
		}
		// "id", "retry" and unknown fields are ignored.
	}
}
