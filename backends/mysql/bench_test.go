package mysql

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// BenchmarkStoreResult measures Worker.StoreResult of a new SUCCESS row
// (SELECT, nextval, INSERT, UPDATE, COMMIT, ROLLBACK on the worker's
// connection), per Celery line. The server's fsync at COMMIT dominates.
func BenchmarkStoreResult(b *testing.B) {
	for _, v := range backends.Versions() {
		b.Run("celery="+v.String(), func(b *testing.B) {
			needServer(b)
			db := scratchDB(b)
			ctx := context.Background()
			be := openTest(b, db, testOptions(v))
			if err := be.Prepare(ctx); err != nil {
				b.Fatal(err)
			}
			w, err := be.NewWorker(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			ms := make([]backends.TaskMeta, b.N)
			for i := range ms {
				ms[i] = backends.TaskMeta{TaskID: fmt.Sprintf("g-%08d-0000-4000-8000-000000000000", i),
					Status: backends.Success, Result: "ok", DateDone: time.Now()}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range ms {
				if err := w.StoreResult(ctx, &ms[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCallerPoll measures one Caller poll of a stored SUCCESS:
// Celery's default, a new connection with its setup and probes per poll
// (nullpool), and Options.CallerPool's one pooled connection (pooled).
func BenchmarkCallerPoll(b *testing.B) {
	for _, pool := range []bool{false, true} {
		name := "conn=nullpool"
		if pool {
			name = "conn=pooled"
		}
		b.Run(name, func(b *testing.B) {
			needServer(b)
			db := scratchDB(b)
			ctx := context.Background()
			o := testOptions(backends.Celery56)
			o.CallerPool = pool
			be := openTest(b, db, o)
			if err := be.Prepare(ctx); err != nil {
				b.Fatal(err)
			}
			w, err := be.NewWorker(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := w.StoreResult(ctx, success("g-poll", "ok")); err != nil {
				b.Fatal(err)
			}
			w.Close()
			c, err := be.NewCaller(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if st, err := c.WaitFor(ctx, "g-poll", time.Second); err != nil || st != backends.Success {
					b.Fatal(st, err)
				}
			}
		})
	}
}
