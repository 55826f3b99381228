package gguf

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"
)

// enc is a test-only GGUF encoder. It writes exactly what it is told, so
// tests can also build corrupt files.
type enc struct{ b []byte }

func (e *enc) raw(p ...byte) *enc { e.b = append(e.b, p...); return e }
func (e *enc) u32(v uint32) *enc  { e.b = binary.LittleEndian.AppendUint32(e.b, v); return e }
func (e *enc) u64(v uint64) *enc  { e.b = binary.LittleEndian.AppendUint64(e.b, v); return e }
func (e *enc) str(s string) *enc  { return e.u64(uint64(len(s))).raw([]byte(s)...) }

// header writes the magic, version and counts.
func (e *enc) header(version uint32, nTensors, nKV uint64) *enc {
	return e.raw([]byte(Magic)...).u32(version).u64(nTensors).u64(nKV)
}

// kv writes one key-value pair.
func (e *enc) kv(t testing.TB, key string, v Value) *enc {
	e.str(key).u32(uint32(v.Type))
	return e.value(t, v)
}

// value writes v's payload (without its type tag).
func (e *enc) value(t testing.TB, v Value) *enc {
	t.Helper()
	if v.Type == TypeArray {
		e.u32(uint32(v.Elem))
		switch s := v.Data.(type) {
		case []string:
			e.u64(uint64(len(s)))
			for _, x := range s {
				e.str(x)
			}
		case []Value:
			e.u64(uint64(len(s)))
			for _, x := range s {
				e.value(t, x)
			}
		default:
			e.u64(uint64(v.Len()))
			e.scalars(t, s)
		}
		return e
	}
	if s, ok := v.Data.(string); ok {
		return e.str(s)
	}
	return e.scalars(t, v.Data)
}

// scalars writes a scalar or a slice of scalars.
func (e *enc) scalars(t testing.TB, data any) *enc {
	t.Helper()
	le := binary.LittleEndian
	switch x := data.(type) {
	case uint8:
		e.raw(x)
	case int8:
		e.raw(byte(x))
	case bool:
		e.raw(boolByte(x))
	case uint16:
		e.b = le.AppendUint16(e.b, x)
	case int16:
		e.b = le.AppendUint16(e.b, uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case []uint8:
		e.raw(x...)
	case []int8:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []bool:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []uint16:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []int16:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []uint32:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []int32:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []float32:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []uint64:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []int64:
		for _, v := range x {
			e.scalars(t, v)
		}
	case []float64:
		for _, v := range x {
			e.scalars(t, v)
		}
	default:
		t.Fatalf("enc: unsupported value %T", data)
	}
	return e
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// tensorInfo writes one tensor table entry.
func (e *enc) tensorInfo(name string, dims []uint64, typ GGMLType, offset uint64) *enc {
	e.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		e.u64(d)
	}
	return e.u32(uint32(typ)).u64(offset)
}

// pad appends zero bytes up to a multiple of align.
func (e *enc) pad(align int) *enc {
	for len(e.b)%align != 0 {
		e.b = append(e.b, 0)
	}
	return e
}

// spec describes a well-formed file for build.
type spec struct {
	version uint32
	kvs     []KV
	tensors []Tensor // Offset is ignored; build packs the data
}

// build encodes s as a valid GGUF file, with tensor data filled with a
// byte pattern and no padding after the last tensor.
func build(t testing.TB, s spec) []byte {
	t.Helper()
	align := DefaultAlignment
	for _, kv := range s.kvs {
		if a, ok := kv.Value.Data.(uint32); ok && kv.Key == "general.alignment" {
			align = int(a)
		}
	}
	version := s.version
	if version == 0 {
		version = 3
	}
	e := (&enc{}).header(version, uint64(len(s.tensors)), uint64(len(s.kvs)))
	for _, kv := range s.kvs {
		e.kv(t, kv.Key, kv.Value)
	}
	var off int64
	for _, tn := range s.tensors {
		dims := make([]uint64, len(tn.Dims))
		for i, d := range tn.Dims {
			dims[i] = uint64(d)
		}
		e.tensorInfo(tn.Name, dims, tn.Type, uint64(off))
		n := tn.Bytes()
		if n < 0 {
			t.Fatalf("build: tensor %q has invalid shape", tn.Name)
		}
		off += alignUp(n, int64(align))
	}
	e.pad(align)
	for i, tn := range s.tensors {
		if i > 0 {
			e.pad(align)
		}
		for j := range tn.Bytes() {
			e.raw(byte(int(j)*7 + i))
		}
	}
	return e.b
}

// str, u32 and friends build Values tersely.
func vStr(s string) Value      { return Value{Type: TypeString, Data: s} }
func vU32(n uint32) Value      { return Value{Type: TypeUint32, Data: n} }
func vStrs(s ...string) Value  { return Value{Type: TypeArray, Elem: TypeString, Data: s} }
func vF32s(f ...float32) Value { return Value{Type: TypeArray, Elem: TypeFloat32, Data: f} }
func vI32s(n ...int32) Value   { return Value{Type: TypeArray, Elem: TypeInt32, Data: n} }

// smallSpec is a small valid model-like file used by several tests.
func smallSpec() spec {
	return spec{
		kvs: []KV{
			{"general.architecture", vStr("llama")},
			{"general.name", vStr("tiny")},
			{"llama.context_length", vU32(256)},
			{"tokenizer.ggml.model", vStr("llama")},
			{"tokenizer.ggml.tokens", vStrs("<unk>", "<s>", "</s>", "a", "b")},
			{"tokenizer.ggml.scores", vF32s(0, 0, 0, -1, -2)},
			{"tokenizer.ggml.token_type", vI32s(2, 3, 3, 1, 1)},
			{"tokenizer.ggml.bos_token_id", vU32(1)},
			{"tokenizer.ggml.eos_token_id", vU32(2)},
		},
		tensors: []Tensor{
			{Name: "token_embd.weight", Dims: []int64{32, 5}, Type: TypeQ8_0},
			{Name: "output_norm.weight", Dims: []int64{3}, Type: TypeF32},
			{Name: "blk.0.attn_q.weight", Dims: []int64{32, 2}, Type: TypeF16},
		},
	}
}

func tensorNames(ts []Tensor) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = fmt.Sprintf("%s %v %s", t.Name, t.Dims, t.Type)
	}
	return out
}
