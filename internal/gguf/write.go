package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer writes a GGUF v3 file: the header with metadata and tensor table
// first ([WriteHeader]), then each tensor's data in table order
// ([Writer.WriteTensor]), padded to the alignment. It streams: nothing
// but one tensor's bytes is held at a time.
type Writer struct {
	w       *bufio.Writer
	tensors []Tensor
	align   int64
	next    int // index of the next tensor to write
	written int64
}

// WriteHeader writes the header of a file with the given metadata and
// tensors (whose Offset fields it fills in) and returns a Writer for the
// tensor data. alignment 0 means 32; a different one is also written as
// general.alignment.
func WriteHeader(w io.Writer, kv []KV, tensors []Tensor, alignment int64) (*Writer, error) {
	if alignment <= 0 {
		alignment = 32
	}
	if alignment != 32 {
		kv = append(kv, KV{Key: "general.alignment", Value: Value{Type: TypeUint32, Data: uint32(alignment)}})
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	e := &encoder{w: bw}
	e.bytes([]byte("GGUF"))
	e.u32(3)
	e.u64(uint64(len(tensors)))
	e.u64(uint64(len(kv)))
	for _, p := range kv {
		e.str(p.Key)
		e.value(p.Value, true)
	}
	var off int64
	for i := range tensors {
		t := &tensors[i]
		n := t.Bytes()
		if n < 0 {
			return nil, fmt.Errorf("gguf write: tensor %q: shape %v does not fit type %s", t.Name, t.Dims, t.Type)
		}
		t.Offset = off
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(uint64(d))
		}
		e.u32(uint32(t.Type))
		e.u64(uint64(off))
		off += pad(n, alignment)
	}
	if e.err != nil {
		return nil, fmt.Errorf("gguf write header: %w", e.err)
	}
	e.zeros(pad(e.n, alignment) - e.n)
	if e.err != nil {
		return nil, fmt.Errorf("gguf write header: %w", e.err)
	}
	return &Writer{w: bw, tensors: tensors, align: alignment}, nil
}

func pad(n, align int64) int64 { return (n + align - 1) / align * align }

// WriteTensor writes the data of the next tensor in table order; data must
// be exactly that tensor's byte size.
func (w *Writer) WriteTensor(data []byte) error {
	if w.next >= len(w.tensors) {
		return fmt.Errorf("gguf write: all %d tensors already written", len(w.tensors))
	}
	t := w.tensors[w.next]
	if int64(len(data)) != t.Bytes() {
		return fmt.Errorf("gguf write: tensor %q: %d bytes, want %d", t.Name, len(data), t.Bytes())
	}
	if _, err := w.w.Write(data); err != nil {
		return fmt.Errorf("gguf write tensor %q: %w", t.Name, err)
	}
	if n := pad(int64(len(data)), w.align) - int64(len(data)); n > 0 {
		if _, err := w.w.Write(make([]byte, n)); err != nil {
			return fmt.Errorf("gguf write tensor %q: %w", t.Name, err)
		}
	}
	w.next++
	return nil
}

// Close flushes the file; it fails if tensors are missing. It does not
// close the underlying writer.
func (w *Writer) Close() error {
	if w.next != len(w.tensors) {
		return fmt.Errorf("gguf write: %d of %d tensors written", w.next, len(w.tensors))
	}
	return w.w.Flush()
}

type encoder struct {
	w   io.Writer
	n   int64
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err != nil {
		return
	}
	var n int
	n, e.err = e.w.Write(b)
	e.n += int64(n)
}

func (e *encoder) zeros(n int64) { e.bytes(make([]byte, n)) }
func (e *encoder) u8(v uint8)    { e.bytes([]byte{v}) }
func (e *encoder) u16(v uint16)  { binary.LittleEndian.PutUint16(e.buf[:2], v); e.bytes(e.buf[:2]) }
func (e *encoder) u32(v uint32)  { binary.LittleEndian.PutUint32(e.buf[:4], v); e.bytes(e.buf[:4]) }
func (e *encoder) u64(v uint64)  { binary.LittleEndian.PutUint64(e.buf[:8], v); e.bytes(e.buf[:8]) }
func (e *encoder) str(s string)  { e.u64(uint64(len(s))); e.bytes([]byte(s)) }

// value encodes v; withType writes its type tag first (array elements
// carry none).
func (e *encoder) value(v Value, withType bool) {
	if withType {
		e.u32(uint32(v.Type))
	}
	switch v.Type {
	case TypeArray:
		e.u32(uint32(v.Elem))
		switch d := v.Data.(type) {
		case []Value:
			e.u64(uint64(len(d)))
			for _, x := range d {
				e.value(x, false)
			}
		default:
			e.array(v.Elem, d)
		}
	default:
		e.scalar(v.Type, v.Data)
	}
}

func (e *encoder) array(elem ValueType, data any) {
	switch d := data.(type) {
	case []uint8:
		e.u64(uint64(len(d)))
		e.bytes(d)
	case []int8:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u8(uint8(x))
		}
	case []uint16:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u16(x)
		}
	case []int16:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u16(uint16(x))
		}
	case []uint32:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u32(x)
		}
	case []int32:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u32(uint32(x))
		}
	case []float32:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u32(math.Float32bits(x))
		}
	case []bool:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.scalar(TypeBool, x)
		}
	case []string:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.str(x)
		}
	case []uint64:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u64(x)
		}
	case []int64:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u64(uint64(x))
		}
	case []float64:
		e.u64(uint64(len(d)))
		for _, x := range d {
			e.u64(math.Float64bits(x))
		}
	default:
		if e.err == nil {
			e.err = fmt.Errorf("array of %s: unsupported Go type %T", elem, data)
		}
	}
}

func (e *encoder) scalar(t ValueType, data any) {
	switch d := data.(type) {
	case uint8:
		e.u8(d)
	case int8:
		e.u8(uint8(d))
	case uint16:
		e.u16(d)
	case int16:
		e.u16(uint16(d))
	case uint32:
		e.u32(d)
	case int32:
		e.u32(uint32(d))
	case float32:
		e.u32(math.Float32bits(d))
	case bool:
		if d {
			e.u8(1)
		} else {
			e.u8(0)
		}
	case string:
		e.str(d)
	case uint64:
		e.u64(d)
	case int64:
		e.u64(uint64(d))
	case float64:
		e.u64(math.Float64bits(d))
	default:
		if e.err == nil {
			e.err = fmt.Errorf("value of %s: unsupported Go type %T", t, data)
		}
	}
}
