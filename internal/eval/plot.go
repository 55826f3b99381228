package eval

import (
	"bytes"
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// stabilityPNG draws the paper's Fig. 7 for one judge prompt: for every
// dataset, model and strategy, the mean judge score over the first n
// samples (records, in dataset order; each record's score is the mean over
// seeds of its median rating; unrated records are skipped) against n, with
// a band of ± one standard error of that mean.
func (rep *Report) stabilityPNG(kind string) ([]byte, error) {
	p := plot.New()
	p.Title.Text = "Judge score vs number of samples: " + kind
	p.X.Label.Text = "number of samples"
	p.Y.Label.Text = "mean " + kind + " score (± s.e.)"
	p.Add(plotter.NewGrid())
	p.Legend.Top = false
	p.Legend.Left = true
	p.Legend.XOffs, p.Legend.YOffs = vg.Points(8), vg.Points(8)
	p.Y.Min, p.Y.Max = 0.5, 10.5
	lines := 0
	maxN := 1
	for i, r := range rep.Rows {
		n, means, se := runningMean(r.Samples[kind])
		if len(n) == 0 {
			continue
		}
		maxN = max(maxN, n[len(n)-1])
		c := plotutil.Color(i)
		line := make(plotter.XYs, len(n))
		band := make(plotter.XYs, 0, 2*len(n))
		for k := range n {
			line[k] = plotter.XY{X: float64(n[k]), Y: means[k]}
			band = append(band, plotter.XY{X: float64(n[k]), Y: means[k] + se[k]})
		}
		for k := len(n) - 1; k >= 0; k-- {
			band = append(band, plotter.XY{X: float64(n[k]), Y: means[k] - se[k]})
		}
		if len(n) > 1 {
			poly, err := plotter.NewPolygon(band)
			if err != nil {
				return nil, err
			}
			rr, gg, bb, _ := c.RGBA()
			poly.Color = color.NRGBA{R: uint8(rr >> 8), G: uint8(gg >> 8), B: uint8(bb >> 8), A: 50}
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
		l, err := plotter.NewLine(line)
		if err != nil {
			return nil, err
		}
		l.Color = c
		l.Width = vg.Points(2)
		l.Dashes = plotutil.Dashes(i / 7)
		sc, err := plotter.NewScatter(line)
		if err != nil {
			return nil, err
		}
		sc.Color = c
		sc.Radius = vg.Points(2)
		p.Add(l, sc)
		label := r.Label()
		if len(rep.Datasets) > 1 {
			label = r.Dataset + ": " + label
		}
		p.Legend.Add(label, l)
		lines++
	}
	p.X.Min, p.X.Max = 1, float64(max(maxN, 2))
	if lines == 0 {
		p.Title.Text += " (no rated samples)"
	}
	wt, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("render png: %w", err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("render png: %w", err)
	}
	return buf.Bytes(), nil
}
