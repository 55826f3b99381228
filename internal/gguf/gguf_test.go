package gguf

import (
	"bytes"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

func readBytes(b []byte) (*File, error) {
	return Read(bytes.NewReader(b), int64(len(b)))
}

func TestReadRoundTrip(t *testing.T) {
	kvs := []KV{
		{"u8", Value{Type: TypeUint8, Data: uint8(200)}},
		{"i8", Value{Type: TypeInt8, Data: int8(-5)}},
		{"u16", Value{Type: TypeUint16, Data: uint16(60000)}},
		{"i16", Value{Type: TypeInt16, Data: int16(-300)}},
		{"u32", vU32(4_000_000_000)},
		{"i32", Value{Type: TypeInt32, Data: int32(-70000)}},
		{"f32", Value{Type: TypeFloat32, Data: float32(1.5)}},
		{"bool", Value{Type: TypeBool, Data: true}},
		{"str", vStr("héllo\x00world")},
		{"u64", Value{Type: TypeUint64, Data: uint64(math.MaxUint64)}},
		{"i64", Value{Type: TypeInt64, Data: int64(math.MinInt64)}},
		{"f64", Value{Type: TypeFloat64, Data: math.Pi}},
		{"empty", vStr("")},
		{"a.u8", Value{Type: TypeArray, Elem: TypeUint8, Data: []uint8{1, 2, 3}}},
		{"a.i8", Value{Type: TypeArray, Elem: TypeInt8, Data: []int8{-1, 2}}},
		{"a.u16", Value{Type: TypeArray, Elem: TypeUint16, Data: []uint16{1, 65535}}},
		{"a.i16", Value{Type: TypeArray, Elem: TypeInt16, Data: []int16{-1, 7}}},
		{"a.u32", Value{Type: TypeArray, Elem: TypeUint32, Data: []uint32{9}}},
		{"a.i32", vI32s(-9, 9)},
		{"a.f32", vF32s(0.25, -2)},
		{"a.bool", Value{Type: TypeArray, Elem: TypeBool, Data: []bool{true, false, true}}},
		{"a.str", vStrs("x", "", "yz")},
		{"a.u64", Value{Type: TypeArray, Elem: TypeUint64, Data: []uint64{1 << 40}}},
		{"a.i64", Value{Type: TypeArray, Elem: TypeInt64, Data: []int64{-1 << 40}}},
		{"a.f64", Value{Type: TypeArray, Elem: TypeFloat64, Data: []float64{1e300}}},
		{"a.empty", Value{Type: TypeArray, Elem: TypeUint32, Data: []uint32{}}},
		{"a.nested", Value{Type: TypeArray, Elem: TypeArray, Data: []Value{
			vI32s(1, 2),
			vStrs("p", "q"),
			{Type: TypeArray, Elem: TypeArray, Data: []Value{vF32s(3)}},
		}}},
		{"general.alignment", vU32(64)},
	}
	tensors := []Tensor{
		{Name: "a", Dims: []int64{32, 3}, Type: TypeQ4_0},
		{Name: "b", Dims: []int64{7}, Type: TypeF32},
		{Name: "c", Dims: []int64{256, 2, 1, 2}, Type: TypeQ6_K},
		{Name: "d", Dims: []int64{5, 3}, Type: TypeBF16},
	}
	for _, version := range []uint32{2, 3} {
		t.Run("v"+strconv.Itoa(int(version)), func(t *testing.T) {
			b := build(t, spec{version: version, kvs: kvs, tensors: tensors})
			f, err := readBytes(b)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if diff := cmp.Diff(kvs, f.KV); diff != "" {
				t.Errorf("KV mismatch (-want +got):\n%s", diff)
			}
			// Offsets are packed with 64-byte alignment: a is 3*18=54
			// bytes, b 28 bytes, c 4*210=840 bytes.
			want := []Tensor{
				{Name: "a", Dims: []int64{32, 3}, Type: TypeQ4_0, Offset: 0},
				{Name: "b", Dims: []int64{7}, Type: TypeF32, Offset: 64},
				{Name: "c", Dims: []int64{256, 2, 1, 2}, Type: TypeQ6_K, Offset: 128},
				{Name: "d", Dims: []int64{5, 3}, Type: TypeBF16, Offset: 128 + 896},
			}
			if diff := cmp.Diff(want, f.Tensors); diff != "" {
				t.Errorf("Tensors mismatch (-want +got):\n%s", diff)
			}
			if f.Version != version || f.Alignment != 64 || f.Size != int64(len(b)) {
				t.Errorf("Version, Alignment, Size = %d, %d, %d; want %d, 64, %d", f.Version, f.Alignment, f.Size, version, len(b))
			}
			if f.DataOffset%64 != 0 || f.DataOffset+128+896+30 != f.Size {
				t.Errorf("DataOffset = %d, want 64-aligned and ending the file at %d", f.DataOffset, f.Size)
			}
			for i, tn := range f.Tensors {
				wantBytes := []int64{54, 28, 840, 30}[i]
				if got := tn.Bytes(); got != wantBytes {
					t.Errorf("tensor %s Bytes() = %d, want %d", tn.Name, got, wantBytes)
				}
			}
		})
	}
}

func TestGGMLTypes(t *testing.T) {
	tests := []struct {
		typ        GGMLType
		name       string
		block, per int64
	}{
		{TypeF32, "F32", 1, 4},
		{TypeF16, "F16", 1, 2},
		{TypeQ4_0, "Q4_0", 32, 18},
		{TypeQ4_1, "Q4_1", 32, 20},
		{TypeQ5_0, "Q5_0", 32, 22},
		{TypeQ5_1, "Q5_1", 32, 24},
		{TypeQ8_0, "Q8_0", 32, 34},
		{TypeQ2_K, "Q2_K", 256, 84},
		{TypeQ3_K, "Q3_K", 256, 110},
		{TypeQ4_K, "Q4_K", 256, 144},
		{TypeQ5_K, "Q5_K", 256, 176},
		{TypeQ6_K, "Q6_K", 256, 210},
		{TypeQ8_K, "Q8_K", 256, 292},
		{TypeIQ2_XXS, "IQ2_XXS", 256, 66},
		{TypeIQ4_NL, "IQ4_NL", 32, 18},
		{TypeIQ4_XS, "IQ4_XS", 256, 136},
		{TypeI8, "I8", 1, 1},
		{TypeI16, "I16", 1, 2},
		{TypeI32, "I32", 1, 4},
		{TypeI64, "I64", 1, 8},
		{TypeF64, "F64", 1, 8},
		{TypeBF16, "BF16", 1, 2},
		{GGMLType(4), "GGMLType(4)", 0, 0},
		{GGMLType(31), "GGMLType(31)", 0, 0},
		{GGMLType(1000), "GGMLType(1000)", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []any{tt.typ.String(), tt.typ.BlockSize(), tt.typ.BlockBytes(), tt.typ.Known()}
			want := []any{tt.name, tt.block, tt.per, tt.block != 0}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if tt.block == 0 {
				return
			}
			n, ok := tt.typ.RowBytes(tt.block * 3)
			if !ok || n != tt.per*3 {
				t.Errorf("RowBytes(%d) = %d, %v; want %d, true", tt.block*3, n, ok, tt.per*3)
			}
			if tt.block > 1 {
				if _, ok := tt.typ.RowBytes(tt.block + 1); ok {
					t.Errorf("RowBytes(%d) ok for a partial block", tt.block+1)
				}
			}
		})
	}
}

// corruption builds a corrupt file and names the field and reason the
// reader must report.
type corruption struct {
	name   string
	file   func(t *testing.T) []byte
	field  string
	reason string // substring of Reason
}

func TestReadCorrupt(t *testing.T) {
	valid := func(t *testing.T) []byte { return build(t, smallSpec()) }
	withKV := func(kv ...KV) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			s := smallSpec()
			s.kvs = append(s.kvs, kv...)
			return build(t, s)
		}
	}
	// oneTensor writes a file with no metadata and one raw tensor entry
	// followed by dataLen bytes of data.
	oneTensor := func(name string, dims []uint64, typ GGMLType, off uint64, dataLen int) func(t *testing.T) []byte {
		return func(t *testing.T) []byte {
			e := (&enc{}).header(3, 1, 0).tensorInfo(name, dims, typ, off).pad(32)
			return append(e.b, make([]byte, dataLen)...)
		}
	}
	tests := []corruption{
		{"empty", func(*testing.T) []byte { return nil }, "magic", "truncated: need 4 bytes at offset 0, file size 0"},
		{"bad magic", func(t *testing.T) []byte { b := valid(t); b[3] = 'X'; return b }, "magic", `is "GGUX", want "GGUF"`},
		{"version 1", func(*testing.T) []byte { return (&enc{}).header(1, 0, 0).b }, "version", "is 1, want 2 or 3"},
		{"version 99", func(*testing.T) []byte { return (&enc{}).header(99, 0, 0).b }, "version", "is 99, want 2 or 3"},
		{"version 0", func(*testing.T) []byte { return (&enc{}).header(0, 0, 0).b }, "version", "is 0, want 2 or 3"},
		{"big endian", func(*testing.T) []byte { return (&enc{}).header(3<<24, 0, 0).b }, "version", "big-endian"},
		{"truncated count", func(*testing.T) []byte { return (&enc{}).raw([]byte(Magic)...).u32(3).u32(0).b }, "tensor count", "truncated"},
		{"huge kv count", func(*testing.T) []byte { return (&enc{}).header(3, 0, 1<<62).u64(0).b }, "kv count", "too large"},
		{"huge tensor count", func(*testing.T) []byte { return (&enc{}).header(3, math.MaxUint64, 0).u64(0).b }, "tensor count", "too large"},
		{"counts too large together", func(*testing.T) []byte { return append((&enc{}).header(3, 2, 3).b, make([]byte, 80)...) }, "tensor count", "too large"},
		{"huge key length", func(*testing.T) []byte { return (&enc{}).header(3, 0, 1).u64(1 << 60).u64(0).b }, "kv 0 key", "string length 1152921504606846976 exceeds the 8 bytes left"},
		{"empty key", func(*testing.T) []byte { return (&enc{}).header(3, 0, 1).str("").u32(0).raw(1, 0, 0).b }, "kv 0 key", "is empty"},
		{"huge string value", func(*testing.T) []byte {
			return (&enc{}).header(3, 0, 1).str("general.name").u32(uint32(TypeString)).u64(math.MaxUint64).raw(1, 2, 3).b
		}, `kv 0 "general.name"`, "string length 18446744073709551615 exceeds the 3 bytes left"},
		{"huge array length", func(*testing.T) []byte {
			return (&enc{}).header(3, 0, 1).str("tokenizer.ggml.tokens").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1 << 61).str("a").b
		}, `kv 0 "tokenizer.ggml.tokens"`, "array length 2305843009213693952 of string exceeds"},
		{"huge numeric array", func(*testing.T) []byte {
			return (&enc{}).header(3, 0, 1).str("x").u32(uint32(TypeArray)).u32(uint32(TypeUint64)).u64(1 << 61).u64(1).b
		}, `kv 0 "x"`, "array length 2305843009213693952 of uint64 exceeds"},
		{"huge string in array", func(*testing.T) []byte {
			return (&enc{}).header(3, 0, 1).str("x").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(2).str("ok").u64(1 << 40).b
		}, `kv 0 "x" element 1`, "string length 1099511627776 exceeds the 0 bytes left"},
		{"bad value type", func(*testing.T) []byte { return (&enc{}).header(3, 0, 1).str("x").u32(13).u32(0).b }, `kv 0 "x"`, "unknown value type 13"},
		{"bad array element type", func(*testing.T) []byte {
			return (&enc{}).header(3, 0, 1).str("x").u32(uint32(TypeArray)).u32(99).u64(0).b
		}, `kv 0 "x"`, "unknown array element type 99"},
		{"bad bool", func(*testing.T) []byte { return (&enc{}).header(3, 0, 1).str("x").u32(uint32(TypeBool)).raw(2).b }, `kv 0 "x"`, "bool is 2, want 0 or 1"},
		{"bad bool in array", func(*testing.T) []byte {
			return (&enc{}).header(3, 0, 1).str("x").u32(uint32(TypeArray)).u32(uint32(TypeBool)).u64(3).raw(0, 1, 7).b
		}, `kv 0 "x" element 2`, "bool is 7"},
		{"nested too deep", func(*testing.T) []byte {
			e := (&enc{}).header(3, 0, 1).str("x").u32(uint32(TypeArray))
			for range maxDepth + 1 {
				e.u32(uint32(TypeArray)).u64(1)
			}
			return e.u32(uint32(TypeUint8)).u64(0).b
		}, `kv 0 "x"` + strings.Repeat(" element 0", maxDepth), "arrays nested deeper than 16"},
		{"duplicate key", withKV(KV{"general.name", vStr("again")}), `kv 9 "general.name"`, "duplicates kv 1"},
		{"alignment not uint32", withKV(KV{"general.alignment", Value{Type: TypeUint64, Data: uint64(32)}}), `kv 9 "general.alignment"`, "has type uint64, want uint32"},
		{"alignment not power of two", func(*testing.T) []byte {
			return (&enc{}).header(3, 0, 1).str("general.alignment").u32(uint32(TypeUint32)).u32(48).b
		}, `kv 0 "general.alignment"`, "is 48, want a power of two"},
		{"architecture not string", func(t *testing.T) []byte {
			return build(t, spec{kvs: []KV{{"general.name", vStr("x")}, {"general.architecture", vU32(1)}}})
		}, `kv 1 "general.architecture"`, "has type uint32, want string"},
		{"tokens not strings", func(t *testing.T) []byte {
			return build(t, spec{kvs: []KV{{"tokenizer.ggml.tokens", vI32s(1, 2)}}})
		}, `kv 0 "tokenizer.ggml.tokens"`, "has type array of int32, want array of string"},
		{"scores too short", func(t *testing.T) []byte {
			return build(t, spec{kvs: []KV{{"tokenizer.ggml.tokens", vStrs("a", "b")}, {"tokenizer.ggml.scores", vF32s(1)}}})
		}, `kv 1 "tokenizer.ggml.scores"`, "has 1 entries for 2 tokens"},
		{"token types wrong type", func(t *testing.T) []byte {
			return build(t, spec{kvs: []KV{{"tokenizer.ggml.tokens", vStrs("a")}, {"tokenizer.ggml.token_type", vF32s(1)}}})
		}, `kv 1 "tokenizer.ggml.token_type"`, "has type array of float32, want array of int32"},
		{"n_dims 0", oneTensor("t", nil, TypeF32, 0, 0), `tensor 0 "t" n_dims`, "is 0, want 1 to 4"},
		{"n_dims 5", oneTensor("t", []uint64{1, 1, 1, 1, 1}, TypeF32, 0, 4), `tensor 0 "t" n_dims`, "is 5, want 1 to 4"},
		{"zero dim", oneTensor("t", []uint64{4, 0}, TypeF32, 0, 16), `tensor 0 "t" dims`, "dimension 1 is 0"},
		{"negative dim", oneTensor("t", []uint64{1 << 63}, TypeF32, 0, 16), `tensor 0 "t" dims`, "dimension 0 is 9223372036854775808"},
		{"overflowing dims", oneTensor("t", []uint64{1 << 32, 1 << 32}, TypeF32, 0, 16), `tensor 0 "t" dims`, "element count of shape [4294967296 4294967296] overflows int64"},
		{"overflowing bytes", oneTensor("t", []uint64{1 << 62}, TypeF32, 0, 16), `tensor 0 "t" type`, "F32 byte size of 4611686018427387904 elements overflows int64"},
		{"removed type", oneTensor("t", []uint64{32}, GGMLType(4), 0, 32), `tensor 0 "t" type`, "is unknown ggml type 4"},
		{"unknown type", oneTensor("t", []uint64{32}, GGMLType(99), 0, 32), `tensor 0 "t" type`, "is unknown ggml type 99"},
		{"partial block", oneTensor("t", []uint64{16, 2}, TypeQ8_0, 0, 34), `tensor 0 "t" type`, "Q8_0 needs rows that are a multiple of 32 elements, row has 16"},
		{"misaligned offset", oneTensor("t", []uint64{4}, TypeF32, 4, 64), `tensor 0 "t" data`, "offset 4 is not a multiple of the alignment 32"},
		{"gap before data", oneTensor("t", []uint64{4}, TypeF32, 32, 64), `tensor 0 "t" data`, "offset 32, want 0 (data must be packed in table order)"},
		{"offset overflows", oneTensor("t", []uint64{4}, TypeF32, 1<<63, 64), `tensor 0 "t" offset`, "9223372036854775808 overflows int64"},
		{"tensor past EOF", func(t *testing.T) []byte { b := valid(t); return b[:len(b)-1] }, `tensor 2 "blk.0.attn_q.weight" data`, "past end of file"},
		{"data section missing", oneTensor("t", []uint64{4}, TypeF32, 0, 0), `tensor 0 "t" data`, "[64,80) past end of file (size 64)"},
		{"duplicate tensor", func(*testing.T) []byte {
			e := (&enc{}).header(3, 2, 0).tensorInfo("w", []uint64{8}, TypeF32, 0).tensorInfo("w", []uint64{8}, TypeF32, 32).pad(32)
			return append(e.b, make([]byte, 64)...)
		}, `tensor 1 "w"`, "duplicates tensor 0"},
		{"empty tensor name", oneTensor("", []uint64{4}, TypeF32, 0, 16), "tensor 0 name", "is empty"},
		{"long tensor name", oneTensor(strings.Repeat("n", 64), []uint64{4}, TypeF32, 0, 16), "tensor 0 name", "is 64 bytes long, limit 63"},
		{"huge tensor name", func(*testing.T) []byte { return (&enc{}).header(3, 1, 0).u64(1 << 50).raw(make([]byte, 24)...).b }, "tensor 0 name", "string length 1125899906842624 exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.file(t)
			f, err := readBytes(b)
			if err == nil {
				t.Fatalf("Read succeeded with %d tensors, want error", len(f.Tensors))
			}
			fe, ok := errors.AsType[*FormatError](err)
			if !ok {
				t.Fatalf("Read error %v (%T), want *FormatError", err, err)
			}
			if fe.Field != tt.field || !strings.Contains(fe.Reason, tt.reason) {
				t.Errorf("Field, Reason = %q, %q; want %q, containing %q", fe.Field, fe.Reason, tt.field, tt.reason)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(b))+DefaultAlignment {
				t.Errorf("Offset = %d, outside file of %d bytes", fe.Offset, len(b))
			}
		})
	}
}

func TestReadEveryPrefix(t *testing.T) {
	b := build(t, smallSpec())
	if _, err := readBytes(b); err != nil {
		t.Fatalf("full file: %v", err)
	}
	fields := map[string]bool{}
	for n := range len(b) {
		_, err := readBytes(b[:n])
		fe, ok := errors.AsType[*FormatError](err)
		if !ok {
			t.Fatalf("prefix of %d bytes: error %v, want *FormatError", n, err)
		}
		fields[strings.Fields(fe.Field)[0]] = true
	}
	// Truncation must be detected in every section of the file.
	want := map[string]bool{"magic": true, "version": true, "tensor": true, "kv": true}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("fields reported for prefixes (-want +got):\n%s", diff)
	}
}

func TestErrorMessage(t *testing.T) {
	b := build(t, smallSpec())
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := os.WriteFile(path, b[:len(b)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	// Tensor 2 (F16, 64 elements, 128 bytes) follows 170 bytes of Q8_0
	// padded to 192 and 12 bytes of F32 padded to 32.
	f, _ := readBytes(b)
	start := f.DataOffset + 224
	want := "gguf " + path + `: tensor 2 "blk.0.attn_q.weight" data [` +
		itoa(start) + "," + itoa(start+128) + ") past end of file (size " + itoa(int64(len(b)-10)) + ")"
	if err == nil || err.Error() != want {
		t.Errorf("Open error = %v\nwant %s", err, want)
	}
	fe, ok := errors.AsType[*FormatError](err)
	if !ok || fe.Path != path || fe.Offset != start {
		t.Errorf("FormatError = %+v, want Path %s and Offset %d", fe, path, start)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		path  string
		check func(error) bool
	}{
		{"missing", filepath.Join(dir, "nope.gguf"), func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{"directory", dir, func(err error) bool {
			fe, ok := errors.AsType[*FormatError](err)
			return ok && fe.Path == dir && fe.Field == "file"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(tt.path)
			if err == nil || !tt.check(err) {
				t.Errorf("Open(%s) error = %v", tt.path, err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error %q does not name the path", err)
			}
		})
	}
}

func TestAccessors(t *testing.T) {
	s := smallSpec()
	s.kvs = append(s.kvs,
		KV{"tokenizer.chat_template", vStr("{{ messages }}")},
		KV{"neg", Value{Type: TypeInt32, Data: int32(-1)}},
		KV{"big", Value{Type: TypeUint64, Data: uint64(1 << 40)}},
	)
	f, err := readBytes(build(t, s))
	if err != nil {
		t.Fatal(err)
	}
	ctx, hasCtx := f.ContextLength()
	tmpl, hasTmpl := f.ChatTemplate()
	name, hasName := f.String("general.name")
	_, nameIsUint := f.Uint("general.name")
	_, negIsUint := f.Uint("neg")
	big, _ := f.Uint("big")
	_, missing := f.Get("nope")
	got := map[string]any{
		"arch":      f.Architecture(),
		"ctx":       []any{ctx, hasCtx},
		"template":  []any{tmpl, hasTmpl},
		"name":      []any{name, hasName},
		"nameUint":  nameIsUint,
		"negUint":   negIsUint,
		"big":       big,
		"missing":   missing,
		"tokens":    f.Tokens(),
		"params":    f.ParameterCount(),
		"quant":     f.Quantization(),
		"tokenKeys": len(f.TokenizerKV()),
	}
	want := map[string]any{
		"arch":      "llama",
		"ctx":       []any{uint64(256), true},
		"template":  []any{"{{ messages }}", true},
		"name":      []any{"tiny", true},
		"nameUint":  false,
		"negUint":   false,
		"big":       uint64(1 << 40),
		"missing":   false,
		"tokens":    []string{"<unk>", "<s>", "</s>", "a", "b"},
		"params":    uint64(32*5 + 3 + 64),
		"quant":     "Q8_0", // 170 bytes of Q8_0 outweigh 128 bytes of F16
		"tokenKeys": 7,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("accessors (-want +got):\n%s", diff)
	}
}

func TestQuantization(t *testing.T) {
	tests := []struct {
		name    string
		kvs     []KV
		tensors []Tensor
		want    string
	}{
		{"file type", []KV{{"general.file_type", vU32(15)}}, nil, "Q4_K_M"},
		{"unknown file type falls back", []KV{{"general.file_type", vU32(999)}}, []Tensor{{Name: "w", Dims: []int64{32, 2}, Type: TypeQ4_0}}, "Q4_0"},
		{"ignores 1-D tensors", nil, []Tensor{
			{Name: "norm", Dims: []int64{4096}, Type: TypeF32},
			{Name: "w", Dims: []int64{32, 2}, Type: TypeF16},
		}, "F16"},
		{"only 1-D tensors", nil, []Tensor{{Name: "norm", Dims: []int64{8}, Type: TypeF32}}, "F32"},
		{"nothing", nil, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := readBytes(build(t, spec{kvs: tt.kvs, tensors: tt.tensors}))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Quantization(); got != tt.want {
				t.Errorf("Quantization() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestVocabFingerprint(t *testing.T) {
	base := smallSpec()
	fingerprint := func(t *testing.T, mutate func(*spec)) string {
		t.Helper()
		s := smallSpec()
		s.kvs = append([]KV(nil), s.kvs...)
		mutate(&s)
		f, err := readBytes(build(t, s))
		if err != nil {
			t.Fatal(err)
		}
		return f.VocabFingerprint()
	}
	set := func(key string, v Value) func(*spec) {
		return func(s *spec) {
			for i := range s.kvs {
				if s.kvs[i].Key == key {
					s.kvs[i].Value = v
					return
				}
			}
			s.kvs = append(s.kvs, KV{key, v})
		}
	}
	ref := fingerprint(t, func(*spec) {})
	if len(ref) != 64 {
		t.Fatalf("fingerprint %q is not 64 hex digits", ref)
	}
	tests := []struct {
		name   string
		mutate func(*spec)
		same   bool
	}{
		{"other metadata", set("general.name", vStr("other")), true},
		{"other weights", func(s *spec) { s.tensors = s.tensors[:1] }, true},
		{"scores", set("tokenizer.ggml.scores", vF32s(9, 9, 9, 9, 9)), true},
		{"token text", set("tokenizer.ggml.tokens", vStrs("<unk>", "<s>", "</s>", "a", "c")), false},
		{"token boundary", set("tokenizer.ggml.tokens", vStrs("<unk>", "<s>", "</s>", "ab", "")), false},
		{"token type", set("tokenizer.ggml.token_type", vI32s(2, 3, 3, 1, 6)), false},
		{"model", set("tokenizer.ggml.model", vStr("gpt2")), false},
		{"bos", set("tokenizer.ggml.bos_token_id", vU32(3)), false},
		{"eot added", set("tokenizer.ggml.eot_token_id", vU32(2)), false},
		{"pad added", set("tokenizer.ggml.padding_token_id", vU32(0)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fingerprint(t, tt.mutate)
			if (got == ref) != tt.same {
				t.Errorf("fingerprint equal to reference = %v, want %v", got == ref, tt.same)
			}
		})
	}
	t.Run("no vocabulary", func(t *testing.T) {
		f, err := readBytes(build(t, spec{kvs: base.kvs[:3]}))
		if err != nil {
			t.Fatal(err)
		}
		if got := f.VocabFingerprint(); got != "" {
			t.Errorf("VocabFingerprint() = %q, want empty", got)
		}
	})
}

func TestSharedModel(t *testing.T) {
	const path = "../../../shared/models/aidreams260K.gguf"
	if _, err := os.Stat(path); err != nil {
		deptest.Missing(t, "shared test model not available (%v); see ../shared/models/README.md", err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tokens := f.Tokens()
	ctx, _ := f.ContextLength()
	blocks, _ := f.Uint("llama.block_count")
	embd, _ := f.TensorByName("token_embd.weight")
	_, hasTemplate := f.ChatTemplate()
	got := map[string]any{
		"arch":     f.Architecture(),
		"vocab":    len(tokens),
		"first":    tokens[:4],
		"ctx":      ctx,
		"blocks":   blocks,
		"tensors":  len(f.Tensors),
		"embd":     tensorNames([]Tensor{embd}),
		"quant":    f.Quantization(),
		"template": hasTemplate,
		"version":  f.Version,
	}
	want := map[string]any{
		"arch":     "llama",
		"vocab":    512,
		"first":    []string{"<unk>", "<s>", "</s>", "<0x00>"},
		"ctx":      uint64(128),
		"blocks":   uint64(4),
		"tensors":  4*9 + 2,
		"embd":     []string{"token_embd.weight [64 512] F32"},
		"quant":    "F32",
		"template": false,
		"version":  uint32(3),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("aidreams260K (-want +got):\n%s", diff)
	}
	// An F32 model's parameters fill the data section, less padding.
	var dataBytes int64
	for _, tn := range f.Tensors {
		dataBytes += tn.Bytes()
	}
	if int64(f.ParameterCount())*4 != dataBytes || f.DataOffset+dataBytes > f.Size {
		t.Errorf("ParameterCount() = %d, data bytes %d, data offset %d, size %d", f.ParameterCount(), dataBytes, f.DataOffset, f.Size)
	}
}
