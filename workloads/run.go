package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/py"
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
}

// Progress is a snapshot of a run in progress.
type Progress struct {
	Elapsed time.Duration // since the start, warm-up included
	Total   time.Duration // planned length, 0 when the run is by task count
	Warmup  bool          // still warming up
	Tasks   int64         // tasks measured so far
	Errors  int64         // errors so far, all operations
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

	ids      idGen
	rng      *rand.Rand
	payloads []string
	queue    chan<- *Task
	intended time.Time // open loop: when the current task should have started
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
	return t
}

// OpenLoop reports whether tasks arrive on a schedule (--rate).
func (c *Caller) OpenLoop() bool { return !c.intended.IsZero() }

// Dispatch hands t to the workers, as publishing it to the broker does. It
// blocks while the queue is full (the workers are the bottleneck).
func (c *Caller) Dispatch(ctx context.Context, t *Task) error {
	select {
	case c.queue <- t:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Observed records that the caller has t's result now.
func (c *Caller) Observed(t *Task, at time.Time) { t.markObserved(at, c.Handle) }

// Run runs w against b and returns what was measured. It opens
// o.Workers worker sessions and o.Callers caller sessions, warms up, measures
// for o.Duration (or o.Tasks tasks), lets the tasks in flight finish, and
// closes every session. Cancelling ctx stops the run early; the Result then
// holds what was measured until then, is marked Interrupted, and no error is
// returned for the cancellation.
func Run(ctx context.Context, w Workload, b backends.Backend, o RunOptions) (*Outcome, error) {
	if o.Callers < 1 || o.Workers < 1 {
		return nil, errors.New("callers and workers must be at least 1")
	}
	// Nothing is kept until the sessions are open and the load starts.
	rec := results.NewRecorder(time.Now().Add(100 * 365 * 24 * time.Hour))

	workers := make([]backends.Worker, 0, o.Workers)
	callers := make([]backends.Caller, 0, o.Callers)
	closeAll := func() {
		for _, s := range callers {
			s.Close()
		}
		for _, s := range workers {
			s.Close()
		}
	}
	for i := 0; i < o.Workers; i++ {
		h := rec.Handle()
		s, err := b.NewWorker(ctx, h)
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("opening worker %d: %w", i, err)
		}
		workers = append(workers, s)
	}
	handles := make([]*results.Handle, o.Callers)
	for i := 0; i < o.Callers; i++ {
		handles[i] = rec.Handle()
		s, err := b.NewCaller(ctx, handles[i])
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("opening caller %d: %w", i, err)
		}
		callers = append(callers, s)
	}
	defer closeAll()

	// The clock starts once every session is open, so that slow connection
	// set-up (a TLS handshake, a distant server) eats neither the warm-up
	// nor, in an open loop, the schedule.
	start := time.Now()
	var end time.Time
	rec.SetWindow(start.Add(o.Warmup), start.Add(100*365*24*time.Hour))
	if o.Tasks == 0 {
		end = start.Add(o.Warmup + o.Duration)
		if o.Rate == 0 {
			// An open loop keeps recording past the end while the arrivals
			// of the window finish; its pacer stops the arrivals.
			rec.SetWindow(start.Add(o.Warmup), end)
		}
	}

	payloads := MakePayloads(o.Seed, o.ResultSizes)
	prefix := RunPrefix(o.Seed)
	hostname := workerHostname()

	// Workers run until the queue closes; they use ctx so that an
	// interrupted run stops them, and otherwise finish every task sent.
	queue := make(chan *Task, 4*o.Workers) // Celery's worker_prefetch_multiplier
	var wwg sync.WaitGroup
	for i, s := range workers {
		wwg.Add(1)
		wk := &worker{session: s, handle: rec.Handle(), trackStarted: o.TrackStarted,
			pid: os.Getpid() + 1 + i, hostname: hostname}
		if o.ResultExtended {
			wk.extended = &backends.Extended{Name: TaskName, Args: []any{0}, Kwargs: py.Dict{},
				Worker: hostname, Queue: "celery"}
		}
		go func() {
			defer wwg.Done()
			wk.loop(ctx, queue)
		}()
	}

	// Callers start new tasks until the window closes or the task budget
	// is spent; the tasks they started still run to completion.
	var issued atomic.Int64
	stopStarting := make(chan struct{})
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(stopStarting) }) }
	measureStart := start.Add(o.Warmup)
	var cwg sync.WaitGroup
	errCh := make(chan error, o.Callers)
	var tickets chan time.Time // open loop: scheduled arrivals
	var served atomic.Int64    // open loop: arrivals of the window started before it closed
	var overloaded atomic.Pointer[string]
	if o.Rate > 0 {
		tickets = make(chan time.Time, backlog(o))
		go pace(ctx, o, start, end, measureStart, tickets, stopStarting, func(verdict string) {
			overloaded.Store(&verdict)
			rec.Close(time.Now()) // figures cover the time until the verdict
			stop()
		})
	}
	for i, s := range callers {
		c := &Caller{Session: s, Handle: handles[i], PollInterval: o.PollInterval, TaskTimeout: o.TaskTimeout,
			ids:      idGen{prefix: prefix, rng: rand.New(rand.NewPCG(o.Seed, uint64(i)))},
			rng:      rand.New(rand.NewPCG(o.Seed, uint64(i)+1<<32)),
			payloads: payloads, queue: queue}
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
				if tickets != nil {
					select {
					case at, ok := <-tickets:
						if !ok {
							return
						}
						c.intended = at
						c.Handle.Observe(OpStartLag, at, time.Since(at), nil)
						if !at.Before(measureStart) && (o.Tasks > 0 || time.Now().Before(end)) {
							served.Add(1)
						}
					case <-stopStarting:
						return
					case <-ctx.Done():
						return
					}
				} else {
					select {
					case <-stopStarting:
						return
					case <-ctx.Done():
						return
					default:
					}
					now := time.Now()
					if o.Tasks == 0 && !now.Before(end) {
						stop()
						return
					}
					if o.Tasks > 0 && !now.Before(measureStart) && issued.Add(1) > o.Tasks {
						stop()
						return
					}
				}
				if err := w.Call(ctx, c); err != nil && ctx.Err() == nil {
					errCh <- err
					stop()
					return
				}
			}
		}()
	}

	callersDone := make(chan struct{})
	go func() { cwg.Wait(); close(callersDone) }()
	hooksDone := make(chan struct{})
	go func() {
		defer close(hooksDone)
		if o.AtWindowStart != nil && sleepUntil(ctx, measureStart, callersDone) {
			o.AtWindowStart()
		}
		if o.AtWindowEnd == nil {
			return
		}
		if o.Tasks == 0 {
			if sleepUntil(ctx, end, callersDone) || ctx.Err() == nil {
				o.AtWindowEnd()
			}
			return
		}
		select {
		case <-callersDone:
			o.AtWindowEnd()
		case <-ctx.Done():
		}
	}()
	interrupted := waitWithProgress(ctx, callersDone, rec, w.PrimaryOp(), start, o)
	if interrupted {
		rec.Close(time.Now())
		stop()
		<-callersDone
	}
	close(queue)
	wwg.Wait()
	<-hooksDone
	// The window ends at the planned end in a closed loop. An open loop's
	// arrivals in the window may finish later (a backend that falls behind
	// works off its backlog), so its window runs until the last of them
	// finished and its throughput is what was achieved.
	windowEnd := time.Now()
	if o.Tasks == 0 && !interrupted && o.Rate == 0 {
		windowEnd = end
	} else if interrupted {
		_, windowEnd = rec.Window()
	}
	close(errCh)
	out := &Outcome{Ops: sortOps(rec.Merge()), Start: measureStart, End: windowEnd, Interrupted: interrupted}
	if o.Rate > 0 {
		out.Served = served.Load()
		if o.Tasks == 0 {
			out.Planned = o.Duration
		} else {
			out.Planned = time.Duration(float64(o.Tasks) / o.Rate * float64(time.Second))
		}
	}
	if v := overloaded.Load(); v != nil {
		out.Overloaded = *v
		_, out.End = rec.Window()
	}
	for err := range errCh {
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
	// Served counts, in an open loop, the window's arrivals that a caller
	// started while the window was open: Served/Planned is the rate the
	// callers kept up with (tasks of a slow backend may finish later, after
	// the window, without having fallen behind).
	Served  int64
	Planned time.Duration
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

// sortOps orders ops as reports list them.
func sortOps(ops []results.Op) []results.Op {
	order := append([]string{OpRoundtrip, OpRoundtripUncorrected, OpStartLag, OpWastedPoll, OpTimeToObserve, OpTask}, backends.Ops()...)
	rank := func(name string) int {
		for i, n := range order {
			if n == name {
				return i
			}
		}
		return len(order)
	}
	sort.SliceStable(ops, func(i, j int) bool { return rank(ops[i].Name) < rank(ops[j].Name) })
	return ops
}

// waitWithProgress waits for done, calling o.Progress on every tick, and
// reports whether ctx was cancelled first.
func waitWithProgress(ctx context.Context, done <-chan struct{}, rec *results.Recorder, primary string, start time.Time, o RunOptions) bool {
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
			p := Progress{Elapsed: now.Sub(start), Warmup: now.Before(start.Add(o.Warmup))}
			if o.Tasks == 0 {
				p.Total = o.Warmup + o.Duration
			}
			rec.Counts(func(op string, n, errs int64) {
				if op == primary {
					p.Tasks += n
				}
				p.Errors += errs
			})
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
