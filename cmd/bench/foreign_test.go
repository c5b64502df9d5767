package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// TestCleanupNeverTouchesForeignResults puts one result bench did not
// write, done long ago, into a MariaDB database of bench's, and checks that
// the cleanup workload (whose DELETE, like Celery's, takes every old row)
// refuses the target with and without --force, saying why, while a
// roundtrip run with --force runs beside the row; the row survives both.
func TestCleanupNeverTouchesForeignResults(t *testing.T) {
	db, err := sql.Open("mysql", "root@tcp(127.0.0.1:3306)/?timeout=2s")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = db.PingContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("MariaDB at 127.0.0.1:3306 is required (BENCH_REQUIRE_SERVERS=1): %v", err)
		}
		t.Skipf("no MariaDB at 127.0.0.1:3306 (%v); BENCH_REQUIRE_SERVERS=1 makes this a failure", err)
	}
	defer db.Close()
	name := fmt.Sprintf("celery_bench_test_foreign_%d", time.Now().UnixNano()%1e9)
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS `" + name + "`") })
	url := "db+mysql://root@127.0.0.1:3306/" + name
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		args = append([]string{"run", "--backend", url, "-d", "300ms", "--warmup", "0", "-c", "2", "--workers", "2",
			"--progress", "0", "--expired-results", "50", "--cleanup-after", "0"}, args...)
		code := bench(context.Background(), args, &stdout, &stderr)
		return code, stderr.String()
	}
	// A first run creates Celery's tables (and leaves no row behind).
	if code, stderr := run("-w", "cleanup"); code != exitOK {
		t.Fatalf("cleanup on an empty database: exit %d: %s", code, stderr)
	}
	if _, err := db.Exec("INSERT INTO `" + name + "`.celery_taskmeta (id, task_id, status, result, date_done, traceback) " +
		"VALUES (424242, 'foreign-task-1', 'SUCCESS', NULL, '2000-01-01 00:00:00', NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, force := range [][]string{nil, {"--force"}} {
		code, stderr := run(append([]string{"-w", "cleanup"}, force...)...)
		if code != exitUsage || !strings.Contains(stderr, "backend_cleanup deletes every result older than result_expires") ||
			!strings.Contains(stderr, "--force or not") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("cleanup %v on a database holding a foreign result: exit %d, stderr %q; want exit 2 and one line saying why", force, code, stderr)
		}
	}
	if code, stderr := run("-w", "roundtrip", "--force"); code != exitOK {
		t.Errorf("roundtrip --force beside a foreign result: exit %d: %s", code, stderr)
	}
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM `" + name + "`.celery_taskmeta WHERE task_id = 'foreign-task-1'").Scan(&n); err != nil || n != 1 {
		t.Errorf("the foreign result: %d rows, %v; want it untouched", n, err)
	}
	if err := db.QueryRow("SELECT COUNT(*) FROM `" + name + "`.celery_taskmeta").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows left: %d, %v; want only the foreign one (bench cleans up its own)", n, err)
	}
}
