package fusion

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cogenesis/cogenesis/llm"
)

// storeCase makes a random step: q over n tokens, a cloud top-k list from
// another random distribution, and the completed p_l.
func storeCase(r *rand.Rand, n, k int) (q, pl []float64, top []llm.TopLogprob) {
	q = combDist(r, n, 3)
	cloud := combDist(r, n, 3)
	top = combTop(cloud, k)
	pl, err := Complete(nil, q, top)
	if err != nil {
		panic(err)
	}
	return q, pl, top
}

func TestPositionsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const k = 6
	var ps []Position
	var feat []float64
	for step := range 20 {
		q, pl, top := storeCase(r, 40, k)
		var p Position
		p, feat = NewPosition(int32(r.IntN(40)), q, pl, top, k, step, feat)
		ps = append(ps, p)
	}
	path := filepath.Join(t.TempDir(), PositionFile(3))
	if err := WritePositions(path, k, ps); err != nil {
		t.Fatal(err)
	}
	gotK, got, err := ReadPositions(path)
	if err != nil {
		t.Fatal(err)
	}
	if gotK != k || len(got) != len(ps) {
		t.Fatalf("k %d, %d positions; want %d, %d", gotK, len(got), k, len(ps))
	}
	for i := range ps {
		a, b := ps[i], got[i]
		if a.Token != b.Token || a.QY != b.QY || a.PLY != b.PLY || a.MaxY != b.MaxY || len(a.Cands) != len(b.Cands) || len(a.Features) != len(b.Features) {
			t.Fatalf("position %d differs after the round trip", i)
		}
		for j := range a.Features {
			if a.Features[j] != b.Features[j] {
				t.Fatalf("position %d feature %d: %g != %g", i, j, a.Features[j], b.Features[j])
			}
		}
	}

	// Every truncation and a flipped magic are clear errors.
	data, _ := os.ReadFile(path)
	for _, n := range []int{0, 3, 10, 25, len(data) / 2, len(data) - 1} {
		bad := filepath.Join(t.TempDir(), "bad.cgfx")
		os.WriteFile(bad, data[:n], 0o600)
		if _, _, err := ReadPositions(bad); !errors.Is(err, ErrBadStore) || !strings.Contains(err.Error(), bad) {
			t.Errorf("truncated to %d bytes: err = %v, want ErrBadStore naming the file", n, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "extra.cgfx")
	os.WriteFile(bad, append(append([]byte(nil), data...), 0), 0o600)
	if _, _, err := ReadPositions(bad); !errors.Is(err, ErrBadStore) {
		t.Errorf("trailing byte: err = %v", err)
	}
}

// TestEvaluateMatchesFullDistribution checks Evaluate, which sees only the
// stored candidates, against the rules computed over the whole vocabulary.
func TestEvaluateMatchesFullDistribution(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, k = 50, 5
	comb := NewCombModel(k, 3)
	var recs [][]Position
	var feat []float64
	type want struct{ nll, top1 float64 }
	sums := map[string]*want{"slm": {}, "cloud": {}, "mean": {}, "max": {}, "learned": {}}
	count := 0
	for rec := range 4 {
		var ps []Position
		for step := range 30 {
			q, pl, top := storeCase(r, n, k)
			// Reference tokens: often a likely one, sometimes any.
			y := int32(r.IntN(n))
			if step%2 == 0 {
				y = top[r.IntN(len(top))].Token
			}
			var p Position
			p, feat = NewPosition(y, q, pl, top, k, step+rec, feat)
			ps = append(ps, p)
			f64 := make([]float64, len(p.Features))
			for i, x := range p.Features {
				f64[i] = float64(x)
			}
			wl := comb.Weight(f64)
			for name, w := range map[string]float64{"slm": 1, "cloud": 0, "mean": 0.5, "learned": wl} {
				pc := Mix(nil, q, pl, w)
				sums[name].nll -= math.Log(pc[y])
				if Argmax(pc) == y {
					sums[name].top1++
				}
			}
			pm := MaxOf(nil, q, pl)
			sums["max"].nll -= math.Log(pm[y])
			if Argmax(pm) == y {
				sums["max"].top1++
			}
			count++
		}
		recs = append(recs, ps)
	}
	for _, s := range Evaluate(recs, comb) {
		w := sums[s.Rule]
		wantNLL, wantTop1 := w.nll/float64(count), w.top1/float64(count)
		// Features are stored as float32, so learned's w differs slightly.
		if math.Abs(s.NLL-wantNLL) > 1e-5 || math.Abs(s.Top1-wantTop1) > 1e-9 {
			t.Errorf("%s: NLL %.6f top-1 %.4f, full vocabulary gives %.6f %.4f", s.Rule, s.NLL, s.Top1, wantNLL, wantTop1)
		}
	}
	out := FormatScores(Evaluate(recs, comb), true)
	if !strings.HasPrefix(out, "| fusion | NLL per token | top-1 accuracy |") || strings.Count(out, "\n") != 7 {
		t.Errorf("markdown table:\n%s", out)
	}
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "no position files") {
		t.Errorf("empty dir: %v", err)
	}
	r := rand.New(rand.NewPCG(7, 8))
	q, pl, top := storeCase(r, 20, 4)
	p, _ := NewPosition(top[0].Token, q, pl, top, 4, 0, nil)
	for i := range 3 {
		if err := WritePositions(filepath.Join(dir, PositionFile(i)), 4, []Position{p, p}); err != nil {
			t.Fatal(err)
		}
	}
	k, recs, err := LoadDir(dir)
	if err != nil || k != 4 || len(recs) != 3 || len(Examples(recs)) != 6 {
		t.Fatalf("k %d, %d records, err %v", k, len(recs), err)
	}
	q5, pl5, top5 := storeCase(r, 20, 5)
	p5, _ := NewPosition(top5[0].Token, q5, pl5, top5, 5, 0, nil)
	WritePositions(filepath.Join(dir, PositionFile(9)), 5, []Position{p5})
	if _, _, err := LoadDir(dir); err == nil || !strings.Contains(err.Error(), "k 5") {
		t.Errorf("mixed k: %v", err)
	}
}
