package main

import (
	"testing"
	"time"

	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/workloads"
)

// TestCleanupOutages: roundtrips recorded as roundtrip_during_cleanup fill
// the roundtrip timeline's gap, so a cleanup is no outage; a gap in both is.
func TestCleanupOutages(t *testing.T) {
	m, _ := workloads.Lookup("cleanup")
	wl := m.New()
	ivs := func(counts ...int64) []results.Interval {
		var out []results.Interval
		for i, c := range counts {
			out = append(out, results.Interval{Start: time.Duration(i) * time.Second, Length: time.Second, Count: c})
		}
		return out
	}
	start := time.Unix(1e9, 0)
	for _, tc := range []struct {
		name        string
		rt, during  []int64
		wantOutages int
	}{
		{"cleanup", []int64{9, 0, 0, 9}, []int64{0, 5, 5, 0}, 0},
		{"blocked", []int64{9, 0, 0, 9}, []int64{0, 5, 0, 0}, 1},
	} {
		res := &results.Result{Start: start, End: start.Add(4 * time.Second), Ops: []results.Op{
			{Name: workloads.OpRoundtrip, Intervals: ivs(tc.rt...)},
			{Name: workloads.OpRoundtripDuringCleanup, Intervals: ivs(tc.during...)},
		}}
		noteOutages(res, wl)
		if len(res.Outages) != tc.wantOutages {
			t.Errorf("%s: outages %v, want %d", tc.name, res.Outages, tc.wantOutages)
		}
	}
}
