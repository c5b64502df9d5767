package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/celery-bench/bench/backends"
)

// TestPrepare checks that Prepare creates the database and Celery's tables,
// refuses foreign rows (ids outside IDPrefix, compared case-sensitively)
// unless Force, and that Cleanup deletes its prefix only, in batches.
func TestPrepare(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	o := testOptions(backends.Celery56)
	o.IDPrefix = "bench_"
	b := openTest(t, db, o)
	if err := b.Prepare(ctx); err != nil {
		t.Fatalf("Prepare on a new database: %v", err)
	}
	if got := queryString(t, db, "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = '"+db+"' AND index_name LIKE 'ix_%_date_done'"); got != "2" {
		t.Errorf("%s date_done indexes with Celery 5.6, want 2", got)
	}
	if err := b.Prepare(ctx); err != nil {
		t.Fatalf("Prepare again: %v", err)
	}

	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"bench_1", "bench_2", "bench_3", "benchX4", "BENCH_5", "other-6"} {
		if err := w.StoreResult(ctx, success(id, 1)); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	adminExec(t, "INSERT INTO `"+db+"`.celery_tasksetmeta (id, taskset_id) VALUES (1, 'grp-1'), (2, 'bench_g')")

	err = b.Prepare(ctx)
	if !errors.Is(err, backends.ErrForeignData) {
		t.Fatalf("Prepare with foreign rows = %v, want ErrForeignData", err)
	}
	for _, want := range []string{"4 rows", "celery_taskmeta 3", "celery_tasksetmeta 1", `"bench_"`, "--force"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Prepare error %q does not say %q", err, want)
		}
	}
	of := o
	of.Force = true
	if err := openTest(t, db, of).Prepare(ctx); err != nil {
		t.Errorf("Prepare with Force: %v", err)
	}

	n, err := b.Cleanup(ctx, "bench_")
	if err != nil || n != 4 {
		t.Fatalf("Cleanup = %d, %v; want 4 (3 results, 1 group)", n, err)
	}
	left := queryString(t, db, "SELECT GROUP_CONCAT(task_id ORDER BY BINARY task_id) FROM celery_taskmeta")
	if left != "BENCH_5,benchX4,other-6" {
		t.Errorf("left after Cleanup: %s", left)
	}
	if _, err := b.Cleanup(ctx, ""); err == nil {
		t.Error("Cleanup with an empty prefix succeeded")
	}
}

// TestCleanupBatches checks that Cleanup loops until a batch comes back
// short.
func TestCleanupBatches(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	b := openPrepared(t, db, testOptions(backends.Celery52))
	if !b.dialect.mariadb {
		t.Skip("fills the table from MariaDB's sequence engine")
	}
	const n = cleanupBatch + 5
	adminExec(t, "USE `"+db+"`", "INSERT INTO `"+db+"`.celery_taskmeta (id, task_id, status) SELECT seq, CONCAT('g-', seq), 'SUCCESS' FROM seq_1_to_10005")
	rec := record(b)
	got, err := b.Cleanup(ctx, "g-")
	if err != nil || got != n {
		t.Fatalf("Cleanup = %d, %v; want %d", got, err, n)
	}
	deletes := 0
	for _, l := range rec.take() {
		if strings.Contains(l, "DELETE FROM celery_taskmeta") {
			deletes++
		}
	}
	if deletes != 2 {
		t.Errorf("%d DELETEs of celery_taskmeta, want 2", deletes)
	}
}

// TestPrepareRejectsOtherSchema checks that a celery_taskmeta that is not
// Celery's (django-celery's, say) is refused.
func TestPrepareRejectsOtherSchema(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	adminExec(t, "CREATE DATABASE `"+db+"`",
		"CREATE TABLE `"+db+"`.celery_taskmeta (id INT PRIMARY KEY, task_id VARCHAR(255), status VARCHAR(50), result LONGTEXT, date_done DATETIME, traceback LONGTEXT, hidden BOOL, meta LONGTEXT)")
	b := openTest(t, db, testOptions(backends.Celery52))
	err := b.Prepare(context.Background())
	if err == nil || !strings.Contains(err.Error(), "is not Celery's") {
		t.Errorf("Prepare = %v, want a refusal", err)
	}
}
