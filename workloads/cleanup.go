package workloads

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
)

func init() {
	Register(Meta{
		Name: "cleanup",
		Description: "celery.backend_cleanup (one DELETE of every result older than result_expires) on a table " +
			"pre-filled with --expired-results old rows, during roundtrip load; Redis has none (keys expire)",
		New: func() Workload { return &cleanup{expired: DefaultExpiredResults, after: DefaultCleanupAfter} },
	})
}

// OpRoundtripDuringCleanup is a roundtrip that overlapped the
// backend_cleanup transaction; the others stay OpRoundtrip, the baseline.
const OpRoundtripDuringCleanup = "roundtrip_during_cleanup"

// Defaults of the cleanup flags.
const (
	DefaultExpiredResults = 100000
	// MaxExpiredResults bounds --expired-results: ten million rows, a few
	// GB of table, minutes of pre-fill.
	MaxExpiredResults   = 10000000
	DefaultCleanupAfter = 2 * time.Second
	// cleanupExpires is result_expires (1 day): backend_cleanup deletes
	// what was done before now minus it; the pre-filled rows were done
	// twice that long ago.
	cleanupExpires = 24 * time.Hour
	// fillChunk is how many expired rows one FillExpired call writes: the
	// pre-fill reports its progress and checks its context between them.
	// MaxExpiredResults/fillChunk chunk numbers fit the ids' 0xxx.
	fillChunk = 100000
)

// cleanup measures Celery's daily backend_cleanup against live traffic.
// The first caller fills the result table with --expired-results finished
// rows dated two days back, in chunks of fillChunk rows with its progress on
// the progress lines (set-up: every caller waits for it, and it is not
// measured; give it a --warmup that covers it); then all callers run
// task.delay().get() roundtrips, and --cleanup-after after both the fill and
// the warm-up are over one caller runs the cleanup once (OpBackendCleanup,
// reported by the backend). Roundtrips
// that overlap it are recorded as OpRoundtripDuringCleanup, so their p99
// can be read against OpRoundtrip's.
//
// Backends whose results expire by themselves (Redis: SETEX) have no
// cleanup task; there the workload runs plain roundtrips and reports no
// backend_cleanup and no roundtrip_during_cleanup.
//
// Note: Celery runs the cleanup in a worker child on its pooled
// connection; bench runs it on a connection of its own, so it does not
// take a worker slot.
type cleanup struct {
	expired int
	after   time.Duration
}

// cleanupRun is one measurement's state: the pre-fill done once by the
// first caller, and the one cleanup run.
type cleanupRun struct {
	cfg     *cleanup
	once    sync.Once
	fillErr error
	readyAt time.Time
	leader  atomic.Bool  // a caller has taken the cleanup
	gen     atomic.Int64 // odd while the cleanup runs
}

func (w *cleanup) Flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("cleanup", pflag.ContinueOnError)
	fs.IntVar(&w.expired, "expired-results", DefaultExpiredResults, fmt.Sprintf("expired rows to pre-fill before backend_cleanup runs, at most %s (workload cleanup;\n"+
		"the pre-fill is set-up, shown on the progress lines: give a --warmup that covers it)", results.Count(MaxExpiredResults)))
	fs.DurationVar(&w.after, "cleanup-after", DefaultCleanupAfter, "roundtrip time before backend_cleanup runs, the baseline, counted from the end of\nthe pre-fill and of the warm-up (workload cleanup)")
	return fs
}

func (w *cleanup) Validate() error {
	if w.expired < 0 || w.expired > MaxExpiredResults {
		return fmt.Errorf("--expired-results must be 0 to %d, not %d", MaxExpiredResults, w.expired)
	}
	if w.after < 0 {
		return fmt.Errorf("--cleanup-after must not be negative, not %v", w.after)
	}
	return nil
}

func (w *cleanup) Ops() []string { return []string{OpRoundtrip, OpRoundtripDuringCleanup} }

func (w *cleanup) Start() Load { return &cleanupRun{cfg: w} }

// Describe states the pre-filled expired rows and when backend_cleanup
// runs (Describer).
func (w *cleanup) Describe() string {
	return fmt.Sprintf("%d expired results · backend_cleanup after %s", w.expired, w.after)
}

// Sweeps makes a cleanup run refuse a target holding foreign results: its
// DELETE, like Celery's, takes every result done before the cutoff.
func (w *cleanup) Sweeps() string {
	return "backend_cleanup deletes every result older than result_expires, whoever wrote it"
}

// expiredIDPrefix is the start of the pre-filled ids of chunk k: the run's
// prefix and a third group of 0 and k in three hex digits, which no task id
// (4xxx, uuid4) has.
func expiredIDPrefix(c *Caller, k int) string { return fmt.Sprintf("%s-0%03x-8000-", c.ids.prefix, k) }

// fill pre-fills n expired rows in chunks, reporting its progress.
func fill(ctx context.Context, c *Caller, cl backends.ExpiredCleaner, n int) error {
	doneAt := time.Now().Add(-2 * cleanupExpires)
	defer c.SetSetup("")
	start := time.Now()
	for k, done := 0, 0; done < n; k++ {
		c.SetSetup(fmt.Sprintf("filling expired results: %s of %s in %s", results.Count(int64(done)), results.Count(int64(n)),
			time.Since(start).Round(time.Second)))
		m := min(fillChunk, n-done)
		if _, err := cl.FillExpired(ctx, expiredIDPrefix(c, k), m, doneAt); err != nil {
			return err
		}
		done += m
	}
	return nil
}

func (w *cleanupRun) Call(ctx context.Context, c *Caller) error {
	cl, ok := backends.AsExpiredCleaner(c.Session)
	w.once.Do(func() {
		if ok && w.cfg.expired > 0 {
			w.fillErr = fill(ctx, c, cl, w.cfg.expired)
		}
		// The baseline starts once both the fill and the warm-up are over.
		w.readyAt = time.Now()
		if ws := c.WindowStart(); w.readyAt.Before(ws) {
			w.readyAt = ws
		}
	})
	if w.fillErr != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("cleanup: filling %d expired results: %w", w.cfg.expired, w.fillErr)
	}
	if ok && time.Since(w.readyAt) >= w.cfg.after && w.leader.CompareAndSwap(false, true) {
		w.gen.Add(1)
		cl.CleanupExpired(ctx, time.Now().Add(-cleanupExpires)) // recorded by the backend
		w.gen.Add(1)
		return nil
	}
	g0 := w.gen.Load()
	t, st, err := roundtripOnce(ctx, c)
	now := time.Now()
	op := OpRoundtrip
	if g1 := w.gen.Load(); g0%2 == 1 || g1 != g0 {
		op = OpRoundtripDuringCleanup
	}
	c.Handle.Observe(op, t.Sent, now.Sub(t.Sent), roundtripErr(st, err))
	if err == nil && st == backends.Success {
		c.Observed(t, now)
	}
	c.Session.Release(ctx, t.ID)
	return nil
}

// roundtripOnce is the roundtrip workload's task.delay(...).get() without
// its recording.
func roundtripOnce(ctx context.Context, c *Caller) (*Task, backends.State, error) {
	t := c.NewTask()
	s := c.Session
	err := s.OnTaskCall(ctx, t.ID)
	if err == nil {
		err = c.Dispatch(ctx, t)
	}
	var st backends.State
	if err == nil {
		wctx, cancel := withTaskTimeout(ctx, c)
		st, err = s.WaitFor(wctx, t.ID, c.PollInterval)
		cancel()
	}
	return t, st, err
}

func roundtripErr(st backends.State, err error) error {
	if err == nil && st != backends.Success {
		return fmt.Errorf("task ended in %s, want SUCCESS", st)
	}
	return err
}
