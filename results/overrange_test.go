package results

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestOverRange checks that latencies above the histogram's ceiling are
// counted per op, kept in the run file, summed by Combine and Merge, and
// shown as a note in text and markdown, and that recording them does not
// allocate.
func TestOverRange(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	rec := NewRecorder(t0)
	h1, h2 := rec.Handle(), rec.Handle()
	at := t0.Add(time.Millisecond)
	h1.Observe("store_result", at, time.Millisecond, nil)
	h1.Observe("store_result", at, 61*time.Second, nil)
	h2.Observe("store_result", at, 5*time.Minute, nil)
	h2.Observe("store_result", at, 60*time.Second, nil)                   // at the ceiling: in range
	h2.Observe("get_task_meta", at, 2*time.Minute, errors.New("timeout")) // an error has no latency
	if n := testing.AllocsPerRun(100, func() { h1.Observe("store_result", at, time.Hour, nil) }); n != 0 {
		t.Errorf("recording an over-range value allocates %v times", n)
	}
	ops := rec.Merge()
	o := &ops[0]
	if o.Name != "store_result" || o.OverRange != 2+101 || o.Count() != 4+101 {
		t.Fatalf("%s: over-range %d of %d, want 103 of 105", o.Name, o.OverRange, o.Count())
	}
	if o.Latency.Max() < HighestNanos-HighestNanos/1000 {
		t.Errorf("max %d, want the ceiling", o.Latency.Max())
	}
	if ops[1].OverRange != 0 {
		t.Errorf("an error counted as over-range")
	}

	run := func(seed uint64, skew time.Duration) *Run {
		r := &Run{Format: FormatVersion, Bench: "devel", Started: t0.Add(skew), Seed: seed, Summary: "s"}
		for rep := 0; rep < 2; rep++ {
			op := Op{Name: o.Name, Latency: NewHistogram(), OverRange: o.OverRange}
			op.Latency.Merge(o.Latency)
			start := t0.Add(skew + time.Duration(rep)*10*time.Second)
			r.Results = append(r.Results, Result{Backend: "redis://h/0", Name: "redis", Workload: "roundtrip", Rep: rep,
				Start: start, End: start.Add(8 * time.Second), Ops: []Op{op, {Name: "get_task_meta", Latency: NewHistogram()}}})
		}
		return r
	}
	r := run(1, 0)
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"over_range": 103`) {
		t.Errorf("run file lacks over_range")
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Results[1].Ops[0].OverRange != 103 || back.Results[1].Ops[1].OverRange != 0 {
		t.Errorf("read back %d and %d", back.Results[1].Ops[0].OverRange, back.Results[1].Ops[1].OverRange)
	}
	c := back.Combine()
	want := "store_result: 206 values above the 60.0 s histogram ceiling were recorded as 60.0 s"
	if len(c) != 1 || c[0].Ops[0].OverRange != 206 || len(c[0].Notes) != 1 || c[0].Notes[0] != want {
		t.Fatalf("combined: %+v", c[0].Notes)
	}
	if len(back.Results[0].Notes) != 0 {
		t.Errorf("Combine changed the run's notes: %v", back.Results[0].Notes)
	}
	for _, f := range []func(*bytes.Buffer, *Run) error{
		func(w *bytes.Buffer, r *Run) error { return WriteText(w, r) },
		func(w *bytes.Buffer, r *Run) error { return WriteMarkdown(w, r) },
	} {
		b.Reset()
		if err := f(&b, back); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks the over-range note:\n%s", b.String())
		}
	}
	m, err := Merge(run(1, 0), run(2, 10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if m.Results[0].Ops[0].OverRange != 206 {
		t.Errorf("merged over-range %d, want 206", m.Results[0].Ops[0].OverRange)
	}
	cmp, err := Compare(run(1, 0), run(2, time.Hour), CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(cmp.Warnings, "\n"), "BASE redis · roundtrip · store_result: 206 values above") {
		t.Errorf("compare warnings lack the over-range note: %q", cmp.Warnings)
	}
	// A file whose over_range exceeds its count is refused.
	b.Reset()
	WriteJSON(&b, r)
	bad := strings.Replace(b.String(), `"over_range": 103`, `"over_range": 100000`, 1)
	if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
		t.Errorf("over_range above the count was accepted")
	}
}
