package fusion

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/cogenesis/cogenesis/internal/atomicfile"
	"github.com/cogenesis/cogenesis/llm"
)

// Position is one reference token under teacher forcing: what the small
// model (with context) and the cloud (without) predicted for it, reduced to
// what training and evaluating a fusion rule need.
type Position struct {
	// Token is the reference token y.
	Token int32
	// Features is [Features] of the step, with the store's K.
	Features []float32
	// QY and PLY are q(y) and the completed cloud p_l(y); MaxY is p_c(y)
	// under the max rule, whose normaliser needs the whole vocabulary.
	QY, PLY, MaxY float64
	// Cands are the tokens that can be the argmax of w·q + (1−w)·p_l for
	// any w, or of max(q, p_l): the cloud's top-K and the small model's
	// top K+1 (outside the cloud's set p_l is proportional to q, so the
	// best there is the small model's best outside the set).
	Cands []Cand
}

// Cand is one candidate token with its q and completed p_l.
type Cand struct {
	Token int32
	Q, PL float32
}

// NewPosition builds the stored position for reference token y at step
// from the small model's full distribution q, the completed cloud
// distribution pl (from [Complete] of q and top) and the cloud's top-K
// list; k is the store's K. feat is scratch for [Features]; the grown
// scratch is returned for the next call.
func NewPosition(y int32, q, pl []float64, top []llm.TopLogprob, k, step int, feat []float64) (Position, []float64) {
	feat = Features(feat, q, pl, top, k, step)
	p := Position{Token: y, QY: q[y], PLY: pl[y], Features: make([]float32, len(feat))}
	for i, x := range feat {
		p.Features[i] = float32(x)
	}
	var z float64
	for i := range q {
		z += max(q[i], pl[i])
	}
	p.MaxY = max(q[y], pl[y]) / z
	seen := make(map[int32]bool, len(top)+k+1)
	add := func(t int32) {
		if !seen[t] {
			seen[t] = true
			p.Cands = append(p.Cands, Cand{Token: t, Q: float32(q[t]), PL: float32(pl[t])})
		}
	}
	for _, t := range top {
		add(t.Token)
	}
	for _, t := range topIndices(q, k+1) {
		add(t)
	}
	return p, feat
}

// topIndices returns the n largest entries' indices, largest first (ties:
// lowest index).
func topIndices(p []float64, n int) []int32 {
	out := make([]int32, 0, n+1)
	for i, x := range p {
		j := len(out)
		for j > 0 && x > p[out[j-1]] {
			j--
		}
		if j >= n {
			continue
		}
		out = slices.Insert(out, j, int32(i))
		if len(out) > n {
			out = out[:n]
		}
	}
	return out
}

// storeMagic starts every position file; storeVersion is its layout.
const (
	storeMagic   = "CGFX"
	storeVersion = 1
)

// ErrBadStore reports a position file that is not what [WritePositions]
// writes.
var ErrBadStore = errors.New("bad position file")

// WritePositions writes the positions of one record to path atomically
// (a temporary file renamed into place), so that a crash leaves either
// the whole file or none.
func WritePositions(path string, k int, ps []Position) error {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString(storeMagic)
	w(uint32(storeVersion))
	w(uint32(FeatureVersion))
	w(uint32(k))
	w(uint32(len(ps)))
	nf := NumFeatures(k)
	for i, p := range ps {
		if len(p.Features) != nf {
			return fmt.Errorf("write %s: position %d has %d features, want %d", path, i, len(p.Features), nf)
		}
		w(p.Token)
		w(p.QY)
		w(p.PLY)
		w(p.MaxY)
		w(uint16(len(p.Cands)))
		for _, c := range p.Cands {
			w(c.Token)
			w(c.Q)
			w(c.PL)
		}
		w(p.Features)
	}
	return atomicfile.Write(path, b.Bytes(), 0o600)
}

// ReadPositions reads a file that [WritePositions] wrote; k is its K.
// Errors name the file and what is wrong, and wrap [ErrBadStore].
func ReadPositions(path string) (k int, ps []Position, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	r := bufio.NewReader(f)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w: %s", path, ErrBadStore, fmt.Sprintf(format, args...))
	}
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != storeMagic {
		return 0, nil, bad("not a position file (magic %q)", magic[:])
	}
	var hdr [4]uint32
	if err := binary.Read(r, binary.LittleEndian, &hdr); err != nil {
		return 0, nil, bad("truncated header")
	}
	if hdr[0] != storeVersion {
		return 0, nil, bad("layout version %d, want %d", hdr[0], storeVersion)
	}
	if hdr[1] != FeatureVersion {
		return 0, nil, bad("feature version %d, want %d (extract again)", hdr[1], FeatureVersion)
	}
	k = int(hdr[2])
	if k < 1 || k > MaxK {
		return 0, nil, bad("k %d outside [1, %d]", k, MaxK)
	}
	n := int(hdr[3])
	nf := NumFeatures(k)
	for i := range n {
		var p Position
		var head struct {
			Token         int32
			QY, PLY, MaxY float64
			NCand         uint16
		}
		if err := binary.Read(r, binary.LittleEndian, &head); err != nil {
			return 0, nil, bad("position %d of %d: truncated", i, n)
		}
		if int(head.NCand) > 2*MaxK+1 {
			return 0, nil, bad("position %d: %d candidates", i, head.NCand)
		}
		p.Token, p.QY, p.PLY, p.MaxY = head.Token, head.QY, head.PLY, head.MaxY
		p.Cands = make([]Cand, head.NCand)
		p.Features = make([]float32, nf)
		if err := binary.Read(r, binary.LittleEndian, p.Cands); err != nil {
			return 0, nil, bad("position %d of %d: truncated", i, n)
		}
		if err := binary.Read(r, binary.LittleEndian, p.Features); err != nil {
			return 0, nil, bad("position %d of %d: truncated", i, n)
		}
		for _, x := range []float64{p.QY, p.PLY, p.MaxY} {
			if !(x >= 0 && x <= 1+1e-6) {
				return 0, nil, bad("position %d: probability %g", i, x)
			}
		}
		ps = append(ps, p)
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return 0, nil, bad("trailing bytes after %d positions", n)
	}
	return k, ps, nil
}

// PositionFile is the name of record i's file in an extraction directory.
func PositionFile(i int) string { return fmt.Sprintf("rec-%05d.cgfx", i) }

// LoadDir reads every position file of an extraction directory, in record
// order, and checks that they share one K.
func LoadDir(dir string) (k int, recs [][]Position, err error) {
	names, err := filepath.Glob(filepath.Join(dir, "rec-*.cgfx"))
	if err != nil {
		return 0, nil, err
	}
	if len(names) == 0 {
		return 0, nil, fmt.Errorf("%s: no position files (rec-*.cgfx); run cogen fusion extract first", dir)
	}
	sort.Strings(names)
	for _, name := range names {
		kk, ps, err := ReadPositions(name)
		if err != nil {
			return 0, nil, err
		}
		if k != 0 && kk != k {
			return 0, nil, fmt.Errorf("%s: k %d, but earlier files have %d", name, kk, k)
		}
		k = kk
		recs = append(recs, ps)
	}
	return k, recs, nil
}

// Examples turns positions into training examples.
func Examples(recs [][]Position) []Example {
	var out []Example
	for _, ps := range recs {
		for _, p := range ps {
			f := make([]float64, len(p.Features))
			for i, x := range p.Features {
				f[i] = float64(x)
			}
			out = append(out, Example{Features: f, QY: p.QY, PLY: p.PLY})
		}
	}
	return out
}

// Score is one fusion rule's result on a set of positions.
type Score struct {
	Rule string
	// NLL is the mean −log p_c(y) per token; Top1 the fraction of
	// positions where the reference token is p_c's argmax.
	NLL, Top1 float64
	// MeanW is the mean weight of the small model (learned only).
	MeanW float64
}

// probFloor keeps −log finite when a rule gives the reference token no mass.
const probFloor = 1e-30

// Evaluate scores slm (w = 1), cloud (w = 0, the completed distribution),
// mean, max and, with comb set, learned on every position.
func Evaluate(recs [][]Position, comb *CombModel) []Score {
	rules := []string{"slm", "cloud", "mean", "max"}
	if comb != nil {
		rules = append(rules, "learned")
	}
	scores := make([]Score, len(rules))
	for i, r := range rules {
		scores[i].Rule = r
	}
	var n int
	var feat []float64
	for _, ps := range recs {
		for _, p := range ps {
			n++
			w := []float64{1, 0, 0.5, -1}
			if comb != nil {
				feat = feat[:0]
				for _, x := range p.Features {
					feat = append(feat, float64(x))
				}
				w = append(w, comb.Weight(feat))
			}
			for i, wi := range w {
				var py float64
				var key func(c Cand) float64
				if wi < 0 { // max
					py = p.MaxY
					key = func(c Cand) float64 { return math.Max(float64(c.Q), float64(c.PL)) }
				} else {
					py = wi*p.QY + (1-wi)*p.PLY
					key = func(c Cand) float64 { return wi*float64(c.Q) + (1-wi)*float64(c.PL) }
					scores[i].MeanW += wi
				}
				scores[i].NLL += -math.Log(max(py, probFloor))
				if best := slices.MaxFunc(p.Cands, func(a, b Cand) int {
					ka, kb := key(a), key(b)
					switch {
					case ka < kb:
						return -1
					case ka > kb:
						return 1
					}
					return int(b.Token - a.Token) // ties: lowest id, as Argmax
				}); len(p.Cands) > 0 && best.Token == p.Token {
					scores[i].Top1++
				}
			}
		}
	}
	for i := range scores {
		if n > 0 {
			scores[i].NLL /= float64(n)
			scores[i].Top1 /= float64(n)
			scores[i].MeanW /= float64(n)
		}
	}
	return scores
}

// FormatScores renders scores as an aligned text table, or as Markdown.
func FormatScores(scores []Score, markdown bool) string {
	var b strings.Builder
	if markdown {
		b.WriteString("| fusion | NLL per token | top-1 accuracy |\n|---|---:|---:|\n")
		for _, s := range scores {
			fmt.Fprintf(&b, "| %s | %.4f | %.4f |\n", s.Rule, s.NLL, s.Top1)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "%-8s  %13s  %14s\n", "fusion", "NLL per token", "top-1 accuracy")
	for _, s := range scores {
		fmt.Fprintf(&b, "%-8s  %13.4f  %14.4f\n", s.Rule, s.NLL, s.Top1)
	}
	return b.String()
}
