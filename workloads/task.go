package workloads

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/results"
)

// Task-level timing names.
const (
	// OpRoundtrip is the caller's task.delay(...).get(): from creating the
	// task to having its result.
	OpRoundtrip = "roundtrip"
	// OpTimeToObserve runs from the moment the worker's final state write
	// completed to the moment the caller has the result. Pub/sub can deliver
	// the result before the worker has its write acknowledged; that counts
	// as 0.
	OpTimeToObserve = "time_to_observe"
	// OpTask runs from a task's dispatch to its final state write completing
	// (tasks whose results nobody reads).
	OpTask = "task"
	// OpRoundtripUncorrected is the open loop's roundtrip measured from
	// when the caller actually started the task, as a closed-loop tool
	// would measure it; OpRoundtrip then runs from the intended start.
	OpRoundtripUncorrected = "roundtrip_uncorrected"
	// OpStartLag is, in an open loop, the time from a task's scheduled
	// arrival to a caller starting it: the queueing a slow backend causes
	// when every caller is busy, plus the harness's own timer and hand-off
	// lag (a few hundred µs on a loaded VM), which therefore also sits in
	// the corrected figures. It shows how much of the corrected latency is
	// waiting rather than work.
	OpStartLag = "start_lag"
	// OpQueueWait runs from delay() returning (the task published) to a
	// worker child starting it: the broker's hand-off (--dispatch-delay)
	// plus the time it waited for a free child behind busy ones.
	OpQueueWait = "queue_wait"
	// OpTaskRun is the task body's run time as drawn from --task-time: the
	// worker child sleeps it after STARTED, before the result is stored,
	// taking no other task meanwhile (the sleep's overshoot is in the
	// roundtrip, not here).
	OpTaskRun = "task_run"
)

// A Task is one task message as a simulated worker receives it from the
// broker. The caller creates it and hands it to Caller.Dispatch; after that
// only the worker writes it, except for the time-to-observe rendezvous,
// which is atomic.
type Task struct {
	ID     string
	Result any // the return value the worker stores
	// GroupID and GroupIndex are set for group and chord members; the
	// worker stores group_id with the result.
	GroupID    string
	GroupIndex int
	// After, when set, runs on the worker after the task's final state
	// write succeeded, with the worker's session and handle and the meta it
	// stored (Celery: on_chord_part_return for chord header members). Its
	// error is recorded by the workload, not by the worker.
	After func(ctx context.Context, w backends.Worker, h *results.Handle, m *backends.TaskMeta)
	// Run, when set, replaces the task's whole execution on the worker: the
	// task stores no result (ignore_result=True), as Celery's chord_unlock
	// and backend_cleanup do, and runs on the worker child's own session.
	Run func(ctx context.Context, w backends.Worker, h *results.Handle)
	// ParentID is the id of the task that sent this one (a chord body's
	// parent); the worker stores it as parent_id.
	ParentID string
	// Progress is how many update_state('PROGRESS', meta={'current': i,
	// 'total': Progress}) writes the task makes before its final state.
	Progress int
	// Retry, when set, makes the task's first run end in
	// self.retry(exc=...): a RETRY write carrying this exception, then the
	// re-run (parent_id = its own id, retries = 1) on the same worker.
	Retry *Raised
	// Fail, when set, makes the task's (last) run raise: its final state
	// is FAILURE with this exception instead of SUCCESS with Result.
	Fail *Raised
	// Sent is when the task should have started: its creation in a closed
	// loop, its scheduled arrival in an open loop. Task-level timings run
	// from it (so an open loop's are corrected for coordinated omission),
	// and the window keeps or drops them by it.
	Sent time.Time
	// Started is when the caller actually created it; the uncorrected
	// open-loop timings run from it.
	Started time.Time
	// RunTime is how long the task body runs on the worker (drawn from
	// the caller's TaskTime when the task is created); 0 returns at once.
	RunTime time.Duration

	dispatched time.Time // when Dispatch published it
	deliverAt  time.Time // when the broker hands it to the worker; zero: at once

	stored   atomic.Int64 // unix ns the final write completed
	observed atomic.Int64 // unix ns the caller had the result
	marks    atomic.Int32 // how many of the two above are set
}

// Raised is an exception a task raises, as Celery stores it. It is shared
// read-only by every task that raises it.
type Raised struct {
	// Exception is Celery's exception record for the JSON serializer
	// (py.Exception: exc_type, exc_message, exc_module).
	Exception py.Dict
	// Traceback is the formatted traceback text stored with it.
	Traceback string
}

// markStored is called by the worker when the final state write completed.
func (t *Task) markStored(at time.Time, h *results.Handle) {
	t.stored.Store(at.UnixNano())
	t.rendezvous(h)
}

// markObserved is called by the caller when it has the result.
func (t *Task) markObserved(at time.Time, h *results.Handle) {
	t.observed.Store(at.UnixNano())
	t.rendezvous(h)
}

// rendezvous records time-to-observe in the handle of whichever side comes
// second, so neither side waits for the other.
func (t *Task) rendezvous(h *results.Handle) {
	if t.marks.Add(1) != 2 {
		return
	}
	d := time.Duration(t.observed.Load() - t.stored.Load())
	if d < 0 {
		d = 0
	}
	h.Observe(OpTimeToObserve, t.Sent, d, nil)
}

// idGen makes Celery-shaped task ids (uuid4 text) that start with a run's
// prefix, from a seeded generator, so a seed replays the same ids.
type idGen struct {
	prefix string // "bec1e7e0-1a2b" (13 characters)
	rng    *rand.Rand
}

const hexDigits = "0123456789abcdef"

// next returns prefix-4xxx-yxxx-xxxxxxxxxxxx.
func (g *idGen) next() string {
	var b [36]byte
	copy(b[:], g.prefix)
	b[13] = '-'
	hi, lo := g.rng.Uint64(), g.rng.Uint64()
	b[14] = '4'
	for i := 15; i < 18; i++ {
		b[i] = hexDigits[hi&15]
		hi >>= 4
	}
	b[18] = '-'
	b[19] = "89ab"[hi&3]
	hi >>= 2
	for i := 20; i < 23; i++ {
		b[i] = hexDigits[hi&15]
		hi >>= 4
	}
	b[23] = '-'
	for i := 24; i < 36; i++ {
		b[i] = hexDigits[lo&15]
		lo >>= 4
	}
	return string(b[:])
}
