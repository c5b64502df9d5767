package workloads

import (
	"context"
	"errors"
	"time"

	"github.com/celery-bench/bench/backends"
)

// OpWastedPoll is the task-level row of the polling workload: one
// observation per ready()/state check that found the task not ready yet,
// timed as that check's read. Its count over the roundtrip count is the
// wasted polls per result; polls per result is one more.
const OpWastedPoll = "wasted_poll"

func init() {
	Register(Meta{
		Name:        "polling",
		Description: "while not r.ready(): sleep(--poll-interval): callers poll the state instead of blocking in get(), on every backend",
		New:         func() Workload { return polling{} },
	})
}

// polling is a caller that sends a task and then checks it as
//
//	r = task.delay(...)
//	while not r.ready():
//	    time.sleep(interval)
//
// does, with interval --poll-interval: every check is one get_task_meta
// (Redis: one GET on the command connection; SQL: one poll with the
// connection Celery opens for it). The first check runs right after the
// send. On Redis the send SUBSCRIBEs (on_task_call), the check that first
// sees the task ready UNSUBSCRIBEs (on_ready → remove_pending_result), and
// releasing the AsyncResult UNSUBSCRIBEs once more, as I/readypoll shows.
type polling struct{}

func (polling) Ops() []string { return []string{OpRoundtrip, OpRoundtripUncorrected, OpWastedPoll} }
func (p polling) Start() Load { return p }

func (polling) Call(ctx context.Context, c *Caller) error {
	return awaitTask(ctx, c, c.NewTask(), pollReady)
}

// errPollTimeout ends a poll loop that outlived --task-timeout.
var errPollTimeout = errors.New("task not ready within --task-timeout")

// pollReady checks the task every c.PollInterval until it is ready,
// recording every check that found it not ready as OpWastedPoll.
func pollReady(ctx context.Context, c *Caller, taskID string) (backends.State, error) {
	var deadline time.Time
	if c.TaskTimeout > 0 {
		deadline = time.Now().Add(c.TaskTimeout)
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		start := time.Now()
		m, err := c.Session.GetTaskMeta(ctx, taskID)
		if err != nil {
			return "", err
		}
		if m.Status.Ready() {
			// ready() saw a READY state: on_ready → remove_pending_result.
			c.Session.Release(ctx, taskID)
			return m.Status, nil
		}
		c.Handle.Observe(OpWastedPoll, start, time.Since(start), nil)
		if !deadline.IsZero() && time.Now().Add(c.PollInterval).After(deadline) {
			return "", errPollTimeout
		}
		if timer == nil {
			timer = time.NewTimer(c.PollInterval)
		} else {
			timer.Reset(c.PollInterval)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-timer.C:
		}
	}
}
