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
)

// A Workload drives the caller side of one task lifecycle per Call.
type Workload interface {
	// Call runs one task lifecycle from the caller's side: create the task,
	// dispatch it, and wait for it (or not) as the Celery pattern does. It
	// returns an error only for failures of the lifecycle itself; backend
	// operation errors are already recorded by the session's Observer.
	Call(ctx context.Context, c *Caller) error
	// PrimaryOp names the task-level timing that counts completed tasks
	// for progress and throughput ("roundtrip").
	PrimaryOp() string
}

// Flagser is implemented by workloads with flags of their own; they are
// merged into "bench run".
type Flagser interface {
	Flags() *pflag.FlagSet
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
