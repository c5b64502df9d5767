package workloads

import (
	"container/heap"
	"context"
	"time"
)

// DefaultPrefetchMultiplier is Celery's worker_prefetch_multiplier.
const DefaultPrefetchMultiplier = 4

// broker stands for the message broker and the worker's consumer: callers
// publish to it without ever blocking (as delay() does not wait for a
// worker), it holds each task for its dispatch delay (the broker's
// hand-off), and it lets the worker reserve at most prefetch × workers
// tasks (worker_prefetch_multiplier) in reserved, from which the prefork
// children take one at a time under Celery's default fair scheduling
// (-O fair): a task waits there behind busy children, which is the
// head-of-line blocking a long task causes. One goroutine runs it.
type broker struct {
	in       chan *Task // published tasks; closed when the callers are done
	reserved chan *Task // delivered and reserved by the worker; closed after in is drained
	// maxHeld bounds the tasks run holds (delayed or waiting for room in
	// reserved); past it publishers wait, so that fire-and-forget callers
	// cannot queue without limit ahead of the workers (and past the end
	// of the run).
	maxHeld int
}

func newBroker(workers, prefetch, callers int) *broker {
	if prefetch < 1 {
		prefetch = DefaultPrefetchMultiplier
	}
	return &broker{in: make(chan *Task, max(64, 4*callers)), reserved: make(chan *Task, prefetch*workers),
		maxHeld: max(64, prefetch*workers, 4*callers)}
}

// publish hands t on: straight into reserved when it has no delay and
// there is room (the common case, which costs no hop through run's
// goroutine), else to run. It blocks only if in is full, which run, never
// blocking itself, keeps from happening for long.
func (b *broker) publish(ctx context.Context, t *Task) error {
	if t.deliverAt.IsZero() {
		select {
		case b.reserved <- t:
			return nil
		default:
		}
	}
	select {
	case b.in <- t:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run moves tasks from in to reserved, each no earlier than its
// deliverAt, in publication order among those delivered, until in is
// closed and every task has been handed on. Once ctx is cancelled (an
// interrupted run executes nothing more) it drops what it holds and what
// arrives. It closes reserved when in is closed, so that publish never
// sends on a closed channel.
func (b *broker) run(ctx context.Context) {
	defer close(b.reserved)
	var ready []*Task // delivered, waiting for room in reserved
	var delayed taskHeap
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	in := b.in
	done, cancelled := ctx.Done(), false
	for in != nil || len(ready) > 0 || len(delayed) > 0 {
		var out chan *Task
		var head *Task
		if len(ready) > 0 {
			out, head = b.reserved, ready[0]
		}
		recv := in
		if len(ready)+len(delayed) >= b.maxHeld {
			recv = nil // full: publishers wait, as under a broker's flow control
		}
		var due <-chan time.Time
		if len(delayed) > 0 {
			timer.Reset(time.Until(delayed[0].deliverAt))
			due = timer.C
		}
		select {
		case t, ok := <-recv:
			if !ok {
				in = nil
				break
			}
			if cancelled {
				break // dropped
			}
			if t.deliverAt.IsZero() || !time.Now().Before(t.deliverAt) {
				ready = append(ready, t)
			} else {
				heap.Push(&delayed, t)
			}
		case out <- head:
			ready[0] = nil
			ready = ready[1:]
		case <-due:
			now := time.Now()
			for len(delayed) > 0 && !now.Before(delayed[0].deliverAt) {
				ready = append(ready, heap.Pop(&delayed).(*Task))
			}
		case <-done:
			done, cancelled, ready, delayed = nil, true, nil, nil
		}
		if due != nil && !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// taskHeap orders delayed tasks by delivery time.
type taskHeap []*Task

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].deliverAt.Before(h[j].deliverAt) }
func (h taskHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)        { *h = append(*h, x.(*Task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}
