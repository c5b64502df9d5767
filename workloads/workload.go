// Package workloads generates Celery's result-backend traffic: simulated
// callers send tasks and wait for them, simulated prefork worker children
// execute them and store their states, and every backend operation and task
// is measured into a results.Recorder.
//
// A workload defines the caller side of one task lifecycle (Workload.Call);
// the workers are the same for every workload and do what Celery's worker
// does for the task message they receive (Task).
package workloads

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends"
)

// A Workload is a registered workload's configuration: its flags and
// settings, fixed once they are parsed. It keeps no state between tasks:
// every measurement (one backend × level × repetition) calls Start for
// run state of its own, so what one measurement did never changes the
// next (cockroach's workload.Opser is the model).
type Workload interface {
	// Ops lists the task-level operations the workload records, in the
	// order reports list them; the first counts completed tasks for
	// progress, throughput and --tasks ("roundtrip"). The runner adds the
	// operations every workload records (start_lag, time_to_observe, task)
	// and the backends' operations after them.
	Ops() []string
	// Start returns the run state of one measurement, built from the
	// settings. It is called after the flags are validated; its Load is
	// used by all of that measurement's callers at once and dropped when
	// the measurement ends.
	Start() Load
}

// A Load is one measurement's run of a workload.
type Load interface {
	// Call runs one task lifecycle from the caller's side: create the task,
	// dispatch it, and wait for it (or not) as the Celery pattern does. It
	// is called concurrently by every caller, each with its own Caller. It
	// returns an error only for failures of the lifecycle itself; backend
	// operation errors are already recorded by the session's Observer.
	Call(ctx context.Context, c *Caller) error
}

// PrimaryOp is the operation that counts w's completed tasks: its first.
func PrimaryOp(w Workload) string { return w.Ops()[0] }

// harnessOps are recorded by the runner for every workload, after the
// workload's own in reports.
var harnessOps = []string{OpStartLag, OpTimeToObserve, OpTask, OpQueueWait, OpTaskRun}

// ReportOrder returns every operation a run of w can report, in report
// order: w's own, the harness's, then the backends' (backends.Ops).
func ReportOrder(w Workload) []string {
	var out []string
	seen := map[string]bool{}
	for _, list := range [][]string{w.Ops(), harnessOps, backends.Ops()} {
		for _, op := range list {
			if !seen[op] {
				seen[op] = true
				out = append(out, op)
			}
		}
	}
	return out
}

// A FileSetter takes settings of its own from a workload file (a mix
// component: progress_updates, failure_rate, ...). FileFields names the
// fields it reads; SetFromFile applies those f sets and validates them.
type FileSetter interface {
	FileFields() []string
	SetFromFile(f *WorkloadFile) error
}

// Flagser is implemented by workloads with flags of their own; they are
// merged into "bench run".
type Flagser interface {
	Flags() *pflag.FlagSet
}

// A Sweeper runs a Celery operation that deletes results by their age,
// whoever wrote them (backend_cleanup), where every other workload deletes
// only what it wrote, by id. Such a workload must run only on a target
// holding no result bench did not write: the run sets
// backends.Options.KeepForeign, so Prepare refuses any other target,
// --force or not. Sweeps says what the operation deletes, for that refusal.
type Sweeper interface {
	Sweeps() string
}

// Validator is implemented by workloads that check their flags after parsing.
type Validator interface {
	Validate() error
}

// Meta describes a registered workload.
type Meta struct {
	Name        string
	Description string
	// New returns a workload with its defaults, flags unparsed.
	New func() Workload
}

var registry = map[string]Meta{}

// Register adds a workload; a duplicate name is a programming error and panics.
func Register(m Meta) {
	if _, dup := registry[m.Name]; dup {
		panic("workloads: registered twice: " + m.Name)
	}
	registry[m.Name] = m
}

// Lookup returns the named workload.
func Lookup(name string) (Meta, error) {
	m, ok := registry[name]
	if !ok {
		return Meta{}, fmt.Errorf("unknown workload %q; use one of %s", name, strings.Join(Names(), ", "))
	}
	return m, nil
}

// Registered returns every workload, sorted by name.
func Registered() []Meta {
	out := make([]Meta, 0, len(registry))
	for _, m := range registry {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the registered workload names, sorted.
func Names() []string {
	var out []string
	for _, m := range Registered() {
		out = append(out, m.Name)
	}
	return out
}

// A Describer states the settings a workload runs with, for the run's
// settings echo: its own flags' values and, for a workload built from a
// workload file, what the file set. Describe returns them " · "-separated
// with their units, or "" when there is nothing to add.
type Describer interface {
	Describe() string
}

// A SizesSource is a workload whose results have sizes of its own (a
// workload file's result_size) instead of the run's --result-size.
type SizesSource interface {
	ResultSizes() (Sizes, bool)
}

// Describe returns w's settings echo, or "" when w states none.
func Describe(w Workload) string {
	if d, ok := w.(Describer); ok {
		return d.Describe()
	}
	return ""
}
