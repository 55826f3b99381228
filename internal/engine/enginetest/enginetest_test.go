package enginetest

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cogenesis/cogenesis/internal/gguf"
)

func TestF16(t *testing.T) {
	tests := []struct {
		in   float32
		want uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00},
		{float32(math.Inf(-1)), 0xfc00}, {5.960464477539063e-08, 0x0001}, {0.000060975552, 0x03ff},
		{1.0009765625, 0x3c01}, {1.00048828125, 0x3c00}, // halfway rounds to even
	}
	for _, tt := range tests {
		if got := f16(tt.in); got != tt.want {
			t.Errorf("f16(%v) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		x := float32(r.NormFloat64())
		if back := f16to32(f16(x)); math.Abs(float64(back-x)) > max(math.Abs(float64(x))/1024, math.Pow(2, -25)) {
			t.Fatalf("f16 round trip of %v gives %v", x, back)
		}
	}
}

func dequantQ8_0(b []byte) []float32 {
	var out []float32
	for len(b) > 0 {
		d := f16to32(binary.LittleEndian.Uint16(b))
		for i := range 32 {
			out = append(out, d*float32(int8(b[2+i])))
		}
		b = b[34:]
	}
	return out
}

func dequantQ4_0(b []byte) []float32 {
	var out []float32
	for len(b) > 0 {
		d := f16to32(binary.LittleEndian.Uint16(b))
		blk := make([]float32, 32)
		for j := range 16 {
			blk[j] = d * float32(int(b[2+j]&0xf)-8)
			blk[j+16] = d * float32(int(b[2+j]>>4)-8)
		}
		out = append(out, blk...)
		b = b[18:]
	}
	return out
}

func TestQuantizersRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 32*64)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 0.05)
	}
	tests := []struct {
		name  string
		enc   func([]byte, []float32) []byte
		dec   func([]byte) []float32
		bytes int
		// the error bound relative to the block's largest magnitude
		rel float64
	}{
		{"q8_0", appendQ8_0, dequantQ8_0, 34, 0.5/127 + 1e-3},
		{"q4_0", appendQ4_0, dequantQ4_0, 18, 1.0/8 + 1e-3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.enc(nil, x)
			if len(b) != len(x)/32*tt.bytes {
				t.Fatalf("%d bytes, want %d", len(b), len(x)/32*tt.bytes)
			}
			y := tt.dec(b)
			for blk := 0; blk < len(x); blk += 32 {
				var amax float64
				for _, v := range x[blk : blk+32] {
					amax = max(amax, math.Abs(float64(v)))
				}
				for i := blk; i < blk+32; i++ {
					if d := math.Abs(float64(x[i] - y[i])); d > tt.rel*amax {
						t.Fatalf("element %d: %v dequantizes to %v (error %v > %v)", i, x[i], y[i], d, tt.rel*amax)
					}
				}
			}
		})
	}
}

func TestWriteShapesAndTypes(t *testing.T) {
	dir := t.TempDir()
	tiny, err := ShapeByName("tiny")
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"llama", "qwen2"} {
		for _, typ := range []string{"f32", "f16", "q8_0", "q4_0"} {
			t.Run(arch+"/"+typ, func(t *testing.T) {
				p := filepath.Join(dir, arch+typ+".gguf")
				if err := Write(p, Options{Arch: arch, Shape: tiny, Type: typ, Seed: 1}); err != nil {
					t.Fatal(err)
				}
				f, err := gguf.Open(p)
				if err != nil {
					t.Fatal(err)
				}
				if f.Architecture() != arch {
					t.Errorf("architecture %q", f.Architecture())
				}
				emb, ok := f.TensorByName("token_embd.weight")
				if !ok || emb.Type != fileTypes[typ].t || emb.Dims[0] != 64 || emb.Dims[1] != 512 {
					t.Errorf("token_embd %+v", emb)
				}
				norm, _ := f.TensorByName("blk.1.attn_norm.weight")
				if norm.Type != gguf.TypeF32 {
					t.Errorf("norm type %s, want F32", norm.Type)
				}
				_, hasBias := f.TensorByName("blk.0.attn_q.bias")
				if hasBias != (arch == "qwen2") {
					t.Errorf("attention bias present = %v for %s", hasBias, arch)
				}
				k, _ := f.TensorByName("blk.0.attn_k.weight")
				if k.Dims[1] != 32 { // 2 KV heads of 16
					t.Errorf("attn_k dims %v", k.Dims)
				}
				if got := len(f.Tokens()); got != 512 {
					t.Errorf("%d tokens", got)
				}
			})
		}
	}
}

func TestTokenizerFrom(t *testing.T) {
	src := SharedModel(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "cloud.gguf")
	tiny, _ := ShapeByName("tiny")
	if err := Write(p, Options{Arch: "qwen2", Shape: tiny, Type: "q8_0", TokenizerFrom: src, Seed: 9}); err != nil {
		t.Fatal(err)
	}
	a, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	b, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.TokenizerKV(), b.TokenizerKV()); diff != "" {
		t.Errorf("tokenizer metadata differs (-source +written):\n%s", diff)
	}
	if a.VocabFingerprint() != b.VocabFingerprint() {
		t.Errorf("vocabulary fingerprints differ")
	}
	emb, _ := b.TensorByName("token_embd.weight")
	if emb.Dims[1] != int64(len(a.Tokens())) {
		t.Errorf("vocabulary %d, want the source's %d", emb.Dims[1], len(a.Tokens()))
	}
}

func TestWriteErrors(t *testing.T) {
	dir := t.TempDir()
	tiny, _ := ShapeByName("tiny")
	odd := tiny
	odd.Hidden = 48
	odd.Heads = 4
	tests := []struct {
		name string
		o    Options
	}{
		{"arch", Options{Arch: "gpt9", Shape: tiny, Type: "f32"}},
		{"type", Options{Arch: "llama", Shape: tiny, Type: "q3_k"}},
		{"shape", Options{Arch: "llama", Shape: Shape{Hidden: 10, Layers: 1, Heads: 3, KVHeads: 1, FFN: 8}, Type: "f32"}},
		{"quantized row not divisible by 32", Options{Arch: "llama", Shape: odd, Type: "q8_0"}},
		{"missing tokenizer source", Options{Arch: "llama", Shape: tiny, Type: "f32", TokenizerFrom: filepath.Join(dir, "none.gguf")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, "m.gguf")
			if err := Write(p, tt.o); err == nil {
				t.Errorf("Write succeeded")
			}
		})
	}
	if _, err := ShapeByName("7b"); err == nil {
		t.Errorf("unknown shape accepted")
	}
}
