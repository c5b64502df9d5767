package standin

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/conformance"
	_ "github.com/celery-bench/bench/backends/mysql"
)

// This file drives bench's own MySQL backend (backends/mysql, the
// statements Celery sends) against the embedded server.

// TestMySQLConformance runs the backend conformance suite, which every
// bench backend must pass on its real server, on the embedded MySQL.
func TestMySQLConformance(t *testing.T) {
	srv, err := StartMySQL(context.Background(), "celery_bench")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	conformance.Run(t, func(t *testing.T, o backends.Options) backends.Backend {
		b, err := backends.Open(context.Background(), srv.URL, o)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return b
	})
}

// BenchmarkMySQLBackendStoreResult measures bench's Worker.StoreResult of
// a new SUCCESS (SELECT, INSERT, UPDATE, COMMIT, ROLLBACK on the worker's
// connection) on the embedded server with rows results already stored.
// Its lookups go through maps, so the time does not grow with rows.
func BenchmarkMySQLBackendStoreResult(b *testing.B) {
	for _, rows := range []int{0, 5000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			ctx := context.Background()
			srv, err := StartMySQL(ctx, "celery_bench")
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			o := backends.DefaultOptions
			o.IDPrefix = "bench-"
			be, err := backends.Open(ctx, srv.URL, o)
			if err != nil {
				b.Fatal(err)
			}
			defer be.Close()
			if err := be.Prepare(ctx); err != nil {
				b.Fatal(err)
			}
			if rows > 0 {
				filler, ok := be.(backends.ExpiredCleaner)
				if !ok {
					b.Fatal("the mysql backend cannot fill rows")
				}
				if n, err := filler.FillExpired(ctx, "bench-fill-", rows, time.Now().Add(-48*time.Hour)); err != nil || n != int64(rows) {
					b.Fatalf("FillExpired: %d rows, %v", n, err)
				}
			}
			w, err := be.NewWorker(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			ms := make([]backends.TaskMeta, b.N)
			for i := range ms {
				ms[i] = backends.TaskMeta{TaskID: fmt.Sprintf("bench-%08d-0000-4000-8000-000000000000", i),
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
