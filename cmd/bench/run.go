package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
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
	workers        int
	tasks          int64
	duration       time.Duration
	warmup         time.Duration
	seed           uint64
	resultSize     int
	trackStarted   bool
	resultExtended bool
	resultExpires  time.Duration
	pollInterval   time.Duration
	callerPool     bool
	celery         string
	format         string
	output         string
	keep           bool
	force          bool
	connectTimeout time.Duration
	taskTimeout    time.Duration
	progressEvery  time.Duration
}

func newRunFlags() (*pflag.FlagSet, *runOpts) {
	o := &runOpts{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArrayVar(&o.backends, "backend", nil, "Celery result_backend URL to measure; repeat to compare several side by side\n(default "+DefaultRedisURL+" and "+DefaultMySQLURL+",\nor embedded stand-ins when those do not answer)")
	fs.StringVarP(&o.workload, "workload", "w", "roundtrip", "workload to run: "+strings.Join(workloads.Names(), ", "))
	fs.IntVarP(&o.callers, "concurrency", "c", 8, "simulated caller processes, each sending a task and waiting for it in turn")
	fs.IntVar(&o.workers, "workers", 8, "simulated worker processes (Celery's worker --concurrency), one backend connection each")
	fs.Int64Var(&o.tasks, "tasks", 0, "measure this many tasks per backend instead of running for --duration (0: use --duration)")
	fs.DurationVarP(&o.duration, "duration", "d", 8*time.Second, "measured time per backend, after --warmup")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "time per backend run first and excluded from every figure")
	fs.Uint64Var(&o.seed, "seed", 0, "seed for task ids and payloads; the same seed replays the same ids and payloads (0: a random seed, printed)")
	fs.IntVar(&o.resultSize, "result-size", 64, "bytes of each task's return value (a str)")
	fs.BoolVar(&o.trackStarted, "track-started", false, "Celery's task_track_started: workers write STARTED before the result")
	fs.BoolVar(&o.resultExtended, "result-extended", false, "Celery's result_extended: store the task name, args, kwargs, worker, retries and queue")
	fs.DurationVar(&o.resultExpires, "result-expires", 24*time.Hour, "Celery's result_expires (Redis SETEX TTL); 0 means None (plain SET)")
	fs.DurationVar(&o.pollInterval, "poll-interval", 500*time.Millisecond, "interval of a waiting caller's polls on SQL backends (AsyncResult.get(interval=...))")
	fs.BoolVar(&o.callerPool, "caller-pool", false, "SQL callers poll over a pooled connection instead of a new connection per poll (Celery's default outside a worker)")
	fs.StringVar(&o.celery, "celery", backends.DefaultVersion.String(), "Celery line whose wire format is produced: "+versionList())
	fs.StringVar(&o.format, "format", "text", "output format: "+strings.Join(results.Formats(), ", ")+" (json is the run file \"bench report\" reads)")
	fs.StringVarP(&o.output, "output", "o", "", "write the output to this file instead of stdout; an existing file is never overwritten")
	fs.BoolVar(&o.keep, "keep", false, "leave the results bench wrote in the backends for inspection instead of deleting them")
	fs.BoolVar(&o.force, "force", false, "run even against a target that holds Celery results bench did not write")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 5*time.Second, "time allowed to connect to each backend")
	fs.DurationVar(&o.taskTimeout, "task-timeout", 60*time.Second, "time a caller waits for one task before counting it as an error")
	fs.DurationVar(&o.progressEvery, "progress", time.Second, "interval of progress lines on stderr (0: none)")
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
	case o.workers < 1:
		return usagef("--workers must be at least 1, got %d", o.workers)
	case o.tasks < 0:
		return usagef("--tasks must not be negative, got %d", o.tasks)
	case o.tasks == 0 && o.duration <= 0:
		return usagef("--duration must be positive, got %s", o.duration)
	case o.warmup < 0:
		return usagef("--warmup must not be negative, got %s", o.warmup)
	case o.resultSize < 0:
		return usagef("--result-size must not be negative, got %d", o.resultSize)
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
	if _, ok := backends.ParseVersion(o.celery); !ok {
		return usagef("--celery %q is not supported; use one of %s", o.celery, versionList())
	}
	if _, err := results.Lookup(o.format); err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	if _, err := workloads.Lookup(o.workload); err != nil {
		return usageError{fmt.Errorf("--workload: %w", err)}
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
	s := fmt.Sprintf("workload %s · %d callers · %d workers · %s · result %d B · Celery %s · seed %d",
		o.workload, o.callers, o.workers, load, o.resultSize, o.celery, o.seed)
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
	return s + " · closed loop · bench " + version() + ", " + runtime.Version() + ", " + platform()
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
	meta, _ := workloads.Lookup(o.workload)
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
	ro := workloads.RunOptions{
		Callers: o.callers, Workers: o.workers, Tasks: o.tasks, Duration: o.duration, Warmup: o.warmup,
		Seed: o.seed, PollInterval: o.pollInterval, TrackStarted: o.trackStarted, ResultSize: o.resultSize,
		TaskTimeout: o.taskTimeout, ProgressEvery: o.progressEvery,
	}
	prefix := workloads.RunPrefix(o.seed)
	var runErr error
	for i, b := range opened {
		name := backendName(urls[i])
		if o.progressEvery > 0 {
			ro.Progress = progressPrinter(stderr, name)
		}
		if err := checkLeftovers(ctx, b, prefix, o); err != nil {
			runErr = err
			break
		}
		oc, err := workloads.Run(ctx, meta.New(), b, ro)
		if o.progressEvery > 0 {
			fmt.Fprintln(stderr)
		}
		if oc != nil {
			info := b.Server()
			run.Results = append(run.Results, results.Result{
				Backend: backends.Redact(urls[i]), Name: name, Workload: o.workload,
				Server: results.Server{Product: info.Product, Version: info.Version, Embedded: info.Embedded},
				Start:  oc.Start, End: oc.End, Ops: oc.Ops, Interrupted: oc.Interrupted,
			})
		}
		cleanup(b, prefix, o, stderr, name)
		if err != nil {
			runErr = fmt.Errorf("%s: %w", name, err)
			break
		}
		if oc.Interrupted {
			run.Interrupt = "stopped by a signal"
			break
		}
	}
	run.Ended = time.Now()
	if len(run.Results) > 0 {
		if err := format(out, run); err != nil {
			return err
		}
	}
	return runErr
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
func checkLeftovers(ctx context.Context, b backends.Backend, prefix string, o *runOpts) error {
	if !o.force {
		c, err := b.NewCaller(ctx, backends.Discard)
		if err != nil {
			return err
		}
		defer c.Close()
		first := workloads.FirstTaskID(o.seed)
		m, err := c.GetTaskMeta(ctx, first)
		if err != nil {
			return err
		}
		if m.Status != backends.Pending {
			return usagef("results of an earlier run with --seed %d are still stored (ids %s...); use another --seed, or --force to delete them first", o.seed, prefix)
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
