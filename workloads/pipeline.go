package workloads

import (
	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
)

// pipelineOf derives what the simulated pipeline did in oc's window:
// worker utilisation, the bound a closed loop hit, and how callers waited
// (polls per task on polling backends, subscriptions held on pushing
// ones). primary is the workload's primary op; rate > 0 is an open loop.
//
// The bound: the workers when their children were busy at least 90 % of
// the window; else the backend when, of the mean roundtrip, what is left
// after the queue wait and the task body (the backend's reads, writes and
// waits) is at least half; else the callers.
func pipelineOf(oc *Outcome, primary string, rate float64) *results.Pipeline {
	window := oc.End.Sub(oc.Start)
	if oc.Workers == 0 || window <= 0 {
		return nil
	}
	p := &results.Pipeline{Workers: oc.Workers,
		Utilisation: min(1, float64(oc.WorkerBusy)/(float64(oc.Workers)*float64(window)))}
	ops := map[string]*results.Op{}
	for i := range oc.Ops {
		ops[oc.Ops[i].Name] = &oc.Ops[i]
	}
	mean := func(name string) float64 {
		if o := ops[name]; o != nil && o.Latency != nil && o.Count() > 0 {
			return o.Latency.Mean()
		}
		return 0
	}
	tasks := int64(0)
	if o := ops[primary]; o != nil {
		tasks = o.Count()
	}
	if rate == 0 {
		rt := mean(OpRoundtrip)
		switch {
		case p.Utilisation >= 0.9:
			p.Bound = results.BoundWorkers
		case rt > 0 && rt-mean(OpQueueWait)-mean(OpTaskRun) >= rt/2:
			p.Bound = results.BoundBackend
		default:
			p.Bound = results.BoundCallers
		}
	}
	if tasks == 0 || primary != OpRoundtrip {
		return p
	}
	if _, pushes := ops[backends.OpDrainEvents]; pushes {
		// Little's law: subscriptions held = arrival rate × time held.
		p.Subscriptions = float64(tasks) / window.Seconds() * mean(OpRoundtrip) / 1e9
	} else if o := ops[backends.OpGetTaskMeta]; o != nil {
		p.PollsPerTask = float64(o.Count()) / float64(tasks)
		p.WastedPolls = max(0, p.PollsPerTask-1)
	}
	return p
}
