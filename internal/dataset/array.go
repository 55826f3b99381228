package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// recordingReader keeps the bytes read through it since the last trim, so
// that broken JSON can be located exactly: encoding/json's stream decoder
// reports syntax-error offsets that leave out skipped whitespace and
// commas.
type recordingReader struct {
	r    io.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
	n    int64 // bytes read in all
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	rr.buf = append(rr.buf, p[:n]...)
	rr.n += int64(n)
	return n, err
}

// trim forgets the bytes before stream offset off.
func (rr *recordingReader) trim(off int64) {
	if d := off - rr.base; d > 0 && d <= int64(len(rr.buf)) {
		rr.buf = append(rr.buf[:0], rr.buf[d:]...)
		rr.base = off
	}
}

// from returns the kept bytes from stream offset off on.
func (rr *recordingReader) from(off int64) []byte {
	if d := off - rr.base; d >= 0 && d <= int64(len(rr.buf)) {
		return rr.buf[d:]
	}
	return nil
}

// arrayReader reads the elements of a JSON array one at a time and
// reports broken JSON as [Problem]s with exact byte offsets.
type arrayReader struct {
	name  string
	rr    *recordingReader
	dec   *json.Decoder
	index int // of the next element
}

func newArrayReader(r io.Reader, name string) *arrayReader {
	rr := &recordingReader{r: r}
	return &arrayReader{name: name, rr: rr, dec: json.NewDecoder(rr)}
}

// open reads the opening bracket.
func (a *arrayReader) open(what string) *Problem {
	tok, err := a.dec.Token()
	if err != nil {
		p := a.broken(-1, 0, err)
		return &p
	}
	if tok != json.Delim('[') {
		p := fileProblem(a.name, "want a JSON array of "+what)
		p.Offset = 0
		return &p
	}
	return nil
}

// more reports whether another element follows.
func (a *arrayReader) more() bool { return a.dec.More() }

// next reads the next element and the offset where it starts (at or just
// before: the separating comma and whitespace are included).
func (a *arrayReader) next() (json.RawMessage, int64, *Problem) {
	off := a.dec.InputOffset()
	a.rr.trim(off)
	var raw json.RawMessage
	if err := a.dec.Decode(&raw); err != nil {
		p := a.broken(a.index, off, err)
		return nil, off, &p
	}
	a.index++
	return raw, off, nil
}

// close reads the closing bracket and checks that nothing follows it.
func (a *arrayReader) close() *Problem {
	off := a.dec.InputOffset()
	a.rr.trim(off)
	if _, err := a.dec.Token(); err != nil {
		p := a.broken(-1, off, err)
		return &p
	}
	end := a.dec.InputOffset()
	if _, err := a.dec.Token(); err != io.EOF {
		p := fileProblem(a.name, fmt.Sprintf("trailing data after the array, which ends at byte %d", end))
		p.Offset = end
		return &p
	}
	return nil
}

// broken describes a decoding error met at element index (-1: outside any
// element) while reading from stream offset start. The JSON error's own
// text is never used: it can quote a character of the file.
func (a *arrayReader) broken(index int, start int64, err error) Problem {
	p := Problem{Path: a.name, Index: index}
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF) && a.rr.n == 0:
		p.Offset = 0
		p.Reason = "empty file"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		p.Offset = a.rr.n
		p.Reason = fmt.Sprintf("truncated JSON at byte %d", p.Offset)
		if index < 0 {
			p.Reason += ": the array is not closed"
		}
	case errors.As(err, &syn):
		p.Offset = start + badByte(a.rr.from(start), index > 0)
		p.Reason = fmt.Sprintf("invalid JSON at byte %d", p.Offset)
	default:
		p.Offset = a.rr.n
		p.Reason = fmt.Sprintf("read at byte %d: %v", p.Offset, pathErrorText(err))
	}
	return p
}

// badByte returns the index in data of the first byte that breaks the
// JSON value at its start (after whitespace, and after a comma when
// comma is true). data holds at least the broken value.
func badByte(data []byte, comma bool) int64 {
	i := skipSpace(data, 0)
	if comma {
		if i >= len(data) || data[i] != ',' {
			return int64(i)
		}
		i = skipSpace(data, i+1)
	}
	var v json.RawMessage
	if syn, ok := errors.AsType[*json.SyntaxError](json.Unmarshal(data[i:], &v)); ok && syn.Offset > 0 {
		return int64(i) + syn.Offset - 1 // Offset counts the bad byte
	}
	return int64(i)
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}
