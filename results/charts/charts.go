// Package charts draws a run's figures as charts (gonum.org/v1/plot): the
// latency percentile distribution on HdrHistogram's log-percentile axis, the
// timeline of throughput and latency per interval, the throughput-latency
// curve of a sweep, the server's cost per task, and the spread over
// repetitions. Every percentile comes from the run's HdrHistograms.
//
// Charts are sized for GitHub's comment width (Width, 800 px at 96 dpi) and
// written as SVG or PNG. The functions are safe for concurrent use; they
// read the Run and never change it.
package charts

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/celery-bench/bench/results"
)

// Kinds are the chart names Render accepts.
var Kinds = []string{"percentiles", "timeline", "sweep", "cost", "reps"}

// Width is a chart's width: 800 px at 96 dpi, GitHub's comment width.
const Width = 600 * vg.Inch / 72 // 600 pt = 800 px at 96 dpi

// DPI is the resolution of PNG charts.
const DPI = 96

// ErrNoData is returned when the run has nothing to draw in the chart asked
// for (a timeline of a run recorded before timelines, a sweep of one level).
var ErrNoData = errors.New("nothing to draw")

// Palette colours the backends, in run order (Okabe-Ito, readable by
// colour-blind readers).
var Palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{213, 94, 0, 255},    // vermillion
	{0, 158, 115, 255},   // green
	{204, 121, 167, 255}, // purple
	{230, 159, 0, 255},   // orange
	{86, 180, 233, 255},  // sky
	{0, 0, 0, 255},
}

func colour(i int) color.RGBA { return Palette[i%len(Palette)] }

// A Chart is a drawing ready to be written.
type Chart struct {
	rows   [][]*plot.Plot
	height vg.Length
	// Title is the chart's caption.
	Title string
}

// Render draws the named chart of op (the run's first op when "") and
// writes it in format "svg" or "png".
func Render(w io.Writer, r *results.Run, kind, op, format string) error {
	c, err := Make(r, kind, op)
	if err != nil {
		return err
	}
	return c.Write(w, format)
}

// Make builds the named chart of op (the run's first op when op is "").
func Make(r *results.Run, kind, op string) (c *Chart, err error) {
	defer func() { // gonum panics on degenerate axes; report it instead
		if p := recover(); p != nil {
			c, err = nil, fmt.Errorf("drawing %s chart: %v", kind, p)
		}
	}()
	if op == "" {
		op = FirstOp(r)
	}
	switch kind {
	case "percentiles":
		return Percentiles(r, op)
	case "timeline":
		return Timeline(r, op)
	case "sweep":
		return Sweep(r, op)
	case "cost":
		return Cost(r)
	case "reps":
		return Reps(r, op)
	}
	return nil, fmt.Errorf("unknown chart %q; use one of %s", kind, strings.Join(Kinds, ", "))
}

// Write writes the chart as "svg" or "png".
func (c *Chart) Write(w io.Writer, format string) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("drawing chart: %v", p)
		}
	}()
	var canvas vg.CanvasWriterTo
	switch format {
	case "svg":
		canvas = vgsvg.New(Width, c.height)
	case "png":
		canvas = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(Width, c.height), vgimg.UseDPI(DPI))}
	default:
		return fmt.Errorf("unknown image format %q; use png or svg", format)
	}
	dc := draw.New(canvas)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	if c.Title != "" {
		sty := textStyle(12)
		dc.FillText(sty, vg.Point{X: dc.Min.X + 8, Y: dc.Max.Y - 16}, c.Title)
		dc.Max.Y -= 22
	}
	tiles := draw.Tiles{Rows: len(c.rows), Cols: len(c.rows[0]), PadX: 10, PadY: 10, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 8}
	cs := plot.Align(c.rows, tiles, dc)
	for i, row := range c.rows {
		for j, p := range row {
			p.Draw(cs[i][j])
		}
	}
	_, err = canvas.WriteTo(w)
	return err
}

func textStyle(size vg.Length) draw.TextStyle {
	return draw.TextStyle{Color: color.Black, Font: font.From(plot.DefaultFont, size), Handler: plot.DefaultTextHandler}
}

func init() {
	plot.DefaultFont = font.Font{Typeface: "Liberation", Variant: "Sans"}
	plotter.DefaultFont = plot.DefaultFont
}

// newPlot returns a plot with the package's text sizes.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 11
	p.X.Label.Text = x
	p.Y.Label.Text = y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = 10
		a.Tick.Label.Font.Size = 9
	}
	p.Legend.TextStyle.Font.Size = 9
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return p
}

// FirstOp is the run's first op: the workload's task-level timing.
func FirstOp(r *results.Run) string {
	for _, res := range r.Results {
		if len(res.Ops) > 0 {
			return res.Ops[0].Name
		}
	}
	return ""
}

// OpNames lists every op of the run, in first-seen order.
func OpNames(r *results.Run) []string {
	var out []string
	for _, res := range r.Results {
		for _, o := range res.Ops {
			if !slices.Contains(out, o.Name) {
				out = append(out, o.Name)
			}
		}
	}
	return out
}

// Label names a result in a legend: the backend's implementation, its URL
// when two results share it, and the level.
func Label(rs []results.Result, i int) string {
	l := rs[i].Name
	for j := range rs {
		if j != i && rs[j].Name == rs[i].Name && rs[j].Backend != rs[i].Backend {
			l = rs[i].Backend
		}
	}
	if rs[i].Level != "" {
		l += " " + rs[i].Level
	}
	return l
}

// backends returns the combined results of the run's first level (or of the
// only one), the ones compared side by side.
func backends(r *results.Run) []results.Result {
	all := r.Combine()
	if len(all) == 0 {
		return nil
	}
	var out []results.Result
	for _, res := range all {
		if res.Level == all[0].Level {
			out = append(out, res)
		}
	}
	return out
}

// PercentileTicks label the log-percentile axis.
var PercentileTicks = []float64{0, 50, 90, 99, 99.9, 99.99, 99.999}

// PercentileCurve returns points (x = 1/(1-q), y = latency in ms) of h from
// the minimum (q = 0, x = 1) to the largest quantile its count supports (at
// most 99.999%), 24 points per decade, each from h.ValueAtQuantile. It
// starts at 0%, not the median, so that a mode below the median (MySQL's
// first-poll hits) shows as a step.
func PercentileCurve(h *hdrhistogram.Histogram) plotter.XYs {
	n := h.TotalCount()
	if n == 0 {
		return nil
	}
	top := math.Min(1e5, float64(n)) // beyond 1/(1-q) = n every quantile is the max
	var pts plotter.XYs
	for e := 0.0; ; e += 1.0 / 24 {
		x := math.Pow(10, e)
		if x > top {
			x = top
		}
		q := 100 * (1 - 1/x)
		pts = append(pts, plotter.XY{X: x, Y: float64(h.ValueAtQuantile(q)) / 1e6})
		if x >= top {
			break
		}
	}
	return pts
}

func percentileAxis(p *plot.Plot, maxX float64) {
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, q := range PercentileTicks {
		x := 1 / (1 - q/100)
		if x <= maxX*1.01 {
			ticks = append(ticks, plot.Tick{Value: x, Label: trimPct(q)})
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = 1, math.Max(maxX, 10)
}

func trimPct(q float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", q), "0"), ".") + "%"
}

// logMs sets a log latency axis (milliseconds) over [lo, hi].
func logMs(a *plot.Axis, lo, hi float64) {
	if lo <= 0 || math.IsInf(lo, 0) {
		lo = 1e-3
	}
	if hi <= lo {
		hi = lo * 10
	}
	a.Scale = plot.LogScale{}
	a.Min, a.Max = lo/1.3, hi*1.3
	a.Tick.Marker = msTicks{}
}

// msTicks labels a log axis of milliseconds with round latencies.
type msTicks struct{}

func (msTicks) Ticks(min, max float64) []plot.Tick {
	var out []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < min || v > max {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || max/min < 100 {
				t.Label = results.Nanos(int64(math.Round(v * 1e6)))
			}
			out = append(out, t)
		}
	}
	return out
}

// Percentiles draws op's latency percentile distribution, one line per
// backend (repetitions combined).
func Percentiles(r *results.Run, op string) (*Chart, error) {
	rs := backends(r)
	p := newPlot("", "percentile", op+" latency")
	lo, hi, maxX := math.Inf(1), 0.0, 0.0
	for i := range rs {
		o, ok := rs[i].Op(op)
		if !ok || o.Count() == 0 {
			continue
		}
		pts := PercentileCurve(o.Latency)
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = colour(i), 2
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("%s (%s)", Label(rs, i), results.Count(o.Count())), l)
		for _, pt := range pts {
			lo, hi, maxX = math.Min(lo, pt.Y), math.Max(hi, pt.Y), math.Max(maxX, pt.X)
		}
	}
	if hi == 0 {
		return nil, fmt.Errorf("%w: no successful %s", ErrNoData, op)
	}
	percentileAxis(p, maxX)
	logMs(&p.Y, lo, hi)
	p.Legend.Left, p.Legend.Top = false, false // curves rise to the right: the bottom right is free
	return &Chart{rows: [][]*plot.Plot{{p}}, height: 300, Title: op + ": latency by percentile"}, nil
}

// Timeline draws op's throughput and p50/p99 per interval, one row per
// backend (first repetition), warm-up shaded, intervals with errors marked.
func Timeline(r *results.Run, op string) (*Chart, error) {
	var rs []results.Result
	for _, res := range r.Results {
		if res.Rep == 0 {
			rs = append(rs, res)
		}
	}
	var rows [][]*plot.Plot
	for i := range rs {
		o, ok := rs[i].Op(op)
		if !ok || len(o.Intervals) == 0 {
			continue
		}
		tp, lat, err := timelineRow(&rs[i], o, Label(rs, i), colour(i))
		if err != nil {
			return nil, err
		}
		rows = append(rows, []*plot.Plot{tp, lat})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%w: no timeline of %s (a run file from before timelines?)", ErrNoData, op)
	}
	return &Chart{rows: rows, height: vg.Length(40 + 170*len(rows)), Title: op + " per interval: throughput (errors: red ×) and latency; warm-up shaded"}, nil
}

func timelineRow(res *results.Result, o *results.Op, label string, c color.RGBA) (tp, lat *plot.Plot, err error) {
	tp = newPlot(label+": "+o.Name+" per s", "seconds into the measured window", "")
	lat = newPlot(label+": p99 (solid), p50 (dashed)", "seconds into the measured window", "")
	var rate, p50, p99, errs plotter.XYs
	lo, hi, top := math.Inf(1), 0.0, 0.0
	first, last := math.Inf(1), math.Inf(-1)
	ivs := Measured(res, o.Intervals)
	for i := range ivs {
		iv := &ivs[i]
		x := (iv.Start + iv.Length/2).Seconds()
		first, last = math.Min(first, iv.Start.Seconds()), math.Max(last, (iv.Start+iv.Length).Seconds())
		rate = append(rate, plotter.XY{X: x, Y: iv.Rate()})
		top = math.Max(top, iv.Rate())
		if iv.Errors > 0 {
			errs = append(errs, plotter.XY{X: x, Y: float64(iv.Errors) / iv.Length.Seconds()})
			top = math.Max(top, float64(iv.Errors)/iv.Length.Seconds())
		}
		if iv.Count == 0 {
			continue
		}
		h, err := iv.Latency()
		if err != nil {
			return nil, nil, err
		}
		q := h.ValueAtPercentilesSlice([]float64{50, 99})
		p50 = append(p50, plotter.XY{X: x, Y: float64(q[0]) / 1e6})
		p99 = append(p99, plotter.XY{X: x, Y: float64(q[1]) / 1e6})
		lo, hi = math.Min(lo, float64(q[0])/1e6), math.Max(hi, float64(q[1])/1e6)
	}
	rate = fillGaps(rate, ivs)
	if top == 0 {
		top = 1
	}
	tp.Y.Min, tp.Y.Max = 0, top*1.15
	for _, p := range []*plot.Plot{tp, lat} {
		p.X.Min, p.X.Max = first, last
		p.X.Tick.Marker = secondTicks{}
	}
	logMs(&lat.Y, lo, hi)
	if first < 0 { // shade the warm-up
		for _, p := range []*plot.Plot{tp, lat} {
			ylo, yhi := p.Y.Min, p.Y.Max
			poly, err := plotter.NewPolygon(plotter.XYs{{X: first, Y: ylo}, {X: 0, Y: ylo}, {X: 0, Y: yhi}, {X: first, Y: yhi}})
			if err != nil {
				return nil, nil, err
			}
			poly.Color, poly.LineStyle.Width = color.RGBA{220, 220, 220, 255}, 0
			p.Add(poly)
		}
	}
	l, err := plotter.NewLine(rate)
	if err != nil {
		return nil, nil, err
	}
	l.Color, l.Width = c, 1.5
	tp.Add(l)
	if len(errs) > 0 {
		s, err := plotter.NewScatter(errs)
		if err != nil {
			return nil, nil, err
		}
		s.GlyphStyle.Color, s.GlyphStyle.Shape, s.GlyphStyle.Radius = color.RGBA{220, 0, 0, 255}, draw.CrossGlyph{}, 4
		tp.Add(s)
	}
	for _, series := range []struct {
		name string
		pts  plotter.XYs
		dash bool
	}{{"p99", p99, false}, {"p50", p50, true}} {
		if len(series.pts) == 0 {
			continue
		}
		l, s, err := plotter.NewLinePoints(series.pts)
		if err != nil {
			return nil, nil, err
		}
		l.Color, l.Width = c, 1.5
		s.GlyphStyle.Color, s.GlyphStyle.Radius = c, 1.5
		if series.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		lat.Add(l, s)
	}
	return tp, lat, nil
}

// fillGaps adds zero-rate points for the intervals of the timeline's span
// that had no observation of the op (an outage), so the line drops to zero.
func fillGaps(pts plotter.XYs, ivs []results.Interval) plotter.XYs {
	if len(ivs) < 2 {
		return pts
	}
	step := ivs[len(ivs)-1].Length
	if step <= 0 {
		return pts
	}
	var out plotter.XYs
	for i, p := range pts {
		if i > 0 {
			prev := ivs[i-1].Start
			for t := prev + step; t < ivs[i].Start; t += step {
				out = append(out, plotter.XY{X: (t + step/2).Seconds(), Y: 0})
			}
		}
		out = append(out, p)
	}
	return out
}

// Measured returns the intervals of a result's timeline that start inside
// its measurement window (the warm-up's included), the last one cut at the
// window's end, so that each interval's Rate is over the time it covered.
// Intervals after the window hold only the tasks in flight at its end.
func Measured(res *results.Result, ivs []results.Interval) []results.Interval {
	end := res.Elapsed()
	var out []results.Interval
	for _, iv := range ivs {
		if end > 0 && iv.Start >= end {
			continue
		}
		if end > 0 && iv.Start+iv.Length > end {
			iv.Length = end - iv.Start
		}
		out = append(out, iv)
	}
	return out
}

// secondTicks labels a time axis in whole seconds.
type secondTicks struct{}

func (secondTicks) Ticks(min, max float64) []plot.Tick {
	step := math.Max(1, math.Ceil((max-min)/10))
	var out []plot.Tick
	for v := math.Ceil(min/step) * step; v <= max; v += step {
		out = append(out, plot.Tick{Value: v, Label: fmt.Sprintf("%g", v+0)}) // +0: no "-0"
	}
	return out
}

// SweepPoint is one level of a sweep: its achieved throughput of the op and
// its latency percentiles (ns), from the level's combined histogram.
type SweepPoint struct {
	Level    string
	Rate     float64
	P50, P99 int64
	Errors   int64
	Knee     bool // the level with the highest throughput per p99 (Kleinrock's power)
}

// SweepPoints returns, per backend (by URL, in run order), the levels of
// the sweep for op, the knee marked. A run without levels has none.
func SweepPoints(r *results.Run, op string) (names []string, points [][]SweepPoint) {
	all := r.Combine()
	idx := map[string]int{}
	for i := range all {
		res := &all[i]
		if res.Level == "" {
			continue
		}
		o, ok := res.Op(op)
		if !ok || o.Count() == 0 {
			continue
		}
		k, ok := idx[res.Backend]
		if !ok {
			k = len(names)
			idx[res.Backend] = k
			names = append(names, res.Name)
			points = append(points, nil)
		}
		s := results.Summarize(o.Latency)
		points[k] = append(points[k], SweepPoint{Level: res.Level, Rate: o.Rate(res.Elapsed()), P50: s.P50, P99: s.P99, Errors: o.Errors})
	}
	for _, ps := range points {
		best, bi := -1.0, -1
		for i, p := range ps {
			if p.P99 > 0 && p.Rate/float64(p.P99) > best {
				best, bi = p.Rate/float64(p.P99), i
			}
		}
		if bi >= 0 && len(ps) > 1 {
			ps[bi].Knee = true
		}
	}
	return names, points
}

// Sweep draws, for a run over several levels, each backend's throughput
// against its p50 and p99 latency, each point labelled with its level and
// the knee circled.
func Sweep(r *results.Run, op string) (*Chart, error) {
	names, points := SweepPoints(r, op)
	p := newPlot("", op+" per s (achieved)", op+" latency")
	lo, hi, any := math.Inf(1), 0.0, false
	for i, ps := range points {
		if len(ps) < 2 {
			continue
		}
		any = true
		var p99, p50, knee plotter.XYs
		var labels []string
		for _, pt := range ps {
			p99 = append(p99, plotter.XY{X: pt.Rate, Y: float64(pt.P99) / 1e6})
			p50 = append(p50, plotter.XY{X: pt.Rate, Y: float64(pt.P50) / 1e6})
			labels = append(labels, pt.Level)
			lo, hi = math.Min(lo, float64(pt.P50)/1e6), math.Max(hi, float64(pt.P99)/1e6)
			if pt.Knee {
				knee = append(knee, plotter.XY{X: pt.Rate, Y: float64(pt.P99) / 1e6})
			}
		}
		for j, series := range []plotter.XYs{p99, p50} {
			l, s, err := plotter.NewLinePoints(series)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width, s.GlyphStyle.Color = colour(i), 1.5, colour(i)
			if j == 1 {
				l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
			}
			p.Add(l, s)
			p.Legend.Add(names[i]+[]string{" p99", " p50"}[j], l)
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: p99, Labels: labels})
		if err != nil {
			return nil, err
		}
		for k := range lb.TextStyle {
			lb.TextStyle[k].Font.Size = 8
		}
		lb.Offset = vg.Point{X: 4, Y: 2}
		p.Add(lb)
		if len(knee) > 0 {
			s, err := plotter.NewScatter(knee)
			if err != nil {
				return nil, err
			}
			s.GlyphStyle.Shape, s.GlyphStyle.Radius, s.GlyphStyle.Color = draw.RingGlyph{}, 7, color.RGBA{200, 0, 0, 255}
			s.GlyphStyle.Radius = 7
			p.Add(s)
			p.Legend.Add(names[i]+" knee", s)
		}
	}
	if !any {
		return nil, fmt.Errorf("%w: the run has no sweep of %s (run with a --workers or --rate list)", ErrNoData, op)
	}
	logMs(&p.Y, lo, hi)
	p.Y.Max = hi * 12 // headroom for the legend
	if rlo, rhi := rateRange(points); rlo > 0 && rhi/rlo > 20 {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		p.X.Min, p.X.Max = rlo/1.5, rhi*1.5
	}
	p.Legend.Left, p.Legend.Top = false, true
	return &Chart{rows: [][]*plot.Plot{{p}}, height: 320, Title: op + ": throughput against latency over the levels (knee: highest throughput per p99)"}, nil
}

func rateRange(points [][]SweepPoint) (lo, hi float64) {
	lo = math.Inf(1)
	for _, ps := range points {
		for _, p := range ps {
			lo, hi = math.Min(lo, p.Rate), math.Max(hi, p.Rate)
		}
	}
	return lo, hi
}

// Cost draws the server's cost per task, one small bar chart per figure
// with a bar per backend, so that figures in different units do not share
// a scale.
func Cost(r *results.Run) (*Chart, error) {
	rs := backends(r)
	type fig struct{ name, unit string }
	var figs []fig
	for i := range rs {
		for _, st := range rs[i].Stats {
			if st.PerTask && !slices.Contains(figs, fig{st.Name, st.Unit}) {
				figs = append(figs, fig{st.Name, st.Unit})
			}
		}
	}
	if len(figs) == 0 {
		return nil, fmt.Errorf("%w: no server cost in the run (memory:// and stand-ins have none)", ErrNoData)
	}
	var labels []string
	for i := range rs {
		labels = append(labels, Label(rs, i))
	}
	var rows [][]*plot.Plot
	var row []*plot.Plot
	for _, f := range figs {
		p := newPlot(f.name, f.unit, "")
		p.Title.TextStyle.Font.Size = 9
		vals := make(plotter.Values, len(rs))
		var lbl plotter.XYs
		var txt []string
		top := 0.0
		for i := range rs {
			if st, ok := rs[i].Stats.Get(f.name); ok && st.Unit == f.unit && st.PerTask {
				vals[i] = st.Value
				top = math.Max(top, st.Value)
				txt = append(txt, results.FormatStat(st.Value))
			} else {
				txt = append(txt, "-")
			}
		}
		for i := range rs {
			lbl = append(lbl, plotter.XY{X: vals[i], Y: float64(i)})
		}
		for i := range rs {
			b, err := plotter.NewBarChart(onlyAt(vals, i), vg.Points(10))
			if err != nil {
				return nil, err
			}
			b.Horizontal, b.Color, b.LineStyle.Width = true, colour(i), 0
			p.Add(b)
		}
		if top == 0 {
			top = 1
		}
		p.X.Min, p.X.Max = 0, top*1.45
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: lbl, Labels: txt})
		if err != nil {
			return nil, err
		}
		for k := range lb.TextStyle {
			lb.TextStyle[k].Font.Size = 8
		}
		lb.Offset = vg.Point{X: 3, Y: -3}
		p.Add(lb)
		p.NominalY(labels...)
		p.Y.Tick.Label.Font.Size = 8
		row = append(row, p)
		if len(row) == 2 {
			rows, row = append(rows, row), nil
		}
	}
	if row != nil {
		blank := plot.New()
		blank.HideAxes()
		rows = append(rows, append(row, blank))
	}
	h := vg.Length(40 + len(rows)*(40+14*len(rs)))
	return &Chart{rows: rows, height: h, Title: "what the server spent per task"}, nil
}

func onlyAt(v plotter.Values, i int) plotter.Values {
	out := make(plotter.Values, len(v))
	out[i] = v[i]
	return out
}

// Reps draws, for a --count run, each repetition's throughput and p99 of op
// per backend, so the spread is visible instead of a silent sum.
func Reps(r *results.Run, op string) (*Chart, error) {
	type key struct{ backend, level string }
	var keys []key
	byKey := map[key][]*results.Result{}
	for i := range r.Results {
		res := &r.Results[i]
		k := key{res.Backend, res.Level}
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], res)
	}
	tp := newPlot("throughput per repetition", "", op+" per s")
	lat := newPlot("p99 per repetition", "", op+" p99")
	var names []string
	lo, hi, top, many := math.Inf(1), 0.0, 0.0, false
	for i, k := range keys {
		reps := byKey[k]
		many = many || len(reps) > 1
		name := reps[0].Name
		if k.level != "" {
			name += " " + k.level
		}
		names = append(names, name)
		var tps, p99s plotter.XYs
		for j, res := range reps {
			o, ok := res.Op(op)
			if !ok || o.Count() == 0 {
				continue
			}
			jitter := (float64(j)/float64(len(reps)) - 0.5) * 0.3
			tps = append(tps, plotter.XY{X: float64(i) + jitter, Y: o.Rate(res.Elapsed())})
			v := float64(results.Summarize(o.Latency).P99) / 1e6
			p99s = append(p99s, plotter.XY{X: float64(i) + jitter, Y: v})
			lo, hi, top = math.Min(lo, v), math.Max(hi, v), math.Max(top, o.Rate(res.Elapsed()))
		}
		for _, pr := range []struct {
			p   *plot.Plot
			pts plotter.XYs
		}{{tp, tps}, {lat, p99s}} {
			if len(pr.pts) == 0 {
				continue
			}
			s, err := plotter.NewScatter(pr.pts)
			if err != nil {
				return nil, err
			}
			s.GlyphStyle.Color, s.GlyphStyle.Radius, s.GlyphStyle.Shape = colour(i), 3, draw.CircleGlyph{}
			pr.p.Add(s)
		}
	}
	if !many || hi == 0 {
		return nil, fmt.Errorf("%w: the run has one repetition (run with --count N)", ErrNoData)
	}
	tp.Y.Min, tp.Y.Max = 0, top*1.15
	logMs(&lat.Y, lo, hi)
	for _, p := range []*plot.Plot{tp, lat} {
		p.NominalX(names...)
		p.X.Tick.Label.Font.Size = 8
	}
	return &Chart{rows: [][]*plot.Plot{{tp, lat}}, height: 280, Title: fmt.Sprintf("%s: spread over the repetitions", op)}, nil
}
