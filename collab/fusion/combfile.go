package fusion

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/cogenesis/cogenesis/internal/regfile"
)

// ErrBadModel reports a CombModel file that [Load] cannot use: truncated,
// malformed, or made for other features.
var ErrBadModel = errors.New("bad combmodel file")

// The safetensors metadata keys and values of a saved CombModel.
const (
	combFormat       = "cogenesis.combmodel"
	combArchitecture = "mlp 512 16 1 relu sigmoid"

	metaFormat         = "format"
	metaArchitecture   = "architecture"
	metaFeatureVersion = "feature_version"
	metaK              = "k"
	metaFeatureNames   = "feature_names"
	metaMean           = "input_mean"
	metaStd            = "input_std"
)

// stTensor is one tensor entry of a safetensors header.
type stTensor struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// combTensor names one parameter tensor and its shape.
type combTensor struct {
	name  string
	shape []int
}

// combTensors lists the saved tensors in the order of the parameters.
func combTensors(nIn int) []combTensor {
	return []combTensor{
		{"fc1.weight", []int{hidden1, nIn}},
		{"fc1.bias", []int{hidden1}},
		{"fc2.weight", []int{hidden2, hidden1}},
		{"fc2.bias", []int{hidden2}},
		{"out.weight", []int{1, hidden2}},
		{"out.bias", []int{1}},
	}
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Save writes the model to path as safetensors (F64 tensors, the feature
// definition and standardization in the metadata), replacing any file
// there only once the new one is complete.
func (m *CombModel) Save(path string) error {
	data, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("save combmodel %s: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("save combmodel %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp) // best effort; the write error is what matters
		return fmt.Errorf("save combmodel %s: %w", path, err)
	}
	return nil
}

// MarshalBinary returns the model in the safetensors format that [Load]
// reads.
func (m *CombModel) MarshalBinary() ([]byte, error) {
	meta, err := m.metadata()
	if err != nil {
		return nil, err
	}
	return encodeSafetensors(combTensors(len(m.mean)), "F64", m.params, meta)
}

// metadata returns the safetensors metadata of the model.
func (m *CombModel) metadata() (map[string]string, error) {
	names, err := json.Marshal(FeatureNames(m.k))
	if err != nil {
		return nil, err
	}
	mean, err := json.Marshal(m.mean)
	if err != nil {
		return nil, fmt.Errorf("input mean: %w", err)
	}
	std, err := json.Marshal(m.std)
	if err != nil {
		return nil, fmt.Errorf("input std: %w", err)
	}
	return map[string]string{
		metaFormat:         combFormat,
		metaArchitecture:   combArchitecture,
		metaFeatureVersion: strconv.Itoa(FeatureVersion),
		metaK:              strconv.Itoa(m.k),
		metaFeatureNames:   string(names),
		metaMean:           string(mean),
		metaStd:            string(std),
	}, nil
}

// encodeSafetensors lays out the tensors, whose values are consecutive in
// values, with dtype F64 or F32: an 8-byte little-endian header length, the
// JSON header padded with spaces to a multiple of 8, then the data.
func encodeSafetensors(tensors []combTensor, dtype string, values []float64, meta map[string]string) ([]byte, error) {
	size := 8
	if dtype == "F32" {
		size = 4
	}
	header := make(map[string]any, len(tensors)+1)
	header["__metadata__"] = meta
	var off int64
	for _, t := range tensors {
		n := int64(numel(t.shape) * size)
		header[t.name] = stTensor{DType: dtype, Shape: t.shape, DataOffsets: [2]int64{off, off + n}}
		off += n
	}
	hj, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("safetensors header: %w", err)
	}
	for len(hj)%8 != 0 {
		hj = append(hj, ' ')
	}
	out := make([]byte, 8, 8+len(hj)+int(off))
	binary.LittleEndian.PutUint64(out, uint64(len(hj)))
	out = append(out, hj...)
	for _, v := range values {
		if size == 4 {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(float32(v)))
		} else {
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
		}
	}
	return out, nil
}

// UnmarshalBinary replaces m with the model in data, which
// [CombModel.MarshalBinary] wrote, whatever its K. Errors wrap
// [ErrBadModel].
func (m *CombModel) UnmarshalBinary(data []byte) error {
	got, err := parseCombModel(data, 0)
	if err != nil {
		return fmt.Errorf("unmarshal combmodel: %w", err)
	}
	*m = *got
	return nil
}

// maxCombFile bounds a CombModel file (a small MLP: a few MB).
const maxCombFile = 256 << 20

// Load reads a CombModel that [CombModel.Save] wrote. When k > 0 the model
// must take features with that top-K size. Errors name the file and what
// is wrong (truncated, bad header JSON, unknown feature version, wrong K,
// tensor shape) and wrap [ErrBadModel] when the content is at fault.
func Load(path string, k int) (*CombModel, error) {
	data, err := regfile.ReadFile(path, maxCombFile)
	if err != nil {
		return nil, fmt.Errorf("load combmodel: %w", err)
	}
	m, err := parseCombModel(data, k)
	if err != nil {
		return nil, fmt.Errorf("load combmodel %s: %w", path, err)
	}
	return m, nil
}

// badModel returns an error wrapping ErrBadModel.
func badModel(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadModel, fmt.Sprintf(format, args...))
}

// parseCombModel decodes a saved model; wantK > 0 requires that K.
func parseCombModel(data []byte, wantK int) (*CombModel, error) {
	if len(data) < 8 {
		return nil, badModel("truncated: %d bytes, want at least 8", len(data))
	}
	hlen := binary.LittleEndian.Uint64(data)
	if hlen > uint64(len(data)-8) {
		return nil, badModel("truncated: header of %d bytes, but only %d bytes follow the length", hlen, len(data)-8)
	}
	body := data[8+hlen:]
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+hlen], &raw); err != nil {
		return nil, fmt.Errorf("%w: bad header json: %w", ErrBadModel, err)
	}
	var meta map[string]string
	rawMeta, ok := raw["__metadata__"]
	if !ok {
		return nil, badModel("no __metadata__ in header: not a combmodel")
	}
	if err := json.Unmarshal(rawMeta, &meta); err != nil {
		return nil, fmt.Errorf("%w: bad header json: __metadata__: %w", ErrBadModel, err)
	}
	if meta[metaFormat] != combFormat {
		return nil, badModel("format %q, want %q", meta[metaFormat], combFormat)
	}
	if v := meta[metaFeatureVersion]; v != strconv.Itoa(FeatureVersion) {
		return nil, badModel("unknown feature version %q, this build computes version %d", v, FeatureVersion)
	}
	if a := meta[metaArchitecture]; a != combArchitecture {
		return nil, badModel("architecture %q, want %q", a, combArchitecture)
	}
	k, err := strconv.Atoi(meta[metaK])
	if err != nil || k < 1 || k > MaxK {
		return nil, badModel("k %q, want an integer in 1..%d", meta[metaK], MaxK)
	}
	if wantK > 0 && k != wantK {
		return nil, badModel("wrong K: the model takes top-%d features, want top-%d", k, wantK)
	}
	var names []string
	if err := json.Unmarshal([]byte(meta[metaFeatureNames]), &names); err != nil {
		return nil, fmt.Errorf("%w: feature_names: %w", ErrBadModel, err)
	}
	if want := FeatureNames(k); !slices.Equal(names, want) {
		return nil, badModel("feature_names %q differ from feature version %d with K=%d: %q", names, FeatureVersion, k, want)
	}

	m := newCombModel(k)
	nIn := len(m.mean)
	for _, s := range []struct {
		key string
		dst []float64
	}{{metaMean, m.mean}, {metaStd, m.std}} {
		var v []float64
		if err := json.Unmarshal([]byte(meta[s.key]), &v); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrBadModel, s.key, err)
		}
		if len(v) != nIn {
			return nil, badModel("%s has %d values, want %d", s.key, len(v), nIn)
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) || s.key == metaStd && x <= 0 {
				return nil, badModel("%s[%d] = %v", s.key, i, x)
			}
		}
		copy(s.dst, v)
	}

	want := combTensors(nIn)
	if len(raw)-1 != len(want) {
		return nil, badModel("%d tensors, want %d (%s)", len(raw)-1, len(want), tensorNames(want))
	}
	off := 0
	for _, w := range want {
		rt, ok := raw[w.name]
		if !ok {
			return nil, badModel("no tensor %s", w.name)
		}
		var t stTensor
		if err := json.Unmarshal(rt, &t); err != nil {
			return nil, fmt.Errorf("%w: bad header json: tensor %s: %w", ErrBadModel, w.name, err)
		}
		if !slices.Equal(t.Shape, w.shape) {
			return nil, badModel("tensor %s has shape %v, want %v", w.name, t.Shape, w.shape)
		}
		size := 0
		switch t.DType {
		case "F64":
			size = 8
		case "F32":
			size = 4
		default:
			return nil, badModel("tensor %s has dtype %q, want F64 or F32", w.name, t.DType)
		}
		n := numel(w.shape)
		b, e := t.DataOffsets[0], t.DataOffsets[1]
		if b < 0 || e < b || e-b != int64(n*size) {
			return nil, badModel("tensor %s: data_offsets [%d, %d] do not hold %d %s values", w.name, b, e, n, t.DType)
		}
		if e > int64(len(body)) {
			return nil, badModel("truncated: tensor %s ends at byte %d of the data, which has %d", w.name, e, len(body))
		}
		dst := m.params[off : off+n]
		src := body[b:e]
		for i := range dst {
			var x float64
			if size == 8 {
				x = math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
			} else {
				x = float64(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:])))
			}
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, badModel("tensor %s[%d] = %v", w.name, i, x)
			}
			dst[i] = x
		}
		off += n
	}
	return m, nil
}

func tensorNames(ts []combTensor) string {
	var s string
	for i, t := range ts {
		if i > 0 {
			s += ", "
		}
		s += t.name
	}
	return s
}
