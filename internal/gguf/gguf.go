package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"strconv"
	"strings"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// Magic is the four bytes every GGUF file starts with.
const Magic = "GGUF"

// DefaultAlignment is the data alignment used when a file has no
// general.alignment key.
const DefaultAlignment = 32

// MaxDims is the largest number of dimensions a tensor may have.
const MaxDims = 4

// MaxTensorNameLen is the longest tensor name llama.cpp accepts, in bytes.
const MaxTensorNameLen = 63

// maxKeyLen is the longest metadata key the GGUF specification allows.
const maxKeyLen = 1<<16 - 1

// maxDepth bounds the nesting of arrays of arrays.
const maxDepth = 16

// Minimum encoded sizes, used to bound counts by the bytes that remain.
const (
	minKVBytes     = 8 + 1 + 4 + 1     // key length, 1-byte key, type, 1-byte value
	minTensorBytes = 8 + 4 + 8 + 4 + 8 // name length, n_dims, one dim, type, offset
)

// FormatError reports a GGUF file that is truncated, corrupt or violates a
// rule that llama.cpp relies on. Err, when set, is the underlying I/O error.
type FormatError struct {
	// Path is the file's path, empty when read through [Read].
	Path string
	// Offset is the byte offset in the file where the problem was found.
	Offset int64
	// Field names what was being read, such as "version" or
	// `tensor 3 "blk.0.attn_q.weight" data`.
	Field string
	// Reason describes the problem.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

// Error returns a message of the form
// "gguf PATH: FIELD REASON".
func (e *FormatError) Error() string { return message(e.Path, e.Field, e.Reason) }

// message is the text of the package's errors: "gguf PATH: WHAT REASON",
// or "gguf: WHAT REASON" without a path.
func message(path, what, reason string) string {
	prefix := "gguf"
	if path != "" {
		prefix += " " + path
	}
	return prefix + ": " + what + " " + reason
}

// Unwrap returns the underlying I/O error, if any.
func (e *FormatError) Unwrap() error { return e.Err }

// KV is one metadata key-value pair.
type KV struct {
	Key   string
	Value Value
}

// Value is one decoded metadata value.
//
// Data holds a scalar as the Go type matching Type (uint8, int8, uint16,
// int16, uint32, int32, float32, bool, string, uint64, int64 or float64).
// For an array (Type == [TypeArray]) Elem is the element type and Data is a
// slice of that Go type, or []Value when the elements are arrays.
type Value struct {
	Type ValueType
	Elem ValueType
	Data any
}

// Tensor describes one tensor in the file's tensor table.
type Tensor struct {
	// Name is the tensor's name, such as "blk.0.attn_q.weight".
	Name string
	// Dims are the tensor's dimensions, innermost (row length) first, as
	// ggml orders them.
	Dims []int64
	// Type is the element type.
	Type GGMLType
	// Offset is the start of the tensor's data relative to [File.DataOffset].
	Offset int64
}

// Elements returns the number of elements in t. Tensors returned by [Read]
// never overflow.
func (t Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Bytes returns the size of t's data in bytes, or -1 if t's shape does not
// fit its type (never the case for tensors returned by [Read]).
func (t Tensor) Bytes() int64 {
	n, ok := t.Type.RowBytes(t.Elements())
	if !ok || len(t.Dims) == 0 || t.Dims[0]%t.Type.BlockSize() != 0 {
		return -1
	}
	return n
}

// File is the decoded header, metadata and tensor table of a GGUF file.
// It holds no tensor data. A File is safe for concurrent use.
type File struct {
	// Version is the GGUF version, 2 or 3.
	Version uint32
	// KV holds the metadata in file order.
	KV []KV
	// Tensors holds the tensor table in file order.
	Tensors []Tensor
	// DataOffset is the absolute offset of the tensor data section.
	DataOffset int64
	// Alignment is the data alignment in bytes.
	Alignment int64
	// Size is the file size in bytes.
	Size int64

	path  string // set by Open, for error messages
	index map[string]int
}

// Open reads and validates the GGUF file at path. It reads the header,
// metadata and tensor table but never the tensor data, and closes the file
// before returning. A missing file gives an error that matches
// fs.ErrNotExist; an invalid one gives a [*FormatError] naming path. Only a
// regular file (or a symbolic link to one) is read: a directory, named
// pipe, device or socket is refused before it is opened, so Open never
// blocks on a FIFO nor reads an endless device.
func Open(path string) (*File, error) {
	f, err := regfile.Open(path)
	if errors.Is(err, regfile.ErrNotRegular) {
		return nil, &FormatError{Path: path, Field: "file", Reason: strings.TrimPrefix(err.Error(), path+" ") + ", want a GGUF file", Err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open gguf: %w", err)
	}
	g, err := Read(f, st.Size())
	if fe, ok := errors.AsType[*FormatError](err); ok {
		fe.Path = path
	}
	if g != nil {
		g.path = path
	}
	return g, err
}

// Read decodes and validates a GGUF file of the given size from r. It
// reads only the header, metadata and tensor table, and its memory use is
// bounded by a small multiple of size. Errors are [*FormatError] values
// with an empty Path.
func Read(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, &FormatError{Field: "file", Reason: "has negative size " + strconv.FormatInt(size, 10)}
	}
	d := &decoder{
		br:   bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10),
		size: size,
	}
	return d.file()
}

// decoder reads a GGUF file sequentially while tracking the offset and
// the bytes that remain.
type decoder struct {
	br      *bufio.Reader
	off     int64
	size    int64
	scratch []byte
	kvOff   []int64 // start offset of each metadata pair
}

// problem is a failure found while decoding a value; the caller turns it
// into a [*FormatError] by adding the field.
type problem struct {
	off    int64
	where  string // element path inside a value, such as " element 3"
	reason string
	err    error
}

func (p *problem) Error() string { return p.where + " " + p.reason }

func (d *decoder) remaining() int64 { return d.size - d.off }

func (d *decoder) truncated(n int64) *problem {
	return &problem{off: d.off, reason: fmt.Sprintf("truncated: need %d bytes at offset %d, file size %d", n, d.off, d.size)}
}

// fail builds a FormatError for field from p.
func (d *decoder) fail(field string, err error) *FormatError {
	var p *problem
	if !errors.As(err, &p) {
		return &FormatError{Offset: d.off, Field: field, Reason: err.Error(), Err: err}
	}
	return &FormatError{Offset: p.off, Field: field + p.where, Reason: p.reason, Err: p.err}
}

// failf builds a FormatError for field at offset off.
func failf(off int64, field, format string, args ...any) *FormatError {
	return &FormatError{Offset: off, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// read returns the next n bytes. The slice is valid until the next call.
func (d *decoder) read(n int64) ([]byte, error) {
	if n > d.remaining() {
		return nil, d.truncated(n)
	}
	if int64(cap(d.scratch)) < n {
		d.scratch = make([]byte, n)
	}
	b := d.scratch[:n]
	m, err := io.ReadFull(d.br, b)
	d.off += int64(m)
	if err != nil {
		return nil, &problem{off: d.off, reason: "read error: " + err.Error(), err: err}
	}
	return b, nil
}

func (d *decoder) u32() (uint32, error) {
	b, err := d.read(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (d *decoder) u64() (uint64, error) {
	b, err := d.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a length-prefixed string of at most maxLen bytes.
func (d *decoder) str(maxLen uint64) (string, error) {
	start := d.off
	n, err := d.u64()
	if err != nil {
		return "", err
	}
	if n > uint64(d.remaining()) {
		return "", &problem{off: start, reason: fmt.Sprintf("string length %d exceeds the %d bytes left in the file", n, d.remaining())}
	}
	if n > maxLen {
		return "", &problem{off: start, reason: fmt.Sprintf("string length %d exceeds the limit of %d", n, maxLen)}
	}
	b, err := d.read(int64(n))
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (d *decoder) file() (*File, error) {
	b, err := d.read(4)
	if err != nil {
		return nil, d.fail("magic", err)
	}
	if string(b) != Magic {
		return nil, failf(0, "magic", "is %q, want %q", b, Magic)
	}
	version, err := d.u32()
	if err != nil {
		return nil, d.fail("version", err)
	}
	switch {
	case version == 2 || version == 3:
	case version&0xFFFF == 0 && version != 0:
		return nil, failf(4, "version", "is %d (a big-endian file?), want 2 or 3", version)
	default:
		return nil, failf(4, "version", "is %d, want 2 or 3", version)
	}
	nTensors, err := d.u64()
	if err != nil {
		return nil, d.fail("tensor count", err)
	}
	nKV, err := d.u64()
	if err != nil {
		return nil, d.fail("kv count", err)
	}
	rem := uint64(d.remaining())
	if nKV > rem/minKVBytes {
		return nil, failf(16, "kv count", "%d is too large for the %d bytes left in the file", nKV, rem)
	}
	if nTensors > rem/minTensorBytes || nKV*minKVBytes+nTensors*minTensorBytes > rem {
		return nil, failf(8, "tensor count", "%d is too large for the %d bytes left in the file", nTensors, rem)
	}

	f := &File{
		Version:   version,
		KV:        make([]KV, 0, nKV),
		Tensors:   make([]Tensor, 0, nTensors),
		Alignment: DefaultAlignment,
		Size:      d.size,
		index:     make(map[string]int, nKV),
	}
	for i := range nKV {
		if err := d.kv(f, i); err != nil {
			return nil, err
		}
	}
	if err := d.checkMeta(f); err != nil {
		return nil, err
	}
	names := make(map[string]int, nTensors)
	for i := range nTensors {
		if err := d.tensorInfo(f, names, i); err != nil {
			return nil, err
		}
	}
	f.DataOffset = alignUp(d.off, f.Alignment)
	if err := f.checkData(); err != nil {
		return nil, err
	}
	return f, nil
}

func (d *decoder) kv(f *File, i uint64) error {
	start := d.off
	field := "kv " + strconv.FormatUint(i, 10)
	key, err := d.str(maxKeyLen)
	if err != nil {
		return d.fail(field+" key", err)
	}
	if key == "" {
		return failf(start, field+" key", "is empty")
	}
	field += " " + strconv.Quote(key)
	if j, dup := f.index[key]; dup {
		return failf(start, field, "duplicates kv %d", j)
	}
	typeOff := d.off
	t, err := d.u32()
	if err != nil {
		return d.fail(field+" type", err)
	}
	v, err := d.value(ValueType(t), typeOff, 0)
	if err != nil {
		return d.fail(field, err)
	}
	f.index[key] = len(f.KV)
	f.KV = append(f.KV, KV{Key: key, Value: v})
	d.kvOff = append(d.kvOff, start)
	return nil
}

// value reads a value of type t whose type tag was at typeOff.
func (d *decoder) value(t ValueType, typeOff int64, depth int) (Value, error) {
	switch t {
	case TypeString:
		s, err := d.str(math.MaxUint64)
		return Value{Type: t, Data: s}, err
	case TypeArray:
		return d.array(typeOff, depth)
	}
	if !t.Known() {
		return Value{}, &problem{off: typeOff, reason: "has unknown value type " + strconv.FormatUint(uint64(t), 10)}
	}
	start := d.off
	b, err := d.read(t.size())
	if err != nil {
		return Value{}, err
	}
	data, bad := decodeScalars(t, b, 1)
	if bad >= 0 {
		return Value{}, &problem{off: start, reason: fmt.Sprintf("bool is %d, want 0 or 1", b[0])}
	}
	return Value{Type: t, Data: scalarAt(data, 0)}, nil
}

func (d *decoder) array(typeOff int64, depth int) (Value, error) {
	if depth >= maxDepth {
		return Value{}, &problem{off: typeOff, reason: fmt.Sprintf("arrays nested deeper than %d", maxDepth)}
	}
	elemOff := d.off
	et, err := d.u32()
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	if !elem.Known() {
		return Value{}, &problem{off: elemOff, reason: "has unknown array element type " + strconv.FormatUint(uint64(et), 10)}
	}
	countOff := d.off
	n, err := d.u64()
	if err != nil {
		return Value{}, err
	}
	rem := uint64(d.remaining())
	if n > rem/uint64(elem.minSize()) {
		return Value{}, &problem{off: countOff, reason: fmt.Sprintf("array length %d of %s exceeds the %d bytes left in the file", n, elem, rem)}
	}
	v := Value{Type: TypeArray, Elem: elem}
	switch elem {
	case TypeString:
		ss := make([]string, n)
		for j := range ss {
			if ss[j], err = d.str(math.MaxUint64); err != nil {
				return Value{}, elementProblem(err, j)
			}
		}
		v.Data = ss
	case TypeArray:
		vs := make([]Value, n)
		for j := range vs {
			tOff := d.off
			if vs[j], err = d.array(tOff, depth+1); err != nil {
				return Value{}, elementProblem(err, j)
			}
		}
		v.Data = vs
	default:
		start := d.off
		b, err := d.read(int64(n) * elem.size())
		if err != nil {
			return Value{}, err
		}
		data, bad := decodeScalars(elem, b, int(n))
		if bad >= 0 {
			return Value{}, elementProblem(&problem{off: start + int64(bad), reason: fmt.Sprintf("bool is %d, want 0 or 1", b[bad])}, bad)
		}
		v.Data = data
	}
	return v, nil
}

// elementProblem prefixes the element index to err's location.
func elementProblem(err error, j int) error {
	var p *problem
	if errors.As(err, &p) {
		p.where = " element " + strconv.Itoa(j) + p.where
		return p
	}
	return err
}

// decodeScalars decodes n little-endian scalars of type t from b into a
// slice of the matching Go type. For bools it also returns the index of the
// first byte that is neither 0 nor 1, or -1.
func decodeScalars(t ValueType, b []byte, n int) (any, int) {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return append([]uint8(nil), b[:n]...), -1
	case TypeInt8:
		s := make([]int8, n)
		for i := range s {
			s[i] = int8(b[i])
		}
		return s, -1
	case TypeBool:
		s := make([]bool, n)
		for i := range s {
			if b[i] > 1 {
				return nil, i
			}
			s[i] = b[i] == 1
		}
		return s, -1
	case TypeUint16:
		s := make([]uint16, n)
		for i := range s {
			s[i] = le.Uint16(b[2*i:])
		}
		return s, -1
	case TypeInt16:
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(le.Uint16(b[2*i:]))
		}
		return s, -1
	case TypeUint32:
		s := make([]uint32, n)
		for i := range s {
			s[i] = le.Uint32(b[4*i:])
		}
		return s, -1
	case TypeInt32:
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(le.Uint32(b[4*i:]))
		}
		return s, -1
	case TypeFloat32:
		s := make([]float32, n)
		for i := range s {
			s[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
		return s, -1
	case TypeUint64:
		s := make([]uint64, n)
		for i := range s {
			s[i] = le.Uint64(b[8*i:])
		}
		return s, -1
	case TypeInt64:
		s := make([]int64, n)
		for i := range s {
			s[i] = int64(le.Uint64(b[8*i:]))
		}
		return s, -1
	case TypeFloat64:
		s := make([]float64, n)
		for i := range s {
			s[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
		return s, -1
	}
	panic("gguf: decodeScalars called with non-scalar type " + t.String())
}

// scalarAt returns element i of a slice made by decodeScalars.
func scalarAt(s any, i int) any {
	switch s := s.(type) {
	case []uint8:
		return s[i]
	case []int8:
		return s[i]
	case []bool:
		return s[i]
	case []uint16:
		return s[i]
	case []int16:
		return s[i]
	case []uint32:
		return s[i]
	case []int32:
		return s[i]
	case []float32:
		return s[i]
	case []uint64:
		return s[i]
	case []int64:
		return s[i]
	case []float64:
		return s[i]
	}
	panic(fmt.Sprintf("gguf: scalarAt called with %T", s))
}

func (d *decoder) tensorInfo(f *File, names map[string]int, i uint64) error {
	start := d.off
	field := "tensor " + strconv.FormatUint(i, 10)
	name, err := d.str(uint64(d.remaining()))
	if err != nil {
		return d.fail(field+" name", err)
	}
	switch {
	case name == "":
		return failf(start, field+" name", "is empty")
	case len(name) > MaxTensorNameLen:
		return failf(start, field+" name", "is %d bytes long, limit %d", len(name), MaxTensorNameLen)
	}
	field += " " + strconv.Quote(name)
	if j, dup := names[name]; dup {
		return failf(start, field, "duplicates tensor %d", j)
	}
	names[name] = int(i)

	dimsOff := d.off
	nDims, err := d.u32()
	if err != nil {
		return d.fail(field+" n_dims", err)
	}
	if nDims < 1 || nDims > MaxDims {
		return failf(dimsOff, field+" n_dims", "is %d, want 1 to %d", nDims, MaxDims)
	}
	t := Tensor{Name: name, Dims: make([]int64, nDims)}
	elements := uint64(1)
	for j := range t.Dims {
		off := d.off
		dim, err := d.u64()
		if err != nil {
			return d.fail(field+" dims", err)
		}
		if dim == 0 || dim > math.MaxInt64 {
			return failf(off, field+" dims", "dimension %d is %d, want 1 to %d", j, dim, int64(math.MaxInt64))
		}
		hi, lo := bits.Mul64(elements, dim)
		if hi != 0 || lo > math.MaxInt64 {
			return failf(off, field+" dims", "element count of shape %v overflows int64", d.dimsSoFar(t.Dims[:j], dim))
		}
		elements = lo
		t.Dims[j] = int64(dim)
	}
	typeOff := d.off
	typ, err := d.u32()
	if err != nil {
		return d.fail(field+" type", err)
	}
	t.Type = GGMLType(typ)
	if !t.Type.Known() {
		return failf(typeOff, field+" type", "is unknown ggml type %d", typ)
	}
	if bs := t.Type.BlockSize(); t.Dims[0]%bs != 0 {
		return failf(typeOff, field+" type", "%s needs rows that are a multiple of %d elements, row has %d", t.Type, bs, t.Dims[0])
	}
	if _, ok := t.Type.RowBytes(t.Elements()); !ok {
		return failf(typeOff, field+" type", "%s byte size of %d elements overflows int64", t.Type, t.Elements())
	}
	offOff := d.off
	off, err := d.u64()
	if err != nil {
		return d.fail(field+" offset", err)
	}
	if off > math.MaxInt64 {
		return failf(offOff, field+" offset", "%d overflows int64", off)
	}
	t.Offset = int64(off)
	f.Tensors = append(f.Tensors, t)
	return nil
}

// dimsSoFar formats the dimensions read so far, for an overflow message.
func (d *decoder) dimsSoFar(dims []int64, next uint64) []uint64 {
	out := make([]uint64, 0, len(dims)+1)
	for _, v := range dims {
		out = append(out, uint64(v))
	}
	return append(out, next)
}

// checkMeta validates the metadata that llama.cpp reads without checks.
func (d *decoder) checkMeta(f *File) error {
	kvErr := func(i int, format string, args ...any) error {
		return failf(d.kvOff[i], fmt.Sprintf("kv %d %q", i, f.KV[i].Key), format, args...)
	}
	if i, ok := f.index["general.alignment"]; ok {
		v := f.KV[i].Value
		a, isU32 := v.Data.(uint32)
		switch {
		case !isU32:
			return kvErr(i, "has type %s, want uint32", v.typeName())
		case a == 0 || a&(a-1) != 0:
			return kvErr(i, "is %d, want a power of two", a)
		}
		f.Alignment = int64(a)
	}
	if i, ok := f.index["general.architecture"]; ok {
		if _, isStr := f.KV[i].Value.Data.(string); !isStr {
			return kvErr(i, "has type %s, want string", f.KV[i].Value.typeName())
		}
	}
	ti, hasTokens := f.index[keyTokens]
	if !hasTokens {
		return nil
	}
	tokens, isStrs := f.KV[ti].Value.Data.([]string)
	if !isStrs {
		return kvErr(ti, "has type %s, want array of string", f.KV[ti].Value.typeName())
	}
	for _, c := range []struct {
		key  string
		elem ValueType
	}{
		{keyScores, TypeFloat32},
		{keyTokenTypes, TypeInt32},
	} {
		i, ok := f.index[c.key]
		if !ok {
			continue
		}
		v := f.KV[i].Value
		if v.Type != TypeArray || v.Elem != c.elem {
			return kvErr(i, "has type %s, want array of %s", v.typeName(), c.elem)
		}
		if v.Len() != len(tokens) {
			return kvErr(i, "has %d entries for %d tokens", v.Len(), len(tokens))
		}
	}
	if i, ok := f.index[keyMerges]; ok {
		if _, isStrs := f.KV[i].Value.Data.([]string); !isStrs {
			return kvErr(i, "has type %s, want array of string", f.KV[i].Value.typeName())
		}
	}
	return nil
}

// checkData validates the placement of every tensor's data.
func (f *File) checkData() error {
	var next int64 // where the next tensor's data must start
	for i, t := range f.Tensors {
		field := fmt.Sprintf("tensor %d %q data", i, t.Name)
		if t.Offset%f.Alignment != 0 {
			return failf(f.DataOffset, field, "offset %d is not a multiple of the alignment %d", t.Offset, f.Alignment)
		}
		if t.Offset != next {
			return failf(f.DataOffset, field, "offset %d, want %d (data must be packed in table order)", t.Offset, next)
		}
		n := t.Bytes()
		start := f.DataOffset + t.Offset
		if start > f.Size || n > f.Size-start {
			return failf(start, field, "[%d,%d) past end of file (size %d)", start, uint64(start)+uint64(n), f.Size)
		}
		next = t.Offset + alignUp(n, f.Alignment)
	}
	return nil
}

// alignUp rounds n up to a multiple of a, a power of two.
func alignUp(n, a int64) int64 { return (n + a - 1) &^ (a - 1) }
