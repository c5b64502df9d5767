package workloads

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
)

func init() {
	Register(Meta{
		Name: "chord",
		Description: "chord(header)(body).get(): --chord-size header tasks joined by the backend " +
			"(Redis on_chord_part_return) or by chord_unlock polling every 1 s (SQL), then the body",
		New: func() Workload { return newChord() },
	})
}

// Chord timings.
const (
	// OpChord is the caller's chord(header)(body).get(): from creating the
	// chord to having the body's result.
	OpChord = "chord"
	// OpChordUnlockDelay runs from the moment the last header member's
	// final write completed (Redis) or the last of them did (SQL) to the
	// body's publish to the broker: the cost of the backend's join
	// (on_chord_part_return's pipelines; chord_unlock's 1 s retries).
	OpChordUnlockDelay = "chord_unlock_delay"
	// OpChordBody is the body's roundtrip: from its publish to the caller
	// having its result.
	OpChordBody = "chord_body"
)

// Defaults of the chord flags.
const (
	DefaultChordSize = 5
	// chordUnlockCountdown is apply_chord's countdown=1 and
	// result_chord_retry_interval (1.0 s): chord_unlock's first run and
	// its retries.
	chordUnlockCountdown = time.Second
)

// chord is chord(add.s(i, i) for i in range(N))(tsum.s()).get() from a
// process outside the worker.
//
// On a backend that joins chords itself (Redis), the caller writes the
// chord size before the last header task, each header task's worker runs
// on_chord_part_return after its final write, and the worker of the last
// part publishes the body. Elsewhere (SQL), apply_chord sends
// celery.chord_unlock with countdown=1, which reads the members until one
// is unready and retries every second; when all are ready it publishes
// the body.
//
// chord_unlock is a task like any other: it goes through the broker to a
// worker child and runs on that child's connection, taking its slot, and
// stores no result (ignore_result=True). The body's parent_id is the task
// that published it: the last header member on Redis, the chord_unlock run
// that found the header ready on SQL.
type chord struct {
	size    int
	ordered bool
}

func newChord() *chord {
	return &chord{size: DefaultChordSize, ordered: true}
}

func (ch *chord) Flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("chord", pflag.ContinueOnError)
	fs.IntVar(&ch.size, "chord-size", DefaultChordSize, "header tasks per chord (workload chord)")
	fs.BoolVar(&ch.ordered, "chord-ordered", true, "result_chord_ordered: Redis joins in a ZSET; false uses a list (workload chord)")
	return fs
}

func (ch *chord) Validate() error {
	if ch.size < 1 {
		return fmt.Errorf("--chord-size must be at least 1, not %d", ch.size)
	}
	return nil
}

func (ch *chord) PrimaryOp() string { return OpChord }

// unlockTask returns one run of celery.chord_unlock as a task for the
// workers, and the channel its outcome arrives on: true when every header
// member was ready. It runs on the worker's session when that can run it
// (a backend without native chords), and otherwise reports not ready.
func (ch *chord) unlockTask(c *Caller, ids []string) (*Task, <-chan bool) {
	ready := make(chan bool, 1)
	t := &Task{ID: c.ids.next(), Sent: time.Now()}
	t.Run = func(ctx context.Context, w backends.Worker, _ *results.Handle) {
		u, ok := w.(backends.ChordUnlocker)
		if !ok {
			ready <- false
			return
		}
		ok, err := u.ChordUnlock(ctx, ids)
		ready <- ok && err == nil
	}
	return t, ready
}

func (ch *chord) Call(ctx context.Context, c *Caller) error {
	s := c.Session
	start := time.Now()
	native := backends.NativeChords(s)
	gid, header, ids := newMembers(c, ch.size)
	body := c.NewTask()

	// bodyReady carries when the last header result was stored; the
	// dispatcher below publishes the body then.
	bodyReady := make(chan time.Time, 1)
	if native {
		for i, t := range header {
			t.After = func(ctx context.Context, w backends.Worker, _ *results.Handle, m *backends.TaskMeta) {
				storedAt := time.Unix(0, t.stored.Load())
				backends.OnChordPartReturn(ctx, w, gid, i, m, ch.ordered, func() {
					body.ParentID = t.ID // callback.delay() from this header task
					select {
					case bodyReady <- storedAt:
					default:
					}
				})
			}
		}
	}

	var err error
	sent := 0
	for i, t := range header {
		if i == len(header)-1 {
			if err = backends.SetChordSize(ctx, s, gid, len(header)); err != nil {
				break
			}
		}
		if err = sendMember(ctx, c, t); err != nil {
			break
		}
		sent++
	}
	// The header's AsyncResults are dropped once sent, last first.
	for i := sent - 1; i >= 0; i-- {
		s.Release(ctx, header[i].ID)
	}
	if err != nil {
		c.Handle.Observe(OpChord, start, time.Since(start), err)
		return nil
	}

	done := make(chan struct{})
	gbuf := &bufObserver{}
	var dispatched time.Time
	var dispatchErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var storedAt time.Time
		if native {
			select {
			case storedAt = <-bodyReady:
			case <-done:
				return
			}
		} else {
			// apply_chord: chord_unlock.apply_async(countdown=1), which
			// retries itself every second until the header is ready. Each
			// run is a task on a worker child.
			t := time.NewTimer(chordUnlockCountdown)
			defer t.Stop()
			for {
				select {
				case <-t.C:
				case <-done:
					return
				}
				unlock, ready := ch.unlockTask(c, ids)
				if c.Dispatch(ctx, unlock) != nil {
					return
				}
				var ok bool
				select {
				case ok = <-ready:
				case <-done:
					return
				}
				if ok {
					body.ParentID = unlock.ID // callback.delay() from chord_unlock
					break
				}
				t.Reset(chordUnlockCountdown) // self.retry(countdown=1)
			}
			for _, h := range header {
				if at := time.Unix(0, h.stored.Load()); at.After(storedAt) {
					storedAt = at
				}
			}
		}
		now := time.Now()
		body.Sent = now
		gbuf.Observe(OpChordUnlockDelay, storedAt, now.Sub(storedAt), nil)
		if dispatchErr = c.Dispatch(ctx, body); dispatchErr == nil {
			dispatched = now
		}
	}()

	wctx, cancel := withTaskTimeout(ctx, c)
	st, err := backends.WaitForWithParents(wctx, s, body.ID, gid, ids, c.PollInterval)
	cancel()
	now := time.Now()
	close(done)
	wg.Wait()
	gbuf.flush(c.Handle)
	if err == nil && st != backends.Success {
		err = fmt.Errorf("chord body ended in %s, want SUCCESS", st)
	}
	c.Handle.Observe(OpChord, start, now.Sub(start), err)
	if !dispatched.IsZero() {
		c.Handle.Observe(OpChordBody, dispatched, now.Sub(dispatched), err)
	}
	if err == nil {
		c.Observed(body, now)
	}
	// The AsyncResults are released as Celery's were in the capture: the
	// last header member, the body, then the rest of the header.
	s.Release(ctx, header[len(header)-1].ID)
	if !dispatched.IsZero() {
		s.Release(ctx, body.ID)
	}
	for i := len(header) - 2; i >= 0; i-- {
		s.Release(ctx, header[i].ID)
	}
	return nil
}
