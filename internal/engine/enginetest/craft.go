package enginetest

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cogenesis/cogenesis/internal/gguf"
)

// Edit changes a model's metadata and tensor table; see [Craft].
type Edit func(kv []gguf.KV, tensors []gguf.Tensor) ([]gguf.KV, []gguf.Tensor)

// SetKV returns an Edit that sets key to v, adding it if absent.
func SetKV(key string, v gguf.Value) Edit {
	return func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		if i := slices.IndexFunc(kv, func(p gguf.KV) bool { return p.Key == key }); i >= 0 {
			kv[i].Value = v
			return kv, ts
		}
		return append(kv, gguf.KV{Key: key, Value: v}), ts
	}
}

// DeleteKV returns an Edit that removes key.
func DeleteKV(key string) Edit {
	return func(kv []gguf.KV, ts []gguf.Tensor) ([]gguf.KV, []gguf.Tensor) {
		return slices.DeleteFunc(kv, func(p gguf.KV) bool { return p.Key == key }), ts
	}
}

// Craft re-encodes the GGUF file src after applying edits, for tests of
// what a loader does with a hand-crafted (often invalid) model. Tensors
// keep their data by name; a tensor an edit adds or reshapes gets zeros.
// The result is a well-formed GGUF file whatever the edits say.
func Craft(src []byte, edits ...Edit) ([]byte, error) {
	f, err := gguf.Read(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		return nil, fmt.Errorf("craft: %w", err)
	}
	kv := slices.Clone(f.KV)
	ts := make([]gguf.Tensor, len(f.Tensors))
	for i, t := range f.Tensors {
		t.Dims = slices.Clone(t.Dims)
		ts[i] = t
	}
	for _, e := range edits {
		kv, ts = e(kv, ts)
	}
	var buf bytes.Buffer
	w, err := gguf.WriteHeader(&buf, kv, ts, 0)
	if err != nil {
		return nil, fmt.Errorf("craft: %w", err)
	}
	for _, t := range ts {
		old, ok := f.TensorByName(t.Name)
		n := t.Bytes()
		if ok && old.Bytes() == n && old.Type == t.Type {
			start := f.DataOffset + old.Offset
			err = w.WriteTensor(src[start : start+n])
		} else {
			err = w.WriteTensor(make([]byte, n))
		}
		if err != nil {
			return nil, fmt.Errorf("craft: tensor %s: %w", t.Name, err)
		}
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("craft: %w", err)
	}
	return buf.Bytes(), nil
}
