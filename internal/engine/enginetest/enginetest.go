// Package enginetest writes GGUF models for tests and benchmarks: random
// weights in the llama and qwen2 architectures, any shape (the Qwen2-0.5B
// shape included), as F32, F16, Q8_0 or Q4_0, with a synthesized tokenizer
// or the tokenizer and chat template copied from another GGUF (so that two
// models share a tokenizer, as logit fusion needs). Speed does not depend on
// the weights' values, so random weights of a real shape measure the engine
// as the real model would.
//
// It also locates the real tiny test model in ../shared beside the
// repository ([SharedModel]).
package enginetest

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/cogenesis/cogenesis/internal/gguf"
)

// Shape is a transformer's size.
type Shape struct {
	Vocab   int // 0: from the tokenizer
	Hidden  int
	Layers  int
	Heads   int
	KVHeads int
	FFN     int
	Context int
	// Tied reuses the token embedding as the output projection (no
	// output.weight tensor), as Qwen2-0.5B does.
	Tied bool
}

// ShapeByName returns a named shape: "tiny" (fast, for tests) or "0.5b"
// (Qwen2-0.5B: hidden 896, 24 layers, 14 heads, 2 KV heads, FFN 4864,
// vocabulary 151936, tied embeddings).
func ShapeByName(name string) (Shape, error) {
	switch strings.ToLower(name) {
	case "tiny":
		return Shape{Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, FFN: 128, Context: 2048}, nil
	case "0.5b":
		return Shape{Vocab: 151936, Hidden: 896, Layers: 24, Heads: 14, KVHeads: 2, FFN: 4864, Context: 32768, Tied: true}, nil
	}
	return Shape{}, fmt.Errorf("shape %q: want tiny or 0.5b", name)
}

// Options configure [Write].
type Options struct {
	// Arch is "llama" or "qwen2" (qwen2 adds attention biases).
	Arch  string
	Shape Shape
	// Type is the type of the 2-D weights: f32, f16, q8_0 or q4_0. Norms
	// and biases stay F32.
	Type string
	// TokenizerFrom, when set, is a GGUF whose tokenizer.* metadata
	// (tokens, scores, types, merges, special ids, chat template) is
	// copied; the vocabulary size follows it.
	TokenizerFrom string
	// Seed seeds the weights.
	Seed uint64
	// Scale is the standard deviation of the 2-D weights and biases
	// (default 0.02). Larger values give sharper, more confident random
	// next-token distributions.
	Scale float32
}

var fileTypes = map[string]struct {
	t     gguf.GGMLType
	ftype uint32
}{
	"f32":  {gguf.TypeF32, 0},
	"f16":  {gguf.TypeF16, 1},
	"q4_0": {gguf.TypeQ4_0, 2},
	"q8_0": {gguf.TypeQ8_0, 7},
}

// Write writes a random-weight model to path.
func Write(path string, o Options) error {
	if !slices.Contains(gguf.Architectures(), o.Arch) {
		return fmt.Errorf("testmodel: architecture %q: want one of %s", o.Arch, strings.Join(gguf.Architectures(), ", "))
	}
	ft, ok := fileTypes[strings.ToLower(o.Type)]
	if !ok {
		return fmt.Errorf("testmodel: type %q: want f32, f16, q8_0 or q4_0", o.Type)
	}
	s := o.Shape
	if s.Hidden <= 0 || s.Layers <= 0 || s.Heads <= 0 || s.KVHeads <= 0 || s.FFN <= 0 || s.Hidden%s.Heads != 0 || s.Heads%s.KVHeads != 0 {
		return fmt.Errorf("testmodel: shape %+v: want positive sizes, hidden divisible by heads, heads by KV heads", s)
	}
	if ft.t != gguf.TypeF32 && (s.Hidden%32 != 0 || s.FFN%32 != 0) {
		return fmt.Errorf("testmodel: %s needs hidden and FFN sizes divisible by 32", o.Type)
	}
	if s.Context <= 0 {
		s.Context = 2048
	}

	var tok []gguf.KV
	if o.TokenizerFrom != "" {
		src, err := gguf.Open(o.TokenizerFrom)
		if err != nil {
			return fmt.Errorf("testmodel: tokenizer source: %w", err)
		}
		tok = src.TokenizerKV()
		n := len(src.Tokens())
		if n == 0 {
			return fmt.Errorf("testmodel: tokenizer source %s has no tokenizer.ggml.tokens", o.TokenizerFrom)
		}
		s.Vocab = n
	} else {
		if s.Vocab <= 0 {
			s.Vocab = 512
		}
		var err error
		if tok, err = synthTokenizer(s.Vocab); err != nil {
			return err
		}
	}

	a := o.Arch
	hd := s.Hidden / s.Heads
	kvDim := hd * s.KVHeads
	u32 := func(v int) gguf.Value { return gguf.Value{Type: gguf.TypeUint32, Data: uint32(v)} }
	kv := []gguf.KV{
		{Key: "general.architecture", Value: gguf.Value{Type: gguf.TypeString, Data: a}},
		{Key: "general.name", Value: gguf.Value{Type: gguf.TypeString, Data: "cogenesis random " + a}},
		{Key: "general.file_type", Value: u32(int(ft.ftype))},
		{Key: a + ".context_length", Value: u32(s.Context)},
		{Key: a + ".embedding_length", Value: u32(s.Hidden)},
		{Key: a + ".block_count", Value: u32(s.Layers)},
		{Key: a + ".feed_forward_length", Value: u32(s.FFN)},
		{Key: a + ".attention.head_count", Value: u32(s.Heads)},
		{Key: a + ".attention.head_count_kv", Value: u32(s.KVHeads)},
		{Key: a + ".rope.dimension_count", Value: u32(hd)},
		{Key: a + ".attention.layer_norm_rms_epsilon", Value: gguf.Value{Type: gguf.TypeFloat32, Data: float32(1e-6)}},
		{Key: a + ".vocab_size", Value: u32(s.Vocab)},
	}
	if a == "qwen2" {
		kv = append(kv, gguf.KV{Key: "qwen2.rope.freq_base", Value: gguf.Value{Type: gguf.TypeFloat32, Data: float32(1e6)}})
	}
	kv = append(kv, tok...)

	// Tensors: 2-D weights in the chosen type, norms and biases F32.
	scale := o.Scale
	if scale <= 0 {
		scale = 0.02
	}
	type spec struct {
		name  string
		dims  []int64
		typ   gguf.GGMLType
		scale float32 // 0: ones (norms)
	}
	w2 := func(name string, in, out int) spec {
		return spec{name, []int64{int64(in), int64(out)}, ft.t, scale}
	}
	norm := func(name string, n int) spec { return spec{name, []int64{int64(n)}, gguf.TypeF32, 0} }
	bias := func(name string, n int) spec { return spec{name, []int64{int64(n)}, gguf.TypeF32, scale} }
	specs := []spec{w2("token_embd.weight", s.Hidden, s.Vocab), norm("output_norm.weight", s.Hidden)}
	if !s.Tied {
		specs = append(specs, w2("output.weight", s.Hidden, s.Vocab))
	}
	for l := range s.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		specs = append(specs,
			norm(p+"attn_norm.weight", s.Hidden),
			w2(p+"attn_q.weight", s.Hidden, s.Hidden),
			w2(p+"attn_k.weight", s.Hidden, kvDim),
			w2(p+"attn_v.weight", s.Hidden, kvDim),
			w2(p+"attn_output.weight", s.Hidden, s.Hidden),
		)
		if a == "qwen2" {
			specs = append(specs, bias(p+"attn_q.bias", s.Hidden), bias(p+"attn_k.bias", kvDim), bias(p+"attn_v.bias", kvDim))
		}
		specs = append(specs,
			norm(p+"ffn_norm.weight", s.Hidden),
			w2(p+"ffn_gate.weight", s.Hidden, s.FFN),
			w2(p+"ffn_up.weight", s.Hidden, s.FFN),
			w2(p+"ffn_down.weight", s.FFN, s.Hidden),
		)
	}
	tensors := make([]gguf.Tensor, len(specs))
	for i, sp := range specs {
		tensors[i] = gguf.Tensor{Name: sp.name, Dims: sp.dims, Type: sp.typ}
	}

	return createFile(path, "testmodel", func(f io.Writer) error {
		w, err := gguf.WriteHeader(f, kv, tensors, 0)
		if err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5851f42d4c957f2d))
		var vals []float32
		var data []byte
		for _, sp := range specs {
			row := int(sp.dims[0])
			rows := 1
			if len(sp.dims) == 2 {
				rows = int(sp.dims[1])
			}
			data = data[:0]
			// Generate and encode row by row to keep memory at one row.
			vals = grow32(vals, row)
			for range rows {
				for i := range vals {
					if sp.scale == 0 {
						vals[i] = 1
					} else {
						// Uniform with the standard deviation of N(0, scale²).
						vals[i] = sp.scale * float32(math.Sqrt(3)) * float32(2*rng.Float64()-1)
					}
				}
				data = encode(data, sp.typ, vals)
			}
			if err := w.WriteTensor(data); err != nil {
				return err
			}
		}
		return w.Close()
	})
}

// createFile creates path and fills it with write; on any error the file
// is removed (never a half-written model behind), and the error names
// what and path.
func createFile(path, what string, write func(io.Writer) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%s: close %s: %w", what, path, cerr)
		}
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("%s %s: %w", what, path, err)
	}
	return nil
}

func grow32(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func encode(dst []byte, t gguf.GGMLType, x []float32) []byte {
	switch t {
	case gguf.TypeF16:
		return appendF16(dst, x)
	case gguf.TypeQ8_0:
		return appendQ8_0(dst, x)
	case gguf.TypeQ4_0:
		return appendQ4_0(dst, x)
	}
	for _, v := range x {
		b := math.Float32bits(v)
		dst = append(dst, byte(b), byte(b>>8), byte(b>>16), byte(b>>24))
	}
	return dst
}

// ChatML is the chat template of synthesized tokenizers.
const ChatML = `{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}`

// synthTokenizer makes a SentencePiece-style ("llama") tokenizer of n
// tokens that round-trips any UTF-8 text: <unk>, <s>, </s>, the ChatML
// markers, the 256 byte tokens, then word pieces ("▁" + letters and
// letter pairs, ...) with scores, and a ChatML chat template.
func synthTokenizer(n int) ([]gguf.KV, error) {
	const fixed = 3 + 2 + 256
	if n < fixed+1 {
		return nil, errors.New("testmodel: vocabulary too small for a synthesized tokenizer (need > 261)")
	}
	tokens := make([]string, 0, n)
	types := make([]int32, 0, n)
	scores := make([]float32, 0, n)
	add := func(t string, typ int32, score float32) {
		tokens = append(tokens, t)
		types = append(types, typ)
		scores = append(scores, score)
	}
	const (
		normal  = 1
		unknown = 2
		control = 3
		byteTok = 6
	)
	add("<unk>", unknown, 0)
	add("<s>", control, 0)
	add("</s>", control, 0)
	add("<|im_start|>", control, 0)
	add("<|im_end|>", control, 0)
	for b := range 256 {
		add(fmt.Sprintf("<0x%02X>", b), byteTok, 0)
	}
	// Word pieces, shortest first: single letters and digits, with and
	// without the word-start marker, then longer letter strings.
	alphabet := "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ0123456789.,!?'\"-:;()"
	seen := map[string]bool{}
	piece := func(p string) bool {
		if len(tokens) == n {
			return false
		}
		if !seen[p] {
			seen[p] = true
			add(p, normal, -float32(len(tokens)))
		}
		return true
	}
	piece("▁")
	for _, c := range alphabet {
		piece(string(c))
		piece("▁" + string(c))
	}
	letters := "etaoinshrdlcumwfgypbvkjxqz"
	var grow func(prefix string, depth int) bool
	grow = func(prefix string, depth int) bool {
		if depth == 0 {
			return piece("▁"+prefix) && piece(prefix)
		}
		for _, c := range letters {
			if !grow(prefix+string(c), depth-1) {
				return false
			}
		}
		return true
	}
	for depth := 1; len(tokens) < n; depth++ {
		if !grow("", depth) {
			break
		}
	}
	i32 := func(v int) gguf.Value { return gguf.Value{Type: gguf.TypeUint32, Data: uint32(v)} }
	return []gguf.KV{
		{Key: "tokenizer.ggml.model", Value: gguf.Value{Type: gguf.TypeString, Data: "llama"}},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Value{Type: gguf.TypeArray, Elem: gguf.TypeString, Data: tokens}},
		{Key: "tokenizer.ggml.scores", Value: gguf.Value{Type: gguf.TypeArray, Elem: gguf.TypeFloat32, Data: scores}},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Value{Type: gguf.TypeArray, Elem: gguf.TypeInt32, Data: types}},
		{Key: "tokenizer.ggml.unknown_token_id", Value: i32(0)},
		{Key: "tokenizer.ggml.bos_token_id", Value: i32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: i32(2)},
		{Key: "tokenizer.ggml.eot_token_id", Value: i32(4)},
		{Key: "tokenizer.ggml.add_bos_token", Value: gguf.Value{Type: gguf.TypeBool, Data: true}},
		{Key: "tokenizer.chat_template", Value: gguf.Value{Type: gguf.TypeString, Data: ChatML}},
	}, nil
}
