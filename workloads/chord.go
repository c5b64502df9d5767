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
// Note: Celery runs chord_unlock on a worker child. bench's workers store a
// result for every task they take, and chord_unlock stores none
// (ignore_result=True), so chord_unlock runs on a connection of its own per
// caller, opened as a worker child's and kept for the run, with the same
// statements; it does not occupy a worker slot. The body's record also
// lacks the parent_id Celery gives it (Task has no parent id).
type chord struct {
	size    int
	ordered bool

	mu        sync.Mutex
	unlockers map[*Caller]*unlockSlot
}

// unlockSlot is a caller's chord_unlock connection and the observations
// made on it, replayed into the caller's handle after each chord.
type unlockSlot struct {
	u   backends.ChordUnlocker
	obs *bufObserver
}

func newChord() *chord {
	return &chord{size: DefaultChordSize, ordered: true, unlockers: map[*Caller]*unlockSlot{}}
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

// Close closes the chord_unlock connections the workload opened.
func (ch *chord) Close() error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	for k, s := range ch.unlockers {
		s.u.Close()
		delete(ch.unlockers, k)
	}
	return nil
}

func (ch *chord) unlocker(ctx context.Context, c *Caller) (*unlockSlot, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if s := ch.unlockers[c]; s != nil {
		return s, nil
	}
	obs := &bufObserver{}
	u, err := backends.OpenChordUnlocker(ctx, c.Session, obs)
	if err != nil {
		return nil, err
	}
	s := &unlockSlot{u: u, obs: obs}
	ch.unlockers[c] = s
	return s, nil
}

func (ch *chord) Call(ctx context.Context, c *Caller) error {
	s := c.Session
	start := time.Now()
	native := backends.NativeChords(s)
	var slot *unlockSlot
	if !native {
		var err error
		if slot, err = ch.unlocker(ctx, c); err != nil {
			c.Handle.Observe(OpChord, start, time.Since(start), err)
			return nil
		}
	}
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
			t := time.NewTimer(chordUnlockCountdown)
			defer t.Stop()
			for {
				select {
				case <-t.C:
				case <-done:
					return
				}
				ready, err := slot.u.ChordUnlock(ctx, ids)
				if ctx.Err() != nil {
					return
				}
				if ready && err == nil {
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
	if slot != nil {
		slot.obs.flush(c.Handle)
	}
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
