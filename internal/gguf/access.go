package gguf

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"reflect"
	"strings"
)

// Metadata keys used by the accessors.
const (
	keyArchitecture = "general.architecture"
	keyFileType     = "general.file_type"
	keyChatTemplate = "tokenizer.chat_template"
	keyModel        = "tokenizer.ggml.model"
	keyTokens       = "tokenizer.ggml.tokens"
	keyScores       = "tokenizer.ggml.scores"
	keyTokenTypes   = "tokenizer.ggml.token_type"
	keyMerges       = "tokenizer.ggml.merges"
	keyBOS          = "tokenizer.ggml.bos_token_id"
	keyEOS          = "tokenizer.ggml.eos_token_id"
	keyEOT          = "tokenizer.ggml.eot_token_id"
	keyPAD          = "tokenizer.ggml.padding_token_id"
)

// typeName describes v's type, such as "uint32" or "array of string".
func (v Value) typeName() string {
	if v.Type == TypeArray {
		return "array of " + v.Elem.String()
	}
	return v.Type.String()
}

// Len returns the number of elements of an array value, or 0 for a scalar.
func (v Value) Len() int {
	if v.Type != TypeArray || v.Data == nil {
		return 0
	}
	return reflect.ValueOf(v.Data).Len()
}

// Uint returns an integer scalar as uint64. It reports false for other
// types and for negative values.
func (v Value) Uint() (uint64, bool) {
	switch x := v.Data.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	}
	if i, ok := v.Int(); ok && i >= 0 {
		return uint64(i), true
	}
	return 0, false
}

// Int returns an integer scalar as int64. It reports false for other types
// and for uint64 values above math.MaxInt64.
func (v Value) Int() (int64, bool) {
	switch x := v.Data.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case uint8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x), true
		}
	}
	return 0, false
}

// Float returns a float32 or float64 scalar as float64.
func (v Value) Float() (float64, bool) {
	switch x := v.Data.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// Bool returns a bool scalar.
func (v Value) Bool() (bool, bool) {
	b, ok := v.Data.(bool)
	return b, ok
}

// Text returns a string scalar.
func (v Value) Text() (string, bool) {
	s, ok := v.Data.(string)
	return s, ok
}

// Strings returns an array of strings. The slice is shared; do not modify it.
func (v Value) Strings() ([]string, bool) {
	s, ok := v.Data.([]string)
	return s, ok
}

// Get returns the value stored under key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.index[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// String returns the string stored under key. It reports false if the key
// is absent or not a string.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Get(key)
	return v.Text()
}

// Uint returns the non-negative integer stored under key, whatever its
// integer type. It reports false if the key is absent, not an integer or
// negative.
func (f *File) Uint(key string) (uint64, bool) {
	v, _ := f.Get(key)
	return v.Uint()
}

// Strings returns the array of strings stored under key. The slice is
// shared; do not modify it.
func (f *File) Strings(key string) ([]string, bool) {
	v, _ := f.Get(key)
	return v.Strings()
}

// Architecture returns general.architecture, such as "llama", or "" if it
// is absent.
func (f *File) Architecture() string {
	s, _ := f.String(keyArchitecture)
	return s
}

// ParameterCount returns the total number of elements in all tensors.
func (f *File) ParameterCount() uint64 {
	var n uint64
	for _, t := range f.Tensors {
		n += uint64(t.Elements())
	}
	return n
}

// FileType returns general.file_type (llama.cpp's llama_ftype), if present.
func (f *File) FileType() (uint64, bool) {
	return f.Uint(keyFileType)
}

// Quantization summarises the weight type, such as "Q8_0" or "Q4_K_M". It
// uses general.file_type when the file names a known one, and otherwise the
// type that holds the most bytes among tensors of two or more dimensions
// (or among all tensors if there are none). It returns "" for a file
// without tensors or file type.
func (f *File) Quantization() string {
	if ft, ok := f.FileType(); ok {
		if name, ok := fileTypeNames[ft]; ok {
			return name
		}
	}
	bytes := map[GGMLType]int64{}
	for _, multi := range []bool{true, false} {
		for _, t := range f.Tensors {
			if !multi || len(t.Dims) >= 2 {
				bytes[t.Type] += t.Bytes()
			}
		}
		if len(bytes) > 0 {
			break
		}
	}
	best, bestBytes := GGMLType(0), int64(-1)
	for t, n := range bytes {
		if n > bestBytes || (n == bestBytes && t < best) {
			best, bestBytes = t, n
		}
	}
	if bestBytes < 0 {
		return ""
	}
	return best.String()
}

// ContextLength returns <arch>.context_length, the training context size.
func (f *File) ContextLength() (uint64, bool) {
	arch := f.Architecture()
	if arch == "" {
		return 0, false
	}
	return f.Uint(arch + ".context_length")
}

// ChatTemplate returns tokenizer.chat_template.
func (f *File) ChatTemplate() (string, bool) {
	return f.String(keyChatTemplate)
}

// Tokens returns the vocabulary, tokenizer.ggml.tokens, indexed by token
// id, or nil if the file has none. The slice is shared; do not modify it.
func (f *File) Tokens() []string {
	s, _ := f.Strings(keyTokens)
	return s
}

// VocabFingerprint returns a hex SHA-256 digest that identifies the
// tokenizer: its model name (tokenizer.ggml.model), every token string,
// the token types, and the BOS, EOS, EOT and PAD token ids. Two models with
// the same fingerprint map token ids to the same strings, so their logits
// can be compared position by position. It returns "" if the file has no
// vocabulary.
func (f *File) VocabFingerprint() string {
	tokens := f.Tokens()
	if tokens == nil {
		return ""
	}
	h := sha256.New()
	var buf [8]byte
	putU64 := func(n uint64) {
		binary.LittleEndian.PutUint64(buf[:], n)
		h.Write(buf[:])
	}
	putStr := func(s string) {
		putU64(uint64(len(s)))
		h.Write([]byte(s))
	}
	putStr("gguf vocab fingerprint v1")
	model, _ := f.String(keyModel)
	putStr(model)
	putU64(uint64(len(tokens)))
	for _, t := range tokens {
		putStr(t)
	}
	types, _ := f.Get(keyTokenTypes)
	tt, _ := types.Data.([]int32)
	putU64(uint64(len(tt)))
	for _, t := range tt {
		putU64(uint64(uint32(t)))
	}
	for _, key := range []string{keyBOS, keyEOS, keyEOT, keyPAD} {
		if id, ok := f.Uint(key); ok {
			putU64(1)
			putU64(id)
		} else {
			putU64(0)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// TensorByName returns the tensor called name.
func (f *File) TensorByName(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// isTokenizerKey reports whether key belongs to the tokenizer.
func isTokenizerKey(key string) bool { return strings.HasPrefix(key, "tokenizer.") }

// TokenizerKV returns every tokenizer.* pair in file order. The values are
// shared; do not modify them.
func (f *File) TokenizerKV() []KV {
	var out []KV
	for _, kv := range f.KV {
		if isTokenizerKey(kv.Key) {
			out = append(out, kv)
		}
	}
	return out
}
