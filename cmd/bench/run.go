package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/workloads"
)

// Defaults of "bench run".
const (
	DefaultRedisURL = "redis://127.0.0.1:6379/0"
	DefaultMySQLURL = "db+mysql://root@127.0.0.1:3306/celery_bench"
)

// runOpts holds every flag of "bench run".
type runOpts struct {
	backends       []string
	workload       string
	callers        int
	workers        string // a count, or a comma-separated sweep
	rate           string // tasks/s of an open loop, or a comma-separated sweep; "" is a closed loop
	arrivals       string
	maxBacklog     int
	count          int
	slo            *sloSpec
	sloText        string
	levels         []level // parsed from workers and rate
	tasks          int64
	duration       time.Duration
	warmup         time.Duration
	seed           uint64
	resultSizes    workloads.Sizes
	trackStarted   bool
	resultExtended bool
	resultExpires  time.Duration
	pollInterval   time.Duration
	callerPool     bool
	celery         string
	format         string
	output         string
	keep           bool
	hdrLog         string
	force          bool
	connectTimeout time.Duration
	taskTimeout    time.Duration
	progressEvery  time.Duration

	instances map[string]workloads.Workload // by name, with their flags bound
}

func newRunFlags() (*pflag.FlagSet, *runOpts) {
	o := &runOpts{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArrayVar(&o.backends, "backend", nil, "Celery result_backend URL to measure; repeat to compare several side by side\n(default "+DefaultRedisURL+" and "+DefaultMySQLURL+",\nor embedded stand-ins when those do not answer)")
	fs.StringVarP(&o.workload, "workload", "w", "roundtrip", "workload to run: "+strings.Join(workloads.Names(), ", "))
	fs.IntVarP(&o.callers, "concurrency", "c", 8, "simulated caller processes, each sending a task and waiting for it in turn")
	fs.StringVar(&o.workers, "workers", "8", "simulated worker processes (Celery's worker --concurrency), one backend connection each;\na list (1,8,32) runs each level in turn")
	fs.StringVarP(&o.rate, "rate", "r", "", "open loop: tasks per second arriving on schedule, latency measured from each\ntask's intended start; a list (500,1000) runs each level in turn (default: closed loop)")
	fs.StringVar(&o.arrivals, "arrivals", "constant", "open-loop arrival process: constant or poisson")
	fs.IntVar(&o.maxBacklog, "max-backlog", 0, "open loop: arrivals allowed to wait for a free caller before the run ends as overloaded\n(0: two seconds of arrivals)")
	fs.IntVar(&o.count, "count", 1, "repeat the whole run this many times, interleaving backends and levels (for bench compare)")
	fs.StringVar(&o.sloText, "slo", "", "after the run, search each backend for the highest open-loop rate that holds this\nobjective on the workload's task latency, e.g. 'p99<50ms' (metrics: mean, p50, p90, p99, p99.9, max)")
	fs.Int64Var(&o.tasks, "tasks", 0, "measure this many tasks per backend instead of running for --duration (0: use --duration)")
	fs.DurationVarP(&o.duration, "duration", "d", 8*time.Second, "measured time per backend and level, after --warmup")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "time per backend and level run first and excluded from every figure")
	fs.Uint64Var(&o.seed, "seed", 0, "seed for task ids and payloads; the same seed replays the same ids and payloads (0: a random seed, printed)")
	o.resultSizes = workloads.FixedSize(64)
	fs.Var(&o.resultSizes, "result-size", "bytes of each task's return value (a str): a size (64, 4KiB), a uniform range (16-1024)\nor a weighted list (64:70,4096:30)")
	fs.BoolVar(&o.trackStarted, "track-started", false, "Celery's task_track_started: workers write STARTED before the result")
	fs.BoolVar(&o.resultExtended, "result-extended", false, "Celery's result_extended: store the task name, args, kwargs, worker, retries and queue")
	fs.DurationVar(&o.resultExpires, "result-expires", 24*time.Hour, "Celery's result_expires (Redis SETEX TTL); 0 means None (plain SET)")
	fs.DurationVar(&o.pollInterval, "poll-interval", 500*time.Millisecond, "interval of a waiting caller's polls on SQL backends (AsyncResult.get(interval=...))")
	fs.BoolVar(&o.callerPool, "caller-pool", false, "SQL callers poll over one pooled connection each; without it each poll opens a new connection,\nas a Celery caller outside a worker does")
	fs.StringVar(&o.celery, "celery", backends.DefaultVersion.String(), "Celery line whose wire format is produced: "+versionList())
	fs.StringVar(&o.format, "format", "text", "output format: "+strings.Join(results.Formats(), ", ")+" (json is the run file \"bench report\" reads)")
	fs.StringVarP(&o.output, "output", "o", "", "write the output to this file instead of stdout; an existing file is never overwritten")
	fs.StringVar(&o.hdrLog, "hdr-log", "", "also write every operation's histogram as an HdrHistogram V2 interval log to this file\n(tagged backend=/workload=/op=/rep=; readable by HdrHistogram's own tools); never overwrites")
	fs.BoolVar(&o.keep, "keep", false, "leave the results bench wrote in the backends for inspection instead of deleting them")
	fs.BoolVar(&o.force, "force", false, "run even against a target that holds Celery results bench did not write")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 5*time.Second, "time allowed to connect to each backend")
	fs.DurationVar(&o.taskTimeout, "task-timeout", 60*time.Second, "time a caller waits for one task before counting it as an error")
	fs.DurationVar(&o.progressEvery, "progress", time.Second, "interval of progress lines on stderr (0: none)")
	// Every workload's own flags are merged in, bound to the one instance
	// of it that a run uses.
	o.instances = map[string]workloads.Workload{}
	for _, m := range workloads.Registered() {
		w := m.New()
		o.instances[m.Name] = w
		if f, ok := w.(workloads.Flagser); ok {
			fs.AddFlagSet(f.Flags())
		}
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: bench [run] [flags]

Runs a workload against each backend in turn and prints throughput and
latency percentiles per task and per backend operation, side by side.
Task ids start with %s; results bench did not write are never touched.

Flags:
%s
Workloads:
%s`, workloads.IDMarker, fs.FlagUsages(), workloadList())
	}
	return fs, o
}

func versionList() string {
	var out []string
	for _, v := range backends.Versions() {
		out = append(out, v.String())
	}
	return strings.Join(out, ", ")
}

func workloadList() string {
	var b strings.Builder
	for _, m := range workloads.Registered() {
		fmt.Fprintf(&b, "  %-12s %s\n", m.Name, m.Description)
	}
	return b.String()
}

// validate checks flag values that pflag's types cannot.
func (o *runOpts) validate() error {
	switch {
	case o.callers < 1:
		return usagef("--concurrency must be at least 1, got %d", o.callers)
	case o.count < 1:
		return usagef("--count must be at least 1, got %d", o.count)
	case o.maxBacklog < 0:
		return usagef("--max-backlog must not be negative, got %d", o.maxBacklog)
	case o.arrivals != "constant" && o.arrivals != "poisson":
		return usagef("--arrivals %q: use constant or poisson", o.arrivals)
	case o.tasks < 0:
		return usagef("--tasks must not be negative, got %d", o.tasks)
	case o.tasks == 0 && o.duration <= 0:
		return usagef("--duration must be positive, got %s", o.duration)
	case o.warmup < 0:
		return usagef("--warmup must not be negative, got %s", o.warmup)
	case o.resultExpires < 0:
		return usagef("--result-expires must not be negative, got %s", o.resultExpires)
	case o.resultExpires%time.Second != 0:
		return usagef("--result-expires must be whole seconds (Celery sends an integer TTL), got %s", o.resultExpires)
	case o.pollInterval <= 0:
		return usagef("--poll-interval must be positive, got %s", o.pollInterval)
	case o.connectTimeout <= 0:
		return usagef("--connect-timeout must be positive, got %s", o.connectTimeout)
	case o.taskTimeout <= 0:
		return usagef("--task-timeout must be positive, got %s", o.taskTimeout)
	case o.progressEvery < 0:
		return usagef("--progress must not be negative, got %s", o.progressEvery)
	}
	levels, err := parseLevels(o.workers, o.rate)
	if err != nil {
		return usageError{err}
	}
	o.levels = levels
	if o.sloText != "" {
		spec, err := parseSLO(o.sloText)
		if err != nil {
			return usageError{fmt.Errorf("--slo: %w", err)}
		}
		o.slo = spec
	}
	if _, ok := backends.ParseVersion(o.celery); !ok {
		return usagef("--celery %q is not supported; use one of %s", o.celery, versionList())
	}
	if _, err := results.Lookup(o.format); err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	if _, err := workloads.Lookup(o.workload); err != nil {
		return usageError{fmt.Errorf("--workload: %w", err)}
	}
	if c, ok := o.instances[o.workload].(workloads.Composer); ok {
		c.UseWorkloads(func(n string) workloads.Workload { return o.instances[n] })
	}
	if v, ok := o.instances[o.workload].(workloads.Validator); ok {
		if err := v.Validate(); err != nil {
			return usageError{err}
		}
	}
	for _, u := range o.backends {
		if _, _, err := backends.Lookup(u); err != nil {
			return usageError{fmt.Errorf("--backend: %w", err)}
		}
	}
	return nil
}

// options returns every setting as the run file records it, passwords
// redacted.
func (o *runOpts) options(fs *pflag.FlagSet) []results.Option {
	var out []results.Option
	fs.VisitAll(func(f *pflag.Flag) {
		v := f.Value.String()
		if f.Name == "backend" {
			var urls []string
			for _, u := range o.backends {
				urls = append(urls, backends.Redact(u))
			}
			v = strings.Join(urls, " ")
		}
		if f.Name == "seed" {
			v = strconv.FormatUint(o.seed, 10)
		}
		out = append(out, results.Option{Name: f.Name, Value: v})
	})
	return out
}

func (o *runOpts) summary() string {
	load := fmt.Sprintf("%s after %s warm-up", o.duration, o.warmup)
	if o.tasks > 0 {
		load = fmt.Sprintf("%d tasks after %s warm-up", o.tasks, o.warmup)
	}
	s := fmt.Sprintf("workload %s · %d callers · %s workers · %s · result %s B · Celery %s · seed %d",
		o.workload, o.callers, o.workers, load, o.resultSizes.String(), o.celery, o.seed)
	if o.trackStarted {
		s += " · track_started"
	}
	if o.resultExtended {
		s += " · result_extended"
	}
	if o.resultExpires == 0 {
		s += " · result_expires=None"
	}
	if o.callerPool {
		s += " · pooled SQL callers"
	}
	if o.count > 1 {
		s += fmt.Sprintf(" · %d repetitions", o.count)
	}
	loop := " · closed loop"
	if o.rate != "" {
		loop = fmt.Sprintf(" · open loop at %s tasks/s (%s arrivals; latency from intended start)", o.rate, o.arrivals)
	}
	return s + loop + " · bench " + version() + ", " + runtime.Version() + ", " + platform()
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, o := newRunFlags()
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags start with --; run \"bench run --help\")", fs.Arg(0))
	}
	if err := o.validate(); err != nil {
		return err
	}
	format, _ := results.Lookup(o.format)
	wl := o.instances[o.workload]
	out := stdout
	if o.output != "" {
		f, err := os.OpenFile(o.output, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			return usagef("--output %s already exists; choose another name or remove it", o.output)
		}
		if err != nil {
			return usageError{err}
		}
		defer f.Close()
		out = f
	}
	var hdrLog *os.File
	if o.hdrLog != "" {
		f, err := os.OpenFile(o.hdrLog, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, os.ErrExist) {
			return usagef("--hdr-log %s already exists; choose another name or remove it", o.hdrLog)
		}
		if err != nil {
			return usageError{err}
		}
		defer f.Close()
		hdrLog = f
	}
	if o.seed == 0 {
		o.seed = rand.Uint64()
	}

	urls := o.backends
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()
	if len(urls) == 0 {
		var err error
		servers, err = defaultServers(ctx, o.connectTimeout, stderr)
		if err != nil {
			return err
		}
		for _, s := range servers {
			urls = append(urls, s.URL)
		}
	}

	bo := backends.DefaultOptions
	bo.Celery, _ = backends.ParseVersion(o.celery)
	bo.ResultExpires = o.resultExpires
	bo.ResultExtended = o.resultExtended
	bo.IDPrefix = workloads.IDMarker
	bo.Force = o.force
	bo.CallerPool = o.callerPool
	bo.ConnectTimeout = o.connectTimeout

	// Open and prepare every backend before measuring any, so a bad URL
	// fails in seconds, not after the first backend's run.
	opened := make([]backends.Backend, 0, len(urls))
	defer func() {
		for _, b := range opened {
			b.Close()
		}
	}()
	for _, u := range urls {
		b, err := openBackend(ctx, u, bo)
		if err != nil {
			return err
		}
		opened = append(opened, b)
	}

	run := &results.Run{
		Format: results.FormatVersion, Bench: version(), Go: runtime.Version(), Platform: platform(),
		Started: time.Now(), Seed: o.seed, Options: o.options(fs), Summary: o.summary(),
	}
	base := workloads.RunOptions{
		Callers: o.callers, Tasks: o.tasks, Duration: o.duration, Warmup: o.warmup,
		PollInterval: o.pollInterval, TrackStarted: o.trackStarted, ResultExtended: o.resultExtended, ResultSizes: o.resultSizes,
		TaskTimeout: o.taskTimeout, ProgressEvery: o.progressEvery, Poisson: o.arrivals == "poisson", MaxBacklog: o.maxBacklog,
	}
	// One measurement per repetition, level and backend, interleaved so
	// that machine drift spreads over all of them; each repetition starts
	// the backends one further along, so none always runs right after the
	// same one (a fixed order biases the comparison of two positions).
	m := &measurer{ctx: ctx, o: o, wl: wl, run: run, stderr: stderr}
	var runErr error
	n := 0
loop:
	for rep := 0; rep < o.count; rep++ {
		for _, lv := range o.levels {
			for j := range opened {
				i := (j + rep) % len(opened)
				b := opened[i]
				ro := base
				ro.Workers, ro.Rate = lv.workers, lv.rate
				ro.Seed = o.seed + uint64(n)
				res, stop, err := m.measure(b, urls[i], servers, i, ro, lv.name, rep)
				if res != nil {
					run.Results = append(run.Results, *res)
				}
				if err != nil {
					runErr = err
				}
				if stop {
					break loop
				}
			}
			n++
		}
	}
	if runErr == nil && o.slo != nil && run.Interrupt == "" {
		for i, b := range opened {
			if err := m.searchSLO(b, urls[i], servers, i, base, uint64(n)+uint64(i)*64); err != nil {
				runErr = err
				break
			}
		}
	}
	run.Ended = time.Now()
	if len(run.Results) > 0 {
		if err := format(out, run); err != nil {
			return err
		}
		if hdrLog != nil {
			if err := results.WriteHDRLog(hdrLog, run); err != nil {
				return fmt.Errorf("--hdr-log: %w", err)
			}
		}
	}
	return runErr
}

// measurer runs one measurement at a time and turns it into a Result.
type measurer struct {
	ctx    context.Context
	o      *runOpts
	wl     workloads.Workload
	run    *results.Run
	stderr io.Writer
}

// measure runs wl once against b and returns its Result. stop is set when
// the whole run must end (a signal, or an error).
func (m *measurer) measure(b backends.Backend, url string, servers []*server, i int, ro workloads.RunOptions,
	level string, rep int) (*results.Result, bool, error) {
	name := backendName(url)
	label := name
	if level != "" {
		label += " " + level
	}
	if m.o.progressEvery > 0 {
		ro.Progress = progressPrinter(m.stderr, label)
	}
	prefix := workloads.RunPrefix(ro.Seed)
	if err := checkLeftovers(m.ctx, b, ro.Seed, m.o); err != nil {
		return nil, true, err
	}
	// What the server pays: its counters at the window's start and end,
	// and, for what the results it keeps cost, with no session open before
	// the run and after it (before cleanup).
	var before, after, idleBefore, idleAfter backends.ServerStats
	var snap func(into *backends.ServerStats) func()
	sr, hasStats := b.(backends.StatsReader)
	if hasStats && !(i < len(servers) && servers[i].embedded != nil) { // a stand-in's counters mean nothing
		snap = func(into *backends.ServerStats) func() {
			return func() {
				sctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
				defer cancel()
				if s, err := sr.ServerStats(sctx); err == nil {
					*into = s
				}
			}
		}
		ro.AtWindowStart, ro.AtWindowEnd = snap(&before), snap(&after)
		snap(&idleBefore)()
	}
	oc, err := workloads.Run(m.ctx, m.wl, b, ro)
	if m.o.progressEvery > 0 {
		fmt.Fprintln(m.stderr)
	}
	if snap != nil && oc != nil && !oc.Interrupted {
		// The sessions' connections have closed; give the server a moment
		// to have seen it, so their buffers are not counted as results.
		if sleepCtx(m.ctx, 100*time.Millisecond) {
			snap(&idleAfter)()
		}
	}
	cleanup(b, prefix, m.o, m.stderr, label)
	if oc == nil {
		return nil, true, fmt.Errorf("%s: %w", name, err)
	}
	info := b.Server()
	srv := results.Server{Product: info.Product, Version: info.Version, Embedded: info.Embedded}
	if i < len(servers) && servers[i].embedded != nil {
		e := servers[i].embedded
		srv = results.Server{Product: e.Product, Version: e.Version, Embedded: true}
	}
	res := &results.Result{
		Backend: backends.Redact(url), Name: name, Workload: m.o.workload, Level: level, Rep: rep,
		Server: srv, Start: oc.Start, End: oc.End, Ops: oc.Ops, Interrupted: oc.Interrupted,
	}
	if before != nil && after != nil {
		var tasks int64
		if op, ok := res.Op(m.wl.PrimaryOp()); ok {
			tasks = op.Count()
		}
		per := backends.PerTask(before, after, tasks)
		if mem, ok := backends.ResultMemory(idleBefore, idleAfter); ok {
			// Listed after server CPU, where a reader compares backends' costs.
			at := 0
			if len(per) > 0 && per[0].Name == "server CPU per task" {
				at = 1
			}
			per = slices.Insert(per, at, mem)
		}
		for _, st := range per {
			res.Stats = append(res.Stats, results.ServerStat{Name: st.Name, Unit: st.Unit, Value: st.Value, PerTask: true})
		}
		for _, st := range backends.DiffStats(before, after) {
			res.Stats = append(res.Stats, results.ServerStat{Name: st.Name, Unit: st.Unit, Value: st.Value})
		}
	}
	if oc.Overloaded != "" {
		res.Notes = append(res.Notes, oc.Overloaded)
	}
	if ro.Rate > 0 {
		if note := achievedRate(oc, ro.Rate); note != "" {
			res.Notes = append(res.Notes, note)
		}
	}
	if err != nil {
		return res, true, fmt.Errorf("%s: %w", name, err)
	}
	if oc.Interrupted {
		m.run.Interrupt = "stopped by a signal"
		return res, true, nil
	}
	return res, false, nil
}

// sleepCtx sleeps for d and reports whether ctx is still live.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// achievedRate returns a warning when an open loop's callers started more
// than 1% fewer of the window's arrivals per second than were asked for
// (they fell behind), and "" otherwise.
func achievedRate(oc *workloads.Outcome, rate float64) string {
	if oc.Planned <= 0 {
		return ""
	}
	got := float64(oc.Served) / oc.Planned.Seconds()
	if got < 0.99*rate {
		return fmt.Sprintf("achieved %s tasks/s, %.1f%% short of the %s asked for", results.Rate(got), 100*(1-got/rate), results.Rate(rate))
	}
	return ""
}

// openBackend opens and prepares one backend within the connect timeout.
func openBackend(ctx context.Context, u string, bo backends.Options) (backends.Backend, error) {
	cctx, cancel := context.WithTimeout(ctx, bo.ConnectTimeout)
	defer cancel()
	b, err := backends.Open(cctx, u, bo)
	if err != nil {
		return nil, usageError{err}
	}
	if err := b.Prepare(cctx); err != nil {
		b.Close()
		if errors.Is(err, backends.ErrForeignData) {
			return nil, usagef("%s: %v", backends.Redact(u), err)
		}
		return nil, usageError{err}
	}
	return b, nil
}

// checkLeftovers refuses to run when results of an earlier run with the same
// seed are still stored (a --keep run): Celery's dedupe would skip writes and
// change the traffic. With --force they are deleted first.
func checkLeftovers(ctx context.Context, b backends.Backend, seed uint64, o *runOpts) error {
	prefix := workloads.RunPrefix(seed)
	if !o.force {
		c, err := b.NewCaller(ctx, backends.Discard)
		if err != nil {
			return err
		}
		defer c.Close()
		first := workloads.FirstTaskID(seed)
		m, err := c.GetTaskMeta(ctx, first)
		if err != nil {
			return err
		}
		if m.Status != backends.Pending {
			return usagef("results of an earlier run with seed %d are still stored (ids %s...); use another --seed, or --force to delete them first", seed, prefix)
		}
		return nil
	}
	_, err := b.Cleanup(ctx, prefix)
	return err
}

// cleanup deletes what the run wrote unless --keep. It runs even after an
// interrupt, with a context of its own.
func cleanup(b backends.Backend, prefix string, o *runOpts, stderr io.Writer, name string) {
	if o.keep {
		fmt.Fprintf(stderr, "%s: kept the results of this run (ids starting %s)\n", name, prefix)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := b.Cleanup(ctx, prefix); err != nil {
		fmt.Fprintf(stderr, "%s: could not delete this run's results (ids starting %s): %v\n", name, prefix, err)
	}
}

// backendName is the short label of a backend URL: its implementation name.
func backendName(u string) string {
	m, _, err := backends.Lookup(u)
	if err != nil {
		return u
	}
	return m.Name
}

// progressPrinter returns a Progress callback printing one line per tick on
// stderr, rewriting it in place on a terminal.
func progressPrinter(stderr io.Writer, name string) func(workloads.Progress) {
	tty := isTerminal(stderr)
	return func(p workloads.Progress) {
		phase := "measuring"
		if p.Warmup {
			phase = "warming up"
		}
		of := ""
		if p.Total > 0 {
			of = " of " + p.Total.Round(time.Second).String()
		}
		line := fmt.Sprintf("%s: %s %s%s, %s tasks, %s errors", name, phase, p.Elapsed.Round(time.Second), of,
			results.Count(p.Tasks), results.Count(p.Errors))
		if tty {
			fmt.Fprintf(stderr, "\r\033[K%s", line)
		} else {
			fmt.Fprintln(stderr, line)
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
