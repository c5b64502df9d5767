package charts

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/celery-bench/bench/results"
)

// ComparisonMetrics lists the metrics of a comparison in the order its
// charts show them.
func ComparisonMetrics(c *results.Comparison) []string {
	var out []string
	seen := map[string]bool{}
	for _, ch := range c.Rows {
		if !seen[ch.Metric] {
			seen[ch.Metric] = true
			out = append(out, ch.Metric)
		}
	}
	return out
}

// Comparison draws one metric of c: for each backend · workload · op,
// BASE and HEAD overlaid as their medians with their confidence intervals
// as error bars, both relative to BASE's median (so rows whose values
// differ by orders of magnitude share one axis); a filled HEAD point is a
// significant change.
func Comparison(c *results.Comparison, metric string) (*Chart, error) {
	var rows []results.Change
	for _, ch := range c.Rows {
		if ch.Metric == metric && ch.Base.Summary.Center > 0 {
			rows = append(rows, ch)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no %s figures to compare", ErrNoData, metric)
	}
	p := newPlot("", "", metric+" relative to BASE's median")
	var names []string
	top, bottom := 1.0, 1.0
	for side, pick := range []func(results.Change) results.Stat{
		func(ch results.Change) results.Stat { return ch.Base },
		func(ch results.Change) results.Stat { return ch.Head },
	} {
		var pts plotter.XYs
		var errs plotter.YErrors
		var sig plotter.XYs
		for i, ch := range rows {
			st := pick(ch)
			norm := ch.Base.Summary.Center
			y := st.Summary.Center / norm
			lo, hi := st.Summary.Lo/norm, st.Summary.Hi/norm
			if math.IsInf(lo, 0) || math.IsNaN(lo) {
				lo = y
			}
			if math.IsInf(hi, 0) || math.IsNaN(hi) {
				hi = y
			}
			x := float64(i) + 0.15*float64(2*side-1)
			pts = append(pts, plotter.XY{X: x, Y: y})
			errs = append(errs, struct{ Low, High float64 }{y - lo, hi - y})
			if side == 1 && ch.Significant {
				sig = append(sig, plotter.XY{X: x, Y: y})
			}
			top, bottom = math.Max(top, hi), math.Min(bottom, lo)
			if side == 0 {
				names = append(names, strings.TrimSpace(ch.Backend+" "+ch.Level+" "+ch.Op))
			}
		}
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return nil, err
		}
		s.GlyphStyle.Color, s.GlyphStyle.Radius, s.GlyphStyle.Shape = colour(side), 3, draw.RingGlyph{}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{pts, errs})
		if err != nil {
			return nil, err
		}
		eb.LineStyle.Color = colour(side)
		eb.LineStyle.Width = vg.Points(1.2)
		p.Add(eb, s)
		label := "BASE " + c.Base
		if side == 1 {
			label = "HEAD " + c.Head
			if len(sig) > 0 {
				f, err := plotter.NewScatter(sig)
				if err != nil {
					return nil, err
				}
				f.GlyphStyle.Color, f.GlyphStyle.Radius, f.GlyphStyle.Shape = colour(side), 3, draw.CircleGlyph{}
				p.Add(f)
			}
		}
		p.Legend.Add(label, s)
	}
	one, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1}, {X: float64(len(rows)) - 0.5, Y: 1}})
	if err != nil {
		return nil, err
	}
	one.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	p.Add(one)
	pad := (top - bottom) * 0.1
	p.Y.Min, p.Y.Max = math.Max(0, bottom-pad), top+pad
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = 8
	if len(rows) > 6 {
		p.X.Tick.Label.Rotation = math.Pi / 6
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	}
	title := fmt.Sprintf("%s: BASE and HEAD medians with their %.0f%% confidence intervals (filled: significant)", metric, 100*c.Confidence)
	return &Chart{rows: [][]*plot.Plot{{p}}, height: 300, Title: title}, nil
}
