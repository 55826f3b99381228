package gguf

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/internal/deptest"
)

func vF32(x float32) Value    { return Value{Type: TypeFloat32, Data: x} }
func vU32s(n ...uint32) Value { return Value{Type: TypeArray, Elem: TypeUint32, Data: n} }

// modelSpec is a small llama model that CheckModel accepts: embedding 8,
// 1 block, 2 heads of 4, 1 KV head, FFN 16, 5 tokens.
func modelSpec(arch string) spec {
	a := arch + "."
	return spec{
		kvs: []KV{
			{"general.architecture", vStr(arch)},
			{a + "context_length", vU32(64)},
			{a + "embedding_length", vU32(8)},
			{a + "block_count", vU32(1)},
			{a + "feed_forward_length", vU32(16)},
			{a + "attention.head_count", vU32(2)},
			{a + "attention.head_count_kv", vU32(1)},
			{a + "rope.dimension_count", vU32(4)},
			{a + "rope.freq_base", vF32(10000)},
			{a + "attention.layer_norm_rms_epsilon", vF32(1e-5)},
			{"tokenizer.ggml.model", vStr("llama")},
			{"tokenizer.ggml.tokens", vStrs("<unk>", "<s>", "</s>", "a", "b")},
		},
		tensors: []Tensor{
			{Name: "token_embd.weight", Dims: []int64{8, 5}, Type: TypeF32},
			{Name: "output_norm.weight", Dims: []int64{8}, Type: TypeF32},
			{Name: "output.weight", Dims: []int64{8, 5}, Type: TypeF32},
			{Name: "blk.0.attn_q.weight", Dims: []int64{8, 8}, Type: TypeF32},
		},
	}
}

// set sets key to v in s, adding it if absent; del removes it.
func (s *spec) set(key string, v Value) {
	for i := range s.kvs {
		if s.kvs[i].Key == key {
			s.kvs[i].Value = v
			return
		}
	}
	s.kvs = append(s.kvs, KV{key, v})
}

func (s *spec) del(key string) {
	s.kvs = slices.DeleteFunc(s.kvs, func(kv KV) bool { return kv.Key == key })
}

func TestCheckModel(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	set := func(key string, v Value) func(*spec) { return func(s *spec) { s.set(key, v) } }
	del := func(key string) func(*spec) { return func(s *spec) { s.del(key) } }
	tensor := func(name string, dims ...int64) func(*spec) {
		return func(s *spec) {
			s.tensors = slices.DeleteFunc(s.tensors, func(t Tensor) bool { return t.Name == name })
			if dims != nil {
				s.tensors = append(s.tensors, Tensor{Name: name, Dims: dims, Type: TypeF32})
			}
		}
	}
	tests := []struct {
		name    string
		arch    string // default llama
		edit    func(*spec)
		wantKey string // "" for a valid model
	}{
		{"valid llama", "", nil, ""},
		{"valid qwen2", "qwen2", nil, ""},
		{"valid per-block arrays", "", func(s *spec) {
			s.set("llama.attention.head_count", vU32s(2))
			s.set("llama.attention.head_count_kv", vI32s(2))
			s.set("llama.feed_forward_length", vI32s(16))
		}, ""},
		{"valid tied output", "", tensor("output.weight"), ""},
		{"valid without head_count_kv", "", del("llama.attention.head_count_kv"), ""},

		{"unsupported architecture", "", set("general.architecture", vStr("gpt2")), "general.architecture"},
		{"no architecture", "", del("general.architecture"), "general.architecture"},
		{"block_count 0", "", set("llama.block_count", vU32(0)), "llama.block_count"},
		{"block_count missing", "", del("llama.block_count"), "llama.block_count"},
		{"block_count above max", "", set("llama.block_count", vU32(MaxLayers+1)), "llama.block_count"},
		{"block_count as float", "", set("llama.block_count", vF32(1)), "llama.block_count"},
		{"block_count as uint64", "", set("llama.block_count", Value{Type: TypeUint64, Data: uint64(1)}), "llama.block_count"},
		{"block without tensors", "", set("llama.block_count", vU32(2)), "llama.block_count"},
		{"tensor past block_count", "", tensor("blk.7.attn_q.weight", 8, 8), "llama.block_count"},
		{"tensor with bad block number", "", tensor("blk.x.attn_q.weight", 8, 8), "blk.x.attn_q.weight"},
		{"tensor with padded block number", "", tensor("blk.00.attn_q.weight", 8, 8), "blk.00.attn_q.weight"},
		{"context_length 0", "", set("llama.context_length", vU32(0)), "llama.context_length"},
		{"embedding_length 0", "", set("llama.embedding_length", vU32(0)), "llama.embedding_length"},
		{"feed_forward_length 0", "", set("llama.feed_forward_length", vU32(0)), "llama.feed_forward_length"},
		{"feed_forward_length missing", "", del("llama.feed_forward_length"), "llama.feed_forward_length"},

		{"eps NaN", "", set("llama.attention.layer_norm_rms_epsilon", vF32(nan)), "llama.attention.layer_norm_rms_epsilon"},
		{"eps Inf", "", set("llama.attention.layer_norm_rms_epsilon", vF32(inf)), "llama.attention.layer_norm_rms_epsilon"},
		{"eps negative", "", set("llama.attention.layer_norm_rms_epsilon", vF32(-1e-5)), "llama.attention.layer_norm_rms_epsilon"},
		{"eps zero", "", set("llama.attention.layer_norm_rms_epsilon", vF32(0)), "llama.attention.layer_norm_rms_epsilon"},
		{"eps missing", "", del("llama.attention.layer_norm_rms_epsilon"), "llama.attention.layer_norm_rms_epsilon"},
		{"eps as float64", "", set("llama.attention.layer_norm_rms_epsilon", Value{Type: TypeFloat64, Data: 1e-5}), "llama.attention.layer_norm_rms_epsilon"},
		{"layer norm eps NaN", "", set("llama.attention.layer_norm_epsilon", vF32(nan)), "llama.attention.layer_norm_epsilon"},

		{"head_count 0", "", set("llama.attention.head_count", vU32(0)), "llama.attention.head_count"},
		{"head_count huge", "", set("llama.attention.head_count", vU32(1<<31)), "llama.attention.head_count"},
		{"head_count not dividing embedding", "", set("llama.attention.head_count", vU32(3)), "llama.attention.head_count"},
		{"head_count missing", "", del("llama.attention.head_count"), "llama.attention.head_count"},
		{"head_count float array", "", set("llama.attention.head_count", vF32s(2)), "llama.attention.head_count"},
		{"head_count array too long", "", set("llama.attention.head_count", vU32s(2, 2)), "llama.attention.head_count"},
		{"head_count array entry 0", "", set("llama.attention.head_count", vU32s(0)), "llama.attention.head_count"},
		{"head_count negative int32", "", set("llama.attention.head_count", vI32s(-2)), "llama.attention.head_count"},
		{"head_count_kv 0", "", set("llama.attention.head_count_kv", vU32(0)), "llama.attention.head_count_kv"},
		{"head_count_kv huge", "", set("llama.attention.head_count_kv", vU32(1<<30)), "llama.attention.head_count_kv"},
		{"head_count_kv not dividing head_count", "", set("llama.attention.head_count_kv", vU32(4)), "llama.attention.head_count_kv"},
		{"key_length 0", "", set("llama.attention.key_length", vU32(0)), "llama.attention.key_length"},
		{"llama rope dims not head size", "", set("llama.rope.dimension_count", vU32(2)), "llama.rope.dimension_count"},
		{"qwen2 rope dims odd", "qwen2", set("qwen2.rope.dimension_count", vU32(3)), "qwen2.rope.dimension_count"},
		{"qwen2 rope dims above head", "qwen2", set("qwen2.rope.dimension_count", vU32(6)), "qwen2.rope.dimension_count"},
		{"qwen2 rope dims below head", "qwen2", set("qwen2.rope.dimension_count", vU32(2)), "qwen2.rope.dimension_count"},
		{"key and value heads differ", "", func(s *spec) {
			s.set("llama.attention.key_length", vU32(4))
			s.set("llama.attention.value_length", vU32(8))
		}, "llama.attention.value_length"},
		{"pooling type unknown", "qwen2", set("qwen2.pooling_type", vU32(9)), "qwen2.pooling_type"},
		{"odd head size", "", func(s *spec) {
			s.set("llama.attention.head_count", vU32(8))
			s.set("llama.attention.head_count_kv", vU32(8))
			s.del("llama.rope.dimension_count")
		}, "llama.attention.head_count"},

		{"rope freq_base NaN", "", set("llama.rope.freq_base", vF32(nan)), "llama.rope.freq_base"},
		{"rope freq_base 0", "", set("llama.rope.freq_base", vF32(0)), "llama.rope.freq_base"},
		{"rope scaling factor Inf", "", set("llama.rope.scaling.factor", vF32(inf)), "llama.rope.scaling.factor"},
		{"rope scaling attn_factor negative", "", set("llama.rope.scaling.attn_factor", vF32(-1)), "llama.rope.scaling.attn_factor"},
		{"rope scaling type unknown", "", set("llama.rope.scaling.type", vStr("warp")), "llama.rope.scaling.type"},
		{"rope original context 0", "", set("llama.rope.scaling.original_context_length", vU32(0)), "llama.rope.scaling.original_context_length"},

		{"too many experts", "", set("llama.expert_count", vU32(maxExperts+1)), "llama.expert_count"},
		{"more experts used than exist", "", set("llama.expert_used_count", vU32(2)), "llama.expert_used_count"},
		{"experts none used", "", set("llama.expert_count", vU32(4)), "llama.expert_used_count"},

		{"unknown tokenizer", "", set("tokenizer.ggml.model", vStr("bert")), "tokenizer.ggml.model"},
		{"no tokenizer model", "", del("tokenizer.ggml.model"), "tokenizer.ggml.model"},
		{"no tokens", "", del("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens"},
		{"vocab_size mismatch", "", set("llama.vocab_size", vU32(6)), "llama.vocab_size"},
		{"token_embd vocabulary mismatch", "", tensor("token_embd.weight", 8, 6), "token_embd.weight"},
		{"token_embd width mismatch", "", tensor("token_embd.weight", 16, 5), "token_embd.weight"},
		{"token_embd missing", "", tensor("token_embd.weight"), "token_embd.weight"},
		{"output vocabulary mismatch", "", tensor("output.weight", 8, 4), "output.weight"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arch := tt.arch
			if arch == "" {
				arch = "llama"
			}
			s := modelSpec(arch)
			if tt.edit != nil {
				tt.edit(&s)
			}
			f, err := readBytes(build(t, s))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			err = CheckModel(f)
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("CheckModel: %v", err)
				}
				return
			}
			me, ok := errors.AsType[*ModelError](err)
			if !ok {
				t.Fatalf("CheckModel error = %v, want a *ModelError for %s", err, tt.wantKey)
			}
			if me.Key != tt.wantKey || !strings.Contains(err.Error(), tt.wantKey) {
				t.Errorf("CheckModel error %q names key %q, want %q", err, me.Key, tt.wantKey)
			}
		})
	}
}

func TestOpenModelNamesPath(t *testing.T) {
	s := modelSpec("llama")
	s.set("llama.block_count", vU32(0))
	path := filepath.Join(t.TempDir(), "zero-blocks.gguf")
	if err := os.WriteFile(path, build(t, s), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenModel(path)
	me, ok := errors.AsType[*ModelError](err)
	if !ok || me.Path != path || me.Key != "llama.block_count" {
		t.Fatalf("OpenModel error = %v, want a *ModelError naming %s and llama.block_count", err, path)
	}
	if want := "gguf " + path + ": llama.block_count is 0, want at least 1"; err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

func TestSharedModelChecks(t *testing.T) {
	const path = "../../../shared/models/aidreams260K.gguf"
	if _, err := os.Stat(path); err != nil {
		deptest.Missing(t, "shared test model not available (%v)", err)
	}
	if _, err := OpenModel(path); err != nil {
		t.Fatalf("OpenModel: %v", err)
	}
}
