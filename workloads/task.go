package workloads

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

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
)

// A Task is one task message as a simulated worker receives it from the
// broker. The caller creates it and hands it to Caller.Dispatch; after that
// only the worker writes it, except for the time-to-observe rendezvous,
// which is atomic.
type Task struct {
	ID     string
	Result any // the return value the worker stores
	// Sent is when the caller created the task; every task-level timing is
	// kept or dropped by the window according to it.
	Sent time.Time

	stored   atomic.Int64 // unix ns the final write completed
	observed atomic.Int64 // unix ns the caller had the result
	marks    atomic.Int32 // how many of the two above are set
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
