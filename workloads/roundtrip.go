package workloads

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
)

func init() {
	Register(Meta{
		Name:        "roundtrip",
		Description: "task.delay(...).get(): callers send a task and wait for its result (pub/sub on Redis, polling on SQL)",
		New:         func() Workload { return roundtrip{} },
	})
}

// roundtrip is Celery's task.delay(...).get() from a process outside the
// worker: on_task_call at send, then AsyncResult.get(), then the result's
// release.
type roundtrip struct{}

// roundtripOps are the task-level operations of the workloads built on
// awaitTask: the roundtrip, and in an open loop its uncorrected twin.
var roundtripOps = []string{OpRoundtrip, OpRoundtripUncorrected}

func (roundtrip) Ops() []string { return roundtripOps }
func (r roundtrip) Start() Load { return r }

func (roundtrip) Call(ctx context.Context, c *Caller) error {
	return awaitTask(ctx, c, c.NewTask(), getResult)
}

// A waitFunc waits, as one Celery caller pattern does, until the task is in
// a ready state and returns it.
type waitFunc func(ctx context.Context, c *Caller, taskID string) (backends.State, error)

// getResult waits as AsyncResult.get() does, within --task-timeout.
func getResult(ctx context.Context, c *Caller, taskID string) (backends.State, error) {
	if c.TaskTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.TaskTimeout)
		defer cancel()
	}
	return c.Session.WaitFor(ctx, taskID, c.PollInterval)
}

// onTaskCall runs the session's on_task_call within --task-timeout: the
// SUBSCRIBE's confirmation is a wait like the result's.
func onTaskCall(ctx context.Context, c *Caller, taskID string) error {
	if c.TaskTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.TaskTimeout)
		defer cancel()
	}
	return c.Session.OnTaskCall(ctx, taskID)
}

// awaitTask runs one task's lifecycle from the caller's side: on_task_call,
// dispatch, wait, then the AsyncResult's release. It records the roundtrip
// (and in an open loop its uncorrected twin) with an error when the wait
// failed or the task ended in another state than expected: FAILURE when
// t.Fail is set, SUCCESS otherwise. A failed task is recorded, not fatal to
// the run, so it always returns nil.
func awaitTask(ctx context.Context, c *Caller, t *Task, wait waitFunc) error {
	s := c.Session
	err := onTaskCall(ctx, c, t.ID)
	if err == nil {
		err = c.Dispatch(ctx, t)
	}
	var st backends.State
	if err == nil {
		st, err = wait(ctx, c, t.ID)
	}
	now := time.Now()
	want := backends.Success
	if t.Fail != nil {
		want = backends.Failure
	}
	if err == nil && st != want {
		err = fmt.Errorf("task ended in %s, want %s", st, want)
	}
	c.Handle.Observe(OpRoundtrip, t.Sent, now.Sub(t.Sent), err)
	if c.OpenLoop() {
		c.Handle.Observe(OpRoundtripUncorrected, t.Sent, now.Sub(t.Started), err)
	}
	if err == nil {
		c.Observed(t, now)
	}
	s.Release(ctx, t.ID) // AsyncResult.__del__; its errors are recorded by the session
	return nil
}
