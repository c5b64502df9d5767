package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/results"
)

// IDMarker starts every task id bench writes, on every backend. Results
// whose ids start with it were written by bench; any other Celery result
// makes a backend's Prepare refuse the target.
const IDMarker = "bec1e7e0"

// RunOptions are the settings every workload runs with.
type RunOptions struct {
	Callers  int           // simulated caller processes (-c)
	Workers  int           // simulated prefork worker children (Celery's --concurrency)
	Tasks    int64         // tasks to measure; 0 runs for Duration instead
	Duration time.Duration // measured time after Warmup, when Tasks is 0
	Warmup   time.Duration // run first and excluded from every figure
	Seed     uint64        // replays the same ids and payloads

	PollInterval time.Duration // AsyncResult.get(interval=...) for polling backends
	TrackStarted bool          // task_track_started: a STARTED write before the result
	// ResultExtended is result_extended: every write carries the task's
	// name, args, kwargs, worker, retries and queue.
	ResultExtended bool
	ResultSizes    Sizes // bytes of each return value (a str): fixed, a range or a weighted list
	// TaskTimeout bounds one task's wait; a task that times out counts as
	// an error of its task-level op.
	TaskTimeout time.Duration
	// TaskTime is how long each task body runs on its worker child
	// (--task-time); the zero Dist runs none.
	TaskTime Dist
	// DispatchDelay is the broker's hand-off, from delay() returning to a
	// worker receiving the task (--dispatch-delay).
	DispatchDelay Dist
	// PrefetchMultiplier is worker_prefetch_multiplier: the worker reserves
	// at most this many tasks per child. 0 means Celery's default, 4.
	PrefetchMultiplier int

	// Rate, when positive, runs an open loop: tasks arrive at Rate per
	// second whether or not earlier ones finished, and task-level latency is
	// measured from each task's intended start (coordinated omission
	// corrected), with the uncorrected figures recorded next to it. 0 runs a
	// closed loop: each caller sends its next task when the last is done.
	Rate float64
	// Poisson draws exponential gaps between arrivals instead of constant ones.
	Poisson bool
	// AtWindowStart and AtWindowEnd, when set, are called as the
	// measurement window opens (after the warm-up) and closes (at the planned
	// end, or when the last measured task finished in a run by task count),
	// from a goroutine of the runner, while the load runs: a place to
	// snapshot server counters. They must return promptly.
	AtWindowStart, AtWindowEnd func()
	// MaxBacklog bounds the arrivals waiting for a free caller; when it
	// overflows the backend cannot keep up and the run ends with that
	// verdict. 0 means two seconds of arrivals (at least 100).
	MaxBacklog int

	// Progress, when set, is called about every ProgressEvery with the
	// figures so far, from the goroutine that called Run.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// Interval is the length of the timeline's intervals (--interval); 0
	// means results.DefaultInterval.
	Interval time.Duration
	// Retry is result_backend_always_retry and its backoff; the zero
	// value stores once, as Celery does by default.
	Retry RetryPolicy
	// Grace bounds how long the tasks in flight when the window closes (at
	// Duration after Warmup, or when a run by task count has started its
	// last task) may take to finish; then the run abandons them and they
	// count as unfinished. 0 means DefaultGrace.
	Grace time.Duration
	// StopAfter is how long an op may fail without a single success
	// before the run stops early with that op's first error as its
	// verdict (StopAfterFails failures end it sooner). 0 means
	// DefaultStopAfter; negative never stops.
	StopAfter time.Duration
}

// DefaultGrace is RunOptions.Grace's default.
const DefaultGrace = 5 * time.Second

// DefaultStopAfter is RunOptions.StopAfter's default: two seconds in which
// an op only failed.
const DefaultStopAfter = 2 * time.Second

// StopAfterFails is how many failures of an op without any success stop a
// run at once, before StopAfter has passed.
const StopAfterFails = 200

// ErrAllFailed is wrapped by the error of a run that stopped early because
// every attempt of an operation failed.
var ErrAllFailed = errors.New("stopped early: every attempt failed")

// Progress is a snapshot of a run in progress.
type Progress struct {
	Elapsed time.Duration // since the start, warm-up included
	Total   time.Duration // planned length, 0 when the run is by task count
	Warmup  bool          // still warming up
	// Finishing is set once the window has closed and the run waits, at
	// most Grace, for the tasks in flight.
	Finishing bool
	Grace     time.Duration
	Tasks     int64 // tasks measured so far
	Errors    int64 // errors so far, all operations
	// Setup is the workload's own set-up still under way ("filling
	// expired results: 400,000 of 2,000,000"), empty when there is none.
	Setup string
	// Last holds the primary op's figures over the last closed interval of
	// the timeline; nil before one has closed.
	Last *results.IntervalStat
}

// RunPrefix returns the id prefix of a run with seed: IDMarker, "-", and
// four hex digits from the seed.
func RunPrefix(seed uint64) string {
	tag := (seed*0x9e3779b97f4a7c15)>>48 ^ seed&0xffff
	return fmt.Sprintf("%s-%04x", IDMarker, tag&0xffff)
}

// Caller is what a Workload's Call gets: the caller's backend session, its
// recording handle, and the means to create and dispatch tasks. It belongs
// to one goroutine.
type Caller struct {
	Session backends.Caller
	Handle  *results.Handle
	// PollInterval is the interval WaitFor polls at on polling backends.
	PollInterval time.Duration
	TaskTimeout  time.Duration
	// TaskTime is the run time of the tasks NewTask creates, and
	// DispatchDelay their broker hand-off; a mix sets them per component.
	TaskTime, DispatchDelay Dist

	ids      idGen
	rng      *rand.Rand
	timeRng  *rand.Rand // task times and dispatch delays, apart from rng so payloads replay alike
	runTime  Dist       // the run's TaskTime, which a mix component without its own restores
	runDelay Dist       // the run's DispatchDelay, likewise
	payloads []string
	broker   *broker
	intended time.Time // open loop: when the current task should have started
	// windowStart is when the measurement window opens (after the warm-up).
	windowStart time.Time
	setup       *atomic.Pointer[string] // the run's set-up status, for Progress
}

// WindowStart is when the run's measurement window opens, after the
// warm-up: what happens before it is not measured.
func (c *Caller) WindowStart() time.Time { return c.windowStart }

// SetSetup reports the workload's set-up under way on the progress lines;
// "" when it is done.
func (c *Caller) SetSetup(status string) {
	if c.setup != nil {
		c.setup.Store(&status)
	}
}

// NewTask creates the next task with its id and return value. Its Sent
// time is when it should have started: now in a closed loop, its scheduled
// arrival in an open loop (so queueing for a free caller counts).
func (c *Caller) NewTask() *Task {
	now := time.Now()
	t := &Task{ID: c.ids.next(), Sent: now, Started: now}
	if !c.intended.IsZero() {
		t.Sent = c.intended
	}
	t.Result = c.payloads[c.rng.IntN(len(c.payloads))]
	if !c.TaskTime.IsZero() {
		t.RunTime = c.TaskTime.Sample(c.timeRng)
	}
	return t
}

// OpenLoop reports whether tasks arrive on a schedule (--rate).
func (c *Caller) OpenLoop() bool { return !c.intended.IsZero() }

// Dispatch publishes t to the broker, which hands it to a worker after
// the caller's DispatchDelay. Like delay(), it does not wait for a worker.
func (c *Caller) Dispatch(ctx context.Context, t *Task) error {
	t.dispatched = time.Now()
	if !c.DispatchDelay.IsZero() {
		t.deliverAt = t.dispatched.Add(c.DispatchDelay.Sample(c.timeRng))
	}
	return c.broker.publish(ctx, t)
}

// Observed records that the caller has t's result now.
func (c *Caller) Observed(t *Task, at time.Time) { t.markObserved(at, c.Handle) }

// Run runs one measurement of w against b and returns what was measured.
// It starts w's run state (Workload.Start), opens o.Workers worker
// sessions and o.Callers caller sessions, warms up, measures for
// o.Duration (or o.Tasks tasks), lets the tasks in flight finish, and
// closes every session. Cancelling ctx stops the run early; the Outcome
// then holds what was measured until then, is marked Interrupted, and no
// error is returned for the cancellation.
func Run(ctx context.Context, w Workload, b backends.Backend, o RunOptions) (*Outcome, error) {
	if o.Callers < 1 || o.Workers < 1 {
		return nil, errors.New("callers and workers must be at least 1")
	}
	// Nothing is kept until the sessions are open and the load starts.
	rec := results.NewRecorder(time.Now().Add(100 * 365 * 24 * time.Hour))
	if o.Interval > 0 {
		rec.SetInterval(o.Interval)
	}
	ss, err := openSessions(ctx, b, rec, o)
	if err != nil {
		return nil, err
	}
	defer ss.close()

	// The clock starts once every session is open, so that slow connection
	// set-up (a TLS handshake, a distant server) eats neither the warm-up
	// nor, in an open loop, the schedule.
	r := newRunState(w, rec, o, time.Now())
	// The load runs under a context of its own, cancelled when the grace
	// after the window runs out (or the run stops early): every blocking
	// call of every session then returns, whatever the server does.
	lctx, cancelLoad := context.WithCancelCause(ctx)
	defer cancelLoad(nil)
	if o.Tasks == 0 {
		// A deadline too, a moment after the watchdog abandons the load:
		// clients that watch only deadlines (go-redis's) return then.
		var cancelDeadline context.CancelFunc
		lctx, cancelDeadline = context.WithDeadline(lctx, r.end.Add(o.grace()+100*time.Millisecond))
		defer cancelDeadline()
	}
	r.abandon = func(cause error) {
		rec.Abandon()
		cancelLoad(cause)
	}
	r.startWorkers(lctx, ss.workers)
	r.startCallers(lctx, w.Start(), ss)

	callersDone := make(chan struct{})
	go func() { r.callers.Wait(); close(callersDone) }()
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		r.windowHooks(ctx, callersDone)
	}()
	workersDone := make(chan struct{})
	go func() {
		<-callersDone
		close(r.broker.in)
		r.workers.Wait()
		close(workersDone)
	}()
	go r.watchdog(lctx, workersDone)
	interrupted := waitWithProgress(ctx, workersDone, rec, PrimaryOp(w), r.start, &r.setup, o)
	if interrupted {
		rec.Close(time.Now())
		r.stop()
		r.abandon(context.Cause(ctx))
		<-workersDone
	}
	cancelLoad(nil)
	<-hooksDone
	return r.outcome(interrupted)
}

// grace is the run's Grace, defaulted.
func (o RunOptions) grace() time.Duration {
	if o.Grace > 0 {
		return o.Grace
	}
	return DefaultGrace
}

// watchdog abandons the load once the grace after the window has run out,
// and stops the run early when an op has only failed for StopAfter (or
// StopAfterFails times). It returns when done closes or ctx ends.
func (r *runState) watchdog(ctx context.Context, done <-chan struct{}) {
	grace := r.o.grace()
	stopAfter := r.o.StopAfter
	if stopAfter == 0 {
		stopAfter = DefaultStopAfter
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var closedAt time.Time // when the window closed, zero until then
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if closedAt.IsZero() {
				if r.o.Tasks == 0 && !now.Before(r.end) {
					closedAt = r.end
				} else if r.stopped() {
					closedAt = now
				}
			}
			if !closedAt.IsZero() && now.Sub(closedAt) >= grace {
				r.abandon(fmt.Errorf("%w: abandoned %s after the window closed", results.ErrUnfinished, grace))
				return
			}
			if stopAfter > 0 && !r.stopped() {
				if verdict := allFailed(r.rec.Health(), now, stopAfter); verdict != "" {
					r.failed.Store(&verdict)
					r.rec.Close(now)
					r.stop()
					r.abandon(fmt.Errorf("%w: %s", results.ErrUnfinished, verdict))
					return
				}
			}
		}
	}
}

// allFailed returns the verdict of a run in which an op has failed every
// time, StopAfterFails times or for at least stopAfter since its first
// failure, and "" otherwise.
func allFailed(hs []results.OpHealth, now time.Time, stopAfter time.Duration) string {
	var worst *results.OpHealth // the op that failed first: the others often fail because of it
	for i := range hs {
		h := &hs[i]
		if h.OK > 0 || h.First == nil {
			continue
		}
		if (h.Fails >= StopAfterFails || now.Sub(h.First.At) >= stopAfter) && (worst == nil || h.First.At.Before(worst.First.At)) {
			worst = h
		}
	}
	if worst == nil {
		return ""
	}
	return fmt.Sprintf("every %s failed (%d of %d in %s); the first (%s error): %s", worst.Op, worst.Fails, worst.Fails,
		now.Sub(worst.First.At).Round(time.Millisecond), worst.First.Kind, worst.First.Msg)
}

// withEveryFailure gives ops, of a run that stopped early because an op
// only failed, every failure since the load started, the warm-up's too:
// such a run often stops before or just after its window opens, and its
// verdict must not read as an op without errors.
func withEveryFailure(ops []results.Op, hs []results.OpHealth) []results.Op {
	for _, h := range hs {
		if h.Fails == 0 {
			continue
		}
		i := slices.IndexFunc(ops, func(o results.Op) bool { return o.Name == h.Op })
		if i < 0 {
			ops = append(ops, results.Op{Name: h.Op, Latency: results.NewHistogram()})
			i = len(ops) - 1
		}
		o := &ops[i]
		if h.Fails > o.Errors {
			o.Errors = h.Fails
			o.ErrorKinds = h.Kinds // the same failures, counted by kind
		}
		if len(o.ErrorSamples) == 0 && h.First != nil {
			o.ErrorSamples = []string{h.First.Msg}
		}
	}
	return ops
}

// stopped reports whether callers start no new task.
func (r *runState) stopped() bool {
	select {
	case <-r.stopStarting:
		return true
	default:
		return false
	}
}

// sessions are the open sessions of one measurement.
type sessions struct {
	workers []backends.Worker
	callers []backends.Caller
	handles []*results.Handle // the callers' recording handles, by caller
}

// openSessions opens o.Workers worker and o.Callers caller sessions, each
// with a recording handle of rec; on an error it closes what it opened.
func openSessions(ctx context.Context, b backends.Backend, rec *results.Recorder, o RunOptions) (*sessions, error) {
	ss := &sessions{}
	for i := 0; i < o.Workers; i++ {
		s, err := b.NewWorker(ctx, rec.Handle())
		if err != nil {
			ss.close()
			return nil, fmt.Errorf("opening worker %d: %w", i, err)
		}
		ss.workers = append(ss.workers, s)
	}
	for i := 0; i < o.Callers; i++ {
		h := rec.Handle()
		s, err := b.NewCaller(ctx, h)
		if err != nil {
			ss.close()
			return nil, fmt.Errorf("opening caller %d: %w", i, err)
		}
		ss.callers = append(ss.callers, s)
		ss.handles = append(ss.handles, h)
	}
	return ss, nil
}

func (ss *sessions) close() {
	for _, s := range ss.callers {
		s.Close()
	}
	for _, s := range ss.workers {
		s.Close()
	}
}

// runState is what the goroutines of one measurement share. Its fields
// are set before any goroutine starts and read-only afterwards, except
// the atomics and channels.
type runState struct {
	w                        Workload
	o                        RunOptions
	rec                      *results.Recorder
	start, measureStart, end time.Time              // end is zero in a run by task count
	setup                    atomic.Pointer[string] // Caller.SetSetup's status

	broker           *broker // callers dispatch to it, workers take from it
	workers, callers sync.WaitGroup

	stopStarting chan struct{} // closed when callers must start no new task
	stopOnce     sync.Once
	errCh        chan error // a lifecycle failure of a caller, which ends the run

	issued     atomic.Int64           // closed loop by task count: tasks started in the window
	tickets    chan time.Time         // open loop: scheduled arrivals
	served     atomic.Int64           // open loop: arrivals of the window started before it closed
	overloaded atomic.Pointer[string] // open loop: the verdict when the backlog overflowed
	failed     atomic.Pointer[string] // the verdict when an op only failed and the run stopped early
	abandon    func(cause error)      // cuts every operation in flight
	busy       []time.Duration        // by worker, written only by that worker: time busy in the window
}

func newRunState(w Workload, rec *results.Recorder, o RunOptions, start time.Time) *runState {
	r := &runState{w: w, o: o, rec: rec, start: start, measureStart: start.Add(o.Warmup),
		broker:       newBroker(o.Workers, o.PrefetchMultiplier, o.Callers),
		stopStarting: make(chan struct{}), errCh: make(chan error, o.Callers)}
	rec.SetWindow(r.measureStart, start.Add(100*365*24*time.Hour))
	if o.Tasks == 0 {
		r.end = start.Add(o.Warmup + o.Duration)
		if o.Rate == 0 {
			// An open loop keeps recording past the end while the arrivals
			// of the window finish; its pacer stops the arrivals.
			rec.SetWindow(r.measureStart, r.end)
		}
	}
	return r
}

// stop makes the callers start no new task.
func (r *runState) stop() { r.stopOnce.Do(func() { close(r.stopStarting) }) }

// startWorkers starts one goroutine per worker session. Workers run until
// the queue closes; they use ctx so that an interrupted run stops them,
// and otherwise finish every task sent.
func (r *runState) startWorkers(ctx context.Context, sessions []backends.Worker) {
	hostname := workerHostname()
	go r.broker.run(ctx)
	r.busy = make([]time.Duration, len(sessions))
	for i, s := range sessions {
		wk := &worker{session: s, handle: r.rec.Handle(), trackStarted: r.o.TrackStarted,
			pid: os.Getpid() + 1 + i, hostname: hostname, busy: &r.busy[i], windowStart: r.measureStart, windowEnd: r.end,
			retry: r.o.Retry, storeTimeout: r.o.TaskTimeout, rng: rand.New(rand.NewPCG(r.o.Seed, uint64(i)+3<<32))}
		if r.o.ResultExtended {
			wk.extended = &backends.Extended{Name: TaskName, Args: []any{0}, Kwargs: py.Dict{},
				Worker: hostname, Queue: "celery"}
		}
		r.workers.Add(1)
		go func() {
			defer r.workers.Done()
			wk.loop(ctx, r.broker.reserved)
		}()
	}
}

// startCallers starts one goroutine per caller session, each running
// load's Call until the window closes or the task budget is spent (the
// tasks they started still run to completion). In an open loop a pacer
// hands out the arrivals.
func (r *runState) startCallers(ctx context.Context, load Load, ss *sessions) {
	o := r.o
	payloads := MakePayloads(o.Seed, o.ResultSizes)
	prefix := RunPrefix(o.Seed)
	if o.Rate > 0 {
		r.tickets = make(chan time.Time, backlog(o))
		go pace(ctx, o, r.start, r.end, r.measureStart, r.tickets, r.stopStarting, func(verdict string) {
			r.overloaded.Store(&verdict)
			r.rec.Close(time.Now()) // figures cover the time until the verdict
			r.stop()
		})
	}
	for i, s := range ss.callers {
		c := &Caller{Session: s, Handle: ss.handles[i], PollInterval: o.PollInterval, TaskTimeout: o.TaskTimeout,
			ids:      idGen{prefix: prefix, rng: rand.New(rand.NewPCG(o.Seed, uint64(i)))},
			rng:      rand.New(rand.NewPCG(o.Seed, uint64(i)+1<<32)),
			timeRng:  rand.New(rand.NewPCG(o.Seed, uint64(i)+2<<32)),
			TaskTime: o.TaskTime, DispatchDelay: o.DispatchDelay, runTime: o.TaskTime, runDelay: o.DispatchDelay,
			payloads: payloads, broker: r.broker, windowStart: r.measureStart, setup: &r.setup}
		r.callers.Add(1)
		go func() {
			defer r.callers.Done()
			next := r.nextClosed
			if r.tickets != nil {
				next = r.nextArrival
			}
			for next(ctx, c) {
				if err := load.Call(ctx, c); err != nil && ctx.Err() == nil {
					r.errCh <- err
					r.stop()
					return
				}
			}
		}()
	}
}

// nextClosed reports whether a closed-loop caller starts another task:
// not once the window has closed, the task budget is spent or the run
// stops.
func (r *runState) nextClosed(ctx context.Context, _ *Caller) bool {
	select {
	case <-r.stopStarting:
		return false
	case <-ctx.Done():
		return false
	default:
	}
	now := time.Now()
	if r.o.Tasks == 0 && !now.Before(r.end) {
		r.stop()
		return false
	}
	if r.o.Tasks > 0 && !now.Before(r.measureStart) && r.issued.Add(1) > r.o.Tasks {
		r.stop()
		return false
	}
	return true
}

// nextArrival waits for an open-loop caller's next scheduled arrival, sets
// it as the task's intended start and records how late the caller took it
// (OpStartLag); false when the arrivals end or the run stops.
func (r *runState) nextArrival(ctx context.Context, c *Caller) bool {
	select {
	case at, ok := <-r.tickets:
		if !ok {
			return false
		}
		c.intended = at
		c.Handle.Observe(OpStartLag, at, time.Since(at), nil)
		if !at.Before(r.measureStart) && (r.o.Tasks > 0 || time.Now().Before(r.end)) {
			r.served.Add(1)
		}
		return true
	case <-r.stopStarting:
		return false
	case <-ctx.Done():
		return false
	}
}

// windowHooks calls o.AtWindowStart as the window opens and o.AtWindowEnd
// as it closes (at the planned end, or when the callers are done in a run
// by task count), unless the run is interrupted first.
func (r *runState) windowHooks(ctx context.Context, callersDone <-chan struct{}) {
	o := r.o
	if o.AtWindowStart != nil && sleepUntil(ctx, r.measureStart, callersDone) {
		o.AtWindowStart()
	}
	if o.AtWindowEnd == nil {
		return
	}
	if o.Tasks == 0 {
		if sleepUntil(ctx, r.end, callersDone) || ctx.Err() == nil {
			o.AtWindowEnd()
		}
		return
	}
	select {
	case <-callersDone:
		o.AtWindowEnd()
	case <-ctx.Done():
	}
}

// outcome collects what the measurement recorded, once every caller and
// worker has stopped. The window ends at the planned end in a closed loop.
// An open loop's arrivals in the window may finish later (a backend that
// falls behind works off its backlog), so its window runs until the last
// of them finished and its throughput is what was achieved.
func (r *runState) outcome(interrupted bool) (*Outcome, error) {
	o := r.o
	windowEnd := time.Now()
	if o.Tasks == 0 && !interrupted && o.Rate == 0 {
		windowEnd = r.end
	} else if interrupted {
		_, windowEnd = r.rec.Window()
	}
	close(r.errCh)
	out := &Outcome{Ops: sortOps(r.rec.Merge(), ReportOrder(r.w)), Start: r.measureStart, End: windowEnd, Interrupted: interrupted,
		Workers: len(r.busy)}
	for _, b := range r.busy {
		out.WorkerBusy += b
	}
	if o.Rate > 0 {
		out.Served = r.served.Load()
		if o.Tasks == 0 {
			out.Planned = o.Duration
		} else {
			out.Planned = time.Duration(float64(o.Tasks) / o.Rate * float64(time.Second))
		}
	}
	if v := r.overloaded.Load(); v != nil {
		out.Overloaded = *v
		_, out.End = r.rec.Window()
	}
	if v := r.failed.Load(); v != nil {
		out.Failed = *v
		_, out.End = r.rec.Window()
		out.Ops = withEveryFailure(out.Ops, r.rec.Health())
	}
	if out.End.Before(out.Start) {
		out.End = out.Start // stopped in the warm-up: nothing was measured
	}
	for err := range r.errCh {
		return out, err
	}
	return out, nil
}

// Outcome is what Run measured.
type Outcome struct {
	Ops         []results.Op // task-level timings first, then backend operations in backends.Ops order
	Start, End  time.Time    // the measurement window
	Interrupted bool         // ctx was cancelled before the planned end
	// Overloaded is the verdict when an open loop's backlog overflowed: the
	// backend could not keep up with the rate. "" otherwise.
	Overloaded string
	// Failed is the verdict when the run stopped early because an op
	// failed every time (ErrAllFailed); "" otherwise.
	Failed string
	// Served counts, in an open loop, the window's arrivals that a caller
	// started while the window was open: Served/Planned is the rate the
	// callers kept up with (tasks of a slow backend may finish later, after
	// the window, without having fallen behind).
	Served  int64
	Planned time.Duration
	// Workers is the number of worker children, and WorkerBusy the time
	// they spent executing tasks within the window, summed over them.
	Workers    int
	WorkerBusy time.Duration
}

// sleepUntil waits until t and reports true, or returns false when ctx is
// cancelled or done closes first.
func sleepUntil(ctx context.Context, t time.Time, done <-chan struct{}) bool {
	d := time.Until(t)
	if d <= 0 {
		return true
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	case <-done:
		return !time.Now().Before(t)
	}
}

// backlog is the open loop's bound on arrivals waiting for a free caller.
func backlog(o RunOptions) int {
	if o.MaxBacklog > 0 {
		return o.MaxBacklog
	}
	return max(100, int(2*o.Rate))
}

// pace schedules open-loop arrivals: it sends each task's intended start
// time on tickets at o.Rate per second (constant gaps, or exponential ones
// drawn from the seed), catching up at once when it is behind, until the
// run's end or its task budget. When tickets is full the backend is not
// keeping up: it records the verdict, stops the run and returns.
func pace(ctx context.Context, o RunOptions, start, end, measureStart time.Time, tickets chan<- time.Time,
	stopStarting <-chan struct{}, onOverload func(verdict string)) {
	defer close(tickets)
	rng := rand.New(rand.NewPCG(o.Seed, 0xa771))
	gap := func() time.Duration {
		if o.Poisson {
			return time.Duration(rng.ExpFloat64() / o.Rate * float64(time.Second))
		}
		return time.Duration(float64(time.Second) / o.Rate)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	var measured int64
	next := start
	for {
		if o.Tasks == 0 && !next.Before(end) {
			return
		}
		if o.Tasks > 0 && !next.Before(measureStart) {
			if measured++; measured > o.Tasks {
				return
			}
		}
		if d := time.Until(next); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			case <-stopStarting:
				return
			}
		}
		select {
		case tickets <- next:
		default:
			onOverload(fmt.Sprintf("overloaded: more than %d tasks waited for a free caller %s into the run; the backend (or -c %d callers) cannot sustain %s tasks/s",
				cap(tickets), time.Since(start).Round(time.Millisecond), o.Callers, strconv.FormatFloat(o.Rate, 'f', -1, 64)))
			return
		}
		next = next.Add(gap())
	}
}

// sortOps orders ops as order lists them; an op order lacks (a workload
// that records what it did not declare) goes last, by name.
func sortOps(ops []results.Op, order []string) []results.Op {
	rank := func(name string) int {
		if i := slices.Index(order, name); i >= 0 {
			return i
		}
		return len(order)
	}
	sort.SliceStable(ops, func(i, j int) bool {
		ri, rj := rank(ops[i].Name), rank(ops[j].Name)
		if ri != rj {
			return ri < rj
		}
		return ops[i].Name < ops[j].Name
	})
	return ops
}

// waitWithProgress waits for done, calling o.Progress on every tick, and
// reports whether ctx was cancelled first.
func waitWithProgress(ctx context.Context, done <-chan struct{}, rec *results.Recorder, primary string, start time.Time, setup *atomic.Pointer[string], o RunOptions) bool {
	every := o.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return false
		case <-ctx.Done():
			return true
		case now := <-tick.C:
			if o.Progress == nil {
				continue
			}
			p := Progress{Elapsed: now.Sub(start), Warmup: now.Before(start.Add(o.Warmup)), Grace: o.grace()}
			if s := setup.Load(); s != nil {
				p.Setup = *s
			}
			if o.Tasks == 0 {
				p.Total = o.Warmup + o.Duration
				p.Finishing = p.Elapsed >= p.Total
			}
			rec.Counts(func(op string, n, errs int64) {
				if op == primary {
					p.Tasks += n
				}
				p.Errors += errs
			})
			for _, st := range rec.LastInterval() {
				if st.Op == primary {
					p.Last = &st
				}
			}
			o.Progress(p)
		}
	}
}

// workerHostname is the worker name Celery uses by default: celery@<host>.
func workerHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return "celery@" + h
}

// FirstTaskID returns the id of the first task caller 0 of a run with seed
// creates, to detect results an earlier run with the same seed left behind.
func FirstTaskID(seed uint64) string {
	g := idGen{prefix: RunPrefix(seed), rng: rand.New(rand.NewPCG(seed, 0))}
	return g.next()
}
