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
	thresholdText  string
	thresholds     []results.Threshold
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
	djangoMaxAge   time.Duration
	dateDoneIndex  string
	celery         string
	format         string
	output         string
	keep           bool
	noSave         bool
	hdrLog         string
	force          bool
	connectTimeout time.Duration
	taskTimeout    time.Duration
	taskTime       workloads.Dist
	dispatchDelay  workloads.Dist
	prefetch       int
	progressEvery  time.Duration
	interval       time.Duration
	grace          time.Duration
	retry          workloads.RetryPolicy

	instances map[string]workloads.Workload // by name, with their flags bound
}

func newRunFlags() (*pflag.FlagSet, *runOpts) {
	o := &runOpts{}
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringArrayVar(&o.backends, "backend", nil, "Celery result_backend URL to measure; repeat to compare several side by side\n(default "+DefaultRedisURL+", "+DefaultMySQLURL+"\nand "+DefaultPostgresURL+" where they answer; embedded\nstand-ins for Redis and MySQL where they do not)")
	fs.StringVarP(&o.workload, "workload", "w", "roundtrip", "workload to run: "+strings.Join(workloads.Names(), ", "))
	fs.IntVarP(&o.callers, "concurrency", "c", 8, "simulated caller processes, each sending a task and waiting for it in turn")
	fs.StringVar(&o.workers, "workers", "8", "simulated worker processes (Celery's worker --concurrency), one backend connection each;\na list (1,8,32) runs each level in turn")
	fs.StringVarP(&o.rate, "rate", "r", "", "open loop: tasks per second arriving on schedule, latency measured from each\ntask's intended start; a list (500,1000) runs each level in turn (default: closed loop)")
	fs.StringVar(&o.arrivals, "arrivals", "constant", "open-loop arrival process: constant or poisson")
	fs.IntVar(&o.maxBacklog, "max-backlog", 0, "open loop: arrivals allowed to wait for a free caller before the run ends as overloaded\n(0: two seconds of arrivals)")
	fs.IntVar(&o.count, "count", 1, "repeat the whole run this many times, interleaving backends and levels (for bench compare)")
	fs.StringVar(&o.sloText, "slo", "", "after the run, search each backend for the highest open-loop rate that holds this\nobjective on the workload's task latency, e.g. 'p99<50ms' (metrics: mean, p50, p90, p99, p99.9, max)")
	fs.StringVar(&o.thresholdText, "threshold", "", "fail the run (exit 3) unless every backend meets these limits on the measured window,\n"+
		"e.g. 'roundtrip.p99<50ms,errors<0.1%,rate>500': [op.]stat<value, <=, > or >=; stats p50, p90, p95, p99,\n"+
		"p99.9, max, mean (a duration), rate (per s), errors (a count or a %), cost.NAME (a server figure per task,\n"+
		"e.g. cost.server_cpu<2ms); no op means the workload's task-level op")
	fs.Int64Var(&o.tasks, "tasks", 0, "measure this many tasks per backend instead of running for --duration (0: use --duration)")
	fs.DurationVarP(&o.duration, "duration", "d", 6*time.Second, "measured time per backend and level, after --warmup")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "time per backend and level run first and excluded from every figure")
	fs.Uint64Var(&o.seed, "seed", 0, "seed for task ids and payloads; the same seed replays the same ids and payloads (0: a random seed, printed)")
	o.resultSizes = workloads.FixedSize(64)
	fs.Var(&o.resultSizes, "result-size", "bytes of each task's return value (a str): a size (64, 4KiB), a uniform range (16-1024)\nor a weighted list (64:70,4096:30)")
	fs.BoolVar(&o.trackStarted, "track-started", false, "Celery's task_track_started: workers write STARTED before the result")
	fs.BoolVar(&o.resultExtended, "result-extended", false, "Celery's result_extended: store the task name, args, kwargs, worker, retries and queue")
	fs.DurationVar(&o.resultExpires, "result-expires", 24*time.Hour, "Celery's result_expires (Redis SETEX TTL); 0 means None (plain SET)")
	fs.DurationVar(&o.pollInterval, "poll-interval", 500*time.Millisecond, "interval of a waiting caller's polls on SQL backends (AsyncResult.get(interval=...))")
	fs.BoolVar(&o.callerPool, "caller-pool", false, "SQL callers poll over one pooled connection each; without it each poll opens a new connection,\nas a Celery caller outside a worker does")
	fs.DurationVar(&o.djangoMaxAge, "django-conn-max-age", 0, "Django's CONN_MAX_AGE for django-db workers: 0 closes the connection after every task,\na negative value is None (never closed by age); Celery 5.6 closes it after every task regardless")
	fs.StringVar(&o.dateDoneIndex, "date-done-index", "auto", "index on the SQL tables' date_done, which backend_cleanup's DELETE filters on: auto creates\n"+
		"what the Celery line (5.6: yes, before: no) or django-celery-results (yes) creates with a missing table\n"+
		"and leaves existing tables alone; yes or no creates or drops it on existing tables too")
	fs.StringVar(&o.celery, "celery", backends.DefaultVersion.String(), "Celery line whose wire format is produced: "+versionList())
	fs.StringVar(&o.format, "format", "text", "output format: "+strings.Join(results.Formats(), ", ")+" (json is the run file \"bench report\" reads)")
	fs.StringVarP(&o.output, "output", "o", "", "write the output to this file instead of stdout; an existing file is never overwritten")
	fs.StringVar(&o.hdrLog, "hdr-log", "", "also write every operation's histogram as an HdrHistogram V2 interval log to this file\n(tagged backend=/workload=/op=/rep=; readable by HdrHistogram's own tools); never overwrites")
	fs.BoolVar(&o.noSave, "no-save", false, "do not save the run file in the run store (bench/runs under the user's cache directory,\nthe last 50 kept; \"bench report\" with no file renders the newest)")
	fs.BoolVar(&o.keep, "keep", false, "leave the results bench wrote in the backends for inspection instead of deleting them")
	fs.BoolVar(&o.force, "force", false, "run even against a target that holds Celery results bench did not write")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 5*time.Second, "time allowed to connect to each backend")
	fs.DurationVar(&o.taskTimeout, "task-timeout", 60*time.Second, "time a caller waits for one task before counting it as an error")
	fs.DurationVar(&o.grace, "grace", workloads.DefaultGrace, "after the measured window closes, time the tasks in flight get to finish; then they are\n"+
		"abandoned and counted as unfinished, so a run ends by --warmup + --duration + --grace whatever the servers do")
	o.retry = workloads.DefaultRetryPolicy
	fs.BoolVar(&o.retry.Always, "always-retry", false, "Celery's result_backend_always_retry: a worker retries a store that failed, with exponential\n"+
		"backoff and full jitter, instead of losing it (its caller then waits, as by default)")
	fs.IntVar(&o.retry.MaxRetries, "retry-max-retries", 0, "Celery's result_backend_max_retries with --always-retry (0: without limit, Celery's inf)")
	fs.DurationVar(&o.retry.BaseSleep, "retry-base-sleep", o.retry.BaseSleep, "Celery's result_backend_base_sleep_between_retries_ms with --always-retry")
	fs.DurationVar(&o.retry.MaxSleep, "retry-max-sleep", o.retry.MaxSleep, "Celery's result_backend_max_sleep_between_retries_ms with --always-retry")
	fs.Var(&o.taskTime, "task-time", "how long each task body runs on its worker child, after STARTED and before the result is stored\n"+
		"(the child takes no other task meanwhile): 50ms, a range 10ms-200ms, weighted 5ms:90,2s:10,\n"+
		"lognormal:p50=40ms,p99=900ms, or @FILE of observed durations replayed by sampling")
	fs.Var(&o.dispatchDelay, "dispatch-delay", "the broker's hand-off, from delay() returning to a worker receiving the task (same syntax as --task-time)")
	fs.IntVar(&o.prefetch, "prefetch-multiplier", workloads.DefaultPrefetchMultiplier, "Celery's worker_prefetch_multiplier: tasks the worker reserves per child, which wait behind busy children")
	fs.DurationVar(&o.progressEvery, "progress", time.Second, "interval of progress lines on stderr (0: none); on a terminal one line rewritten in place")
	fs.DurationVar(&o.interval, "interval", results.DefaultInterval, "length of the timeline's intervals: per op and interval the run file keeps counts, errors and a histogram,\n"+
		"and the progress line shows the last one's rate, p50, p99 and errors (10ms to 1h)")
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
%s
Exit codes:
  0  every measurement completed (and every --threshold held)
  1  bench failed (an error it could not recover from)
  2  bad input: a flag, a URL, an output file that exists, a server that
     cannot be used; nothing was run
  3  a --threshold failed; the results were printed and saved
  4  the run is incomplete (interrupted, overloaded, a backend stopped because
     every operation failed); the partial results were printed and saved
`, workloads.IDMarker, fs.FlagUsages(), workloadList())
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
	case !slices.Contains(backends.IndexChoices, o.dateDoneIndex):
		return usagef("--date-done-index %q: use auto, yes or no", o.dateDoneIndex)
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
	case o.grace <= 0 || o.grace > time.Hour:
		return usagef("--grace must be positive and at most 1h, got %s", o.grace)
	case o.retry.MaxRetries < 0:
		return usagef("--retry-max-retries must not be negative, got %d", o.retry.MaxRetries)
	case o.retry.BaseSleep < 0 || o.retry.MaxSleep < 0:
		return usagef("--retry-base-sleep and --retry-max-sleep must not be negative, got %s and %s", o.retry.BaseSleep, o.retry.MaxSleep)
	case o.duration > 24*time.Hour || o.warmup > 24*time.Hour || o.taskTimeout > 24*time.Hour || o.connectTimeout > time.Hour:
		return usagef("--duration, --warmup and --task-timeout must be at most 24h and --connect-timeout at most 1h")
	case o.progressEvery < 0:
		return usagef("--progress must not be negative, got %s", o.progressEvery)
	case o.interval < 10*time.Millisecond || o.interval > time.Hour:
		return usagef("--interval must be between 10ms and 1h, got %s", o.interval)
	case o.prefetch < 1 || o.prefetch > 1000:
		return usagef("--prefetch-multiplier must be between 1 and 1000, got %d", o.prefetch)
	}
	levels, err := parseLevels(o.workers, o.rate)
	if err != nil {
		return usageError{err}
	}
	o.levels = levels
	if err := checkFiles(o.callers, levels); err != nil {
		return usageError{err}
	}
	if o.sloText != "" {
		spec, err := parseSLO(o.sloText)
		if err != nil {
			return usageError{fmt.Errorf("--slo: %w", err)}
		}
		o.slo = spec
	}
	if err := o.parseThresholdFlag(); err != nil {
		return err
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

// summary is the run's settings echo: what ran, with units, including
// what the workload's own flags or workload file set.
func (o *runOpts) summary(wl workloads.Workload) string {
	load := fmt.Sprintf("%s after %s warm-up", o.duration, o.warmup)
	if o.tasks > 0 {
		load = fmt.Sprintf("%d tasks after %s warm-up", o.tasks, o.warmup)
	}
	sizes := o.resultSizes.Describe()
	if src, ok := wl.(workloads.SizesSource); ok {
		if sz, ok := src.ResultSizes(); ok {
			sizes = sz.Describe() + " (workload file)"
		}
	}
	s := fmt.Sprintf("workload %s · %d callers · %s workers · %s · result %s · Celery %s · seed %d",
		o.workload, o.callers, o.workers, load, sizes, o.celery, o.seed)
	if d := workloads.Describe(wl); d != "" {
		s += " · " + d
	}
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
	if o.djangoMaxAge != 0 {
		s += " · django CONN_MAX_AGE=" + djangoMaxAge(o.djangoMaxAge)
	}
	if o.dateDoneIndex != "auto" {
		s += " · date_done index " + o.dateDoneIndex
	}
	if !o.taskTime.IsZero() {
		s += " · task time " + o.taskTime.String()
	}
	if !o.dispatchDelay.IsZero() {
		s += " · dispatch delay " + o.dispatchDelay.String()
	}
	if o.prefetch != workloads.DefaultPrefetchMultiplier {
		s += fmt.Sprintf(" · prefetch ×%d", o.prefetch)
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

// backendOptions are the backends.Options the run's flags ask for.
func (o *runOpts) backendOptions() backends.Options {
	bo := backends.DefaultOptions
	bo.Celery, _ = backends.ParseVersion(o.celery)
	bo.ResultExpires = o.resultExpires
	bo.ResultExtended = o.resultExtended
	bo.CallerPool = o.callerPool
	bo.DjangoConnMaxAge = o.djangoMaxAge
	bo.DateDoneIndex, _ = backends.ParseIndexChoice(o.dateDoneIndex)
	bo.ConnectTimeout = o.connectTimeout
	bo.IDPrefix = workloads.IDMarker
	bo.Force = o.force
	return bo
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
	// Output files are created only at the end (atomically); an existing
	// one is refused now, before anything runs.
	if err := refuseExisting("--output", o.output); err != nil {
		return err
	}
	if err := refuseExisting("--hdr-log", o.hdrLog); err != nil {
		return err
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

	bo := o.backendOptions()

	// Open and prepare every backend before measuring any, so a bad URL
	// fails in seconds, not after the first backend's run.
	opened := make([]backends.Backend, 0, len(urls))
	defer func() {
		for _, b := range opened {
			b.Close()
		}
	}()
	for _, u := range urls {
		b, err := workloads.OpenTarget(ctx, u, bo, wl)
		if err != nil {
			return usageError{err}
		}
		opened = append(opened, b)
	}

	run := &results.Run{
		Format: results.FormatVersion, Bench: version(), Go: runtime.Version(), Platform: platform(),
		Started: time.Now(), Seed: o.seed, Options: o.options(fs), Summary: o.summary(wl),
	}
	base := workloads.RunOptions{
		Callers: o.callers, Tasks: o.tasks, Duration: o.duration, Warmup: o.warmup,
		PollInterval: o.pollInterval, TrackStarted: o.trackStarted, ResultExtended: o.resultExtended, ResultSizes: o.resultSizes,
		TaskTimeout: o.taskTimeout, TaskTime: o.taskTime, DispatchDelay: o.dispatchDelay, PrefetchMultiplier: o.prefetch,
		ProgressEvery: o.progressEvery, Interval: o.interval, Poisson: o.arrivals == "poisson", MaxBacklog: o.maxBacklog,
		Grace: o.grace, Retry: o.retry,
	}
	// One measurement per repetition, level and backend, interleaved so
	// that machine drift spreads over all of them; each repetition starts
	// the backends one further along, so none always runs right after the
	// same one (a fixed order biases the comparison of two positions).
	m := &measurer{ctx: ctx, o: o, wl: wl, run: run, stderr: stderr, planned: o.count * len(o.levels) * len(opened),
		sameName: map[string]bool{}}
	names := map[string]int{}
	for _, u := range urls {
		names[backendName(u)]++
	}
	for name, k := range names {
		m.sameName[name] = k > 1
	}
	var runErr, incomplete error
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
					if err == nil && overloaded(res) && incomplete == nil {
						incomplete = incompleteError{fmt.Errorf("%s: the backend could not keep up with the rate (see the notes)", res.Name)}
					}
				}
				if errors.Is(err, workloads.ErrAllFailed) {
					// That backend's verdict; the others still run.
					if incomplete == nil {
						incomplete = incompleteError{err}
					}
					err = nil
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
	if run.Interrupt != "" && incomplete == nil {
		incomplete = incompleteError{errors.New("the run was interrupted; the partial results were printed and saved")}
	}
	if runErr == nil && o.slo != nil && run.Interrupt == "" && incomplete == nil {
		for i, b := range opened {
			if err := m.searchSLO(b, urls[i], servers, i, base, uint64(n)+uint64(i)*64); err != nil {
				runErr = err
				break
			}
		}
	}
	run.Ended = time.Now()
	thErr := o.checkThresholds(run, wl)
	if len(run.Results) > 0 {
		// Saved first: a run whose output file cannot be written is still
		// in the store.
		if !o.noSave {
			saveRun(run, stderr)
		}
		if err := writeFlagOutput("--output", o.output, stdout, func(w io.Writer) error {
			return format.WriteRun(w, run, results.RenderOptions{})
		}); err != nil {
			return err
		}
		if o.hdrLog != "" {
			hl, _ := results.LookupArtefact("hdrlog")
			if err := writeFlagOutput("--hdr-log", o.hdrLog, nil, func(w io.Writer) error { return hl.Run(w, run) }); err != nil {
				return err
			}
		}
	}
	// An incomplete run exits 4 even when a threshold failed too: a
	// threshold evaluated on a partial run says little.
	if runErr == nil {
		runErr = incomplete
	}
	if runErr == nil {
		runErr = thErr
	} else if thErr != nil {
		fmt.Fprintf(stderr, "bench: %s\n", backends.Scrub(thErr.Error()))
	}
	return runErr
}

// overloaded reports an open-loop result whose backlog overflowed.
func overloaded(res *results.Result) bool {
	for _, n := range res.Notes {
		if strings.HasPrefix(n, "overloaded:") {
			return true
		}
	}
	return false
}

// saveRun saves run in the run store and says where on stderr; a run
// that cannot be saved is still printed, with a warning.
func saveRun(run *results.Run, stderr io.Writer) {
	dir, err := results.RunDir()
	if err == nil {
		var path string
		if path, err = results.SaveRun(dir, run); err == nil {
			fmt.Fprintf(stderr, "bench: run saved to %s (bench report renders it again)\n", path)
			return
		}
	}
	fmt.Fprintf(stderr, "bench: warning: the run was not saved in the run store: %v\n", err)
}

// measurer runs one measurement at a time and turns it into a Result.
type measurer struct {
	ctx    context.Context
	o      *runOpts
	wl     workloads.Workload
	run    *results.Run
	stderr io.Writer
	// planned is the number of measurements of the run's plan (backends ×
	// levels × repetitions; an --slo search's probes come after), started
	// the number begun so far: the progress line's k/N and ETA.
	planned, started int
	// sameName holds the backend names that more than one URL of the run
	// has: their progress lines name the (redacted) URL instead.
	sameName map[string]bool
}

// measure runs wl once against b and returns its Result. stop is set when
// the whole run must end (a signal, or an error).
func (m *measurer) measure(b backends.Backend, url string, servers []*server, i int, ro workloads.RunOptions,
	level string, rep int) (*results.Result, bool, error) {
	t := workloads.Target{Backend: b, URL: url, Name: backendName(url)}
	if i < len(servers) && servers[i].embedded != nil {
		e := servers[i].embedded
		t.Standin = &backends.ServerInfo{Product: e.Product, Version: e.Version, Embedded: true}
	}
	label := t.Name
	if m.sameName[t.Name] {
		label = backends.Redact(url)
	}
	if level != "" {
		label += " " + level
	}
	m.started++
	if m.o.progressEvery > 0 {
		pl := progressLine{name: label}
		if m.started <= m.planned && m.planned > 1 {
			pl.k, pl.n = m.started, m.planned
		}
		if m.o.tasks == 0 && pl.n > 0 {
			pl.after = time.Duration(pl.n-pl.k) * (m.o.warmup + m.o.duration)
		}
		ro.Progress = progressPrinter(m.stderr, pl)
	}
	res, err := workloads.Measure(m.ctx, t, m.wl, ro, workloads.Measurement{
		Workload: m.o.workload, Level: level, Rep: rep, Keep: m.o.keep, Force: m.o.force, Log: m.stderr})
	noteOutages(res, m.wl)
	if m.o.progressEvery > 0 {
		fmt.Fprintln(m.stderr)
	}
	if errors.Is(err, workloads.ErrLeftovers) {
		err = usageError{err}
	}
	if errors.Is(err, workloads.ErrAllFailed) && res != nil && !res.Interrupted {
		return res, false, err // this backend's verdict: go on with the next
	}
	if err != nil {
		return res, true, err
	}
	if res.Interrupted {
		m.run.Interrupt = "stopped by a signal"
		return res, true, nil
	}
	return res, false, nil
}

// backendName is the short label of a backend URL: its implementation name.
func backendName(u string) string {
	m, _, err := backends.Lookup(u)
	if err != nil {
		return u
	}
	return m.Name
}

// progressLine is what a progress line says besides the run's figures:
// the measurement's label, its place k of n in the plan (n 0 when it has
// none), and the planned time of the measurements after it (ETA).
type progressLine struct {
	name  string
	k, n  int
	after time.Duration
}

// progressPrinter returns a Progress callback printing one line per tick on
// stderr, rewriting it in place on a terminal: where the measurement is,
// its tasks and errors so far, the last interval's rate, p50, p99 and
// errors, and the time left over the whole plan.
func progressPrinter(stderr io.Writer, pl progressLine) func(workloads.Progress) {
	tty := isTerminal(stderr)
	return func(p workloads.Progress) {
		fmt.Fprint(stderr, formatProgress(pl, p, tty))
	}
}

// formatProgress is one progress line, "\r\033[K" first on a terminal and
// a newline last elsewhere.
func formatProgress(pl progressLine, p workloads.Progress, tty bool) string {
	phase := "measuring"
	if p.Warmup {
		phase = "warming up"
	}
	of := ""
	elapsed := p.Elapsed.Round(time.Second).String()
	if p.Total > 0 {
		of = " of " + p.Total.Round(time.Second).String()
	}
	if p.Finishing {
		// The window has closed: the run waits for the tasks in flight,
		// never past the grace.
		phase, elapsed = "window closed", ""
		of = fmt.Sprintf("after %s, finishing the tasks in flight (%s of at most %s)", p.Total.Round(time.Second),
			(p.Elapsed - p.Total).Round(100*time.Millisecond), p.Grace)
	}
	var b strings.Builder
	if tty {
		b.WriteString("\r\033[K")
	}
	b.WriteString(pl.name)
	if pl.n > 0 {
		fmt.Fprintf(&b, " [%d/%d]", pl.k, pl.n)
	}
	fmt.Fprintf(&b, ": %s %s%s, %s tasks, %s errors", phase, elapsed, of,
		results.Count(p.Tasks), results.Count(p.Errors))
	if p.Setup != "" {
		b.WriteString(", " + p.Setup)
	}
	if l := p.Last; l != nil {
		warm := ""
		if l.Index < 0 {
			warm = ", warm-up"
		}
		fmt.Fprintf(&b, " | last %s%s: %s/s", l.Length, warm, results.Rate(l.Rate))
		if l.Count > 0 {
			fmt.Fprintf(&b, " p50 %s p99 %s", results.Nanos(l.P50), results.Nanos(l.P99))
		}
		fmt.Fprintf(&b, " %s errors", results.Count(l.Errors))
	}
	if p.Total > 0 && pl.n > 0 {
		left := max(p.Total-p.Elapsed, 0) + pl.after
		fmt.Fprintf(&b, " | ETA %s", left.Round(time.Second))
	}
	if !tty {
		b.WriteByte('\n')
	}
	return b.String()
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// djangoMaxAge renders a CONN_MAX_AGE as Django's settings write it.
func djangoMaxAge(d time.Duration) string {
	if d < 0 {
		return "None"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
