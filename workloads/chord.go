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
	if ch.size < 1 || ch.size > MaxMembers {
		return fmt.Errorf("--chord-size must be between 1 and %d, not %d (%s)", MaxMembers, ch.size, maxMembersWhy)
	}
	return nil
}

func (ch *chord) Ops() []string { return []string{OpChord, OpChordUnlockDelay, OpChordBody} }
func (ch *chord) Start() Load   { return ch }

// Describe states the header size and result_chord_ordered (Describer).
func (ch *chord) Describe() string {
	return fmt.Sprintf("chord of %d + body · result_chord_ordered %v", ch.size, ch.ordered)
}

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

// chordCall is one chord's lifecycle from the caller's side.
type chordCall struct {
	ch     *chord
	c      *Caller
	native bool // the backend joins the header itself (Redis), not chord_unlock
	gid    string
	header []*Task
	ids    []string
	body   *Task
	// bodyReady carries when the last header result was stored, from the
	// header task that found the join complete (native chords only).
	bodyReady chan time.Time
	done      chan struct{} // closed when the caller stops waiting
}

func (ch *chord) Call(ctx context.Context, c *Caller) error {
	s := c.Session
	start := time.Now()
	cc := &chordCall{ch: ch, c: c, native: backends.NativeChords(s), body: c.NewTask(),
		bodyReady: make(chan time.Time, 1), done: make(chan struct{})}
	cc.gid, cc.header, cc.ids = newMembers(c, ch.size)
	if cc.native {
		cc.joinOnStore()
	}
	sent, err := cc.sendHeader(ctx)
	// The header's AsyncResults are dropped once sent, last first.
	for i := sent - 1; i >= 0; i-- {
		s.Release(ctx, cc.header[i].ID)
	}
	if err != nil {
		c.Handle.Observe(OpChord, start, time.Since(start), err)
		return nil
	}

	gbuf := &bufObserver{}
	var dispatched time.Time
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		dispatched = cc.publishBody(ctx, gbuf)
	}()
	wctx, cancel := withTaskTimeout(ctx, c)
	st, err := backends.WaitForWithParents(wctx, s, cc.body.ID, cc.gid, cc.ids, c.PollInterval)
	cancel()
	now := time.Now()
	close(cc.done)
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
		c.Observed(cc.body, now)
	}
	// The AsyncResults are released as Celery's were in the capture: the
	// last header member, the body, then the rest of the header.
	s.Release(ctx, cc.header[len(cc.header)-1].ID)
	if !dispatched.IsZero() {
		s.Release(ctx, cc.body.ID)
	}
	for i := len(cc.header) - 2; i >= 0; i-- {
		s.Release(ctx, cc.header[i].ID)
	}
	return nil
}

// joinOnStore makes each header task, after its result is stored, run
// on_chord_part_return on its worker; the one that completes the join
// publishes the body (callback.delay() from that header task).
func (cc *chordCall) joinOnStore() {
	for i, t := range cc.header {
		t.After = func(ctx context.Context, w backends.Worker, _ *results.Handle, m *backends.TaskMeta) {
			storedAt := time.Unix(0, t.stored.Load())
			backends.OnChordPartReturn(ctx, w, cc.gid, i, m, cc.ch.ordered, func() {
				cc.body.ParentID = t.ID
				select {
				case cc.bodyReady <- storedAt:
				default:
				}
			})
		}
	}
}

// sendHeader sends the header members, setting the chord size before the
// last, and returns how many it sent.
func (cc *chordCall) sendHeader(ctx context.Context) (int, error) {
	if _, ok := cc.c.Session.(backends.ChordApplier); ok { // apply_chord, before any member is sent
		ids := make([]string, len(cc.header))
		for i, t := range cc.header {
			ids[i] = t.ID
		}
		if err := backends.ApplyChord(ctx, cc.c.Session, cc.gid, ids); err != nil {
			return 0, err
		}
	}
	for i, t := range cc.header {
		if i == len(cc.header)-1 {
			if err := backends.SetChordSize(ctx, cc.c.Session, cc.gid, len(cc.header)); err != nil {
				return i, err
			}
		}
		if err := sendMember(ctx, cc.c, t); err != nil {
			return i, err
		}
	}
	return len(cc.header), nil
}

// publishBody waits until the header is complete, records the delay from
// the last header result to publishing the body (OpChordUnlockDelay, in
// gbuf), dispatches the body and returns when; zero when the caller stopped
// waiting first or the dispatch failed.
func (cc *chordCall) publishBody(ctx context.Context, gbuf *bufObserver) time.Time {
	var storedAt time.Time
	if cc.native {
		select {
		case storedAt = <-cc.bodyReady:
		case <-cc.done:
			return time.Time{}
		}
	} else {
		if !cc.unlock(ctx) {
			return time.Time{}
		}
		for _, h := range cc.header {
			if at := time.Unix(0, h.stored.Load()); at.After(storedAt) {
				storedAt = at
			}
		}
	}
	now := time.Now()
	cc.body.Sent = now
	gbuf.Observe(OpChordUnlockDelay, storedAt, now.Sub(storedAt), nil)
	if cc.c.Dispatch(ctx, cc.body) != nil {
		return time.Time{}
	}
	return now
}

// unlock is apply_chord's chord_unlock.apply_async(countdown=1), which
// retries itself every second until the header is ready; each run is a
// task on a worker child. It reports whether the header became ready
// before the caller stopped waiting.
func (cc *chordCall) unlock(ctx context.Context) bool {
	t := time.NewTimer(chordUnlockCountdown)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-cc.done:
			return false
		}
		run, ready := cc.ch.unlockTask(cc.c, cc.ids)
		if cc.c.Dispatch(ctx, run) != nil {
			return false
		}
		select {
		case ok := <-ready:
			if ok {
				cc.body.ParentID = run.ID // callback.delay() from chord_unlock
				return true
			}
		case <-cc.done:
			return false
		}
		t.Reset(chordUnlockCountdown) // self.retry(countdown=1)
	}
}
