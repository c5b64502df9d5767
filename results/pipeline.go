package results

import (
	"fmt"
	"strings"
)

// Pipeline is what the simulated Celery pipeline did in a result's
// window: how busy its worker children were, what bounded the throughput,
// and how the callers waited. Its figures are derived from the ops and
// the worker's busy time by the workload runner.
type Pipeline struct {
	Workers int `json:"workers"`
	// Utilisation is the share of Workers × window the children spent
	// executing tasks (STARTED to the stored result, task bodies
	// included), 0 to 1.
	Utilisation float64 `json:"utilisation"`
	// Bound names what limited a closed loop's throughput: BoundWorkers,
	// BoundBackend or BoundCallers; "" in an open loop, whose rate is set.
	Bound string `json:"bound,omitempty"`
	// PollsPerTask is, on backends whose callers poll (SQL), the
	// get_task_meta reads per task, and WastedPolls those of them that
	// found the task not ready yet (every task's last read finds it
	// ready). 0 on backends that push results (Redis).
	PollsPerTask float64 `json:"polls_per_task,omitempty"`
	WastedPolls  float64 `json:"wasted_polls,omitempty"`
	// Subscriptions is, on backends that push results, the mean number of
	// result subscriptions the callers held open (throughput × mean
	// roundtrip, by Little's law: each is held for its task's whole life).
	Subscriptions float64 `json:"subscriptions,omitempty"`
}

// The bounds a closed loop's throughput can hit.
const (
	BoundWorkers = "workers" // the children were busy ≥ 90 % of the time: more workers (or shorter tasks) would go faster
	BoundBackend = "backend" // most of each roundtrip was spent in backend operations
	BoundCallers = "callers" // neither: more callers would go faster
)

// String is the pipeline's one line in the text and markdown formats.
func (p *Pipeline) String() string {
	if p == nil {
		return ""
	}
	parts := []string{fmt.Sprintf("%d workers %.0f%% busy", p.Workers, 100*p.Utilisation)}
	if p.Bound != "" {
		parts = append(parts, "throughput bound by the "+p.Bound)
	}
	if p.PollsPerTask > 0 {
		parts = append(parts, fmt.Sprintf("%.2f polls per task (%.2f wasted)", p.PollsPerTask, p.WastedPolls))
	}
	if p.Subscriptions > 0 {
		parts = append(parts, fmt.Sprintf("%.1f result subscriptions held on average", p.Subscriptions))
	}
	return strings.Join(parts, " · ")
}
