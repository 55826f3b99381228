package gguf

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestWriteReadRoundTrip(t *testing.T) {
	kv := []KV{
		{Key: "general.architecture", Value: Value{Type: TypeString, Data: "llama"}},
		{Key: "llama.block_count", Value: Value{Type: TypeUint32, Data: uint32(2)}},
		{Key: "llama.attention.layer_norm_rms_epsilon", Value: Value{Type: TypeFloat32, Data: float32(1e-5)}},
		{Key: "tokenizer.ggml.tokens", Value: Value{Type: TypeArray, Elem: TypeString, Data: []string{"<unk>", "a", "b"}}},
		{Key: "tokenizer.ggml.scores", Value: Value{Type: TypeArray, Elem: TypeFloat32, Data: []float32{0, -1, -2}}},
		{Key: "tokenizer.ggml.add_bos_token", Value: Value{Type: TypeBool, Data: true}},
		{Key: "x.i64", Value: Value{Type: TypeInt64, Data: int64(-7)}},
	}
	tensors := []Tensor{
		{Name: "a", Dims: []int64{32, 2}, Type: TypeQ8_0},
		{Name: "b", Dims: []int64{5}, Type: TypeF32},
	}
	var buf bytes.Buffer
	w, err := WriteHeader(&buf, kv, tensors, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(make([]byte, 68)); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(make([]byte, 19)); err == nil {
		t.Fatalf("wrong-size tensor accepted")
	}
	if err := w.Close(); err == nil {
		t.Fatalf("Close with a missing tensor succeeded")
	}
	if err := w.WriteTensor(make([]byte, 20)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(kv, f.KV); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(tensors, f.Tensors, cmpopts.IgnoreUnexported(Tensor{})); diff != "" {
		t.Errorf("tensors (-want +got):\n%s", diff)
	}
}
