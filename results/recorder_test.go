package results

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTimelineIntervals records at known instants around a window and
// checks which interval each observation lands in, that warm-up intervals
// are marked, and that the measured intervals hold exactly the run's
// observations.
func TestTimelineIntervals(t *testing.T) {
	load := time.Now()
	ws := load.Add(1500 * time.Millisecond) // 1.5 s of warm-up
	r := NewRecorder(load.Add(time.Hour))
	r.SetInterval(time.Second)
	r.SetWindow(ws, ws.Add(3*time.Second))
	h := r.Handle()
	at := func(off time.Duration) time.Time { return ws.Add(off) }
	ms := time.Millisecond
	h.Observe("op", load.Add(-time.Second), ms, nil)      // before the load started: dropped
	h.Observe("op", at(-1400*ms), ms, nil)                // warm-up interval -2 (clipped to the load's start)
	h.Observe("op", at(-300*ms), 100*ms, nil)             // warm-up interval -1
	h.Observe("op", at(-10*ms), 20*ms, nil)               // started in the warm-up, ended after: still -1
	h.Observe("op", at(100*ms), 2*ms, nil)                // interval 0
	h.Observe("op", at(200*ms), 3*ms, errors.New("boom")) // an error in 0
	h.Observe("op", at(900*ms), 300*ms, nil)              // ended in 1
	h.Observe("op", at(-5*ms), 10*ms, nil)                // warm-up straggler after interval 0: left out
	h.Observe("op", at(2500*ms), 40*ms, nil)              // interval 2
	h.Observe("op", at(2990*ms), 1500*ms, nil)            // ended after the window: interval 4
	h.Observe("op", at(3100*ms), ms, nil)                 // started after the window: dropped
	h.Observe("other", at(1500*ms), ms, errors.New("x"))  // another op, errors only
	ops := r.Merge()
	if len(ops) != 2 {
		t.Fatalf("ops = %d", len(ops))
	}
	op := ops[0]
	type want struct {
		start       time.Duration
		length      time.Duration
		warm        bool
		count, errs int64
	}
	wants := []want{
		{-1500 * ms, 500 * ms, true, 1, 0},
		{-1000 * ms, time.Second, true, 2, 0},
		{0, time.Second, false, 1, 1},
		{time.Second, time.Second, false, 1, 0},
		{2 * time.Second, time.Second, false, 1, 0},
		{4 * time.Second, time.Second, false, 1, 0},
	}
	if len(op.Intervals) != len(wants) {
		t.Fatalf("intervals = %+v", op.Intervals)
	}
	var measured int64
	for i, w := range wants {
		iv := op.Intervals[i]
		got := want{iv.Start, iv.Length, iv.Warmup, iv.Count, iv.Errors}
		if i == 0 && iv.Start-w.start < 50*ms && iv.Start+iv.Length == -time.Second {
			got.start, got.length = w.start, w.length // clipped to when SetWindow ran, just after load
		}
		if got != w {
			t.Errorf("interval %d = %+v, want %+v", i, got, w)
		}
		if !iv.Warmup {
			measured += iv.Count
		}
		hist, err := iv.Latency()
		if err != nil || hist.TotalCount() != iv.Count {
			t.Errorf("interval %d histogram: %v, %d values", i, err, hist.TotalCount())
		}
	}
	if measured != op.Count() || op.Errors != 1 || op.Unfinished != 0 {
		t.Errorf("measured intervals hold %d, the op %d (errors %d, unfinished %d, want 1 and 0)", measured, op.Count(), op.Errors, op.Unfinished)
	}
	if h, _ := op.Intervals[3].Latency(); h.Max() < int64(299*ms) || h.Max() > int64(302*ms) {
		t.Errorf("interval 1 max = %d ns, want 300 ms within 1%%", h.Max())
	}
	if o := ops[1]; len(o.Intervals) != 1 || o.Intervals[0].Start != time.Second || o.Intervals[0].Errors != 1 {
		t.Errorf("other = %+v", o.Intervals)
	}
}

// TestTimelineConcurrent records from several goroutines while a progress
// reader asks for the last interval (run it with -race), and checks that the
// merged timeline counts every observation once.
func TestTimelineConcurrent(t *testing.T) {
	start := time.Now()
	r := NewRecorder(start.Add(time.Hour))
	r.SetInterval(20 * time.Millisecond)
	r.SetWindow(start, start.Add(time.Hour))
	const goroutines, each = 4, 3000
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		h := r.Handle()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				s := time.Now()
				var err error
				if i%100 == 0 {
					err = errors.New("e")
				}
				h.Observe("store_result", s, 50*time.Microsecond, err)
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	done := make(chan struct{})
	var seen int64
	go func() {
		defer close(done)
		for {
			select {
			case <-time.After(5 * time.Millisecond):
				for _, st := range r.LastInterval() {
					seen += st.Count
					if st.Count > 0 && (st.P50 < int64(49*time.Microsecond) || st.P99 > int64(51*time.Microsecond)) {
						t.Errorf("interval %d: p50 %d p99 %d", st.Index, st.P50, st.P99)
					}
				}
			case <-waitCh(&wg):
				return
			}
		}
	}()
	<-done
	ops := r.Merge()
	var n, e int64
	for _, iv := range ops[0].Intervals {
		n += iv.Count
		e += iv.Errors
	}
	if n != ops[0].Count() || e != ops[0].Errors || n+e != goroutines*each {
		t.Errorf("timeline %d+%d, op %d+%d, recorded %d", n, e, ops[0].Count(), ops[0].Errors, goroutines*each)
	}
	if len(ops[0].Intervals) < 3 {
		t.Errorf("only %d intervals over a run of several", len(ops[0].Intervals))
	}
	if seen == 0 {
		t.Error("LastInterval never saw a closed interval")
	}
}

func waitCh(wg *sync.WaitGroup) <-chan struct{} {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	return c
}

// TestTimelineRunFile writes and reads the timeline, and reads a run file
// written before timelines existed.
func TestTimelineRunFile(t *testing.T) {
	ws := time.Now()
	r := NewRecorder(ws)
	h := r.Handle()
	for i := 0; i < 100; i++ {
		h.Observe("roundtrip", ws.Add(time.Duration(i)*20*time.Millisecond), time.Duration(i+1)*time.Millisecond, nil)
	}
	run := &Run{Format: FormatVersion, Results: []Result{{Backend: "memory://", Ops: r.Merge()}}}
	var b bytes.Buffer
	if err := WriteJSON(&b, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"intervals": [`) {
		t.Fatalf("no intervals in the run file")
	}
	back, err := ReadJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	got, want := back.Results[0].Ops[0].Intervals, run.Results[0].Ops[0].Intervals
	if len(got) != 3 || len(got) != len(want) || got[1] != want[1] {
		t.Fatalf("intervals read back %+v, want %+v", got, want)
	}
	old := `{"format":"bench-run/1","results":[{"backend":"memory://","ops":[{"name":"roundtrip","count":0,"errors":0,"histogram":""}]}]}`
	oldRun, err := ReadJSON(strings.NewReader(old))
	if err == nil && len(oldRun.Results[0].Ops[0].Intervals) != 0 {
		t.Errorf("old file has intervals")
	}
}

// TestUnfinished: what the run cut
// (cancelled, or wrapping ErrUnfinished) and what fails once the run has
// abandoned its operations count as unfinished, not as errors or latency.
func TestUnfinished(t *testing.T) {
	ws := time.Now()
	r := NewRecorder(ws)
	r.SetWindow(ws, ws.Add(time.Second))
	h := r.Handle()
	ms := time.Millisecond
	h.Observe("op", ws.Add(10*ms), ms, nil)                                // a success
	h.Observe("op", ws.Add(20*ms), ms, errors.New("boom"))                 // an error
	h.Observe("op", ws.Add(900*ms), 200*ms, nil)                           // ended after the window
	h.Observe("op", ws.Add(30*ms), ms, context.Canceled)                   // cut by a stop
	h.Observe("op", ws.Add(40*ms), ms, fmt.Errorf("x: %w", ErrUnfinished)) // cut by the grace
	r.Abandon()
	h.Observe("op", ws.Add(50*ms), ms, errors.New("i/o timeout after the abandon")) // failed once abandoned
	h.Observe("op", ws.Add(60*ms), ms, nil)                                         // a success still counts
	op := r.Merge()[0]
	if op.Count() != 3 || op.Errors != 1 || op.Unfinished != 3 {
		t.Errorf("count %d errors %d unfinished %d, want 3, 1, 3", op.Count(), op.Errors, op.Unfinished)
	}
	if n := op.UnfinishedNote(); !strings.Contains(n, "3 unfinished") {
		t.Errorf("note %q", n)
	}
}
