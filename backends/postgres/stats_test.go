package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// TestServerStats takes snapshots around stores of new results and checks
// that the server's own figures moved: rows inserted, WAL, sizes.
func TestServerStats(t *testing.T) {
	b, _ := openTest(t, backends.DefaultOptions)
	b.hook = nil
	ctx := context.Background()
	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	before, err := b.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("pgstats-%d-%d", time.Now().UnixNano(), i)
		if err := w.StoreResult(ctx, &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close() // its statistics reach pg_stat_database at exit
	time.Sleep(200 * time.Millisecond)
	after, err := b.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := backends.DiffStats(before, after)
	for _, name := range []string{"tup_inserted", "wal_bytes", "xact_commit"} {
		s, ok := d.Get(name)
		if !ok || s.Value < n {
			t.Errorf("%s moved by %v (present %v), want at least %d", name, s.Value, ok, n)
		}
	}
	for _, name := range []string{"table_bytes", "n_live_tup", "n_dead_tup"} {
		if _, ok := after.Get(name); !ok {
			t.Errorf("%s missing", name)
		}
	}
	if _, ok := after.Get(backends.StatServerCPU); !ok {
		t.Logf("server CPU not readable here")
	}
}
