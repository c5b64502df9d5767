package results

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// machineRun is one machine's run of a concurrent test: one redis result
// per repetition, whose store_result latencies are drawn from rng and
// recorded in all as well, and skew moving its window.
func machineRun(reps int, seed uint64, skew time.Duration, scale float64, all []*Op) *Run {
	rng := rand.New(rand.NewPCG(seed, 7))
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC).Add(skew)
	r := &Run{
		Format: FormatVersion, Bench: "devel", Go: "go1.26.8", Platform: "linux/amd64, 4 CPUs, GOMAXPROCS 4",
		Started: t0, Ended: t0.Add(time.Duration(reps) * 10 * time.Second), Seed: seed,
		Summary: "workload roundtrip · 8 callers · 8 workers",
		Options: []Option{{"backend", "redis://10.0.0.1:6379/0"}, {"concurrency", "8"}, {"seed", "0"}, {"output", "run.json"}},
	}
	for rep := 0; rep < reps; rep++ {
		res := Result{Backend: "redis://10.0.0.1:6379/0", Name: "redis", Workload: "roundtrip", Rep: rep,
			Server: Server{Product: "Redis", Version: "7.0.15"},
			Start:  t0.Add(time.Duration(rep) * 10 * time.Second), End: t0.Add(time.Duration(rep)*10*time.Second + 8*time.Second)}
		h := NewHistogram()
		n := 3000 + rng.IntN(2000)
		for i := 0; i < n; i++ {
			v := int64(scale * 150_000 * math.Exp(0.5*rng.NormFloat64()))
			h.RecordValue(v)
			all[rep].Latency.RecordValue(v)
		}
		res.Ops = []Op{{Name: "store_result", Latency: h, Errors: int64(rep), ErrorSamples: []string{"timeout " + r.Summary[:8]},
			ErrorKinds: ErrorKinds{KindTimeout: int64(rep)}}}
		r.Results = append(r.Results, res)
	}
	return r
}

// TestMerge checks that merging runs taken at the same time gives exactly
// the percentiles of one histogram of every observation, and counts and
// throughputs that add up.
func TestMerge(t *testing.T) {
	const reps = 2
	all := []*Op{{Latency: NewHistogram()}, {Latency: NewHistogram()}}
	a := machineRun(reps, 1, 0, 1, all)
	b := machineRun(reps, 2, 0, 1.3, all) // a slower machine
	c := machineRun(reps, 3, 0, 0.9, all)
	b.Options[0].Value, c.Options[0].Value = "redis://10.0.0.2:6379/0", "redis://:xxxxx@10.0.0.3:6379/0" // each machine's own URL
	for i := range b.Results {
		b.Results[i].Backend, c.Results[i].Backend = b.Options[0].Value, c.Options[0].Value
	}
	b.Options[2].Value, c.Options[2].Value = "2", "3"
	b.Options[3].Value = "b.json"
	before := Summarize(a.Results[0].Ops[0].Latency)

	m, err := Merge(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Results) != reps {
		t.Fatalf("%d results, want %d", len(m.Results), reps)
	}
	for rep := 0; rep < reps; rep++ {
		res := &m.Results[rep]
		o, ok := res.Op("store_result")
		if !ok {
			t.Fatal("no store_result")
		}
		if got, want := Summarize(o.Latency), Summarize(all[rep].Latency); got != want {
			t.Errorf("rep %d: merged %+v, want %+v (one histogram of every observation)", rep, got, want)
		}
		for _, p := range []float64{0, 10, 50, 90, 99, 99.9, 99.99, 100} {
			if got, want := o.Latency.ValueAtPercentile(p), all[rep].Latency.ValueAtPercentile(p); got != want {
				t.Errorf("rep %d p%v = %d, want %d", rep, p, got, want)
			}
		}
		var count, errs int64
		var kinds ErrorKinds
		var rate float64
		for _, r := range []*Run{a, b, c} {
			ro := &r.Results[rep].Ops[0]
			count += ro.Count()
			errs += ro.Errors
			kinds.Add(&ro.ErrorKinds)
			rate += ro.Rate(r.Results[rep].Elapsed())
		}
		if o.Count() != count || o.Errors != errs {
			t.Errorf("rep %d: count %d, errors %d; want the sums %d, %d", rep, o.Count(), o.Errors, count, errs)
		}
		if o.ErrorKinds != kinds || kinds[KindTimeout] != 3*int64(rep) {
			t.Errorf("rep %d: errors by kind %v, want the sums %v", rep, o.ErrorKinds, kinds)
		}
		if got := o.Rate(res.Elapsed()); math.Abs(got-rate) > 1e-9*rate {
			t.Errorf("rep %d: throughput %.3f/s, want the sum %.3f/s", rep, got, rate)
		}
		if res.Start != a.Results[rep].Start || res.End != a.Results[rep].End || res.Rep != rep {
			t.Errorf("rep %d: window %v–%v", rep, res.Start, res.End)
		}
		if want := "redis://10.0.0.1:6379/0 + redis://10.0.0.2:6379/0 + redis://:xxxxx@10.0.0.3:6379/0"; res.Backend != want {
			t.Errorf("backend %q, want %q", res.Backend, want)
		}
	}
	if v, _ := m.Option("seed"); v != "0 2 3" {
		t.Errorf("seed option %q", v)
	}
	if !strings.Contains(m.Summary, "merged from 3 runs taken at the same time (seeds 1, 2, 3)") {
		t.Errorf("summary %q", m.Summary)
	}
	if got := Summarize(a.Results[0].Ops[0].Latency); got != before {
		t.Error("Merge changed its input")
	}

	// The merged run survives the run file.
	var buf bytes.Buffer
	if err := WriteJSON(&buf, m); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Summarize(back.Results[1].Ops[0].Latency), Summarize(all[1].Latency); got != want {
		t.Errorf("after the run file: %+v, want %+v", got, want)
	}
}

// TestMergeSkew checks that windows that overlap only in part merge over
// their union, with a note.
func TestMergeSkew(t *testing.T) {
	all := []*Op{{Latency: NewHistogram()}}
	a := machineRun(1, 1, 0, 1, all)
	b := machineRun(1, 2, 2*time.Second, 1, all)
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	res := &m.Results[0]
	if res.Elapsed() != 10*time.Second {
		t.Errorf("window %v, want the union of 10s", res.Elapsed())
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "merged runs overlap for 6.0 s of 10.0 s") {
		t.Errorf("notes %q", res.Notes)
	}
}

func TestMergeRefuses(t *testing.T) {
	all := []*Op{{Latency: NewHistogram()}, {Latency: NewHistogram()}}
	for _, tc := range []struct {
		name     string
		change   func(b *Run)
		want     string // part of the error; "" when the merge must work
		mismatch string // MergeMismatchError.What
	}{
		// HAPPY PATH: what may differ.
		{"urls, seeds and output paths", func(b *Run) {
			b.Options[0].Value, b.Options[2].Value, b.Options[3].Value = "redis://other/0", "9", "b.json"
			b.Options = append(b.Options, Option{"hdr-log", "b.hlog"})
		}, "", ""},
		// SAD PATH
		{"an option", func(b *Run) { b.Options[1].Value = "16" }, "run 2 differs from run 1 in option concurrency: 16, not 8", "option concurrency"},
		{"an extra option", func(b *Run) { b.Options = append(b.Options, Option{"rate", "500"}) }, `option rate: 500, not ""`, "option rate"},
		{"a missing option", func(b *Run) { b.Options = b.Options[:1] }, `option concurrency: "", not 8`, "option concurrency"},
		{"bench version", func(b *Run) { b.Bench = "v1.2.0" }, "bench version: v1.2.0, not devel", "bench version"},
		{"repetitions", func(b *Run) { b.Results = b.Results[:1] }, "result 2: nothing, not redis roundtrip rep 1", "result 2"},
		{"workload", func(b *Run) { b.Results[0].Workload = "store-only" }, "result 1: redis store-only rep 0, not redis roundtrip rep 0", "result 1"},
		{"not at the same time", func(b *Run) {
			for i := range b.Results {
				b.Results[i].Start = b.Results[i].Start.Add(time.Hour)
				b.Results[i].End = b.Results[i].End.Add(time.Hour)
			}
		}, "windows do not overlap", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := machineRun(2, 1, 0, 1, all), machineRun(2, 2, 0, 1, all)
			tc.change(b)
			_, err := Merge(a, b)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			var me *MergeMismatchError
			if tc.mismatch != "" && (!errors.As(err, &me) || me.What != tc.mismatch || me.Run != 1) {
				t.Errorf("err = %#v, want a MergeMismatchError about %s", err, tc.mismatch)
			}
		})
	}
	if _, err := Merge(); err == nil {
		t.Error("Merge() of nothing succeeded")
	}
}

// TestMergeSameRun checks that a run given twice, or a merged run with one
// of its parts, is refused (merging it doubled the throughput), both by
// run id and, for files written before ids, by start, seed and windows.
func TestMergeSameRun(t *testing.T) {
	all := []*Op{{Latency: NewHistogram()}, {Latency: NewHistogram()}}
	a := machineRun(2, 1, 0, 1, all)
	b := machineRun(2, 2, 0, 1.3, all)
	var se *SameRunError
	if _, err := Merge(a, b, a); !errors.As(err, &se) || se.First != 0 || se.Run != 2 {
		t.Fatalf("merge a b a without ids: %v, want a SameRunError of runs 1 and 3", err)
	}
	// A copy read back from its file is the same run.
	var buf bytes.Buffer
	if err := WriteJSON(&buf, a); err != nil {
		t.Fatal(err)
	}
	a2, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(a, a2); !errors.As(err, &se) {
		t.Fatalf("merge a a (read back): %v", err)
	}
	ab, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(ab, a); !errors.As(err, &se) || !strings.Contains(err.Error(), "run 2 is the same run as run 1") {
		t.Fatalf("merge (a+b) a: %v", err)
	}
	// With ids, runs whose start, seed and windows coincide are still
	// distinct, and the same id is the same run whatever else differs.
	a.ID, a2.ID = NewRunID(), NewRunID()
	if a.ID == a2.ID || len(a.ID) != 32 {
		t.Fatalf("ids %q and %q", a.ID, a2.ID)
	}
	if _, err := Merge(a, a2); err != nil {
		t.Errorf("distinct ids: %v", err)
	}
	c := machineRun(2, 3, 0, 1, all)
	c.ID = a.ID
	if _, err := Merge(a, c); !errors.As(err, &se) {
		t.Errorf("same id: %v", err)
	}
	// The merged run lists its parts, and a part of it is refused in a
	// later merge by id.
	m, err := Merge(a, a2)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.MergedFrom) != 2 || m.MergedFrom[0] != a.ID || m.MergedFrom[1] != a2.ID {
		t.Errorf("merged_from %v", m.MergedFrom)
	}
	if _, err := Merge(c, m); !errors.As(err, &se) {
		t.Errorf("merge c (a+a2) with c.ID == a.ID: %v", err)
	}
}
