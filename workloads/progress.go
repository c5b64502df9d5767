package workloads

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"
)

// DefaultProgressUpdates is the progress workload's --progress-updates.
const DefaultProgressUpdates = 2

func init() {
	Register(Meta{
		Name:        "progress",
		Description: "task.delay(...).get() of tasks that report progress: --progress-updates update_state('PROGRESS') writes before the result",
		New:         func() Workload { return &progress{updates: DefaultProgressUpdates} },
	})
}

// progress is roundtrip for a bound task that calls
// self.update_state(state='PROGRESS', meta={'current': i, 'total': k}) k
// times before returning. Each update is a full state write (Redis: GET
// and MULTI/SETEX/PUBLISH/EXEC with date_done null; SQL: one transaction);
// the caller waits as get() does, and the Redis caller passes over the
// PROGRESS messages its pub/sub connection receives.
type progress struct {
	updates int
}

func (w *progress) Flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("progress", pflag.ContinueOnError)
	fs.IntVar(&w.updates, "progress-updates", DefaultProgressUpdates,
		"progress workload: update_state('PROGRESS') writes each task makes before its result")
	return fs
}

func (w *progress) Validate() error {
	if w.updates < 0 {
		return fmt.Errorf("--progress-updates must not be negative, got %d", w.updates)
	}
	return nil
}

func (w *progress) Ops() []string { return roundtripOps }

func (w *progress) FileFields() []string { return []string{"progress_updates"} }

func (w *progress) SetFromFile(f *WorkloadFile) error {
	if f.ProgressUpdates != nil {
		w.updates = *f.ProgressUpdates
	}
	return w.Validate()
}
func (w *progress) Start() Load { return w }

// Describe states the PROGRESS writes per task (Describer).
func (w *progress) Describe() string { return fmt.Sprintf("progress_updates %d", w.updates) }

func (w *progress) Call(ctx context.Context, c *Caller) error {
	t := c.NewTask()
	t.Progress = w.updates
	return awaitTask(ctx, c, t, getResult)
}
