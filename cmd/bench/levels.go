package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/workloads"
)

// level is one step of a sweep: a worker count and an open-loop rate (0 for
// a closed loop). name is "" when there is a single level.
type level struct {
	name    string
	workers int
	rate    float64
}

// parseLevels turns --workers and --rate (each a value or a list) into the
// levels of a sweep: one list may have several values; both lists may not.
func parseLevels(workers, rate string) ([]level, error) {
	ws, err := parseList(workers, "--workers", func(s string) (float64, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%q is not a worker count of at least 1", s)
		}
		return float64(n), nil
	})
	if err != nil {
		return nil, err
	}
	rs := []float64{0}
	if rate != "" {
		rs, err = parseList(rate, "--rate", func(s string) (float64, error) {
			r, err := strconv.ParseFloat(strings.TrimSuffix(s, "/s"), 64)
			if err != nil || !(r > 0 && r <= 1e7) { // also refuses NaN
				return 0, fmt.Errorf("%q is not a rate in tasks per second (0 < rate <= 10000000)", s)
			}
			return r, nil
		})
		if err != nil {
			return nil, err
		}
	}
	if len(ws) > 1 && len(rs) > 1 {
		return nil, fmt.Errorf("sweep one of --workers and --rate at a time, not both")
	}
	var out []level
	for _, w := range ws {
		for _, r := range rs {
			lv := level{workers: int(w), rate: r}
			switch {
			case len(ws) > 1:
				lv.name = fmt.Sprintf("workers=%d", lv.workers)
			case len(rs) > 1:
				lv.name = "rate=" + strconv.FormatFloat(r, 'f', -1, 64)
			}
			out = append(out, lv)
		}
	}
	return out, nil
}

func parseList(s, flag string, parse func(string) (float64, error)) ([]float64, error) {
	var out []float64
	for _, part := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// sloSpec is a latency objective: metric below a limit.
type sloSpec struct {
	text   string
	metric string // mean, p50, p90, p99, p99.9, max
	limit  time.Duration
	equal  bool // <= rather than <
}

func parseSLO(s string) (*sloSpec, error) {
	spec := &sloSpec{text: s}
	op := "<"
	i := strings.Index(s, "<")
	if i < 0 {
		return nil, fmt.Errorf("%q has no '<'; write it as p99<50ms", s)
	}
	if strings.HasPrefix(s[i:], "<=") {
		op, spec.equal = "<=", true
	}
	spec.metric = strings.TrimSpace(s[:i])
	switch spec.metric {
	case "mean", "p50", "p90", "p99", "p99.9", "max":
	default:
		return nil, fmt.Errorf("unknown metric %q; use mean, p50, p90, p99, p99.9 or max", spec.metric)
	}
	d, err := time.ParseDuration(strings.TrimSpace(s[i+len(op):]))
	if err != nil || d <= 0 {
		return nil, fmt.Errorf("%q is not a positive duration like 50ms", strings.TrimSpace(s[i+len(op):]))
	}
	spec.limit = d
	return spec, nil
}

// holds reports whether op meets the objective, with the measured value.
func (s *sloSpec) holds(op *results.Op) (bool, time.Duration) {
	sum := results.Summarize(op.Latency)
	var v int64
	switch s.metric {
	case "mean":
		v = int64(sum.Mean)
	case "p50":
		v = sum.P50
	case "p90":
		v = sum.P90
	case "p99":
		v = sum.P99
	case "p99.9":
		v = sum.P999
	case "max":
		v = sum.Max
	}
	d := time.Duration(v)
	if s.equal {
		return d <= s.limit, d
	}
	return d < s.limit, d
}

// searchSLO finds the highest open-loop rate at which backend b holds the
// objective: it doubles the rate from the first --rate (or 10/s) until a
// probe fails (objective missed, errors, overload or a rate not achieved),
// then bisects five times between the last rate that held and the first
// that did not. Every probe is kept as a result with its level; the verdict
// goes into the run's findings.
func (m *measurer) searchSLO(b backends.Backend, url string, servers []*server, i int, base workloads.RunOptions, seed uint64) error {
	o := m.o
	ro := base
	ro.Workers = o.levels[len(o.levels)-1].workers
	rate := 10.0
	if o.levels[0].rate > 0 {
		rate = o.levels[0].rate
	}
	probe := func(r float64) (bool, error) {
		ro.Rate = r
		ro.Seed = o.seed + seed
		seed++
		res, stop, err := m.measure(b, url, servers, i, ro, sloLevelPrefix+"rate="+strconv.FormatFloat(r, 'g', 4, 64), 0)
		if res == nil {
			return false, err
		}
		ok, why := m.judge(res)
		res.Notes = append(res.Notes, why)
		m.run.Results = append(m.run.Results, *res)
		if err != nil || stop {
			return false, fmt.Errorf("slo search stopped: %v", err)
		}
		return ok, nil
	}
	good, bad := 0.0, 0.0
	for r := rate; r <= 1e7; r *= 2 {
		ok, err := probe(r)
		if err != nil {
			return err
		}
		if !ok {
			bad = r
			break
		}
		good = r
	}
	for step := 0; step < 5 && bad > 0 && bad-good > max(0.01*bad, 0.1); step++ {
		mid := (good + bad) / 2
		ok, err := probe(mid)
		if err != nil {
			return err
		}
		if ok {
			good = mid
		} else {
			bad = mid
		}
	}
	name := backendName(url)
	if good == 0 {
		m.run.Findings = append(m.run.Findings, fmt.Sprintf("%s: no rate from %s tasks/s up holds %s", name, results.Rate(rate), o.slo.text))
	} else {
		m.run.Findings = append(m.run.Findings, fmt.Sprintf("%s: highest rate holding %s: %s tasks/s (missed at %s tasks/s)",
			name, o.slo.text, results.Rate(good), results.Rate(bad)))
	}
	return nil
}

// judge decides whether one SLO probe held, and says why.
func (m *measurer) judge(res *results.Result) (bool, string) {
	op, ok := res.Op(workloads.PrimaryOp(m.wl))
	if !ok || op.Count() == 0 {
		return false, "slo: no task completed"
	}
	for _, n := range res.Notes {
		if strings.HasPrefix(n, "overloaded") {
			return false, "slo: missed (overloaded)"
		}
	}
	if op.Errors > 0 {
		return false, fmt.Sprintf("slo: missed (%d errors)", op.Errors)
	}
	for _, n := range res.Notes {
		if strings.HasPrefix(n, "achieved") { // the callers fell behind the rate
			return false, "slo: missed (" + n + ")"
		}
	}
	held, v := m.o.slo.holds(op)
	if !held {
		return false, fmt.Sprintf("slo: missed (%s %s = %s)", workloads.PrimaryOp(m.wl), m.o.slo.metric, results.Nanos(int64(v)))
	}
	return true, fmt.Sprintf("slo: holds (%s %s = %s)", workloads.PrimaryOp(m.wl), m.o.slo.metric, results.Nanos(int64(v)))
}
