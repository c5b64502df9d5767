package results

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

// synthOps are the ops of a synthetic result and their median latency.
var synthOps = []struct {
	name string
	ns   float64
}{{"roundtrip", 400_000}, {"store_result", 150_000}, {"get_task_meta", 70_000}}

// synthRun builds a run of reps repetitions of two backends, redis and
// mysql (interleaved as --count does), each measuring synthOps over a 2 s
// window. Latencies are log-normal (sigma 0.3) around each op's median,
// times a per-repetition drift of about 2% (the machine's noise between
// repetitions), times slow["backend/op"] when set: the injected
// difference. A slowed op also completes that much less often, so its
// throughput falls by the same factor. The same seed gives the same run.
func synthRun(reps int, seed uint64, slow map[string]float64) *Run {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	r := &Run{
		Format: FormatVersion, Bench: "devel", Go: "go1.26.8", Platform: "linux/amd64, 2 CPUs, GOMAXPROCS 2",
		Started: t0, Seed: seed,
		Summary: "workload roundtrip · 8 callers · 8 workers · 2s after 1s warm-up · synthetic",
		Options: []Option{
			{"backend", "redis://127.0.0.1:6379/0 db+mysql://root@127.0.0.1:3306/celery_bench"},
			{"concurrency", "8"}, {"workers", "8"}, {"duration", "2s"}, {"seed", strconv.FormatUint(seed, 10)},
			{"celery", "5.6"}, {"count", strconv.Itoa(reps)},
		},
	}
	backends := []struct{ name, url, product string }{
		{"redis", "redis://127.0.0.1:6379/0", "Redis"},
		{"mysql", "db+mysql://root@127.0.0.1:3306/celery_bench", "MariaDB"},
	}
	at := t0
	for rep := 0; rep < reps; rep++ {
		for _, b := range backends {
			res := Result{Backend: b.url, Name: b.name, Workload: "roundtrip", Rep: rep,
				Server: Server{Product: b.product, Version: "1.0"},
				Start:  at.Add(time.Second), End: at.Add(3 * time.Second)}
			at = at.Add(3 * time.Second)
			drift := 1 + 0.02*rng.NormFloat64()
			for _, op := range synthOps {
				f := 1.0
				if s, ok := slow[b.name+"/"+op.name]; ok {
					f = s
				}
				n := int(math.Round(4000 / f * (1 + 0.02*rng.NormFloat64())))
				h := NewHistogram()
				for i := 0; i < n; i++ {
					h.RecordValue(int64(op.ns * f * drift * math.Exp(0.3*rng.NormFloat64())))
				}
				res.Ops = append(res.Ops, Op{Name: op.name, Latency: h})
			}
			r.Results = append(r.Results, res)
		}
	}
	r.Ended = at
	return r
}

// slower20 is a 20% slowdown of redis's store_result (and so of its
// roundtrip); mysql is unchanged.
var slower20 = map[string]float64{"redis/store_result": 1.2, "redis/roundtrip": 1.2}

func compare(t *testing.T, base, head *Run, spec string) *Comparison {
	t.Helper()
	var gates []Gate
	if spec != "" {
		var err error
		if gates, err = ParseGates(spec); err != nil {
			t.Fatal(err)
		}
	}
	c, err := Compare(base, head, CompareOptions{BaseLabel: "base", HeadLabel: "head", Gates: gates})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func find(t *testing.T, c *Comparison, backend, op, metric string) *Change {
	t.Helper()
	for i := range c.Rows {
		if ch := &c.Rows[i]; ch.Backend == backend && ch.Op == op && ch.Metric == metric {
			return ch
		}
	}
	t.Fatalf("no row %s %s %s", backend, op, metric)
	return nil
}

// TestCompareSame compares two independent runs of the same thing: nearly
// every figure must show no significant change.
func TestCompareSame(t *testing.T) {
	for _, seeds := range [][2]uint64{{1, 2}, {3, 4}, {5, 6}} {
		c := compare(t, synthRun(8, seeds[0], nil), synthRun(8, seeds[1], nil), "")
		if want := 2 * len(synthOps) * len(DefaultCompareMetrics); len(c.Rows) != want {
			t.Fatalf("%d rows, want %d", len(c.Rows), want)
		}
		worse, better, same := c.Counts()
		t.Logf("seeds %v: %d worse, %d better, %d ~", seeds, worse, better, same)
		if float64(same) < 0.85*float64(len(c.Rows)) {
			var b bytes.Buffer
			c.WriteText(&b)
			t.Errorf("same vs same: only %d of %d figures unchanged:\n%s", same, len(c.Rows), b.String())
		}
	}
}

// TestCompareInjected checks that a known 20% slowdown is reported as
// significant, worse, of about the right size, only where it was
// injected; and that the reverse change is reported as better.
func TestCompareInjected(t *testing.T) {
	base := synthRun(8, 1, nil)
	c := compare(t, base, synthRun(8, 2, slower20), "")
	for _, op := range []string{"store_result", "roundtrip"} {
		for _, m := range []string{"p50", "p99", "p99.9"} {
			ch := find(t, c, "redis", op, m)
			if !ch.Significant || ch.Verdict != "worse" || ch.Delta < 12 || ch.Delta > 28 {
				t.Errorf("redis %s %s: %s (delta %.1f%%, %s); want significant, worse, about +20%%", op, m, ch.Verdict, ch.Delta, ch.Test)
			}
		}
		ch := find(t, c, "redis", op, "throughput")
		if !ch.Significant || ch.Verdict != "worse" || ch.Delta > -10 || ch.Delta < -24 {
			t.Errorf("redis %s throughput: %s (delta %.1f%%); want significant, worse, about -17%%", op, ch.Verdict, ch.Delta)
		}
	}
	sig := 0
	for _, ch := range c.Rows {
		if ch.Backend == "mysql" && ch.Significant {
			sig++
		}
	}
	if sig > 2 {
		t.Errorf("%d unchanged mysql figures reported as significant", sig)
	}

	faster := map[string]float64{"redis/store_result": 1 / 1.2, "redis/roundtrip": 1 / 1.2}
	c = compare(t, base, synthRun(8, 2, faster), "")
	for _, m := range DefaultCompareMetrics {
		if ch := find(t, c, "redis", "store_result", m); ch.Verdict != "better" {
			t.Errorf("faster store_result %s: %s (delta %.1f%%), want better", m, ch.Verdict, ch.Delta)
		}
	}
}

// TestGate proves both directions of --fail-on: it fires on a significant
// regression beyond its threshold, and not on noise, on a regression
// within the threshold, or on an improvement.
func TestGate(t *testing.T) {
	base := synthRun(8, 1, nil)
	same := synthRun(8, 2, nil)
	slow := synthRun(8, 2, slower20)
	fast := synthRun(8, 2, map[string]float64{"redis/store_result": 0.5})
	for _, tc := range []struct {
		name       string
		head       *Run
		spec       string
		wantFailed []string // "backend op metric" that must fire; nil: the gate passes
	}{
		// HAPPY PATH: the gate passes.
		{"same", same, "p99:+10%,throughput:-5%", nil},
		{"same, tight", same, "p50:+5%,p99:+5%,p99.9:+5%,throughput:-5%", nil},
		{"slowdown within the limit", slow, "p99:+50%,throughput:-30%", nil},
		{"improvement", fast, "p50:+1%,p99:+1%,throughput:-1%", nil},
		// SAD PATH: the gate fires where the slowdown was injected.
		{"slowdown", slow, "p99:+10%,throughput:-5%", []string{
			"redis roundtrip p99", "redis store_result p99", "redis roundtrip throughput", "redis store_result throughput"}},
		{"slowdown, mean", slow, "mean:+15%", []string{"redis roundtrip mean", "redis store_result mean"}},
		{"slowdown, zero limits", slow, "p50:+0%,throughput:-0%", []string{
			"redis roundtrip p50", "redis store_result p50", "redis roundtrip throughput", "redis store_result throughput"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := compare(t, base, tc.head, tc.spec)
			var got []string
			for _, f := range c.Failures {
				got = append(got, f.Change.Backend+" "+f.Change.Op+" "+f.Change.Metric)
				if !f.Change.Significant || f.Change.Verdict != "worse" {
					t.Errorf("gate fired on %s, which is not a significant regression", f)
				}
			}
			for _, w := range tc.wantFailed {
				found := false
				for _, g := range got {
					found = found || g == w
				}
				if !found {
					t.Errorf("gate %s did not fire on %s; fired on %v", tc.spec, w, got)
				}
			}
			if tc.wantFailed == nil && len(got) > 0 {
				t.Errorf("gate %s fired on %v", tc.spec, got)
			}
		})
	}
}

// TestGateHolm checks the gate's correction for the number of figures it
// tests: with m figures, the smallest p-value must be at most alpha/m, the
// next alpha/(m-1), and so on, stopping at the first that is not.
func TestGateHolm(t *testing.T) {
	row := func(op string, p float64) Change {
		ch := Change{Backend: "redis", Workload: "roundtrip", Op: op, Metric: "p99", Delta: 50, Significant: p <= 0.05, Verdict: "~"}
		ch.Test.P = p
		if ch.Significant {
			ch.Verdict = "worse"
		}
		return ch
	}
	for _, tc := range []struct {
		name  string
		spec  string
		ps    []float64 // p-values of ops a, b, c, d
		fired string    // ops whose rows fire, in row order
	}{
		{"one figure at alpha", "a.p99:+10%", []float64{0.04, 0.001, 0.001, 0.001}, "a"},
		{"four figures: 0.04 is chance", "p99:+10%", []float64{0.04, 0.9, 0.9, 0.9}, ""},
		{"four figures: 0.01 passes alpha/4", "p99:+10%", []float64{0.01, 0.9, 0.9, 0.9}, "a"},
		// Holm steps down: 0.01 <= 0.05/4, 0.015 <= 0.05/3, 0.024 <= 0.05/2,
		// 0.04 <= 0.05/1.
		{"step-down, all", "p99:+10%", []float64{0.04, 0.01, 0.015, 0.024}, "abcd"},
		// 0.03 > 0.05/2 stops it: the larger 0.04 cannot pass either.
		{"step-down stops", "p99:+10%", []float64{0.04, 0.01, 0.015, 0.03}, "bc"},
	} {
		gates, err := ParseGates(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		c := &Comparison{Alpha: 0.05, Gates: gates}
		for i, p := range tc.ps {
			c.Rows = append(c.Rows, row(string(rune('a'+i)), p))
		}
		got := ""
		for _, f := range c.check() {
			got += f.Change.Op
		}
		if got != tc.fired {
			t.Errorf("%s: %s fired on %q, want %q", tc.name, tc.spec, got, tc.fired)
		}
	}
}

// TestGateScopes checks a gate on one op and a gate on an op neither run
// measured (bad input), and that a gate too wide for the repetitions to
// ever fire says so.
func TestGateScopes(t *testing.T) {
	base := synthRun(8, 1, nil)
	slow := synthRun(8, 2, slower20)
	c := compare(t, base, slow, "get_task_meta.p99:+10%")
	if len(c.Failures) != 0 || len(c.GateFamily()) != 2 {
		t.Errorf("a gate on get_task_meta (not slowed) fired %v over %d figures", c.Failures, len(c.GateFamily()))
	}
	c = compare(t, base, slow, "store_result.p99:+10%")
	if len(c.Failures) != 1 || c.Failures[0].Change.Backend != "redis" || c.Failures[0].Change.Op != "store_result" {
		t.Errorf("a gate on store_result fired %v, want redis store_result", c.Failures)
	}
	gates, _ := ParseGates("chord.p99:+10%")
	if _, err := Compare(base, slow, CompareOptions{Gates: gates}); err == nil || !strings.Contains(err.Error(), `no op "chord"`) {
		t.Errorf("a gate on an op neither run has: %v", err)
	}
	// 5 repetitions a side: the smallest p-value is 2/252 = 0.0079; twelve
	// figures need 0.05/12 = 0.0042.
	c = compare(t, synthRun(5, 1, nil), synthRun(5, 2, map[string]float64{"redis/store_result": 2}), "p99:+10%,throughput:-5%")
	if all := strings.Join(c.Warnings, "\n"); !strings.Contains(all, "the gate tests 12 figures") || !strings.Contains(all, "the gate cannot fire") {
		t.Errorf("no warning that the gate cannot fire:\n%s", all)
	}
	c = compare(t, synthRun(5, 1, nil), synthRun(5, 2, map[string]float64{"redis/store_result": 2}), "store_result.p99:+10%")
	if strings.Contains(strings.Join(c.Warnings, "\n"), "cannot fire") || len(c.Failures) != 1 {
		t.Errorf("a gate on one op over 5 repetitions: failures %v, warnings %v", c.Failures, c.Warnings)
	}
}

// TestCompareFewRepetitions checks that with too few repetitions nothing
// is significant, and that the output says why.
func TestCompareFewRepetitions(t *testing.T) {
	c := compare(t, synthRun(3, 1, nil), synthRun(3, 2, map[string]float64{"redis/store_result": 2}), "p99:+10%")
	if w, _, _ := c.Counts(); w != 0 || len(c.Failures) != 0 {
		t.Errorf("%d significant regressions and %d gate failures from 3 repetitions", w, len(c.Failures))
	}
	all := strings.Join(c.Warnings, "\n")
	for _, want := range []string{"need >= 4 samples to detect a difference at alpha level 0.05", "need >= 6 samples for confidence interval", "run both with --count 10"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}
	var b bytes.Buffer
	if err := c.WriteJSON(&b); err != nil { // the intervals are infinite
		t.Fatal(err)
	}
	var j map[string]any
	if err := json.Unmarshal(b.Bytes(), &j); err != nil {
		t.Fatalf("json output does not parse: %v", err)
	}
	if !strings.Contains(b.String(), `"ci_lo": null`) {
		t.Errorf("an infinite interval is not null in json")
	}
}

func TestCompareFormats(t *testing.T) {
	c := compare(t, synthRun(8, 1, nil), synthRun(8, 2, slower20), "p99:+10%")
	for _, tc := range []struct {
		format string
		want   []string
	}{
		{"text", []string{"BASE base (8 repetitions): ", "redis · roundtrip\n", "store_result", "throughput", "p99.9", "worse", "~", "p=0.000 n=8", "gate p99:+10%: FAILED by 2 metrics", "redis · roundtrip · store_result p99: +"}},
		{"markdown", []string{"### bench compare", "| backend | workload | op | metric | BASE | HEAD | change | p |", "**+", "<details>", "**Gate `p99:+10%`: FAILED by 2 metrics (6 figures, Holm-corrected)**", "Mann–Whitney U"}},
		{"json", []string{`"verdict": "worse"`, `"gate_passed": false`, `"better": "higher"`, `"unit": "ns"`}},
	} {
		var b bytes.Buffer
		if err := c.Write(&b, tc.format); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s output lacks %q:\n%s", tc.format, w, b.String())
			}
		}
	}
	if err := c.Write(new(bytes.Buffer), "xml"); err == nil {
		t.Error("format xml accepted")
	}
}

func TestCompareMatching(t *testing.T) {
	base, head := synthRun(4, 1, nil), synthRun(4, 2, nil)
	// Another machine: other URLs, same backends.
	for i := range head.Results {
		head.Results[i].Backend = strings.Replace(head.Results[i].Backend, "127.0.0.1", "10.0.0.7", 1)
	}
	// An op only HEAD measures, and a backend only BASE measured.
	head.Results[0].Ops = append(head.Results[0].Ops, Op{Name: "forget", Latency: NewHistogram()})
	var keep []Result
	for _, r := range head.Results {
		if r.Name == "redis" {
			keep = append(keep, r)
		}
	}
	head.Results = keep
	c := compare(t, base, head, "")
	if len(c.Rows) != len(synthOps)*len(DefaultCompareMetrics) {
		t.Errorf("%d rows, want the redis ones only", len(c.Rows))
	}
	if strings.Join(c.OnlyHead, ",") != "redis · roundtrip · forget" || len(c.OnlyBase) != len(synthOps) {
		t.Errorf("only in HEAD %q, only in BASE %q", c.OnlyHead, c.OnlyBase)
	}

	for i := range head.Results {
		head.Results[i].Workload = "store-only"
	}
	if _, err := Compare(base, head, CompareOptions{}); err == nil || !strings.Contains(err.Error(), "nothing") && !strings.Contains(err.Error(), "no backend") {
		t.Errorf("runs with nothing in common: err = %v", err)
	}
	if _, err := Compare(base, base, CompareOptions{Alpha: 1.5}); err == nil {
		t.Error("alpha 1.5 accepted")
	}
}

func TestParseGates(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		want    string // the gates, joined; "" when an error is expected
		wantErr string // a part of the error
	}{
		// HAPPY PATH
		{"p99:+10%", "p99:+10%", ""},
		{"p99:+10%,throughput:-5%", "p99:+10%,throughput:-5%", ""},
		{" p50:+2.5% , p99.9:+20% ,mean:+0%", "p50:+2.5%,p99.9:+20%,mean:+0%", ""},
		// SAD PATH: each error names the bad term.
		{"roundtrip.p99:+10%", "roundtrip.p99:+10%", ""},
		{"roundtrip.p99.9:+5%,store_result.throughput:-5%,p99:+20%", "roundtrip.p99.9:+5%,store_result.throughput:-5%,p99:+20%", ""},
		{"p99:+20%,roundtrip.p99:+5%", "p99:+20%,roundtrip.p99:+5%", ""}, // one op tighter than the rest
		{"", "", `"": want [op.]metric:+N% or [op.]metric:-N%`},
		{"p99", "", `"p99": want [op.]metric:+N%`},
		{"p99:10%", "", `"p99:10%": want a signed percentage such as p99:+10%`},
		{"p99:+10", "", `"p99:+10": want a signed percentage`},
		{"p99:+ten%", "", `"p99:+ten%": "+ten%" is not a percentage`},
		{"p99:+-1%", "", `is not a percentage`},
		{"p95:+10%", "", `"p95:+10%": unknown metric "p95"; use one of throughput, mean, p50, p99, p99.9`},
		{"roundtrip.p95:+10%", "", `unknown metric "roundtrip.p95"`},
		{"roundtrip.p99:-10%", "", `p99 gets worse as it rises`},
		{"roundtrip.p99:+1%,roundtrip.p99:+2%", "", `roundtrip.p99 is gated twice`},
		{"p99:-10%", "", `"p99:-10%": p99 gets worse as it rises; write p99:+10%`},
		{"throughput:+5%", "", `"throughput:+5%": throughput gets worse as it falls; write throughput:-5%`},
		{"p99:+10%,,p50:+1%", "", `"": want`},
		{"p99:+10%,p99:+20%", "", `"p99:+20%": p99 is gated twice`},
	} {
		gates, err := ParseGates(tc.spec)
		var got []string
		for _, g := range gates {
			got = append(got, g.String())
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("ParseGates(%q): %v", tc.spec, err)
		case tc.wantErr == "" && strings.Join(got, ",") != tc.want:
			t.Errorf("ParseGates(%q) = %v, want %s", tc.spec, got, tc.want)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseGates(%q) error %v, want one containing %s", tc.spec, err, tc.wantErr)
		}
	}
}

// TestCompareInterrupted checks that a repetition stopped early is left
// out of the samples, and said to be.
func TestCompareInterrupted(t *testing.T) {
	head := synthRun(8, 2, nil)
	last := &head.Results[len(head.Results)-1]
	last.Interrupted, last.End = true, last.Start.Add(50*time.Millisecond)
	head.Interrupt = "stopped by a signal"
	c := compare(t, synthRun(8, 1, nil), head, "")
	if ch := find(t, c, "mysql", "roundtrip", "throughput"); ch.Head.N != 7 || ch.Base.N != 8 {
		t.Errorf("n = %d+%d, want 8+7", ch.Base.N, ch.Head.N)
	}
	if !strings.Contains(strings.Join(c.Warnings, "\n"), "HEAD: 1 interrupted repetition left out") {
		t.Errorf("warnings %q", c.Warnings)
	}
}

// fixedRun is a run of one redis result per value, whose only op has every
// latency equal to that value (so each repetition's p50 is it).
func fixedRun(ns ...int64) *Run {
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	r := &Run{Format: FormatVersion, Bench: "devel", Started: t0}
	for i, v := range ns {
		h := NewHistogram()
		for k := 0; k < 100; k++ {
			h.RecordValue(v)
		}
		r.Results = append(r.Results, Result{Backend: "redis://127.0.0.1:6379/0", Name: "redis", Workload: "roundtrip", Rep: i,
			Start: t0.Add(time.Duration(i) * 3 * time.Second), End: t0.Add(time.Duration(i)*3*time.Second + 2*time.Second),
			Ops: []Op{{Name: "roundtrip", Latency: h}}})
	}
	return r
}

// TestComparePValueIsAProbability compares samples with ties for which
// benchmath's exact U test doubles a tail holding more than half the mass
// (p=1.333 for [2 ms] against [1 ms, 1 ms]): every p-value, printed or
// tested, must be in [0, 1].
func TestComparePValueIsAProbability(t *testing.T) {
	for _, tc := range []struct{ base, head []int64 }{
		{[]int64{2_000_000}, []int64{1_000_000, 1_000_000}},
		{[]int64{1_000_000}, []int64{1_000_000, 2_000_000}},
		{[]int64{1_000_000, 1_000_000}, []int64{2_000_000}},
	} {
		c, err := Compare(fixedRun(tc.base...), fixedRun(tc.head...), CompareOptions{Metrics: []string{"p50"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range c.Rows {
			if !(ch.Test.P >= 0 && ch.Test.P <= 1) {
				t.Errorf("%v vs %v: %s %s p=%v, not a probability", tc.base, tc.head, ch.Op, ch.Metric, ch.Test.P)
			}
		}
		var b bytes.Buffer
		for _, f := range ComparisonFormats() {
			b.Reset()
			if err := c.Write(&b, f); err != nil {
				t.Fatal(err)
			}
			if s := b.String(); strings.Contains(s, "p=1.") && !strings.Contains(s, "p=1.000") || strings.Contains(s, `"p": 1.3`) {
				t.Errorf("%s output prints a p-value above 1:\n%s", f, s)
			}
		}
	}
	for n1 := 1; n1 <= 4; n1++ {
		for n2 := 1; n2 <= 4; n2++ {
			if p := minPValue(n1, n2); !(p >= 0 && p <= 1) {
				t.Errorf("minPValue(%d, %d) = %v", n1, n2, p)
			}
		}
	}
}
