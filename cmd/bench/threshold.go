package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/workloads"
)

// parseThresholdFlag parses --threshold (results.ParseThresholds) into
// o.thresholds; "" sets none.
func (o *runOpts) parseThresholdFlag() error {
	if o.thresholdText == "" {
		return nil
	}
	ts, err := results.ParseThresholds(o.thresholdText)
	if err != nil {
		return usageError{fmt.Errorf("--threshold: %w", err)}
	}
	o.thresholds = ts
	return nil
}

// sloLevelPrefix starts the level of every --slo probe's result.
const sloLevelPrefix = "slo "

// checkThresholds evaluates the run's thresholds into run.Thresholds, so
// that every format prints them and the run file keeps them, and returns
// the error the run ends with when any failed (exit 3).
func (o *runOpts) checkThresholds(run *results.Run, wl workloads.Workload) error {
	if len(o.thresholds) == 0 || len(run.Results) == 0 {
		return nil
	}
	// The probes of an --slo search are pushed past what a backend holds
	// on purpose: the thresholds are about the planned measurements.
	planned := *run
	planned.Results = nil
	for _, res := range run.Results {
		if !strings.HasPrefix(res.Level, sloLevelPrefix) {
			planned.Results = append(planned.Results, res)
		}
	}
	run.Thresholds = results.EvaluateThresholds(&planned, o.thresholds, workloads.PrimaryOp(wl))
	failed := results.FailedThresholds(run.Thresholds)
	if len(failed) == 0 {
		return nil
	}
	var parts []string
	for _, c := range failed {
		parts = append(parts, c.Backend+" "+c.Threshold+" ("+c.Measured+c.Why+")")
	}
	return thresholdError{fmt.Errorf("%d of %d thresholds failed: %s", len(failed), len(run.Thresholds), strings.Join(parts, "; "))}
}

// noteOutages stores in res the outages of the workload's primary op. The
// cleanup workload's roundtrips that overlap backend_cleanup are recorded
// apart (roundtrip_during_cleanup); they count as roundtrips here, or the
// cleanup would always look like an outage.
func noteOutages(res *results.Result, wl workloads.Workload) {
	if res == nil {
		return
	}
	primary := workloads.PrimaryOp(wl)
	during, ok := res.Op(workloads.OpRoundtripDuringCleanup)
	rt, ok2 := res.Op(primary)
	if !ok || !ok2 || primary != workloads.OpRoundtrip {
		res.Outages = results.FindOutages(res, primary)
		return
	}
	merged := *rt
	merged.Intervals = slices.Clone(rt.Intervals)
	for _, d := range during.Intervals {
		i := slices.IndexFunc(merged.Intervals, func(iv results.Interval) bool { return iv.Start == d.Start })
		if i < 0 {
			d.Histogram = ""
			merged.Intervals = append(merged.Intervals, d)
			continue
		}
		merged.Intervals[i].Count += d.Count
		merged.Intervals[i].Errors += d.Errors
	}
	view := *res
	view.Ops = []results.Op{merged}
	res.Outages = results.FindOutages(&view, primary)
}
