package workloads

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
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
	ResultSize   int           // bytes of the return value (a str)
	// TaskTimeout bounds one task's wait; a task that times out counts as
	// an error of its task-level op.
	TaskTimeout time.Duration

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
}

// NewTask creates the next task with its id and return value.
func (c *Caller) NewTask() *Task {
	t := &Task{ID: c.ids.next(), Sent: time.Now()}
	t.Result = c.payloads[c.rng.IntN(len(c.payloads))]
	return t
}

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
	start := time.Now()
	rec := results.NewRecorder(start.Add(o.Warmup))
	var end time.Time
	if o.Tasks == 0 {
		end = start.Add(o.Warmup + o.Duration)
		rec.SetWindow(start.Add(o.Warmup), end)
	}

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

	payloads := makePayloads(o.Seed, o.ResultSize)
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
	for i, s := range callers {
		c := &Caller{Session: s, Handle: handles[i], PollInterval: o.PollInterval, TaskTimeout: o.TaskTimeout,
			ids:      idGen{prefix: prefix, rng: rand.New(rand.NewPCG(o.Seed, uint64(i)))},
			rng:      rand.New(rand.NewPCG(o.Seed, uint64(i)+1<<32)),
			payloads: payloads, queue: queue}
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			for {
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
	interrupted := waitWithProgress(ctx, callersDone, rec, w.PrimaryOp(), start, o)
	if interrupted {
		rec.Close(time.Now())
		stop()
		<-callersDone
	}
	close(queue)
	wwg.Wait()
	windowEnd := time.Now()
	if o.Tasks == 0 && !interrupted {
		windowEnd = end
	} else if interrupted {
		_, windowEnd = rec.Window()
	}
	close(errCh)
	out := &Outcome{Ops: sortOps(rec.Merge()), Start: measureStart, End: windowEnd, Interrupted: interrupted}
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
}

// sortOps orders ops as reports list them.
func sortOps(ops []results.Op) []results.Op {
	order := append([]string{OpRoundtrip, OpTimeToObserve, OpTask}, backends.Ops()...)
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
}

func (wk *worker) loop(ctx context.Context, queue <-chan *Task) {
	wk.started = py.Dict{{Key: "pid", Value: wk.pid}, {Key: "hostname", Value: wk.hostname}}
	for t := range queue {
		if ctx.Err() != nil {
			continue // drain: an interrupted run executes nothing more
		}
		wk.execute(ctx, t)
	}
}

func (wk *worker) execute(ctx context.Context, t *Task) {
	m := &wk.meta
	if wk.trackStarted {
		*m = backends.TaskMeta{TaskID: t.ID, Status: backends.Started, Result: wk.started}
		if err := wk.session.StoreResult(ctx, m); err != nil {
			return
		}
	}
	*m = backends.TaskMeta{TaskID: t.ID, Status: backends.Success, Result: t.Result, DateDone: time.Now()}
	err := wk.session.StoreResult(ctx, m)
	now := time.Now()
	wk.handle.Observe(OpTask, t.Sent, now.Sub(t.Sent), err)
	if err == nil {
		t.markStored(now, wk.handle)
	}
}

// makePayloads returns 16 return values of size bytes, drawn from seed.
func makePayloads(seed uint64, size int) []string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewPCG(seed, 0x9a7))
	out := make([]string, 16)
	buf := make([]byte, size)
	for i := range out {
		for j := range buf {
			buf[j] = alphabet[rng.IntN(len(alphabet))]
		}
		out[i] = string(buf)
	}
	return out
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
