package results

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// A Threshold is an absolute limit on one figure of a run, checked per
// backend on the measured window (k6's thresholds): "roundtrip.p99<50ms",
// "errors<0.1%", "rate>500", "cost.server_cpu<2ms". ParseThresholds reads
// them from --threshold; EvaluateThresholds checks them.
//
// It shares its naming with --fail-on's gates (ParseGates): an optional op
// and a dot before the figure, the longest known figure name winning, so
// "roundtrip.p99.9" is op roundtrip's p99.9. A gate limits a relative change
// between two runs; a threshold limits a figure of one run.
type Threshold struct {
	// Op is the op whose figure is limited; "" means the workload's
	// primary op (its task-level timing). Unused for cost figures.
	Op string
	// Stat is the figure: a latency (p50, p90, p95, p99, p99.9, max,
	// mean), rate (successes per second), errors (a count, or with
	// Percent their share of the op's completions), or "cost." and the
	// key of a per-task server figure (CostKey).
	Stat string
	// Cmp is <, <=, > or >=: the figure must compare so with Value.
	Cmp string
	// Value is the limit: nanoseconds for a latency, per second for rate,
	// a count or a percentage (Percent) for errors, the figure's unit for
	// a cost (microseconds when Duration is set).
	Value   float64
	Percent bool
	// Duration is set for a cost limit written as a duration (2ms), which
	// only applies to a figure in µs.
	Duration bool
	// Limit is the value as written ("50ms", "0.1%").
	Limit string
}

// thresholdStats are the figures a threshold may name besides cost ones,
// with their aliases.
var thresholdStats = map[string]string{
	"p50": "p50", "p90": "p90", "p95": "p95", "p99": "p99", "p99.9": "p99.9", "p999": "p99.9",
	"max": "max", "mean": "mean", "rate": "rate", "throughput": "rate", "errors": "errors",
}

const costPrefix = "cost."

func isLatency(stat string) bool {
	switch stat {
	case "p50", "p90", "p95", "p99", "p99.9", "max", "mean":
		return true
	}
	return false
}

// Name is the threshold's figure as written canonically: "roundtrip.p99",
// "errors", "cost.server_cpu".
func (t Threshold) Name() string {
	if t.Op == "" || strings.HasPrefix(t.Stat, costPrefix) {
		return t.Stat
	}
	return t.Op + "." + t.Stat
}

// String is the threshold as ParseThresholds reads it.
func (t Threshold) String() string { return t.Name() + t.Cmp + t.Limit }

// CostKey is how a threshold names a per-task server figure: its name in
// lower case, spaces as underscores, without a trailing " per task" ("server
// CPU per task" is server_cpu, "memory per result" memory_per_result).
func CostKey(name string) string {
	k := strings.ToLower(strings.Join(strings.Fields(name), "_"))
	return strings.TrimSuffix(k, "_per_task")
}

const thresholdSyntax = "want [op.]stat<value, e.g. roundtrip.p99<50ms,errors<0.1%,rate>500 (stats: p50, p90, p95, p99, p99.9, max, mean, rate, errors, cost.NAME)"

// ParseThresholds parses a --threshold spec: comma-separated terms
// [op.]stat followed by <, <=, > or >= and a limit, where a latency's
// limit is a duration (50ms), rate's a number of operations per second
// (500, or 500/s), errors' a count (10) or a share of the op's completions
// (0.1%), and a cost figure's a number in its unit, or a duration for a
// figure in µs. The error is one line naming the bad term.
func ParseThresholds(spec string) ([]Threshold, error) {
	var out []Threshold
	for _, term := range strings.Split(spec, ",") {
		term = strings.TrimSpace(term)
		t, err := parseThreshold(term)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", term, err)
		}
		out = append(out, t)
	}
	return out, nil
}

func parseThreshold(term string) (Threshold, error) {
	i := strings.IndexAny(term, "<>")
	if i < 0 {
		return Threshold{}, fmt.Errorf("no comparison; %s", thresholdSyntax)
	}
	t := Threshold{Cmp: term[i : i+1]}
	if strings.HasPrefix(term[i+1:], "=") {
		t.Cmp += "="
	}
	name := strings.TrimSpace(term[:i])
	t.Limit = strings.TrimSpace(term[i+len(t.Cmp):])
	if name == "" || t.Limit == "" {
		return Threshold{}, fmt.Errorf("%s", thresholdSyntax)
	}
	if strings.ContainsAny(t.Limit, "<>=") {
		return Threshold{}, fmt.Errorf("more than one comparison; %s", thresholdSyntax)
	}
	if key, ok := strings.CutPrefix(name, costPrefix); ok {
		if !validName(key, "+") {
			return Threshold{}, fmt.Errorf("cost figure %q: want its name in lower case with underscores, e.g. cost.server_cpu", key)
		}
		t.Stat = costPrefix + key
	} else {
		op, stat := splitStatName(name)
		canon, ok := thresholdStats[stat]
		if !ok {
			return Threshold{}, fmt.Errorf("unknown stat %q; %s", stat, thresholdSyntax)
		}
		if op != "" && !validName(op, "") {
			return Threshold{}, fmt.Errorf("op %q: want letters, digits and underscores", op)
		}
		t.Op, t.Stat = op, canon
	}
	num := func(s string) (float64, bool) {
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil && v >= 0 && !math.IsInf(v, 0) && !math.IsNaN(v)
	}
	switch {
	case isLatency(t.Stat):
		d, err := time.ParseDuration(t.Limit)
		if err != nil || d <= 0 {
			return Threshold{}, fmt.Errorf("%s limit %q: want a positive duration such as 50ms", t.Stat, t.Limit)
		}
		t.Value = float64(d)
	case t.Stat == "rate":
		v, ok := num(strings.TrimSuffix(t.Limit, "/s"))
		if !ok {
			return Threshold{}, fmt.Errorf("rate limit %q: want operations per second such as 500", t.Limit)
		}
		t.Value = v
	case t.Stat == "errors":
		if p, isPct := strings.CutSuffix(t.Limit, "%"); isPct {
			v, ok := num(p)
			if !ok || v > 100 {
				return Threshold{}, fmt.Errorf("errors limit %q: want a percentage from 0%% to 100%% or a count", t.Limit)
			}
			t.Value, t.Percent = v, true
		} else {
			n, err := strconv.ParseUint(t.Limit, 10, 53)
			if err != nil {
				return Threshold{}, fmt.Errorf("errors limit %q: want a count such as 10 or a percentage such as 0.1%%", t.Limit)
			}
			t.Value = float64(n)
		}
	default: // cost
		if v, ok := num(t.Limit); ok {
			t.Value = v
		} else if d, err := time.ParseDuration(t.Limit); err == nil && d > 0 {
			t.Value, t.Duration = float64(d)/1e3, true
		} else {
			return Threshold{}, fmt.Errorf("%s limit %q: want a number in the figure's unit, or a duration for one in µs", t.Stat, t.Limit)
		}
	}
	return t, nil
}

// validName reports whether s is letters, digits, underscores and the
// characters of extra, and not empty.
func validName(s, extra string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(extra, c)) {
			return false
		}
	}
	return true
}

// splitStatName splits "roundtrip.p99.9" into the op and the stat as
// splitGateName does for gates: the longest stat name the string ends in
// after a dot; a string that is a stat, or ends in none, has no op.
func splitStatName(name string) (op, stat string) {
	if _, ok := thresholdStats[name]; ok {
		return "", name
	}
	best := ""
	for s := range thresholdStats {
		if strings.HasSuffix(name, "."+s) && len(s) > len(best) {
			best = s
		}
	}
	if best == "" {
		return "", name
	}
	return strings.TrimSuffix(name, "."+best), best
}

// A ThresholdCheck is one threshold checked on one backend's result.
type ThresholdCheck struct {
	Threshold string `json:"threshold"` // Threshold.String
	Backend   string `json:"backend"`   // the result's label (BackendLabels), with its level
	Op        string `json:"op,omitempty"`
	// Measured is the figure, formatted ("1.23 ms", "0.02% (3 of 15,210)");
	// "" when the result does not have it (Why says why).
	Measured string  `json:"measured,omitempty"`
	Value    float64 `json:"value"` // the figure in the threshold's unit
	Pass     bool    `json:"pass"`
	Why      string  `json:"why,omitempty"`
}

func (c ThresholdCheck) verdict() string {
	if c.Pass {
		return "ok"
	}
	return "FAILED"
}

func (c ThresholdCheck) measured() string {
	if c.Measured == "" {
		return "not measured: " + c.Why
	}
	return c.Measured
}

// EvaluateThresholds checks every threshold on every backend (and level)
// of r, repetitions combined, on the measured window (warm-up excluded);
// primary is the op a threshold without one limits. A figure a result
// does not have (no such op, no success to take a latency from, a cost
// figure the server does not report or that a restart spoilt) fails.
func EvaluateThresholds(r *Run, ts []Threshold, primary string) []ThresholdCheck {
	labels := BackendLabels(r)
	var out []ThresholdCheck
	rs := r.Combine()
	for _, t := range ts {
		for i := range rs {
			res := &rs[i]
			label := labels[res.Backend]
			if res.Level != "" {
				label += " " + res.Level
			}
			c := ThresholdCheck{Threshold: t.String(), Backend: label}
			c.Value, c.Measured, c.Why = measure(res, t, primary, &c.Op)
			if c.Why == "" {
				c.Pass = holds(c.Value, t.Cmp, t.Value)
			}
			out = append(out, c)
		}
	}
	return out
}

func holds(v float64, cmp string, limit float64) bool {
	switch cmp {
	case "<":
		return v < limit
	case "<=":
		return v <= limit
	case ">":
		return v > limit
	default:
		return v >= limit
	}
}

// measure returns res's figure for t, formatted, or why it has none.
func measure(res *Result, t Threshold, primary string, opName *string) (float64, string, string) {
	if key, ok := strings.CutPrefix(t.Stat, costPrefix); ok {
		if res.ServerRestart != "" {
			return 0, "", RestartNote
		}
		for _, st := range res.Stats {
			if !st.PerTask || CostKey(st.Name) != key {
				continue
			}
			if t.Duration && st.Unit != "µs" {
				return 0, "", fmt.Sprintf("%s is in %s, not a time", st.Name, st.Unit)
			}
			return st.Value, FormatStat(st.Value) + " " + st.Unit, ""
		}
		if len(res.Stats) == 0 {
			return 0, "", "no server figures (none exposed, or the server could not be read at the window's start or end)"
		}
		return 0, "", "the server reports no " + key
	}
	name := t.Op
	if name == "" {
		name = primary
	}
	*opName = name
	o, ok := res.Op(name)
	if !ok {
		return 0, "", "no " + name + " op"
	}
	n := o.Count()
	switch t.Stat {
	case "rate":
		v := o.Rate(res.Elapsed())
		return v, Rate(v) + "/s", ""
	case "errors":
		if !t.Percent {
			return float64(o.Errors), Count(o.Errors), ""
		}
		total := n + o.Errors
		if total == 0 {
			return 0, "", "no " + name + " completed"
		}
		v := 100 * float64(o.Errors) / float64(total)
		return v, fmt.Sprintf("%s%% (%s of %s)", strconv.FormatFloat(v, 'g', 3, 64), Count(o.Errors), Count(total)), ""
	}
	if n == 0 {
		return 0, "", "no " + name + " succeeded"
	}
	var v float64
	switch t.Stat {
	case "mean":
		v = o.Latency.Mean()
	case "max":
		v = float64(o.Latency.Max())
	default:
		p, _ := strconv.ParseFloat(strings.TrimPrefix(t.Stat, "p"), 64)
		v = float64(o.Latency.ValueAtPercentile(p))
	}
	return v, Nanos(int64(math.Round(v))), ""
}

// FailedThresholds returns the checks that failed.
func FailedThresholds(cs []ThresholdCheck) []ThresholdCheck {
	var out []ThresholdCheck
	for _, c := range cs {
		if !c.Pass {
			out = append(out, c)
		}
	}
	return out
}

// String is the check in one line: "redis roundtrip.p99<50ms: 62.1 ms FAILED".
func (c ThresholdCheck) String() string {
	return c.Backend + " " + c.Threshold + ": " + c.measured() + " " + c.verdict()
}

// writeThresholdsText writes r's threshold checks as a table.
func writeThresholdsText(b *strings.Builder, r *Run) {
	if len(r.Thresholds) == 0 {
		return
	}
	failed := len(FailedThresholds(r.Thresholds))
	fmt.Fprintf(b, "\nthresholds (measured window): %d of %d passed\n", len(r.Thresholds)-failed, len(r.Thresholds))
	rows := [][]string{{"threshold", "backend", "measured", "result"}}
	for _, c := range r.Thresholds {
		rows = append(rows, []string{c.Threshold, c.Backend, c.measured(), c.verdict()})
	}
	alignTable(b, rows, "llrl")
}

// writeThresholdsMarkdown writes r's threshold checks as a table.
func writeThresholdsMarkdown(b *strings.Builder, r *Run) {
	if len(r.Thresholds) == 0 {
		return
	}
	failed := len(FailedThresholds(r.Thresholds))
	fmt.Fprintf(b, "\n**Thresholds** (measured window): %d of %d passed\n\n", len(r.Thresholds)-failed, len(r.Thresholds))
	b.WriteString("| threshold | backend | measured | result |\n|:--|:--|--:|:--|\n")
	for _, c := range r.Thresholds {
		v := c.verdict()
		if !c.Pass {
			v = "**" + v + "**"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", strings.ReplaceAll(c.Threshold, "`", "'"), mdEscape(c.Backend), mdEscape(c.measured()), v)
	}
}
