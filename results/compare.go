package results

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"
)

// Defaults of Compare.
const (
	DefaultAlpha      = 0.05 // significance level of the Mann–Whitney U test
	DefaultConfidence = 0.95 // level of the confidence interval of each median
)

// DefaultCompareMetrics are the metrics Compare reports when
// CompareOptions.Metrics is empty.
var DefaultCompareMetrics = []string{"throughput", "p50", "p99", "p99.9"}

// A metric is one figure taken from each repetition of an op.
type metric struct {
	name   string
	unit   string // "ops/s" or "ns"
	higher bool   // higher values are better
	// value is the figure of one repetition; ok is false when the
	// repetition has none (a latency of an op that never succeeded).
	value func(o *Op, elapsed time.Duration) (v float64, ok bool)
}

func percentile(p float64) func(*Op, time.Duration) (float64, bool) {
	return func(o *Op, _ time.Duration) (float64, bool) {
		if o.Count() == 0 {
			return 0, false
		}
		return float64(o.Latency.ValueAtPercentile(p)), true
	}
}

// metrics are every metric Compare and --fail-on know, in report order.
var metrics = []metric{
	{"throughput", "ops/s", true, func(o *Op, d time.Duration) (float64, bool) { return o.Rate(d), d > 0 }},
	{"mean", "ns", false, func(o *Op, _ time.Duration) (float64, bool) {
		if o.Count() == 0 {
			return 0, false
		}
		return o.Latency.Mean(), true
	}},
	{"p50", "ns", false, percentile(50)},
	{"p99", "ns", false, percentile(99)},
	{"p99.9", "ns", false, percentile(99.9)},
}

func lookupMetric(name string) (metric, bool) {
	for _, m := range metrics {
		if m.name == name {
			return m, true
		}
	}
	return metric{}, false
}

func metricNames() string {
	var out []string
	for _, m := range metrics {
		out = append(out, m.name)
	}
	return strings.Join(out, ", ")
}

// CompareOptions configures Compare. The zero value uses the defaults.
type CompareOptions struct {
	// BaseLabel and HeadLabel name the two runs in the output (file names).
	BaseLabel, HeadLabel string
	// Alpha is the significance level in (0, 1); 0 means DefaultAlpha. A
	// change is significant when the test's p-value is at most Alpha.
	Alpha float64
	// Metrics to report, by name; empty means DefaultCompareMetrics. A
	// metric named by a gate is added.
	Metrics []string
	// Gates are checked after the comparison (see ParseGates).
	Gates []Gate
	// Strict makes Compare fail with a *SettingsError when the runs'
	// settings differ (SettingsDiff); otherwise the differences are
	// warnings.
	Strict bool
}

// compareIgnored are the options two compared runs may differ in without
// a warning: where they pointed (server URLs) and wrote their output, their
// seeds, how many repetitions they took, and how they displayed progress
// or treated leftovers, and the limits they were checked against
// (--threshold). Every other option shapes the figures.
var compareIgnored = map[string]bool{
	"backend": true, "seed": true, "output": true, "hdr-log": true, "format": true,
	"progress": true, "keep": true, "force": true, "connect-timeout": true, "count": true,
	"threshold": true,
}

// SettingsDiff lists the options that differ between base and head other
// than those compareIgnored names, in base's order and then head's, as
// "--concurrency: 8 vs 16" (an absent option is "unset").
func SettingsDiff(base, head *Run) []string {
	var out []string
	for _, o := range base.Options {
		if compareIgnored[o.Name] {
			continue
		}
		if v, ok := head.Option(o.Name); !ok || v != o.Value {
			if !ok {
				v = "unset"
			}
			out = append(out, fmt.Sprintf("--%s: %s vs %s", o.Name, quoteEmpty(o.Value), quoteEmpty(v)))
		}
	}
	for _, o := range head.Options {
		if _, ok := base.Option(o.Name); !ok && !compareIgnored[o.Name] {
			out = append(out, fmt.Sprintf("--%s: unset vs %s", o.Name, quoteEmpty(o.Value)))
		}
	}
	return out
}

// A SettingsError says that two runs compared with CompareOptions.Strict
// were taken with different settings.
type SettingsError struct {
	What  string   // "BASE and HEAD"
	Diffs []string // as SettingsDiff
}

func (e *SettingsError) Error() string {
	return e.What + " were run with different settings: " + strings.Join(e.Diffs, ", ")
}

// SettingsWarning is the warning Compare adds when the runs' settings
// differ, naming each difference.
func SettingsWarning(what string, diffs []string) string {
	return fmt.Sprintf("%s were run with different settings, so the figures can differ for that reason alone: %s (--strict refuses such a comparison)", what, strings.Join(diffs, ", "))
}

// A Comparison holds, for every backend × workload × level × op found in
// both runs and every metric, the median and its confidence interval over
// each run's repetitions, the change, and a Mann–Whitney U test of the two
// samples (golang.org/x/perf/benchmath, AssumeNothing).
type Comparison struct {
	Base, Head         string  // labels of the runs
	BaseReps, HeadReps [2]int  // fewest and most repetitions of any op
	Alpha              float64 // significance level
	Confidence         float64 // level of each confidence interval, 0.95
	// BaseSummary and HeadSummary are the runs' settings, one line each.
	BaseSummary, HeadSummary string
	Rows                     []Change
	// OnlyBase and OnlyHead list what only one run measured, as
	// "backend · workload [level] · op".
	OnlyBase, OnlyHead []string
	// Warnings are benchmath's caveats (too few samples), each with the
	// number of figures it concerns, and bench's own (embedded servers,
	// interrupted repetitions left out).
	Warnings []string
	Gates    []Gate
	Failures []GateFailure // gates that fired; empty when the gate passes
}

// A Change compares one metric of one op between the runs.
type Change struct {
	Backend  string // backend name ("redis"), or its URL when one run holds several of that name
	Workload string
	Level    string // sweep level, "" outside a sweep
	Op       string
	Metric   string
	Unit     string // "ops/s" or "ns"
	Higher   bool   // higher is better (throughput)
	Base     Stat
	Head     Stat
	// Delta is the change of the median in percent, (head/base-1)*100;
	// NaN when the base median is 0.
	Delta float64
	// Test is benchmath's comparison: p-value, sample sizes, warnings.
	Test benchmath.Comparison
	// Significant is Test.P <= Alpha.
	Significant bool
	// Verdict is "better" or "worse" for a significant change of the
	// median, "~" otherwise (also when the distributions differ
	// significantly but the medians are equal).
	Verdict string
}

// Stat is the median of one metric over a run's repetitions and its
// confidence interval (Lo and Hi are ±Inf when there are too few
// repetitions for one).
type Stat struct {
	N       int
	Summary benchmath.Summary
	Values  []float64 // one per repetition, ascending
}

// A Gate fails a comparison when a metric of an op (of every op when Op is
// "") gets worse, significantly, by more than Pct percent. Pct carries the
// worse direction's sign: +10 for a latency, -5 for throughput.
//
// Significance for a gate is corrected for the number of figures the
// gates test together (Holm–Bonferroni over their p-values), so that the
// chance that two runs of the same code fail a gate stays at most Alpha
// however many ops and metrics it covers.
type Gate struct {
	Op     string
	Metric string
	Pct    float64
}

func (g Gate) String() string {
	name := g.Metric
	if g.Op != "" {
		name = g.Op + "." + name
	}
	return name + ":" + gatePct(g.Pct) + "%"
}

func (g Gate) covers(ch *Change) bool {
	return ch.Metric == g.Metric && (g.Op == "" || ch.Op == g.Op)
}

// A GateFailure is one Change that made a gate fire.
type GateFailure struct {
	Gate   Gate
	Change *Change
	// Threshold is the Holm–Bonferroni level its p-value had to reach.
	Threshold float64
}

func (f GateFailure) String() string {
	return fmt.Sprintf("%s %s: %s%% %s (limit %s%%, %s, Holm level %.3g)", f.Change.where(), f.Change.Metric,
		signedPct(f.Change.Delta), f.Change.Verdict, gatePct(f.Gate.Pct), f.Change.Test, f.Threshold)
}

// ParseGates parses a --fail-on spec: comma-separated metric:+N% or
// metric:-N% terms, the sign being the metric's worse direction (+ for a
// latency, - for throughput). The error names the bad term.
func ParseGates(spec string) ([]Gate, error) {
	var gates []Gate
	seen := map[string]bool{}
	for _, term := range strings.Split(spec, ",") {
		term = strings.TrimSpace(term)
		bad := func(format string, args ...any) error {
			return fmt.Errorf("%q: %s", term, fmt.Sprintf(format, args...))
		}
		name, pct, ok := strings.Cut(term, ":")
		if term == "" || !ok {
			return nil, bad("want [op.]metric:+N%% or [op.]metric:-N%%, e.g. p99:+10%%,roundtrip.throughput:-5%%")
		}
		op, mname := splitGateName(name)
		m, ok := lookupMetric(mname)
		if !ok {
			return nil, bad("unknown metric %q; use one of %s, optionally after an op name and a dot (roundtrip.p99)", mname, metricNames())
		}
		if seen[name] {
			return nil, bad("%s is gated twice", name)
		}
		seen[name] = true
		if len(pct) < 3 || (pct[0] != '+' && pct[0] != '-') || !strings.HasSuffix(pct, "%") {
			return nil, bad("want a signed percentage such as %s", worseExample(m))
		}
		v, err := strconv.ParseFloat(pct[1:len(pct)-1], 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || strings.ContainsAny(pct[1:], "+-") {
			return nil, bad("%q is not a percentage such as %s", pct, worseExample(m))
		}
		if (pct[0] == '+') != !m.higher {
			return nil, bad("%s gets worse as it %s; write %s", m.name, map[bool]string{true: "falls", false: "rises"}[m.higher], worseExample(m))
		}
		if pct[0] == '-' {
			v = -v
		}
		gates = append(gates, Gate{Op: op, Metric: m.name, Pct: v})
	}
	return gates, nil
}

// splitGateName splits "roundtrip.p99.9" into the op and the metric: the
// longest metric name the string ends in after a dot. A string that is a
// metric name, or ends in none, has no op.
func splitGateName(name string) (op, metric string) {
	if _, ok := lookupMetric(name); ok {
		return "", name
	}
	best := ""
	for _, m := range metrics {
		if strings.HasSuffix(name, "."+m.name) && len(m.name) > len(best) {
			best = m.name
		}
	}
	if best == "" {
		return "", name
	}
	return strings.TrimSuffix(name, "."+best), best
}

func worseExample(m metric) string {
	if m.higher {
		return m.name + ":-5%"
	}
	return m.name + ":+10%"
}

// cell identifies one op of one result across repetitions.
type cell struct{ backend, workload, level, op string }

func (c cell) String() string {
	s := c.backend + " · " + c.workload
	if c.level != "" {
		s += " " + c.level
	}
	return s + " · " + c.op
}

// sampled is every repetition's figure of every metric of every cell of a
// run, with the cells in first-seen order.
type sampled struct {
	order       []cell
	values      map[cell]map[string][]float64
	reps        map[cell]int
	interrupted int // results left out: stopped before their planned end
	overRange   map[cell]int64
}

// BackendLabels maps each result's Backend URL to the label it is matched
// and shown by: its backend name ("redis"), or, when the run measured
// several backends of that name, its URL. Labels never contain spaces.
func BackendLabels(r *Run) map[string]string {
	urls := map[string]map[string]bool{}
	for _, res := range r.Results {
		if urls[res.Name] == nil {
			urls[res.Name] = map[string]bool{}
		}
		urls[res.Name][res.Backend] = true
	}
	out := map[string]string{}
	for _, res := range r.Results {
		label := res.Name
		if len(urls[res.Name]) > 1 || label == "" {
			label = res.Backend
		}
		out[res.Backend] = strings.Join(strings.Fields(label), "_")
	}
	return out
}

func sample(r *Run, ms []metric) sampled {
	s := sampled{values: map[cell]map[string][]float64{}, reps: map[cell]int{}, overRange: map[cell]int64{}}
	labels := BackendLabels(r)
	for i := range r.Results {
		res := &r.Results[i]
		if res.Interrupted {
			s.interrupted++
			continue
		}
		for j := range res.Ops {
			o := &res.Ops[j]
			c := cell{labels[res.Backend], res.Workload, res.Level, o.Name}
			if s.values[c] == nil {
				s.values[c] = map[string][]float64{}
				s.order = append(s.order, c)
			}
			s.reps[c]++
			s.overRange[c] += o.OverRange
			for _, m := range ms {
				if v, ok := m.value(o, res.Elapsed()); ok {
					s.values[c][m.name] = append(s.values[c][m.name], v)
				}
			}
		}
	}
	return s
}

// Compare compares head with base. It fails when the options are invalid
// or the runs have nothing in common.
func Compare(base, head *Run, o CompareOptions) (*Comparison, error) {
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return nil, fmt.Errorf("alpha must be between 0 and 1, got %v", o.Alpha)
	}
	names := o.Metrics
	if len(names) == 0 {
		names = DefaultCompareMetrics
	}
	var ms []metric
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	for _, g := range o.Gates {
		want[g.Metric] = true
	}
	for n := range want {
		if _, ok := lookupMetric(n); !ok {
			return nil, fmt.Errorf("unknown metric %q; use one of %s", n, metricNames())
		}
	}
	for _, m := range metrics {
		if want[m.name] {
			ms = append(ms, m)
		}
	}

	diffs := SettingsDiff(base, head)
	if o.Strict && len(diffs) > 0 {
		return nil, &SettingsError{"BASE and HEAD", diffs}
	}
	c := &Comparison{
		Base: o.BaseLabel, Head: o.HeadLabel, Alpha: o.Alpha, Confidence: DefaultConfidence,
		BaseSummary: base.Summary, HeadSummary: head.Summary, Gates: o.Gates,
	}
	bs, hs := sample(base, ms), sample(head, ms)
	th := benchmath.DefaultThresholds
	th.CompareAlpha = o.Alpha
	// Warnings are counted per message: benchmath's sample and summary
	// warnings concern one median each (two per row), its comparison
	// warnings one row each.
	type tally struct{ n, of int }
	warnings := map[string]*tally{}
	var warnOrder []string
	warn := func(of int, errs ...[]error) {
		for _, es := range errs {
			for _, e := range es {
				w := warnings[e.Error()]
				if w == nil {
					w = &tally{}
					warnings[e.Error()] = w
					warnOrder = append(warnOrder, e.Error())
				}
				w.n++
				w.of = of
			}
		}
	}
	for _, cl := range bs.order {
		if hs.values[cl] == nil {
			c.OnlyBase = append(c.OnlyBase, cl.String())
			continue
		}
		c.BaseReps = minMax(c.BaseReps, bs.reps[cl])
		c.HeadReps = minMax(c.HeadReps, hs.reps[cl])
		for _, m := range ms {
			bv, hv := bs.values[cl][m.name], hs.values[cl][m.name]
			if len(bv) == 0 || len(hv) == 0 {
				continue // no successful operation on one side: no latency to compare
			}
			ch := Change{Backend: cl.backend, Workload: cl.workload, Level: cl.level, Op: cl.op,
				Metric: m.name, Unit: m.unit, Higher: m.higher}
			bsm := benchmath.NewSample(append([]float64(nil), bv...), &th)
			hsm := benchmath.NewSample(append([]float64(nil), hv...), &th)
			ch.Base = Stat{N: len(bv), Summary: benchmath.AssumeNothing.Summary(bsm, c.Confidence), Values: bsm.Values}
			ch.Head = Stat{N: len(hv), Summary: benchmath.AssumeNothing.Summary(hsm, c.Confidence), Values: hsm.Values}
			ch.Test = uTest(bsm, hsm)
			ch.Delta = math.NaN()
			if b := ch.Base.Summary.Center; b != 0 {
				ch.Delta = (ch.Head.Summary.Center/b - 1) * 100
			}
			ch.Significant = ch.Test.P <= o.Alpha
			ch.Verdict = "~"
			if ch.Significant && ch.Delta != 0 && !math.IsNaN(ch.Delta) {
				if (ch.Delta > 0) == m.higher {
					ch.Verdict = "better"
				} else {
					ch.Verdict = "worse"
				}
			}
			warn(2, bsm.Warnings, hsm.Warnings, ch.Base.Summary.Warnings, ch.Head.Summary.Warnings)
			warn(1, ch.Test.Warnings)
			c.Rows = append(c.Rows, ch)
		}
	}
	for _, cl := range hs.order {
		if bs.values[cl] == nil {
			c.OnlyHead = append(c.OnlyHead, cl.String())
		}
	}
	if len(c.Rows) == 0 {
		return nil, errors.New("the runs have no backend, workload and operation in common (backends are matched by name: redis, mysql, memory)")
	}
	for _, w := range warnOrder {
		t, what := warnings[w], "medians"
		if t.of == 1 {
			what = "comparisons"
		}
		c.Warnings = append(c.Warnings, fmt.Sprintf("%s (%d of %d %s)", w, t.n, t.of*len(c.Rows), what))
		if strings.Contains(w, "to detect a difference") {
			c.Warnings = append(c.Warnings, fmt.Sprintf("with %s repetitions in BASE and %s in HEAD no change can be significant at alpha %v: run both with --count 10",
				repRange(c.BaseReps), repRange(c.HeadReps), o.Alpha))
		}
	}
	if len(diffs) > 0 {
		c.Warnings = append(c.Warnings, SettingsWarning("BASE and HEAD", diffs))
	}
	for _, r := range []*Run{base, head} {
		if r.Embedded() {
			c.Warnings = append(c.Warnings, EmbeddedWarning)
			break
		}
	}
	for _, s := range []struct {
		name string
		s    sampled
	}{{"BASE", bs}, {"HEAD", hs}} {
		for _, cl := range s.s.order {
			if n := s.s.overRange[cl]; n > 0 {
				o := Op{Name: cl.String(), OverRange: n}
				c.Warnings = append(c.Warnings, s.name+" "+o.OverRangeNote()+"; its percentiles there are lower bounds")
			}
		}
	}
	for _, s := range []struct {
		name string
		n    int
	}{{"BASE", bs.interrupted}, {"HEAD", hs.interrupted}} {
		if s.n > 0 {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %d interrupted %s left out", s.name, s.n, plural(s.n, "repetition", "repetitions")))
		}
	}
	for _, g := range o.Gates {
		if g.Op == "" {
			continue
		}
		found := false
		for i := range c.Rows {
			if g.covers(&c.Rows[i]) {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("gate %s: no op %q with %s in both runs", g, g.Op, g.Metric)
		}
	}
	c.Failures = c.check()
	if w := c.gateWarning(); w != "" {
		c.Warnings = append(c.Warnings, w)
	}
	return c, nil
}

func minMax(mm [2]int, n int) [2]int {
	if mm[0] == 0 || n < mm[0] {
		mm[0] = n
	}
	mm[1] = max(mm[1], n)
	return mm
}

func repRange(mm [2]int) string {
	if mm[0] == mm[1] {
		return strconv.Itoa(mm[0])
	}
	return fmt.Sprintf("%d–%d", mm[0], mm[1])
}

// GateFamily returns the rows the gates test, each once, in row order.
func (c *Comparison) GateFamily() []*Change {
	var fam []*Change
	for i := range c.Rows {
		ch := &c.Rows[i]
		for _, g := range c.Gates {
			if g.covers(ch) {
				fam = append(fam, ch)
				break
			}
		}
	}
	return fam
}

// check returns the changes that make a gate fire: worse beyond the gate's
// limit, and significant after Holm–Bonferroni over the gate family (the
// i-th smallest of m p-values must be at most Alpha/(m-i), and every
// smaller one must have passed its own level).
func (c *Comparison) check() []GateFailure {
	fam := c.GateFamily()
	order := make([]int, len(fam))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return fam[order[a]].Test.P < fam[order[b]].Test.P })
	level := map[*Change]float64{} // the rows Holm rejects, with their level
	for k, i := range order {
		lv := c.Alpha / float64(len(fam)-k)
		if fam[i].Test.P > lv {
			break
		}
		level[fam[i]] = lv
	}
	var out []GateFailure
	for _, g := range c.Gates {
		for i := range c.Rows {
			ch := &c.Rows[i]
			lv, ok := level[ch]
			if !ok || !g.covers(ch) || ch.Verdict != "worse" {
				continue
			}
			// The verdict has the direction; the limit is a magnitude
			// (throughput:-0% has a negative zero).
			if math.Abs(ch.Delta) > math.Abs(g.Pct) {
				out = append(out, GateFailure{Gate: g, Change: ch, Threshold: lv})
			}
		}
	}
	return out
}

// gateWarning says when the gates cannot fire at all: when even the most
// extreme difference between samples of the sizes compared gives a
// p-value above Alpha/m, the level the smallest of the gate family's m
// p-values must reach.
func (c *Comparison) gateWarning() string {
	fam := c.GateFamily()
	if len(fam) == 0 {
		return ""
	}
	level := c.Alpha / float64(len(fam))
	best := 1.0
	for _, ch := range fam {
		best = min(best, minPValue(ch.Base.N, ch.Head.N))
	}
	if best <= level {
		return ""
	}
	return fmt.Sprintf("the gate tests %d figures, so one must reach p ≤ %.3g (alpha %v over %d); with %s repetitions in BASE and %s in HEAD no p-value can be below %.3g, so the gate cannot fire: run more repetitions or gate fewer figures (e.g. roundtrip.p99)",
		len(fam), level, c.Alpha, len(fam), repRange(c.BaseReps), repRange(c.HeadReps), best)
}

// minPValue is the smallest p-value benchmath's Mann–Whitney U test gives
// for samples of sizes n1 and n2: that of two samples that do not overlap.
func minPValue(n1, n2 int) float64 {
	if n1 == 0 || n2 == 0 {
		return 1
	}
	th := benchmath.DefaultThresholds
	a, b := make([]float64, n1), make([]float64, n2)
	for i := range a {
		a[i] = float64(i)
	}
	for i := range b {
		b[i] = float64(n1 + i)
	}
	return uTest(benchmath.NewSample(a, &th), benchmath.NewSample(b, &th)).P
}

// uTest is benchmath's two-sided Mann–Whitney U test (AssumeNothing) with
// its p-value made a probability. benchmath's exact test doubles the
// smaller tail, CDF(min(U1, U2)), and with ties that tail can hold more than
// half the distribution's mass (the atom at the observed U counted in it),
// so the doubled figure exceeds 1 (p=1.333 for [1] against [0 0]). The
// two-sided p-value is min(1, 2·tail) by definition; every p-value bench
// reports or tests comes from here.
func uTest(a, b *benchmath.Sample) benchmath.Comparison {
	c := benchmath.AssumeNothing.Compare(a, b)
	if c.P > 1 {
		c.P = 1
	}
	return c
}

// Counts returns how many rows got worse, better, or did not change
// significantly.
func (c *Comparison) Counts() (worse, better, same int) {
	for _, ch := range c.Rows {
		switch ch.Verdict {
		case "worse":
			worse++
		case "better":
			better++
		default:
			same++
		}
	}
	return
}
