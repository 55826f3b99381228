package enginetest

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/cogenesis/cogenesis/internal/gguf"
)

// LoRAOptions describe a random LoRA adapter for a model that [Write]
// made with the same Arch and Shape.
type LoRAOptions struct {
	Arch  string
	Shape Shape
	// Rank is the adapter rank (default 4); Alpha its alpha (default Rank).
	Rank  int
	Alpha float32
	// Zero makes B all zeros: the adapter then changes nothing, which a
	// test can check against the base model.
	Zero bool
	Seed uint64
}

// loraWeight is a base weight with dims [in, out]; its adapter has A of
// dims [in, r] and B of [r, out].
type loraWeight struct {
	name    string
	in, out int
}

// WriteLoRA writes an F32 LoRA adapter GGUF in llama.cpp's format (A and B
// for every layer's attn_q and attn_v) to path.
func WriteLoRA(path string, o LoRAOptions) (err error) {
	if !slices.Contains(gguf.Architectures(), o.Arch) {
		return fmt.Errorf("lora: architecture %q: want one of %s", o.Arch, strings.Join(gguf.Architectures(), ", "))
	}
	if o.Rank <= 0 {
		o.Rank = 4
	}
	if o.Alpha == 0 {
		o.Alpha = float32(o.Rank)
	}
	s := o.Shape
	if s.Hidden <= 0 || s.Layers <= 0 || s.Heads <= 0 || s.KVHeads <= 0 {
		return fmt.Errorf("lora: shape %+v: want positive sizes", s)
	}
	kvDim := s.Hidden / s.Heads * s.KVHeads
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.Value{Type: gguf.TypeString, Data: o.Arch}},
		{Key: "general.type", Value: gguf.Value{Type: gguf.TypeString, Data: "adapter"}},
		{Key: "adapter.type", Value: gguf.Value{Type: gguf.TypeString, Data: "lora"}},
		{Key: "adapter.lora.alpha", Value: gguf.Value{Type: gguf.TypeFloat32, Data: o.Alpha}},
	}
	var ws []loraWeight
	for l := range s.Layers {
		ws = append(ws, loraWeight{fmt.Sprintf("blk.%d.attn_q.weight", l), s.Hidden, s.Hidden}, loraWeight{fmt.Sprintf("blk.%d.attn_v.weight", l), s.Hidden, kvDim})
	}
	var tensors []gguf.Tensor
	for _, w := range ws {
		tensors = append(tensors,
			gguf.Tensor{Name: w.name + ".lora_a", Dims: []int64{int64(w.in), int64(o.Rank)}, Type: gguf.TypeF32},
			gguf.Tensor{Name: w.name + ".lora_b", Dims: []int64{int64(o.Rank), int64(w.out)}, Type: gguf.TypeF32})
	}
	return createFile(path, "lora", func(f io.Writer) error {
		return writeLoRATensors(f, kv, tensors, ws, o)
	})
}

func writeLoRATensors(f io.Writer, kv []gguf.KV, tensors []gguf.Tensor, ws []loraWeight, o LoRAOptions) error {
	gw, err := gguf.WriteHeader(f, kv, tensors, 0)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x2545f4914f6cdd1d))
	random := func(n int, scale float64) []byte {
		vals := make([]float32, n)
		for i := range vals {
			vals[i] = float32(scale * math.Sqrt(3) * (2*rng.Float64() - 1))
		}
		return encode(nil, gguf.TypeF32, vals)
	}
	for _, w := range ws {
		if err := gw.WriteTensor(random(w.in*o.Rank, 0.5)); err != nil {
			return err
		}
		b := make([]byte, 4*o.Rank*w.out)
		if !o.Zero {
			b = random(o.Rank*w.out, 0.5)
		}
		if err := gw.WriteTensor(b); err != nil {
			return err
		}
	}
	return gw.Close()
}
