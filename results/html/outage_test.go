package html

import (
	"bytes"
	"context"
	"github.com/celery-bench/bench/backends/conformance"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	_ "github.com/celery-bench/bench/backends/all"
	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/workloads"
)

// TestOutageInTimeline runs the roundtrip workload against a private Redis
// that is stopped (SIGSTOP) for 2 s from 2 s into the measured window, and
// checks that the run's intervals show it at the right time (no roundtrip
// completes in [2 s, 4 s), the ones that waited it out complete in the
// interval after with about 2 s of latency), and that the page's timeline
// is drawn from them.
func TestOutageInTimeline(t *testing.T) {
	srv := conformance.StartRedis(t)
	url, proc := srv.URL(0), srv.Process()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const seed = 7
	b, err := backends.Open(ctx, url, backends.Options{Celery: backends.DefaultVersion, IDPrefix: workloads.RunPrefix(seed), ResultExpires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	meta, err := workloads.Lookup("roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	sizes, err := workloads.ParseSizes("64")
	if err != nil {
		t.Fatal(err)
	}
	outage := make(chan [2]time.Time, 1)
	ro := workloads.RunOptions{Callers: 4, Workers: 4, Duration: 6 * time.Second, Warmup: time.Second, Seed: seed,
		PollInterval: 500 * time.Millisecond, TaskTimeout: 30 * time.Second, ResultSizes: sizes,
		AtWindowStart: func() {
			go func() {
				time.Sleep(2 * time.Second)
				stop := time.Now()
				_ = proc.Signal(syscall.SIGSTOP)
				time.Sleep(2 * time.Second)
				_ = proc.Signal(syscall.SIGCONT)
				outage <- [2]time.Time{stop, time.Now()}
			}()
		}}
	out, err := workloads.Run(ctx, meta.New(), b, ro)
	if err != nil {
		t.Fatal(err)
	}
	was := <-outage
	res := results.Result{Backend: url, Name: "redis", Workload: "roundtrip", Start: out.Start, End: out.End, Ops: out.Ops}
	from, to := was[0].Sub(res.Start), was[1].Sub(res.Start)
	t.Logf("outage from %v to %v into the window", from, to)
	rt, ok := res.Op("roundtrip")
	if !ok {
		t.Fatal("no roundtrip op")
	}
	var measured int64
	byStart := map[time.Duration]results.Interval{}
	for _, iv := range rt.Intervals {
		byStart[iv.Start] = iv
		if !iv.Warmup {
			measured += iv.Count
		}
		t.Logf("interval %v: %d ok, %d errors", iv.Start, iv.Count, iv.Errors)
	}
	if measured != rt.Count() {
		t.Errorf("measured intervals hold %d roundtrips, the op %d", measured, rt.Count())
	}
	for _, s := range []time.Duration{0, time.Second, 5 * time.Second} {
		if byStart[s].Count == 0 {
			t.Errorf("no roundtrip in the interval at %v, outside the outage", s)
		}
	}
	// Whole intervals inside the outage: nothing completed.
	for s := (from + time.Second - 1).Truncate(time.Second); s+time.Second <= to; s += time.Second {
		if n := byStart[s].Count; n != 0 {
			t.Errorf("%d roundtrips completed in the interval at %v, inside the outage", n, s)
		}
	}
	after := byStart[to.Truncate(time.Second)]
	h, err := after.Latency()
	if err != nil {
		t.Fatal(err)
	}
	if h.Max() < int64(1500*time.Millisecond) {
		t.Errorf("the interval at %v (the outage's end) has max %v, want the ~2 s the stuck roundtrips waited", to.Truncate(time.Second), time.Duration(h.Max()))
	}
	// The outage summary finds it: one stretch without a roundtrip,
	// within an interval of where the server was stopped.
	res.Outages = results.FindOutages(&res, "roundtrip")
	if len(res.Outages) != 1 {
		t.Fatalf("outages %+v, want one", res.Outages)
	}
	if o := res.Outages[0]; o.From < from-time.Second || o.From > from+time.Second || o.To < to-time.Second || o.To > to+time.Second || o.Ongoing {
		t.Errorf("outage %s, want about %v to %v", o, from, to)
	}
	var page bytes.Buffer
	run := &results.Run{Format: results.FormatVersion, Summary: "outage test", Results: []results.Result{res}}
	if err := Write(&page, run); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), `data-chart="timeline"`) {
		t.Error("the page has no timeline")
	}
	if !strings.Contains(page.String(), "outage: no successful roundtrip from ") {
		t.Error("the page does not name the outage")
	}
}
