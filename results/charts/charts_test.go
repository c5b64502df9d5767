package charts

import (
	"bytes"
	"errors"
	"image/png"
	"os"
	"strings"
	"testing"

	"github.com/celery-bench/bench/results"
)

func readRun(t *testing.T, path string) *results.Run {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := results.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestImages draws every chart of a real Redis and MariaDB sweep run with
// two repetitions as PNG and SVG, and checks what a reader of a GitHub
// comment gets: 800 px wide, under 300 KB, ink on the page, and the labels
// that say what is drawn.
func TestImages(t *testing.T) {
	r := readRun(t, "../testdata/redis-mysql-sweep.json")
	labels := map[string][]string{
		"percentiles": {"percentile", "50%", "99.9%", "roundtrip latency", "redis", "mysql"},
		"timeline":    {"seconds into the measured window", "roundtrip per s", "p99 (solid)", "redis workers=2", "mysql workers=8"},
		"sweep":       {"roundtrip per s (achieved)", "knee", "workers=8"},
		"cost":        {"server CPU per task", "µs", "statements per task"},
		"reps":        {"per repetition", "redis workers=2"},
	}
	for _, kind := range Kinds {
		var pngBuf, svgBuf bytes.Buffer
		if err := Render(&pngBuf, r, kind, "", "png"); err != nil {
			t.Fatalf("%s png: %v", kind, err)
		}
		if err := Render(&svgBuf, r, kind, "", "svg"); err != nil {
			t.Fatalf("%s svg: %v", kind, err)
		}
		size := pngBuf.Len()
		if n := size; n > 300<<10 {
			t.Errorf("%s png is %d KB, want under 300", kind, n>>10)
		}
		img, err := png.Decode(&pngBuf)
		if err != nil {
			t.Fatalf("%s png: %v", kind, err)
		}
		if w := img.Bounds().Dx(); w != 800 {
			t.Errorf("%s png is %d px wide, want 800", kind, w)
		}
		var ink, all int
		for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y++ {
			for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x++ {
				all++
				if r, g, b, _ := img.At(x, y).RGBA(); r>>8 < 200 || g>>8 < 200 || b>>8 < 200 {
					ink++
				}
			}
		}
		if f := float64(ink) / float64(all); f < 0.01 {
			t.Errorf("%s png is blank (%.2f%% ink)", kind, 100*f)
		}
		svg := svgBuf.String()
		for _, l := range labels[kind] {
			if !strings.Contains(svg, l) {
				t.Errorf("%s svg lacks %q", kind, l)
			}
		}
		t.Logf("%s: png %d KB, %d×%d px, %.1f%% ink", kind, size>>10, img.Bounds().Dx(), img.Bounds().Dy(), 100*float64(ink)/float64(all))
	}
}

// TestPercentileCurve checks the log-percentile axis against the
// histogram it comes from: x = 1/(1-q), y its value at q.
func TestPercentileCurve(t *testing.T) {
	h := results.NewHistogram()
	for i := int64(1); i <= 10000; i++ {
		_ = h.RecordValue(i * 1000) // 1 µs .. 10 ms
	}
	pts := PercentileCurve(h)
	if pts[0].X != 1 || pts[len(pts)-1].X != 10000 {
		t.Errorf("x from %v to %v, want 1 (p0) to 10000 (the count)", pts[0].X, pts[len(pts)-1].X)
	}
	if pts[0].Y != float64(h.Min())/1e6 {
		t.Errorf("p0 = %v ms, want the histogram's minimum, %d ns", pts[0].Y, h.Min())
	}
	for _, p := range pts {
		q := 100 * (1 - 1/p.X)
		if want := float64(h.ValueAtQuantile(q)) / 1e6; p.Y != want {
			t.Fatalf("at x=%v y=%v, want %v", p.X, p.Y, want)
		}
	}
	for _, p := range pts {
		if p.X == 2 && (p.Y < 4.99 || p.Y > 5.01) {
			t.Errorf("p50 = %v ms, want 5", p.Y)
		}
	}
}

// TestNoData: charts a run cannot have say so instead of drawing nothing.
func TestNoData(t *testing.T) {
	r := readRun(t, "../testdata/memory.json")
	for _, kind := range []string{"sweep", "cost", "reps"} {
		if _, err := Make(r, kind, ""); !errors.Is(err, ErrNoData) {
			t.Errorf("%s of a one-level memory run: %v, want ErrNoData", kind, err)
		}
	}
	if _, err := Make(r, "pie", ""); err == nil || errors.Is(err, ErrNoData) {
		t.Errorf("unknown chart: %v", err)
	}
	if _, err := Make(r, "timeline", "no_such_op"); !errors.Is(err, ErrNoData) {
		t.Errorf("timeline of a missing op: %v", err)
	}
	old := *r
	old.Results = append([]results.Result(nil), r.Results...)
	old.Results[0].Ops = append([]results.Op(nil), r.Results[0].Ops...)
	for i := range old.Results[0].Ops {
		old.Results[0].Ops[i].Intervals = nil // a run file from before timelines
	}
	if _, err := Make(&old, "timeline", ""); !errors.Is(err, ErrNoData) {
		t.Errorf("timeline of a run without intervals: %v", err)
	}
	if _, err := Make(&old, "percentiles", ""); err != nil {
		t.Errorf("percentiles of a run without intervals: %v", err)
	}
}
