package gguf

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz/FuzzRead")

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// seedFiles returns the committed seed inputs by name.
func seedFiles(t testing.TB) map[string][]byte {
	valid := build(t, smallSpec())
	nested := build(t, spec{kvs: []KV{
		{"general.alignment", vU32(8)},
		{"a", Value{Type: TypeArray, Elem: TypeArray, Data: []Value{vStrs("x", "yz"), vI32s(-1)}}},
		{"b", Value{Type: TypeBool, Data: true}},
	}, tensors: []Tensor{{Name: "w", Dims: []int64{256, 1}, Type: TypeQ4_K}}})
	hugeLen := (&enc{}).header(3, 0, 1).str("tokenizer.ggml.tokens").u32(uint32(TypeArray)).u32(uint32(TypeString)).u64(1 << 61).str("a").b
	return map[string][]byte{
		"valid":       valid,
		"truncated":   valid[:len(valid)*2/3],
		"nested":      nested,
		"huge-length": hugeLen,
	}
}

// TestFuzzSeeds checks that the committed seeds match what the test
// encoder produces; run with -update to rewrite them.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	for name, b := range seedFiles(t) {
		t.Run(name, func(t *testing.T) {
			want := []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n")
			path := filepath.Join(dir, name)
			if *update {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, want, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read seed (run with -update to create it): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("seed %s is stale; run go test -run TestFuzzSeeds -update", path)
			}
		})
	}
}

// FuzzRead checks that Read never panics, reports only *FormatError, reads
// each byte at most once, allocates memory bounded by the input size, and
// that whatever it accepts satisfies the documented invariants.
func FuzzRead(f *testing.F) {
	for _, b := range seedFiles(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &countingReaderAt{r: bytes.NewReader(b)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		g, err := Read(r, int64(len(b)))
		runtime.ReadMemStats(&after)
		if r.n > int64(len(b)) {
			t.Errorf("read %d bytes from a %d-byte file", r.n, len(b))
		}
		// Generous bound: bufio's buffer plus a small multiple of the
		// input for decoded strings, slices and indexes.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20+64*uint64(len(b)) {
			t.Errorf("allocated %d bytes for a %d-byte file", alloc, len(b))
		}
		if err != nil {
			if _, ok := errors.AsType[*FormatError](err); !ok {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			return
		}
		if g.Version != 2 && g.Version != 3 {
			t.Errorf("accepted version %d", g.Version)
		}
		if g.Alignment <= 0 || g.Alignment&(g.Alignment-1) != 0 || g.DataOffset%g.Alignment != 0 {
			t.Errorf("alignment %d, data offset %d", g.Alignment, g.DataOffset)
		}
		seen := map[string]bool{}
		for _, tn := range g.Tensors {
			n := tn.Bytes()
			if n < 0 || len(tn.Dims) < 1 || len(tn.Dims) > MaxDims || seen[tn.Name] {
				t.Errorf("accepted invalid tensor %+v", tn)
			}
			seen[tn.Name] = true
			if end := g.DataOffset + tn.Offset + n; end > g.Size || tn.Offset%g.Alignment != 0 {
				t.Errorf("tensor %q data ends at %d past size %d", tn.Name, end, g.Size)
			}
		}
		for _, kv := range g.KV {
			if v, ok := g.Get(kv.Key); !ok || v.Type != kv.Value.Type {
				t.Errorf("Get(%q) disagrees with KV", kv.Key)
			}
		}
		_ = g.VocabFingerprint() // must not panic
		_ = g.Quantization()
	})
}
