package fusion

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"
)

// combTestModel returns a model with non-trivial weights and
// standardization for top-K size k.
func combTestModel(k int) *CombModel {
	r := rand.New(rand.NewPCG(uint64(k), 5))
	m := NewCombModel(k, uint64(k))
	for i := range m.mean {
		m.mean[i], m.std[i] = r.NormFloat64(), 0.1+r.Float64()
	}
	for i := range m.b1 {
		m.b1[i] = r.NormFloat64() / 3
	}
	return m
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, k := range []int{1, 10} {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			m := combTestModel(k)
			path := filepath.Join(t.TempDir(), "comb.safetensors")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path, k)
			if err != nil {
				t.Fatal(err)
			}
			if got.K() != k {
				t.Errorf("K() = %d, want %d", got.K(), k)
			}
			for _, c := range []struct {
				name      string
				want, got []float64
			}{{"params", m.params, got.params}, {"mean", m.mean, got.mean}, {"std", m.std, got.std}} {
				if diff := gocmp.Diff(c.want, c.got); diff != "" {
					t.Errorf("%s (-want +got):\n%s", c.name, diff)
				}
			}
			f := make([]float64, NumFeatures(k))
			for i := range f {
				f[i] = float64(i%5) - 2
			}
			if w, g := m.Weight(f), got.Weight(f); w != g {
				t.Errorf("Weight after load %v, before %v", g, w)
			}
			var un CombModel
			data, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if err := un.UnmarshalBinary(data); err != nil {
				t.Fatal(err)
			}
			if diff := gocmp.Diff(m.params, un.params); diff != "" {
				t.Errorf("UnmarshalBinary params (-want +got):\n%s", diff)
			}
			// K 0 accepts any K.
			if _, err := Load(path, 0); err != nil {
				t.Errorf("Load(k=0): %v", err)
			}
		})
	}
}

// TestSafetensorsLayout reads a saved file by the safetensors rules alone.
func TestSafetensorsLayout(t *testing.T) {
	m := combTestModel(3)
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(data)
	if n%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", n)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &header); err != nil {
		t.Fatalf("header: %v", err)
	}
	var meta map[string]string
	if err := json.Unmarshal(header["__metadata__"], &meta); err != nil {
		t.Fatalf("__metadata__ is not a map of strings: %v", err)
	}
	if meta["k"] != "3" || meta["feature_version"] != "1" {
		t.Errorf("metadata k %q, feature_version %q", meta["k"], meta["feature_version"])
	}
	var names []string
	if err := json.Unmarshal([]byte(meta["feature_names"]), &names); err != nil {
		t.Fatalf("feature_names: %v", err)
	}
	if diff := gocmp.Diff(FeatureNames(3), names); diff != "" {
		t.Errorf("feature_names (-want +got):\n%s", diff)
	}
	var mean []float64
	if err := json.Unmarshal([]byte(meta["input_mean"]), &mean); err != nil {
		t.Fatalf("input_mean: %v", err)
	}
	if diff := gocmp.Diff(m.mean, mean); diff != "" {
		t.Errorf("input_mean (-want +got):\n%s", diff)
	}
	body := data[8+n:]
	want := map[string]stTensor{
		"fc1.weight": {"F64", []int{512, 14}, [2]int64{0, 512 * 14 * 8}},
		"fc1.bias":   {"F64", []int{512}, [2]int64{512 * 14 * 8, 512 * 15 * 8}},
		"fc2.weight": {"F64", []int{16, 512}, [2]int64{512 * 15 * 8, 512 * 31 * 8}},
		"fc2.bias":   {"F64", []int{16}, [2]int64{512 * 31 * 8, 512*31*8 + 128}},
		"out.weight": {"F64", []int{1, 16}, [2]int64{512*31*8 + 128, 512*31*8 + 256}},
		"out.bias":   {"F64", []int{1}, [2]int64{512*31*8 + 256, 512*31*8 + 264}},
	}
	got := map[string]stTensor{}
	for name, raw := range header {
		if name == "__metadata__" {
			continue
		}
		var st stTensor
		if err := json.Unmarshal(raw, &st); err != nil {
			t.Fatalf("tensor %s: %v", name, err)
		}
		got[name] = st
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Errorf("tensors (-want +got):\n%s", diff)
	}
	if len(body) != 512*31*8+264 {
		t.Errorf("data is %d bytes, want %d", len(body), 512*31*8+264)
	}
	ob := got["out.bias"].DataOffsets
	if b := math.Float64frombits(binary.LittleEndian.Uint64(body[ob[0]:])); b != m.b3[0] {
		t.Errorf("out.bias in file %v, model %v", b, m.b3[0])
	}
}

func TestLoadF32(t *testing.T) {
	m := combTestModel(2)
	meta, err := m.metadata()
	if err != nil {
		t.Fatal(err)
	}
	data, err := encodeSafetensors(combTensors(len(m.mean)), "F32", m.params, meta)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseCombModel(data, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.params {
		if got.params[i] != float64(float32(p)) {
			t.Fatalf("param %d: %v, want %v", i, got.params[i], float32(p))
		}
	}
}

func TestLoadErrors(t *testing.T) {
	m := combTestModel(2)
	good, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hlen := int(binary.LittleEndian.Uint64(good))
	// rewrite returns the file with its header transformed by edit.
	rewrite := func(edit func(meta map[string]string, tensors map[string]*stTensor)) []byte {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(good[8:8+hlen], &raw); err != nil {
			t.Fatal(err)
		}
		meta := map[string]string{}
		tensors := map[string]*stTensor{}
		for name, v := range raw {
			if name == "__metadata__" {
				_ = json.Unmarshal(v, &meta) // written by MarshalBinary just above
				continue
			}
			st := new(stTensor)
			_ = json.Unmarshal(v, st)
			tensors[name] = st
		}
		edit(meta, tensors)
		h := map[string]any{"__metadata__": meta}
		for name, st := range tensors {
			h[name] = st
		}
		hj, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		out := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
		return append(append(out, hj...), good[8+hlen:]...)
	}
	tests := []struct {
		name string
		data []byte
		k    int
		want string // in the error text
	}{
		{"empty file", nil, 2, "truncated: 0 bytes"},
		{"truncated header", good[:8+hlen/2], 2, "truncated: header of"},
		{"truncated data", good[:len(good)-100], 2, "truncated: tensor out.weight ends at byte"},
		{"bad header json", append(binary.LittleEndian.AppendUint64(nil, 5), "{\"a\":"...), 2, "bad header json"},
		{"wrong K", good, 3, "wrong K: the model takes top-2 features, want top-3"},
		{"unknown feature version", rewrite(func(meta map[string]string, _ map[string]*stTensor) { meta["feature_version"] = "7" }), 2,
			`unknown feature version "7"`},
		{"not a combmodel", rewrite(func(meta map[string]string, _ map[string]*stTensor) { delete(meta, "format") }), 2, `format ""`},
		{"renamed feature", rewrite(func(meta map[string]string, _ map[string]*stTensor) {
			meta["feature_names"] = strings.Replace(meta["feature_names"], "slm_entropy", "entropy", 1)
		}), 2, "feature_names"},
		{"short std", rewrite(func(meta map[string]string, _ map[string]*stTensor) { meta["input_std"] = "[1,2]" }), 2,
			"input_std has 2 values, want 12"},
		{"zero std", rewrite(func(meta map[string]string, _ map[string]*stTensor) {
			meta["input_std"] = strings.Replace(meta["input_std"], "[", "[0,", 1)
			meta["input_std"] = meta["input_std"][:strings.LastIndex(meta["input_std"], ",")] + "]"
		}), 2, "input_std[0] = 0"},
		{"shape mismatch", rewrite(func(_ map[string]string, ts map[string]*stTensor) { ts["fc1.weight"].Shape = []int{512, 13} }), 2,
			"tensor fc1.weight has shape [512 13], want [512 12]"},
		{"missing tensor", rewrite(func(_ map[string]string, ts map[string]*stTensor) {
			ts["extra"] = ts["fc2.bias"]
			delete(ts, "fc2.bias")
		}), 2, "no tensor fc2.bias"},
		{"bad dtype", rewrite(func(_ map[string]string, ts map[string]*stTensor) { ts["out.bias"].DType = "BF16" }), 2,
			`tensor out.bias has dtype "BF16"`},
		{"offsets disagree with shape", rewrite(func(_ map[string]string, ts map[string]*stTensor) { ts["fc2.bias"].DataOffsets[1] -= 8 }), 2,
			"tensor fc2.bias: data_offsets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load(path, tt.k)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadModel) {
				t.Errorf("error %q does not wrap ErrBadModel", err)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want the path and %q", msg, tt.want)
			}
		})
	}
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "none.safetensors"), 2)
		if !errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrBadModel) {
			t.Errorf("error %v, want os.ErrNotExist and not ErrBadModel", err)
		}
	})
}
