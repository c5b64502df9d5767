// Package conformance is the conformance suite every registered backend
// passes: store, read, wait, forget, prepare, cleanup and concurrent use,
// through the same Worker and Caller sessions the workloads use.
package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
)

// Opener opens a fresh backend for one subtest with the given options. It
// registers the backend's Close with t.Cleanup or leaves it to the suite.
type Opener func(t *testing.T, o backends.Options) backends.Backend

// Run runs the suite. Each subtest uses ids under a prefix of its own and
// cleans them up.
func Run(t *testing.T, open Opener) {
	for _, v := range backends.Versions() {
		t.Run("celery"+v.String(), func(t *testing.T) {
			t.Run("StoreThenGet", func(t *testing.T) { testStoreThenGet(t, open, v) })
			t.Run("UnknownIsPending", func(t *testing.T) { testUnknownIsPending(t, open, v) })
			t.Run("WaitForStoredLater", func(t *testing.T) { testWaitFor(t, open, v, false) })
			t.Run("WaitForStoredBefore", func(t *testing.T) { testWaitFor(t, open, v, true) })
			t.Run("SuccessIsNotOverwritten", func(t *testing.T) { testSuccessSticks(t, open, v) })
			t.Run("Forget", func(t *testing.T) { testForget(t, open, v) })
			t.Run("Cleanup", func(t *testing.T) { testCleanup(t, open, v) })
			t.Run("WaitForCancel", func(t *testing.T) { testWaitCancel(t, open, v) })
			t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, open, v) })
		})
	}
}

// newPrefix returns a random 8-hex-digit id prefix.
func newPrefix(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// taskID returns a uuid4-shaped id starting with prefix (8 hex digits).
func taskID(prefix string, n int) string {
	return fmt.Sprintf("%s-0000-4000-8000-%012x", prefix, n)
}

type env struct {
	t      *testing.T
	ctx    context.Context
	b      backends.Backend
	prefix string
	obs    *countingObserver
}

func setup(t *testing.T, open Opener, v backends.Version) *env {
	t.Helper()
	prefix := newPrefix(t)
	o := backends.DefaultOptions
	o.Celery = v
	o.IDPrefix = prefix
	o.Force = true // a shared test server may hold other suites' data
	b := open(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	if err := b.Prepare(ctx); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	t.Cleanup(func() {
		if _, err := b.Cleanup(context.Background(), prefix); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &env{t: t, ctx: ctx, b: b, prefix: prefix, obs: &countingObserver{n: map[string]int{}}}
}

func (e *env) worker() backends.Worker {
	e.t.Helper()
	w, err := e.b.NewWorker(e.ctx, e.obs)
	if err != nil {
		e.t.Fatalf("NewWorker: %v", err)
	}
	e.t.Cleanup(func() { w.Close() })
	return w
}

func (e *env) caller() backends.Caller {
	e.t.Helper()
	c, err := e.b.NewCaller(e.ctx, e.obs)
	if err != nil {
		e.t.Fatalf("NewCaller: %v", err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func success(id string, result any) *backends.TaskMeta {
	return &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: result, DateDone: time.Now()}
}

func started(id string) *backends.TaskMeta {
	return &backends.TaskMeta{TaskID: id, Status: backends.Started,
		Result: py.Dict{{Key: "pid", Value: 4242}, {Key: "hostname", Value: "bench@host"}}}
}

func testStoreThenGet(t *testing.T, open Opener, v backends.Version) {
	e := setup(t, open, v)
	w, c := e.worker(), e.caller()
	id := taskID(e.prefix, 1)
	if err := w.StoreResult(e.ctx, success(id, "hello")); err != nil {
		t.Fatalf("StoreResult: %v", err)
	}
	m, err := c.GetTaskMeta(e.ctx, id)
	if err != nil {
		t.Fatalf("GetTaskMeta: %v", err)
	}
	if m.TaskID != id || m.Status != backends.Success || m.Result != "hello" || m.DateDone.IsZero() {
		t.Errorf("GetTaskMeta = %+v, want SUCCESS %q with a date_done", m, "hello")
	}
	if e.obs.count(backends.OpStoreResult) != 1 {
		t.Errorf("observed %d store_result, want 1", e.obs.count(backends.OpStoreResult))
	}
}

func testUnknownIsPending(t *testing.T, open Opener, v backends.Version) {
	e := setup(t, open, v)
	m, err := e.caller().GetTaskMeta(e.ctx, taskID(e.prefix, 99))
	if err != nil {
		t.Fatalf("GetTaskMeta: %v", err)
	}
	if m.Status != backends.Pending {
		t.Errorf("status of an unknown task = %s, want PENDING", m.Status)
	}
}

func testWaitFor(t *testing.T, open Opener, v backends.Version, storedBefore bool) {
	e := setup(t, open, v)
	w, c := e.worker(), e.caller()
	id := taskID(e.prefix, 2)
	if err := c.OnTaskCall(e.ctx, id); err != nil {
		t.Fatalf("OnTaskCall: %v", err)
	}
	store := func() error {
		if err := w.StoreResult(e.ctx, started(id)); err != nil {
			return err
		}
		return w.StoreResult(e.ctx, success(id, 42))
	}
	done := make(chan error, 1)
	if storedBefore {
		done <- store()
	} else {
		go func() {
			time.Sleep(50 * time.Millisecond)
			done <- store()
		}()
	}
	st, err := c.WaitFor(e.ctx, id, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	if st != backends.Success {
		t.Errorf("WaitFor = %s, want SUCCESS", st)
	}
	if err := <-done; err != nil {
		t.Fatalf("StoreResult: %v", err)
	}
	if err := c.Release(e.ctx, id); err != nil {
		t.Errorf("Release: %v", err)
	}
	// The session stays usable for the next task.
	id2 := taskID(e.prefix, 3)
	if err := c.OnTaskCall(e.ctx, id2); err != nil {
		t.Fatalf("second OnTaskCall: %v", err)
	}
	if err := w.StoreResult(e.ctx, success(id2, 43)); err != nil {
		t.Fatal(err)
	}
	if st, err := c.WaitFor(e.ctx, id2, 20*time.Millisecond); err != nil || st != backends.Success {
		t.Fatalf("second WaitFor = %s, %v", st, err)
	}
}

func testSuccessSticks(t *testing.T, open Opener, v backends.Version) {
	e := setup(t, open, v)
	w, c := e.worker(), e.caller()
	id := taskID(e.prefix, 4)
	if err := w.StoreResult(e.ctx, success(id, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.StoreResult(e.ctx, started(id)); err != nil {
		t.Fatal(err)
	}
	m, err := c.GetTaskMeta(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Key-value backends never overwrite SUCCESS; the SQL backend does
	// (Celery's DatabaseBackend has no such guard). Both are Celery's behaviour.
	if m.Status != backends.Success && m.Status != backends.Started {
		t.Errorf("status = %s", m.Status)
	}
}

func testForget(t *testing.T, open Opener, v backends.Version) {
	e := setup(t, open, v)
	w, c := e.worker(), e.caller()
	id := taskID(e.prefix, 5)
	if err := w.StoreResult(e.ctx, success(id, "x")); err != nil {
		t.Fatal(err)
	}
	if err := c.Forget(e.ctx, id); err != nil {
		t.Fatalf("Forget: %v", err)
	}
	m, err := c.GetTaskMeta(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != backends.Pending {
		t.Errorf("status after forget = %s, want PENDING", m.Status)
	}
}

func testCleanup(t *testing.T, open Opener, v backends.Version) {
	e := setup(t, open, v)
	w, c := e.worker(), e.caller()
	other := newPrefix(t)
	for i := 0; i < 3; i++ {
		if err := w.StoreResult(e.ctx, success(taskID(e.prefix, 10+i), i)); err != nil {
			t.Fatal(err)
		}
	}
	keep := taskID(other, 1)
	if err := w.StoreResult(e.ctx, success(keep, "keep")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.b.Cleanup(context.Background(), other) })
	n, err := e.b.Cleanup(e.ctx, e.prefix)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if n != 3 {
		t.Errorf("Cleanup deleted %d records, want 3", n)
	}
	if m, _ := c.GetTaskMeta(e.ctx, taskID(e.prefix, 10)); m == nil || m.Status != backends.Pending {
		t.Errorf("a cleaned-up result is still there: %+v", m)
	}
	if m, _ := c.GetTaskMeta(e.ctx, keep); m == nil || m.Status != backends.Success {
		t.Errorf("Cleanup deleted a result outside its prefix: %+v", m)
	}
}

func testWaitCancel(t *testing.T, open Opener, v backends.Version) {
	e := setup(t, open, v)
	c := e.caller()
	id := taskID(e.prefix, 6)
	if err := c.OnTaskCall(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.WaitFor(ctx, id, 20*time.Millisecond)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor after cancel = %v, want an error wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("WaitFor took %v to notice the cancellation", d)
	}
}

func testConcurrent(t *testing.T, open Opener, v backends.Version) {
	e := setup(t, open, v)
	const callers, tasks = 4, 10
	var wg, workers sync.WaitGroup
	errs := make(chan error, 2*callers)
	for i := 0; i < callers; i++ {
		w, c := e.worker(), e.caller()
		queue := make(chan string) // this caller's tasks, run by its own worker goroutine
		workers.Add(1)
		go func() {
			defer workers.Done()
			for id := range queue {
				if err := w.StoreResult(e.ctx, success(id, 7)); err != nil {
					errs <- fmt.Errorf("StoreResult: %w", err)
				}
			}
		}()
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer close(queue)
			for n := 0; n < tasks; n++ {
				id := taskID(e.prefix, 1000*(i+1)+n)
				if err := c.OnTaskCall(e.ctx, id); err != nil {
					errs <- err
					return
				}
				queue <- id
				st, err := c.WaitFor(e.ctx, id, 5*time.Millisecond)
				if err != nil || st != backends.Success {
					errs <- fmt.Errorf("task %s: %s, %v", id, st, err)
					return
				}
				c.Release(e.ctx, id)
			}
		}(i)
	}
	wg.Wait()
	workers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// countingObserver counts observations per op. Sessions of different
// goroutines share it in the Concurrent test, so it locks.
type countingObserver struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *countingObserver) Observe(op string, _ time.Time, _ time.Duration, err error) {
	o.mu.Lock()
	if err == nil {
		o.n[op]++
	}
	o.mu.Unlock()
}

func (o *countingObserver) count(op string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.n[op]
}

// StoreResults stores n SUCCESS results of 64 bytes under ids starting with
// prefix, through workers worker sessions in turn, and closes the sessions.
// The server-figure tests use it as a known load.
func StoreResults(ctx context.Context, t testing.TB, b backends.Backend, prefix string, workers, n int) {
	t.Helper()
	ws := make([]backends.Worker, workers)
	for i := range ws {
		var err error
		if ws[i], err = b.NewWorker(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, w := range ws {
			w.Close()
		}
	}()
	result := strings.Repeat("x", 64)
	for i := range n {
		m := &backends.TaskMeta{TaskID: fmt.Sprintf("%s-%04x-4000-8000-%012d", prefix, i%0x10000, i),
			Status: backends.Success, Result: result, Children: []string{}, DateDone: time.Now()}
		if err := ws[i%workers].StoreResult(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}
