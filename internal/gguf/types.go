package gguf

import (
	"math/bits"
	"strconv"
)

// ValueType is the type tag of a metadata value, as stored in the file.
type ValueType uint32

// The metadata value types of GGUF.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	TypeUint8:   "uint8",
	TypeInt8:    "int8",
	TypeUint16:  "uint16",
	TypeInt16:   "int16",
	TypeUint32:  "uint32",
	TypeInt32:   "int32",
	TypeFloat32: "float32",
	TypeBool:    "bool",
	TypeString:  "string",
	TypeArray:   "array",
	TypeUint64:  "uint64",
	TypeInt64:   "int64",
	TypeFloat64: "float64",
}

// String returns the type's name, such as "uint32", or "ValueType(N)" for
// an unknown tag.
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return "ValueType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// Known reports whether t is one of the GGUF value types.
func (t ValueType) Known() bool { return t <= TypeFloat64 }

// size returns the encoded size of a scalar of type t, or 0 for strings,
// arrays and unknown types.
func (t ValueType) size() int64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize returns the fewest bytes a value of type t occupies in a file:
// a string needs its 8-byte length and an array its 4-byte element type
// and 8-byte count.
func (t ValueType) minSize() int64 {
	switch t {
	case TypeString:
		return 8
	case TypeArray:
		return 12
	}
	return t.size()
}

// GGMLType is the ggml element type of a tensor.
type GGMLType uint32

// The ggml tensor types that may appear in a GGUF file. Gaps in the
// numbering are types that ggml has removed.
const (
	TypeF32     GGMLType = 0
	TypeF16     GGMLType = 1
	TypeQ4_0    GGMLType = 2
	TypeQ4_1    GGMLType = 3
	TypeQ5_0    GGMLType = 6
	TypeQ5_1    GGMLType = 7
	TypeQ8_0    GGMLType = 8
	TypeQ8_1    GGMLType = 9
	TypeQ2_K    GGMLType = 10
	TypeQ3_K    GGMLType = 11
	TypeQ4_K    GGMLType = 12
	TypeQ5_K    GGMLType = 13
	TypeQ6_K    GGMLType = 14
	TypeQ8_K    GGMLType = 15
	TypeIQ2_XXS GGMLType = 16
	TypeIQ2_XS  GGMLType = 17
	TypeIQ3_XXS GGMLType = 18
	TypeIQ1_S   GGMLType = 19
	TypeIQ4_NL  GGMLType = 20
	TypeIQ3_S   GGMLType = 21
	TypeIQ2_S   GGMLType = 22
	TypeIQ4_XS  GGMLType = 23
	TypeI8      GGMLType = 24
	TypeI16     GGMLType = 25
	TypeI32     GGMLType = 26
	TypeI64     GGMLType = 27
	TypeF64     GGMLType = 28
	TypeIQ1_M   GGMLType = 29
	TypeBF16    GGMLType = 30
	TypeTQ1_0   GGMLType = 34
	TypeTQ2_0   GGMLType = 35
	TypeMXFP4   GGMLType = 39
)

// ggmlTraits describes the storage of one ggml type: elements per block
// and bytes per block. A zero blockSize marks an unknown or removed type.
type ggmlTraits struct {
	name       string
	blockSize  int64
	blockBytes int64
}

// qkK is the super-block size of the k-quant and i-quant types.
const qkK = 256

var ggmlTypes = [...]ggmlTraits{
	TypeF32:     {"F32", 1, 4},
	TypeF16:     {"F16", 1, 2},
	TypeQ4_0:    {"Q4_0", 32, 18},
	TypeQ4_1:    {"Q4_1", 32, 20},
	TypeQ5_0:    {"Q5_0", 32, 22},
	TypeQ5_1:    {"Q5_1", 32, 24},
	TypeQ8_0:    {"Q8_0", 32, 34},
	TypeQ8_1:    {"Q8_1", 32, 36},
	TypeQ2_K:    {"Q2_K", qkK, 84},
	TypeQ3_K:    {"Q3_K", qkK, 110},
	TypeQ4_K:    {"Q4_K", qkK, 144},
	TypeQ5_K:    {"Q5_K", qkK, 176},
	TypeQ6_K:    {"Q6_K", qkK, 210},
	TypeQ8_K:    {"Q8_K", qkK, 292},
	TypeIQ2_XXS: {"IQ2_XXS", qkK, 66},
	TypeIQ2_XS:  {"IQ2_XS", qkK, 74},
	TypeIQ3_XXS: {"IQ3_XXS", qkK, 98},
	TypeIQ1_S:   {"IQ1_S", qkK, 50},
	TypeIQ4_NL:  {"IQ4_NL", 32, 18},
	TypeIQ3_S:   {"IQ3_S", qkK, 110},
	TypeIQ2_S:   {"IQ2_S", qkK, 82},
	TypeIQ4_XS:  {"IQ4_XS", qkK, 136},
	TypeI8:      {"I8", 1, 1},
	TypeI16:     {"I16", 1, 2},
	TypeI32:     {"I32", 1, 4},
	TypeI64:     {"I64", 1, 8},
	TypeF64:     {"F64", 1, 8},
	TypeIQ1_M:   {"IQ1_M", qkK, 56},
	TypeBF16:    {"BF16", 1, 2},
	TypeTQ1_0:   {"TQ1_0", qkK, 54},
	TypeTQ2_0:   {"TQ2_0", qkK, 66},
	TypeMXFP4:   {"MXFP4", 32, 17},
}

func (t GGMLType) traits() ggmlTraits {
	if int(t) < len(ggmlTypes) {
		return ggmlTypes[t]
	}
	return ggmlTraits{}
}

// Known reports whether t is a ggml type that GGUF files may contain.
func (t GGMLType) Known() bool { return t.traits().blockSize != 0 }

// String returns the type's conventional upper-case name, such as "Q8_0",
// or "GGMLType(N)" for an unknown type.
func (t GGMLType) String() string {
	if tr := t.traits(); tr.blockSize != 0 {
		return tr.name
	}
	return "GGMLType(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// BlockSize returns the number of elements in one block of t, or 0 if t is
// unknown.
func (t GGMLType) BlockSize() int64 { return t.traits().blockSize }

// BlockBytes returns the number of bytes in one block of t, or 0 if t is
// unknown.
func (t GGMLType) BlockBytes() int64 { return t.traits().blockBytes }

// RowBytes returns the number of bytes that n consecutive elements of type
// t occupy. It reports false if t is unknown, n is negative or not a
// multiple of the block size, or the result overflows int64.
func (t GGMLType) RowBytes(n int64) (int64, bool) {
	tr := t.traits()
	if tr.blockSize == 0 || n < 0 || n%tr.blockSize != 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(n/tr.blockSize), uint64(tr.blockBytes))
	if hi != 0 || lo > 1<<63-1 {
		return 0, false
	}
	return int64(lo), true
}

// fileTypeNames maps general.file_type values (llama.cpp's llama_ftype) to
// the names that llama.cpp's quantize tool uses.
var fileTypeNames = map[uint64]string{
	0:  "F32",
	1:  "F16",
	2:  "Q4_0",
	3:  "Q4_1",
	7:  "Q8_0",
	8:  "Q5_0",
	9:  "Q5_1",
	10: "Q2_K",
	11: "Q3_K_S",
	12: "Q3_K_M",
	13: "Q3_K_L",
	14: "Q4_K_S",
	15: "Q4_K_M",
	16: "Q5_K_S",
	17: "Q5_K_M",
	18: "Q6_K",
	19: "IQ2_XXS",
	20: "IQ2_XS",
	21: "Q2_K_S",
	22: "IQ3_XS",
	23: "IQ3_XXS",
	24: "IQ1_S",
	25: "IQ4_NL",
	26: "IQ3_S",
	27: "IQ3_M",
	28: "IQ2_S",
	29: "IQ2_M",
	30: "IQ4_XS",
	31: "IQ1_M",
	32: "BF16",
	36: "TQ1_0",
	37: "TQ2_0",
	38: "MXFP4_MOE",
}
