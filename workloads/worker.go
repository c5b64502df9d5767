package workloads

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/results"
)

// worker is one simulated prefork child: it executes tasks as Celery's
// trace does, writing STARTED first when track_started is on.
type worker struct {
	session      backends.Worker
	handle       *results.Handle
	trackStarted bool
	pid          int
	hostname     string
	meta         backends.TaskMeta // reused; backends do not retain it
	started      py.Dict
	extended     *backends.Extended // nil unless result_extended

	// busy accumulates the time this child spent executing tasks within
	// [windowStart, windowEnd) (windowEnd zero: open-ended); only this
	// worker's goroutine writes it, and the runner reads it after the
	// workers have stopped.
	busy                   *time.Duration
	windowStart, windowEnd time.Time
	timer                  *time.Timer // the task body's sleep, reused
	retry                  RetryPolicy
	storeTimeout           time.Duration // bounds one store attempt: --task-timeout, the longest a caller waits
	rng                    *rand.Rand    // the retries' jitter
}

// RetryPolicy is Celery's result_backend_always_retry and its backoff
// settings. Off (Celery's default), a store that fails is lost.
type RetryPolicy struct {
	Always bool // result_backend_always_retry
	// MaxRetries is result_backend_max_retries; 0 retries without limit
	// (Celery's default, float("inf")), until the run ends.
	MaxRetries int
	// BaseSleep and MaxSleep are result_backend_base_sleep_between_retries_ms
	// (10 ms) and result_backend_max_sleep_between_retries_ms (10 s).
	BaseSleep, MaxSleep time.Duration
}

// DefaultRetryPolicy holds Celery's defaults, retrying off.
var DefaultRetryPolicy = RetryPolicy{BaseSleep: 10 * time.Millisecond, MaxSleep: 10 * time.Second}

// backoff is Celery's get_exponential_backoff_interval with full jitter:
// a uniform draw from [0, min(max, base·2^retries)].
func (p RetryPolicy) backoff(retries int, rng *rand.Rand) time.Duration {
	d := p.MaxSleep
	if retries < 40 {
		if e := p.BaseSleep * time.Duration(1<<retries); e >= 0 && e < d {
			d = e
		}
	}
	if d <= 0 {
		return 0
	}
	return time.Duration(rng.Int64N(int64(d) + 1))
}

// storeOnce is one store attempt within storeTimeout.
func (wk *worker) storeOnce(ctx context.Context, m *backends.TaskMeta) error {
	if wk.storeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wk.storeTimeout)
		defer cancel()
	}
	return wk.session.StoreResult(ctx, m)
}

// store is Backend.store_result: one attempt, or with Always the retries
// Celery's loop makes, each attempt recorded by the session, until one
// succeeds, MaxRetries are spent or ctx ends.
//
// Note: Celery retries only what the backend's exception_safe_to_retry
// accepts, and its Redis and SQL backends accept nothing (Redis retries
// connection errors on its own, under retry_policy); bench retries every
// failure, so the flag shows what a retrying backend costs.
func (wk *worker) store(ctx context.Context, m *backends.TaskMeta) error {
	for retries := 0; ; retries++ {
		err := wk.storeOnce(ctx, m)
		if err == nil || !wk.retry.Always || ctx.Err() != nil {
			return err
		}
		if wk.retry.MaxRetries > 0 && retries >= wk.retry.MaxRetries {
			return fmt.Errorf("failed to store result on the backend after %d retries: %w", retries, err)
		}
		if !wk.body(ctx, wk.retry.backoff(retries+1, wk.rng)) {
			return err
		}
	}
}

// TaskName is the name of the task bench's workers run, as result_extended
// stores it: bench.echo(size) returns a str of size characters.
const TaskName = "bench.echo"

func (wk *worker) loop(ctx context.Context, queue <-chan *Task) {
	wk.started = py.Dict{{Key: "pid", Value: wk.pid}, {Key: "hostname", Value: wk.hostname}}
	for t := range queue {
		if ctx.Err() != nil {
			continue // drain: an interrupted run executes nothing more
		}
		start := time.Now()
		if !t.dispatched.IsZero() {
			wk.handle.Observe(OpQueueWait, t.Sent, start.Sub(t.dispatched), nil)
		}
		wk.execute(ctx, t)
		wk.addBusy(start, time.Now())
	}
	if wk.timer != nil {
		wk.timer.Stop()
	}
}

// addBusy adds the part of [from, to) inside the window to wk.busy.
func (wk *worker) addBusy(from, to time.Time) {
	if from.Before(wk.windowStart) {
		from = wk.windowStart
	}
	if !wk.windowEnd.IsZero() && to.After(wk.windowEnd) {
		to = wk.windowEnd
	}
	if to.After(from) {
		*wk.busy += to.Sub(from)
	}
}

// body runs d of t's task body: the child sleeps, taking no other task,
// as a prefork child running the task's code does. It returns false when
// ctx is cancelled first.
func (wk *worker) body(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	if wk.timer == nil {
		wk.timer = time.NewTimer(d)
	} else {
		wk.timer.Reset(d)
	}
	select {
	case <-wk.timer.C:
		return true
	case <-ctx.Done():
		if !wk.timer.Stop() {
			<-wk.timer.C
		}
		return false
	}
}

// execute plays out t's lifecycle as Celery's trace does: with a Retry,
// the first run writes STARTED (when tracking) and RETRY, and the re-run
// that follows carries parent_id = its own id and retries = 1; the
// (re-)run then writes STARTED (when tracking), t.Progress PROGRESS states
// and the final state, SUCCESS or, with Fail, FAILURE. OpTask times the
// whole lifecycle, and is an error when any write fails (the task then
// stops there, as a worker whose backend raises does).
func (wk *worker) execute(ctx context.Context, t *Task) {
	// task_postrun: a django-db worker closes its connection here.
	defer backends.EndTask(ctx, wk.session)
	if t.Run != nil { // a task that stores no result (ignore_result=True)
		t.Run(ctx, wk.session, wk.handle)
		return
	}
	ext := wk.taskExtended(t)
	parent := t.ParentID
	fail := func(err error) { wk.handle.Observe(OpTask, t.Sent, time.Since(t.Sent), err) }
	if t.Retry != nil {
		if err := wk.run(ctx, t, parent, ext, 0); err != nil {
			fail(err)
			return
		}
		m := &wk.meta
		*m = backends.TaskMeta{TaskID: t.ID, Status: backends.Retry, Result: t.Retry.Exception,
			Traceback: t.Retry.Traceback, Children: []string{t.ID}, GroupID: t.GroupID, Extended: ext}
		if err := wk.store(ctx, m); err != nil {
			fail(err)
			return
		}
		backends.EndTask(ctx, wk.session) // the first run's task_postrun
		parent = t.ID
		if ext != nil {
			e := *ext
			e.Retries = 1
			ext = &e
		}
	}
	if err := wk.run(ctx, t, parent, ext, t.Progress); err != nil {
		fail(err)
		return
	}
	m := &wk.meta
	*m = backends.TaskMeta{TaskID: t.ID, Status: backends.Success, Result: t.Result, DateDone: time.Now(),
		GroupID: t.GroupID, ParentID: parent, Extended: ext}
	if t.Fail != nil {
		m.Status, m.Result, m.Traceback = backends.Failure, t.Fail.Exception, t.Fail.Traceback
	}
	err := wk.store(ctx, m)
	now := time.Now()
	wk.handle.Observe(OpTask, t.Sent, now.Sub(t.Sent), err)
	if err == nil {
		t.markStored(now, wk.handle)
		if t.After != nil {
			t.After(ctx, wk.session, wk.handle, m)
		}
	}
}

// run plays one run of t's body before its outcome: STARTED when
// tracking, then t.RunTime of work with the progress PROGRESS states
// spread evenly over it (a slice of the run time before each, and one
// after the last). OpTaskRun records the run time drawn for it.
func (wk *worker) run(ctx context.Context, t *Task, parent string, ext *backends.Extended, progress int) error {
	m := &wk.meta
	if wk.trackStarted {
		*m = backends.TaskMeta{TaskID: t.ID, Status: backends.Started, Result: wk.started,
			GroupID: t.GroupID, ParentID: parent, Extended: ext}
		if err := wk.store(ctx, m); err != nil {
			return err
		}
	}
	slice := t.RunTime / time.Duration(progress+1)
	work := func(d time.Duration) error {
		if t.RunTime > 0 && !wk.body(ctx, d) {
			return ctx.Err()
		}
		return nil
	}
	if t.RunTime > 0 {
		// The sampled time, as --task-time asked for; the timer's overshoot
		// (tens of µs, more on a loaded machine) shows in the roundtrip
		// and in the worker's busy time, not here.
		wk.handle.Observe(OpTaskRun, t.Sent, t.RunTime, nil)
	}
	for i := 1; i <= progress; i++ {
		if err := work(slice); err != nil {
			return err
		}
		*m = backends.TaskMeta{TaskID: t.ID, Status: backends.Progress,
			Result:  py.Dict{{Key: "current", Value: i}, {Key: "total", Value: progress}},
			GroupID: t.GroupID, ParentID: parent, Extended: ext}
		if err := wk.store(ctx, m); err != nil {
			return err
		}
	}
	return work(t.RunTime - time.Duration(progress)*slice)
}

// taskExtended returns the result_extended fields of t (nil when off):
// bench.echo's args are the size of the str it returns, so a task whose
// return value differs in size from the run's default gets its own args.
func (wk *worker) taskExtended(t *Task) *backends.Extended {
	ext := wk.extended
	if ext == nil {
		return nil
	}
	s, ok := t.Result.(string)
	if !ok || len(ext.Args) == 1 && ext.Args[0] == any(len(s)) {
		return ext
	}
	e := *ext
	e.Args = []any{len(s)}
	return &e
}
