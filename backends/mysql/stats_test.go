package mysql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/conformance"
)

// statsRun opens the backend at rawURL, prepares it, snapshots the server,
// stores tasks SUCCESS results of a 64-character string through workers
// Worker sessions (round robin, under a fresh id prefix), closes them,
// snapshots again, and deletes what it wrote. It returns the two
// snapshots.
func statsRun(t *testing.T, rawURL string, workers, tasks int) (before, after backends.ServerStats, sent map[string]float64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rnd [2]byte
	rand.Read(rnd[:])
	prefix := "bec1e7e0-" + hex.EncodeToString(rnd[:])
	o := backends.DefaultOptions
	o.IDPrefix = "bec1e7e0"
	b, err := backends.Open(ctx, rawURL, o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	// Count what the sessions send between the snapshots: connections and
	// statements by verb.
	sent = map[string]float64{}
	counting := false
	b.(*backend).hook = func(_ uint64, cmd, stmt string) {
		if !counting {
			return
		}
		if cmd == "Connect" {
			sent["Connections"]++
		}
		if f := strings.Fields(stmt); cmd == "Query" && len(f) > 0 {
			sent["Com_"+strings.ToLower(f[0])]++
		}
	}
	sr, ok := b.(backends.StatsReader)
	if !ok {
		t.Fatal("backend is not a StatsReader")
	}
	t.Cleanup(func() {
		n, err := b.Cleanup(context.Background(), prefix)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if n != int64(tasks) {
			t.Errorf("cleanup deleted %d rows, want %d", n, tasks)
		}
	})
	if before, err = sr.ServerStats(ctx); err != nil {
		t.Fatal(err)
	}
	counting = true
	conformance.StoreResults(ctx, t, b, prefix, workers, tasks)
	counting = false
	if after, err = sr.ServerStats(ctx); err != nil {
		t.Fatal(err)
	}
	return before, after, sent
}

// TestServerStats stores 1000 results through 4 workers on a mariadbd of
// its own and checks what the server says it did against what the
// sessions sent: exactly, since nobody else moves its counters (on the
// shared server the packages testing in parallel would).
func TestServerStats(t *testing.T) {
	srv := conformance.StartMariaDB(t)
	const workers, tasks = 4, 1000
	before, after, sent := statsRun(t, srv.URL("celery_bench_stats"), workers, tasks)
	d := backends.DiffStats(before, after)
	per := backends.PerTask(before, after, tasks)
	t.Logf("diff %v", d)
	t.Logf("per task %v", per)
	get := func(s backends.ServerStats, name string) float64 {
		st, ok := s.Get(name)
		if !ok {
			t.Fatalf("no %s in %v", name, s)
		}
		return st.Value
	}
	if v := get(after, "table_rows"); v < tasks/2 || v > tasks*2 {
		t.Errorf("table_rows %v, want about %d (InnoDB's estimate)", v, tasks)
	}
	if v := get(per, "data+index bytes per row"); v < 64 || v > 4096 {
		t.Errorf("data+index bytes per row %v, want 64..4096 for a 64-byte result", v)
	}
	if _, ok := d.Get(backends.StatServerCPU); !ok && os.Geteuid() == 0 {
		t.Errorf("no %s from a local server, reading /proc as root", backends.StatServerCPU)
	}
	if v := get(per, "bytes received per task"); v < 64 {
		t.Errorf("bytes received per task %v, want at least the 64-byte result", v)
	}
	check := func(name string, want float64) {
		if got := get(d, name); got != want {
			t.Errorf("%s grew by %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"Connections", "Com_select", "Com_insert", "Com_update", "Com_delete", "Com_commit", "Com_rollback"} {
		check(name, sent[name])
	}
	if sent["Com_insert"] != tasks {
		t.Errorf("the sessions sent %v INSERTs, want %d", sent["Com_insert"], tasks)
	}
	if _, ok := d.Get("Innodb_rows_inserted"); ok {
		check("Innodb_rows_inserted", tasks)
	} else {
		check("Rows_read", tasks)      // Celery's SELECT of the task's row
		check("Handler_update", tasks) // and the UPDATE after the INSERT
	}
}
