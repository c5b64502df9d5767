package workloads

// One measurement, as every front end runs it: the target's leftovers
// checked, the server's counters read around the window, the workload run,
// what it wrote deleted, and the whole turned into one results.Result.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
)

// A Target is one backend a measurement runs against.
type Target struct {
	Backend backends.Backend
	// URL is the result_backend URL as given; results show it redacted.
	URL string
	// Name is the backend's short label, its registered name ("redis").
	Name string
	// Standin, when set, describes the in-process stand-in serving URL:
	// the result is marked embedded and the server's counters, which mean
	// nothing there, are not read.
	Standin *backends.ServerInfo
}

// Measurement are the settings of one measurement besides its load.
type Measurement struct {
	Workload string // the workload's registered name, for the Result
	Level    string // the sweep level ("workers=8", "rate=500"), "" without one
	Rep      int    // the repetition, from 0
	// Keep leaves what the measurement wrote in the backend.
	Keep bool
	// Force deletes the leftovers of an earlier run with the same seed
	// first, where the measurement would otherwise refuse the target.
	Force bool
	// Log receives one-line notices (results kept, a failed cleanup); nil
	// discards them.
	Log io.Writer
}

// ErrLeftovers is wrapped when a target still holds the results of an
// earlier run with the same seed (a --keep run): Celery would find them
// and the traffic would differ.
var ErrLeftovers = errors.New("results of an earlier run with the same seed are still stored")

// cleanupTimeout bounds deleting what a measurement wrote: a server that
// does not answer leaves the results behind (and a notice naming their
// ids) rather than a run that never ends.
const cleanupTimeout = 30 * time.Second

// statsTimeout bounds one read of the server's counters; a server that
// does not answer within it leaves the snapshot out.
const statsTimeout = 2 * time.Second

// OpenTarget opens and prepares the backend rawURL names for runs of w,
// within o.ConnectTimeout. A workload that deletes by age (a Sweeper) gets
// a target holding no result bench did not write, whatever o.Force says;
// the error then says why.
func OpenTarget(ctx context.Context, rawURL string, o backends.Options, w Workload) (backends.Backend, error) {
	sw, sweeps := w.(Sweeper)
	o.KeepForeign = sweeps
	cctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	b, err := backends.Open(cctx, rawURL, o)
	if err != nil {
		return nil, err
	}
	if err := b.Prepare(cctx); err != nil {
		b.Close()
		if sweeps && errors.Is(err, backends.ErrForeignData) {
			return nil, fmt.Errorf("%s: %w (this workload never runs there, --force or not: %s)", backends.Redact(rawURL), err, sw.Sweeps())
		}
		return nil, fmt.Errorf("%s: %w", backends.Redact(rawURL), err)
	}
	return b, nil
}

// Measure runs one measurement of w against t with ro and returns its
// Result, with what the server paid when t's backend reads its counters
// (backends.StatsReader). It deletes what the run wrote unless m.Keep,
// even after an interrupt. The Result is nil only when nothing ran; an
// interrupted run returns its partial Result marked Interrupted and no
// error for the interruption.
func Measure(ctx context.Context, t Target, w Workload, ro RunOptions, m Measurement) (*results.Result, error) {
	if err := checkLeftovers(ctx, t.Backend, ro.Seed, m.Force); err != nil {
		return nil, err
	}
	var snaps serverSnapshots
	if sr, ok := t.Backend.(backends.StatsReader); ok && t.Standin == nil {
		snaps.reader = sr
		ro.AtWindowStart, ro.AtWindowEnd = snaps.take(ctx, &snaps.before), snaps.take(ctx, &snaps.after)
		snaps.take(ctx, &snaps.idleBefore)()
	}
	backends.TakeDriverLog() // what came before this measurement is not its own
	oc, err := Run(ctx, w, t.Backend, ro)
	logged, logSamples := backends.TakeDriverLog()
	if snaps.reader != nil && oc != nil && !oc.Interrupted && snaps.after != nil {
		// The sessions' connections have closed; give the server a moment
		// to have seen it, so their buffers are not counted as results.
		if sleepCtx(ctx, 100*time.Millisecond) {
			snaps.take(ctx, &snaps.idleAfter)()
		}
	}
	deleteWritten(t, RunPrefix(ro.Seed), m)
	if oc == nil {
		return nil, fmt.Errorf("%s: %w", t.Name, err)
	}
	res := &results.Result{
		Backend: backends.Redact(t.URL), Name: t.Name, Workload: m.Workload, Level: m.Level, Rep: m.Rep,
		Server: serverOf(t), Start: oc.Start, End: oc.End, Ops: oc.Ops, Interrupted: oc.Interrupted,
	}
	var tasks int64
	if op, ok := res.Op(PrimaryOp(w)); ok {
		tasks = op.Count()
	}
	if why, restarted := snaps.restarted(); restarted {
		res.ServerRestart = why // no server figure: they would be wrong
	} else {
		res.Stats = snaps.stats(tasks)
	}
	res.Pipeline = pipelineOf(oc, PrimaryOp(w), ro.Rate)
	if oc.Overloaded != "" {
		res.Notes = append(res.Notes, oc.Overloaded)
	}
	if oc.Failed != "" {
		res.Stopped = oc.Failed
		res.Notes = append(res.Notes, "stopped early: "+oc.Failed+"; the errors count every attempt since the load started, warm-up included")
		if err == nil {
			err = fmt.Errorf("%w: %s", ErrAllFailed, oc.Failed)
		}
	}
	if logged > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the client library logged %d messages; the first: %s", logged, strings.Join(logSamples, " | ")))
	}
	if ro.Rate > 0 {
		if note := achievedRate(oc, ro.Rate); note != "" {
			res.Notes = append(res.Notes, note)
		}
	}
	if err != nil {
		return res, fmt.Errorf("%s: %w", t.Name, err)
	}
	return res, nil
}

// serverOf describes t's server for the Result.
func serverOf(t Target) results.Server {
	if t.Standin != nil {
		return results.Server{Product: t.Standin.Product, Version: t.Standin.Version, Embedded: true}
	}
	info := t.Backend.Server()
	return results.Server{Product: info.Product, Version: info.Version, Embedded: info.Embedded}
}

// serverSnapshots are the server's counters at the window's start and end,
// and, for what the results it keeps cost, with no session open before the
// run and after it (before cleanup). A snapshot that failed stays nil.
type serverSnapshots struct {
	reader                               backends.StatsReader
	before, after, idleBefore, idleAfter backends.ServerStats
}

// take returns a function that reads the counters into into, within
// statsTimeout.
func (s *serverSnapshots) take(ctx context.Context, into *backends.ServerStats) func() {
	return func() {
		sctx, cancel := context.WithTimeout(ctx, statsTimeout)
		defer cancel()
		if st, err := s.reader.ServerStats(sctx); err == nil {
			*into = st
		}
	}
}

// restarted reports whether the server restarted between the window's
// snapshots (backends.Restarted), and how that showed.
func (s *serverSnapshots) restarted() (string, bool) {
	if s.before == nil || s.after == nil {
		return "", false
	}
	return backends.Restarted(s.before, s.after)
}

// stats returns the server's cost per task (with the memory per result
// kept after server CPU, where a reader compares backends' costs), then
// the window's totals; nil without both window snapshots.
func (s *serverSnapshots) stats(tasks int64) []results.ServerStat {
	if s.before == nil || s.after == nil {
		return nil
	}
	per := backends.PerTask(s.before, s.after, tasks)
	if mem, ok := backends.ResultMemory(s.idleBefore, s.idleAfter); ok {
		at := 0
		if len(per) > 0 && per[0].Name == "server CPU per task" {
			at = 1
		}
		per = slices.Insert(per, at, mem)
	}
	var out []results.ServerStat
	for _, st := range per {
		out = append(out, results.ServerStat{Name: st.Name, Unit: st.Unit, Value: st.Value, PerTask: true})
	}
	for _, st := range backends.DiffStats(s.before, s.after) {
		out = append(out, results.ServerStat{Name: st.Name, Unit: st.Unit, Value: st.Value})
	}
	return out
}

// sleepCtx sleeps for d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// achievedRate returns a warning when an open loop's callers started more
// than 1% fewer of the window's arrivals per second than were asked for
// (they fell behind), and "" otherwise.
func achievedRate(oc *Outcome, rate float64) string {
	if oc.Planned <= 0 {
		return ""
	}
	got := float64(oc.Served) / oc.Planned.Seconds()
	if got < 0.99*rate {
		return fmt.Sprintf("achieved %s tasks/s, %.1f%% short of the %s asked for", results.Rate(got), 100*(1-got/rate), results.Rate(rate))
	}
	return ""
}

// checkLeftovers refuses a target still holding the results of an earlier
// run with the same seed (a --keep run): Celery's dedupe would skip writes
// and change the traffic. With force they are deleted first.
func checkLeftovers(ctx context.Context, b backends.Backend, seed uint64, force bool) error {
	prefix := RunPrefix(seed)
	if force {
		_, err := b.Cleanup(ctx, prefix)
		return err
	}
	c, err := b.NewCaller(ctx, backends.Discard)
	if err != nil {
		return err
	}
	defer c.Close()
	m, err := c.GetTaskMeta(ctx, FirstTaskID(seed))
	if err != nil {
		return err
	}
	if m.Status != backends.Pending {
		return fmt.Errorf("%w (seed %d, ids %s...); use another --seed, or --force to delete them first", ErrLeftovers, seed, prefix)
	}
	return nil
}

// deleteWritten deletes what the measurement wrote unless m.Keep. It runs
// even after an interrupt, with a context of its own.
func deleteWritten(t Target, prefix string, m Measurement) {
	log := m.Log
	if log == nil {
		log = io.Discard
	}
	label := t.Name
	if m.Level != "" {
		label += " " + m.Level
	}
	if m.Keep {
		fmt.Fprintf(log, "%s: kept the results of this run (ids starting %s)\n", label, prefix)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := t.Backend.Cleanup(ctx, prefix); err != nil {
		fmt.Fprintf(log, "%s: could not delete this run's results (ids starting %s): %v\n", label, prefix, err)
	}
}
