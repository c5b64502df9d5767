package interop

import (
	"context"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	pyv "github.com/celery-bench/bench/backends/codec/py"
)

// A trafficPlayer plays the traffic tests' lifecycles through bench, as pg_traffic.py and
// django_traffic.py play them through Celery: w is the worker's session, c the caller's. Every
// step fails the test at once. It is used from the test's goroutine only (the polling
// lifecycle's late store aside, which reports with t.Errorf).
type trafficPlayer struct {
	t   *testing.T
	ctx context.Context
	w   backends.Worker
	c   backends.Caller
}

// store stores m as the worker does (no children: an empty list, as Celery writes it).
func (p trafficPlayer) store(m *backends.TaskMeta) {
	p.t.Helper()
	if m.Children == nil {
		m.Children = []string{}
	}
	if err := p.w.StoreResult(p.ctx, m); err != nil {
		p.t.Fatalf("StoreResult %s: %v", m.Status, err)
	}
}

// wait is the caller's AsyncResult.get(interval=0.5) until id is in state want.
func (p trafficPlayer) wait(id string, want backends.State) {
	p.t.Helper()
	st, err := p.c.WaitFor(p.ctx, id, 500*time.Millisecond)
	if err != nil || st != want {
		p.t.Fatalf("WaitFor %s = %s, %v; want %s", id, st, err, want)
	}
}

// end is the end of a worker task (the session's close or release).
func (p trafficPlayer) end() { backends.EndTask(p.ctx, p.w) }

// playSimple plays the lifecycles both scripts play alike, in their order: roundtrip,
// progress, failure (with traceback tb), polling (the result stored 1.2 s after the caller
// starts waiting) and forget; id gives each lifecycle's task id.
func (p trafficPlayer) playSimple(id func(name string) string, tb string) {
	p.t.Helper()
	tid := id("roundtrip")
	p.store(&backends.TaskMeta{TaskID: tid, Status: backends.Success, Result: 5, DateDone: time.Now()})
	p.end()
	p.wait(tid, backends.Success)

	tid = id("progress")
	p.store(&backends.TaskMeta{TaskID: tid, Status: backends.Progress, Result: pyv.Dict{{Key: "done", Value: 1}, {Key: "total", Value: 2}}})
	p.store(&backends.TaskMeta{TaskID: tid, Status: backends.Success, Result: "done", DateDone: time.Now()})
	p.end()
	p.wait(tid, backends.Success)

	tid = id("failure")
	p.store(&backends.TaskMeta{TaskID: tid, Status: backends.Failure, Result: pyv.Exception("builtins", "ValueError", "boom!"),
		Traceback: tb, DateDone: time.Now()})
	p.end()
	p.wait(tid, backends.Failure)

	tid = id("polling")
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(1200 * time.Millisecond)
		m := &backends.TaskMeta{TaskID: tid, Status: backends.Success, Result: "ok", Children: []string{}, DateDone: time.Now()}
		if err := p.w.StoreResult(p.ctx, m); err != nil {
			p.t.Errorf("StoreResult: %v", err)
		}
		p.end()
	}()
	p.wait(tid, backends.Success)
	<-done

	tid = id("forget")
	p.store(&backends.TaskMeta{TaskID: tid, Status: backends.Success, Result: 2, DateDone: time.Now()})
	p.end()
	p.wait(tid, backends.Success)
	if err := p.c.Forget(p.ctx, tid); err != nil {
		p.t.Fatal(err)
	}
}
