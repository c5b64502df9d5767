package redis

import (
	"context"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// BenchmarkStoreResult is one state write against the real Redis: GET,
// then MULTI/SETEX/PUBLISH/EXEC. The record is a PROGRESS state, which the
// SUCCESS guard never skips, so every iteration writes.
func BenchmarkStoreResult(b *testing.B) {
	o := testOptions(backends.Celery56)
	be := openBackend(b, realRedisURL(b), o)
	w := newWorker(b, be, nil)
	ctx := context.Background()
	m := &backends.TaskMeta{TaskID: taskID(o.IDPrefix, 1), Status: backends.Progress, Result: int64(1)}
	b.ReportAllocs()
	for b.Loop() {
		if err := w.StoreResult(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundtrip is task.delay().get() against the real Redis: the
// caller subscribes, a worker goroutine stores SUCCESS, the caller waits
// (GET, and the pub/sub message when the GET was too early) and releases
// the result. allocs/op counts both sides.
func BenchmarkRoundtrip(b *testing.B) {
	for _, v := range backends.Versions() {
		b.Run("celery"+v.String(), func(b *testing.B) {
			o := testOptions(v)
			be := openBackend(b, realRedisURL(b), o)
			c, w := newCaller(b, be, nil), newWorker(b, be, nil)
			ctx := context.Background()
			ids := make([]string, b.N)
			for i := range ids {
				ids[i] = taskID(o.IDPrefix, i)
			}
			queue, stored := make(chan string), make(chan error)
			go func() {
				m := &backends.TaskMeta{Status: backends.Success, Result: int64(5), DateDone: time.Now()}
				for id := range queue {
					m.TaskID = id
					stored <- w.StoreResult(ctx, m)
				}
			}()
			defer close(queue)
			b.ReportAllocs()
			b.ResetTimer()
			for _, id := range ids {
				if err := c.OnTaskCall(ctx, id); err != nil {
					b.Fatal(err)
				}
				queue <- id
				if st, err := c.WaitFor(ctx, id, 0); err != nil || st != backends.Success {
					b.Fatal(st, err)
				}
				if err := <-stored; err != nil {
					b.Fatal(err)
				}
				if err := c.Release(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
