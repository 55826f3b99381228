package gguf

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// MaxLayers is the most blocks a model may have: llama.cpp's
// LLAMA_MAX_LAYERS, the size of its per-layer hyperparameter arrays.
const MaxLayers = 512

// maxExperts is llama.cpp's LLAMA_MAX_EXPERTS.
const maxExperts = 512

// maxPoolingType is the largest llama_pooling_type (LLAMA_POOLING_TYPE_RANK).
const maxPoolingType = 4

// Architectures returns the model architectures cogenesis runs, in the
// order error messages list them. It is the one place they are named:
// [CheckModel] refuses any other general.architecture, and the test model
// writer (package enginetest) writes only these.
func Architectures() []string { return []string{"llama", "qwen2"} }

// TokenizerModels returns the tokenizer.ggml.model values cogenesis
// accepts: SentencePiece ("llama") and byte-level BPE ("gpt2", as Qwen2
// uses).
func TokenizerModels() []string { return []string{"llama", "gpt2"} }

// ropeScalingTypes are the values of {arch}.rope.scaling.type llama.cpp
// knows; any other aborts it (GGML_ASSERT in load_hparams).
var ropeScalingTypes = []string{"none", "linear", "yarn", "longrope"}

// ModelError reports a well-formed GGUF file that does not describe a
// model cogenesis can run: an unsupported architecture, or metadata or
// tensors that llama.cpp would abort on, reject or misread. [CheckModel]
// returns it.
type ModelError struct {
	// Path is the file's path, empty when the [File] came from [Read].
	Path string
	// Key is the metadata key or tensor name at fault, such as
	// "llama.block_count" or "token_embd.weight".
	Key string
	// Reason describes the problem.
	Reason string
}

// Error returns a message of the form "gguf PATH: KEY REASON".
func (e *ModelError) Error() string { return message(e.Path, e.Key, e.Reason) }

// OpenModel opens path with [Open] and checks it with [CheckModel].
func OpenModel(path string) (*File, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	if err := CheckModel(f); err != nil {
		return nil, err
	}
	return f, nil
}

// CheckModel checks that f is a model of a supported architecture whose
// hyperparameters and tensors are consistent, so that llama.cpp can load
// and run it without aborting. It mirrors what llama.cpp's loader reads
// for the supported architectures (see load_hparams in llama-model.cpp):
//
//   - general.architecture is one of [Architectures];
//   - {arch}.block_count is 1 to [MaxLayers], and the blk.N.* tensors
//     are exactly blocks 0 to block_count-1;
//   - {arch}.context_length and {arch}.embedding_length are positive;
//   - {arch}.feed_forward_length, {arch}.attention.head_count and
//     {arch}.attention.head_count_kv (a number, or an array with one entry
//     per block) are positive, the head counts divide the embedding
//     length, and head_count_kv divides head_count;
//   - the key and value head sizes ({arch}.attention.key_length and
//     value_length, default embedding_length / head_count) are equal and
//     even, and {arch}.rope.dimension_count, when present, equals them;
//   - the epsilons, rope frequency bases and scaling factors are finite
//     and positive, and the rope scaling type is one llama.cpp knows;
//   - expert counts satisfy llama.cpp's assertions;
//   - tokenizer.ggml.model is one of [TokenizerModels], the vocabulary is
//     not empty, {arch}.vocab_size (when present) equals its length, and
//     token_embd.weight and output.weight are [embedding_length, vocab].
//
// Each key must have the type llama.cpp reads (uint32 counts, float32
// reals). The first problem found is returned as a [*ModelError].
func CheckModel(f *File) error {
	c := &checker{f: f}
	c.run()
	return c.err
}

// checker accumulates the first problem found.
type checker struct {
	f    *File
	arch string
	err  error
}

func (c *checker) failf(key, format string, args ...any) {
	if c.err == nil {
		c.err = &ModelError{Path: c.f.path, Key: key, Reason: fmt.Sprintf(format, args...)}
	}
}

func (c *checker) ok() bool { return c.err == nil }

// u32 returns the uint32 scalar under key.
func (c *checker) u32(key string, required bool) (uint32, bool) {
	v, found := c.f.Get(key)
	if !found {
		if required {
			c.failf(key, "is missing")
		}
		return 0, false
	}
	n, isU32 := v.Data.(uint32)
	if !isU32 {
		c.failf(key, "has type %s, want uint32", v.typeName())
		return 0, false
	}
	return n, true
}

// positive returns the uint32 scalar under key and checks that it is at
// least 1.
func (c *checker) positive(key string, required bool) (uint32, bool) {
	n, found := c.u32(key, required)
	if found && n == 0 {
		c.failf(key, "is 0, want at least 1")
		return 0, false
	}
	return n, found
}

// real checks the float32 scalar under key: finite and positive.
func (c *checker) real(key string, required bool) {
	v, found := c.f.Get(key)
	if !found {
		if required {
			c.failf(key, "is missing")
		}
		return
	}
	x, isF32 := v.Data.(float32)
	switch {
	case !isF32:
		c.failf(key, "has type %s, want float32", v.typeName())
	case math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || x <= 0:
		c.failf(key, "is %v, want a finite number above 0", x)
	}
}

// perLayer returns the per-block values of key: a uint32 scalar for every
// block, or an array of uint32 or int32 with one entry per block (as
// llama.cpp's get_key_or_arr reads it). Every value must be at least 1.
func (c *checker) perLayer(key string, n int, required bool) ([]uint32, bool) {
	v, found := c.f.Get(key)
	if !found {
		if required {
			c.failf(key, "is missing")
		}
		return nil, false
	}
	out := make([]uint32, n)
	switch x := v.Data.(type) {
	case uint32:
		for i := range out {
			out[i] = x
		}
	case []uint32:
		if len(x) != n {
			c.failf(key, "has %d entries for %d blocks", len(x), n)
			return nil, false
		}
		copy(out, x)
	case []int32:
		if len(x) != n {
			c.failf(key, "has %d entries for %d blocks", len(x), n)
			return nil, false
		}
		for i, e := range x {
			if e < 0 {
				c.failf(key, "entry %d is %d, want at least 1", i, e)
				return nil, false
			}
			out[i] = uint32(e)
		}
	default:
		c.failf(key, "has type %s, want uint32 or an array of uint32 or int32", v.typeName())
		return nil, false
	}
	for i, e := range out {
		if e == 0 {
			if v.Type == TypeArray {
				c.failf(key, "entry %d is 0, want at least 1", i)
			} else {
				c.failf(key, "is 0, want at least 1")
			}
			return nil, false
		}
	}
	return out, true
}

func (c *checker) run() {
	c.architecture()
	if !c.ok() {
		return
	}
	a := c.arch + "."
	layers, _ := c.positive(a+"block_count", true)
	if c.ok() && layers > MaxLayers {
		c.failf(a+"block_count", "is %d, want at most %d", layers, MaxLayers)
	}
	c.positive(a+"context_length", true)
	embd, _ := c.positive(a+"embedding_length", true)
	if !c.ok() {
		return
	}
	n := int(layers)
	c.perLayer(a+"feed_forward_length", n, true)
	heads, _ := c.perLayer(a+"attention.head_count", n, true)
	if !c.ok() {
		return
	}
	kvHeads, hasKV := c.perLayer(a+"attention.head_count_kv", n, false)
	if !c.ok() {
		return
	}
	if !hasKV {
		kvHeads = heads
	}
	for i := range n {
		switch {
		case embd%heads[i] != 0:
			c.failf(a+"attention.head_count", "%s%d does not divide %sembedding_length %d", entry(i, n), heads[i], a, embd)
		case embd%kvHeads[i] != 0:
			c.failf(a+"attention.head_count_kv", "%s%d does not divide %sembedding_length %d", entry(i, n), kvHeads[i], a, embd)
		case heads[i]%kvHeads[i] != 0:
			c.failf(a+"attention.head_count_kv", "%s%d does not divide %sattention.head_count %d", entry(i, n), kvHeads[i], a, heads[i])
		}
		if !c.ok() {
			return
		}
	}
	// The graph builders of llama and qwen2 assert that the key and value
	// heads have one size and that rope rotates all of it; ggml's rope
	// asserts that the rotated dimensions are even.
	headK, headV := embd/heads[0], embd/heads[0]
	kKey, vKey := a+"attention.head_count", a+"attention.head_count"
	if k, ok := c.positive(a+"attention.key_length", false); ok {
		headK, kKey = k, a+"attention.key_length"
	}
	if v, ok := c.positive(a+"attention.value_length", false); ok {
		headV, vKey = v, a+"attention.value_length"
	}
	rot, rotKey := headK, kKey
	if r, ok := c.u32(a+"rope.dimension_count", false); ok {
		rot, rotKey = r, a+"rope.dimension_count"
	}
	switch {
	case !c.ok():
	case headK != headV:
		c.failf(vKey, "gives value heads of %d, want the key head size %d", headV, headK)
	case rot != headK:
		c.failf(rotKey, "is %d, want the head size %d", rot, headK)
	case rot%2 != 0:
		c.failf(rotKey, "gives an odd head size %d, want an even one (rope rotates pairs)", rot)
	}
	if pt, ok := c.u32(a+"pooling_type", false); ok && pt > maxPoolingType {
		c.failf(a+"pooling_type", "is %d, want 0 to %d", pt, maxPoolingType)
	}
	c.real(a+"attention.layer_norm_rms_epsilon", true)
	c.real(a+"attention.layer_norm_epsilon", false)
	c.real(a+"rope.freq_base", false)
	c.real(a+"rope.freq_base_swa", false)
	c.real(a+"rope.scaling.factor", false)
	c.real(a+"rope.scale_linear", false)
	c.real(a+"rope.scaling.attn_factor", false)
	c.positive(a+"rope.scaling.original_context_length", false)
	if v, found := c.f.Get(a + "rope.scaling.type"); found {
		s, isStr := v.Text()
		switch {
		case !isStr:
			c.failf(a+"rope.scaling.type", "has type %s, want string", v.typeName())
		case !slices.Contains(ropeScalingTypes, s):
			c.failf(a+"rope.scaling.type", "is %q, want one of %s", s, strings.Join(ropeScalingTypes, ", "))
		}
	}
	c.experts()
	if !c.ok() {
		return
	}
	vocab := c.vocabulary()
	if !c.ok() {
		return
	}
	c.tensors(n, embd, vocab)
}

// entry prefixes "entry I " for per-block arrays.
func entry(i, n int) string {
	if n == 1 {
		return ""
	}
	return "entry " + strconv.Itoa(i) + " "
}

func (c *checker) architecture() {
	const key = keyArchitecture
	want := strings.Join(Architectures(), ", ")
	v, found := c.f.Get(key)
	if !found {
		c.failf(key, "is missing, want one of %s", want)
		return
	}
	s, _ := v.Text() // Read checked the type
	if !slices.Contains(Architectures(), s) {
		c.failf(key, "is %q, which cogenesis does not support; want one of %s", s, want)
		return
	}
	c.arch = s
}

// experts mirrors llama.cpp's assertions on the mixture-of-experts counts,
// which abort the process when violated.
func (c *checker) experts() {
	a := c.arch + "."
	nExp, _ := c.u32(a+"expert_count", false)
	used, _ := c.u32(a+"expert_used_count", false)
	groups, _ := c.u32(a+"expert_group_count", false)
	groupUsed, _ := c.u32(a+"expert_group_used_count", false)
	if !c.ok() {
		return
	}
	switch {
	case nExp > maxExperts:
		c.failf(a+"expert_count", "is %d, want at most %d", nExp, maxExperts)
	case used > nExp:
		c.failf(a+"expert_used_count", "is %d, more than %sexpert_count %d", used, a, nExp)
	case nExp == 0 && groups != 0:
		c.failf(a+"expert_group_count", "is %d without experts, want 0", groups)
	case nExp == 0:
	case used == 0:
		c.failf(a+"expert_used_count", "is 0 with %d experts, want at least 1", nExp)
	case groups >= nExp:
		c.failf(a+"expert_group_count", "is %d, want fewer than %sexpert_count %d", groups, a, nExp)
	case groups > 1 && nExp%groups != 0:
		c.failf(a+"expert_group_count", "%d does not divide %sexpert_count %d", groups, a, nExp)
	case groups > 1 && (groupUsed == 0 || groupUsed >= groups):
		c.failf(a+"expert_group_used_count", "is %d, want 1 to %d", groupUsed, groups-1)
	}
}

// vocabulary checks the tokenizer and returns the vocabulary size.
func (c *checker) vocabulary() int64 {
	if v, found := c.f.Get(keyModel); !found {
		c.failf(keyModel, "is missing, want one of %s", strings.Join(TokenizerModels(), ", "))
		return 0
	} else if s, _ := v.Text(); !slices.Contains(TokenizerModels(), s) {
		c.failf(keyModel, "is %q, want one of %s", s, strings.Join(TokenizerModels(), ", "))
		return 0
	}
	tokens := c.f.Tokens() // Read checked the type
	if len(tokens) == 0 {
		c.failf(keyTokens, "is missing or empty")
		return 0
	}
	if len(tokens) > math.MaxInt32 {
		c.failf(keyTokens, "has %d tokens, more than token ids can address", len(tokens))
		return 0
	}
	key := c.arch + ".vocab_size"
	if n, ok := c.u32(key, false); ok && int64(n) != int64(len(tokens)) {
		c.failf(key, "is %d, but %s has %d tokens", n, keyTokens, len(tokens))
	}
	return int64(len(tokens))
}

// tensors checks the embedding and output shapes and the block numbers.
func (c *checker) tensors(layers int, embd uint32, vocab int64) {
	want := []int64{int64(embd), vocab}
	embdT, found := c.f.TensorByName("token_embd.weight")
	if !found {
		c.failf("token_embd.weight", "is missing")
		return
	}
	for _, t := range []Tensor{embdT, c.outputTensor()} {
		if t.Name != "" && !slices.Equal(t.Dims, want) {
			c.failf(t.Name, "has shape %v, want [%s.embedding_length %d, vocabulary %d]", t.Dims, c.arch, embd, vocab)
			return
		}
	}
	key := c.arch + ".block_count"
	seen := make([]bool, layers)
	for _, t := range c.f.Tensors {
		rest, isBlock := strings.CutPrefix(t.Name, "blk.")
		if !isBlock {
			continue
		}
		num, _, _ := strings.Cut(rest, ".")
		b, err := strconv.Atoi(num)
		if err != nil || b < 0 || strconv.Itoa(b) != num {
			c.failf(t.Name, "has no valid block number")
			return
		}
		if b >= layers {
			c.failf(key, "is %d, but tensor %q belongs to block %d", layers, t.Name, b)
			return
		}
		seen[b] = true
	}
	if i := slices.Index(seen, false); i >= 0 {
		c.failf(key, "is %d, but no tensor belongs to block %d", layers, i)
	}
}

func (c *checker) outputTensor() Tensor {
	t, _ := c.f.TensorByName("output.weight")
	return t
}
