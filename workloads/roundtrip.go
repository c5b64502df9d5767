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

func (roundtrip) PrimaryOp() string { return OpRoundtrip }

func (roundtrip) Call(ctx context.Context, c *Caller) error {
	t := c.NewTask()
	s := c.Session
	err := s.OnTaskCall(ctx, t.ID)
	if err == nil {
		err = c.Dispatch(ctx, t)
	}
	var st backends.State
	if err == nil {
		wctx, cancel := ctx, context.CancelFunc(func() {})
		if c.TaskTimeout > 0 {
			wctx, cancel = context.WithTimeout(ctx, c.TaskTimeout)
		}
		st, err = s.WaitFor(wctx, t.ID, c.PollInterval)
		cancel()
	}
	now := time.Now()
	if err == nil && st != backends.Success {
		err = fmt.Errorf("task ended in %s, want SUCCESS", st)
	}
	c.Handle.Observe(OpRoundtrip, t.Sent, now.Sub(t.Sent), err)
	if c.OpenLoop() {
		c.Handle.Observe(OpRoundtripUncorrected, t.Sent, now.Sub(t.Started), err)
	}
	if err == nil {
		c.Observed(t, now)
	}
	s.Release(ctx, t.ID) // its errors are recorded by the session
	return nil           // a failed task is recorded, not fatal to the run
}
