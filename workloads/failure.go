package workloads

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends/codec/py"
)

// Defaults of the failure workload's flags.
const (
	// DefaultFailureRate makes every task fail: the workload measures the
	// FAILURE lifecycle; lower it (or use mix) for a blend.
	DefaultFailureRate = 1.0
	DefaultRetryRate   = 0.0
)

// DefaultTracebackSize is the length in bytes of the shortest traceback
// bench writes, Celery's own for a task raising ValueError('boom', 42).
var DefaultTracebackSize = len(traceback(failureExc, 0))

// The exceptions bench's tasks raise, as Celery's prepare_exception
// records them (A/boom and A/flaky in the Redis reference).
var (
	failureExc = excSpec{typ: "ValueError", args: []any{"boom", 42}, repr: "('boom', 42)",
		raise: "raise ValueError('boom', 42)"}
	// A retry's traceback is that of the Retry exception self.retry()
	// raises, through Celery's own retry frame, as B/flaky shows.
	retryExc = excSpec{typ: "KeyError", args: []any{"once"}, repr: "'once'",
		raise: "raise self.retry(exc=KeyError('once'), countdown=0.2)",
		after: "\n          " + strings.Repeat("^", len("self.retry(exc=KeyError('once'), countdown=0.2)")) +
			"\n  File \"" + celeryPath + "/app/task.py\", line 738, in retry\n    raise ret",
		final: "celery.exceptions.Retry: Retry in 0.2s: KeyError('once')"}
)

type excSpec struct {
	typ   string
	args  []any
	repr  string // str(exc) as the traceback's last line shows it
	raise string // the source line that raised it
	after string // what the traceback shows after that line: carets, deeper frames
	final string // the last line, when it is not "typ: repr"
}

func init() {
	Register(Meta{
		Name:        "failure",
		Description: "task.delay(...).get(propagate=False) of tasks that raise: FAILURE records with a traceback, and RETRY writes with --retry-rate",
		New:         func() Workload { return newFailure() },
	})
}

// failure is roundtrip for tasks that raise: --failure-rate of them end in
// FAILURE (ValueError, with a traceback of --traceback-size bytes), and
// --retry-rate of them call self.retry(exc=KeyError(...)) once first. The
// caller's get(propagate=False) returns on FAILURE: that is an expected
// outcome, not an error.
type failure struct {
	failureRate   float64
	retryRate     float64
	tracebackSize int

	fail, retry *Raised // built by Validate
}

func newFailure() *failure {
	return &failure{failureRate: DefaultFailureRate, retryRate: DefaultRetryRate, tracebackSize: DefaultTracebackSize}
}

func (w *failure) Flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("failure", pflag.ContinueOnError)
	fs.Float64Var(&w.failureRate, "failure-rate", DefaultFailureRate,
		"failure workload: fraction (0..1) of tasks that raise ValueError and end in FAILURE")
	fs.Float64Var(&w.retryRate, "retry-rate", DefaultRetryRate,
		"failure workload: fraction (0..1) of tasks that call self.retry() once first (a RETRY write, then the re-run)")
	fs.IntVar(&w.tracebackSize, "traceback-size", DefaultTracebackSize,
		"failure workload: bytes of each FAILURE and RETRY traceback (Celery's real frames, grown by deeper frames)")
	return fs
}

func (w *failure) Validate() error {
	switch {
	case !(w.failureRate >= 0 && w.failureRate <= 1):
		return fmt.Errorf("--failure-rate must be between 0 and 1, got %v", w.failureRate)
	case !(w.retryRate >= 0 && w.retryRate <= 1):
		return fmt.Errorf("--retry-rate must be between 0 and 1, got %v", w.retryRate)
	case w.tracebackSize < DefaultTracebackSize:
		return fmt.Errorf("--traceback-size must be at least %d (Celery's shortest traceback for the task), got %d",
			DefaultTracebackSize, w.tracebackSize)
	case w.tracebackSize > MaxResultSize:
		return fmt.Errorf("--traceback-size must be at most %d, got %d", MaxResultSize, w.tracebackSize)
	}
	w.fail = &Raised{Exception: failureExc.record(), Traceback: traceback(failureExc, w.tracebackSize)}
	w.retry = &Raised{Exception: retryExc.record(), Traceback: traceback(retryExc, w.tracebackSize)}
	return nil
}

func (w *failure) Ops() []string { return roundtripOps }

func (w *failure) FileFields() []string {
	return []string{"failure_rate", "retry_rate", "traceback_size"}
}

func (w *failure) SetFromFile(f *WorkloadFile) error {
	if f.FailureRate != nil {
		w.failureRate = *f.FailureRate
	}
	if f.RetryRate != nil {
		w.retryRate = *f.RetryRate
	}
	if f.TracebackSize != nil {
		w.tracebackSize = *f.TracebackSize
	}
	return w.Validate()
}
func (w *failure) Start() Load { return w }

// Describe states the failure and retry rates and the traceback size (Describer).
func (w *failure) Describe() string {
	return fmt.Sprintf("failure_rate %g · retry_rate %g · traceback %s", w.failureRate, w.retryRate, describeBytes(w.tracebackSize))
}

// configure sets t's outcome by two draws from the caller's generator.
func (w *failure) configure(c *Caller, t *Task) error {
	if w.fail == nil {
		if err := w.Validate(); err != nil {
			return err
		}
	}
	if w.retryRate > 0 && c.rng.Float64() < w.retryRate {
		t.Retry = w.retry
	}
	if w.failureRate > 0 && c.rng.Float64() < w.failureRate {
		t.Fail = w.fail
	}
	return nil
}

func (w *failure) Call(ctx context.Context, c *Caller) error {
	t := c.NewTask()
	if err := w.configure(c, t); err != nil {
		return err
	}
	return awaitTask(ctx, c, t, getResult)
}

// record returns the exception's record as Celery's JSON result
// serializer stores it.
func (e excSpec) record() py.Dict { return py.Exception("builtins", e.typ, e.args...) }

// Site-packages path of the Celery frames, as a pip install in a
// python:3.12 image has it.
const celeryPath = "/usr/local/lib/python3.12/site-packages/celery"

// traceback returns the traceback text Celery stores for e raised by
// bench's task, size bytes long: the frames of A/boom (trace_task,
// __protected_call__, the task), deepened by recursive frames of the task
// and padded inside the last frame's source line to the exact size. A size
// below the shortest traceback returns the shortest.
func traceback(e excSpec, size int) string {
	var head, frames strings.Builder
	head.WriteString("Traceback (most recent call last):\n")
	head.WriteString("  File \"" + celeryPath + "/app/trace.py\", line 451, in trace_task\n")
	head.WriteString("    R = retval = fun(*args, **kwargs)\n")
	head.WriteString("                 ^^^^^^^^^^^^^^^^^^^^\n")
	head.WriteString("  File \"" + celeryPath + "/app/trace.py\", line 734, in __protected_call__\n")
	head.WriteString("    return self.run(*args, **kwargs)\n")
	head.WriteString("           ^^^^^^^^^^^^^^^^^^^^^^^^^\n")
	head.WriteString("  File \"/app/bench/tasks.py\", line 12, in echo\n")
	head.WriteString("    return step(size, depth)\n")
	head.WriteString("           ^^^^^^^^^^^^^^^^^\n")
	last := "  File \"/app/bench/tasks.py\", line 21, in step\n    " + e.raise
	final := e.final
	if final == "" {
		final = e.typ + ": " + e.repr
	}
	tail := e.after + "\n" + final + "\n"
	const frame = "  File \"/app/bench/tasks.py\", line 19, in step\n    return step(size, depth - 1)\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
	n := head.Len() + len(last) + len(tail)
	for n+len(frame) <= size {
		frames.WriteString(frame)
		n += len(frame)
	}
	pad := ""
	if r := size - n; r > 0 {
		// A trailing comment on the raising line takes the remainder.
		if r >= 4 {
			pad = "  # " + strings.Repeat("-", r-4)
		} else {
			pad = strings.Repeat(" ", r)
		}
	}
	return head.String() + frames.String() + last + pad + tail
}
