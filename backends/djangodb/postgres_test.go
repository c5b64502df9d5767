package djangodb

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// TestPostgresStatements checks the statements bench sends on PostgreSQL,
// per connection, against the text django-celery-results 2.4 on Django
// 3.2 and psycopg2 sends for the same operations, as captured in
// ../shared/reference/celery-django-db-backend.md §2–§3 (the live
// comparison with Django itself is scripts/interop's TestDjangoTraffic).
// Primary keys are replaced by N; the clock is fixed.
func TestPostgresStatements(t *testing.T) {
	b := openTest(t, testPGURL, backends.DefaultOptions)
	t0 := time.Date(2026, 12, 1, 22, 8, 10, 538885000, time.UTC)
	b.now = func() time.Time { return t0 }
	type event struct {
		conn uint64
		text string
	}
	var got []event
	b.hook = func(conn uint64, cmd, stmt string) {
		if cmd != "Query" {
			stmt = "[" + cmd + "]"
		}
		got = append(got, event{conn, stmt})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const id, gid = "bec1d0c0-0000-4000-8000-000000000001", "bec1d0c0-0000-4000-8000-0000000000g1"
	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.StoreResult(ctx, &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 5, Children: []string{}}))
	must(backends.EndTask(ctx, w))
	if m, err := c.GetTaskMeta(ctx, id); err != nil || m.Status != backends.Success || m.Result != int64(5) || !m.DateDone.Equal(t0) {
		t.Fatalf("GetTaskMeta = %+v, %v", m, err)
	}
	must(c.Forget(ctx, id))
	gs := c.(backends.GroupSaver)
	must(gs.SaveGroup(ctx, gid, []string{id}))
	if ids, err := gs.RestoreGroup(ctx, gid); err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("RestoreGroup = %v, %v", ids, err)
	}
	must(gs.DeleteGroup(ctx, gid))
	_, err = b.CleanupExpired(ctx, t0.Add(-24*time.Hour))
	must(err)

	T := `"django_celery_results_taskresult"`
	sel := `SELECT ` + T + `."id", ` + T + `."task_id", ` + T + `."periodic_task_name", ` + T + `."task_name", ` + T + `."task_args", ` + T + `."task_kwargs", ` + T + `."status", ` + T + `."worker", ` + T + `."content_type", ` + T + `."content_encoding", ` + T + `."result", ` + T + `."date_created", ` + T + `."date_done", ` + T + `."traceback", ` + T + `."meta" FROM ` + T + ` WHERE ` + T + `."task_id" = '` + id + `' LIMIT 21`
	G := `"django_celery_results_groupresult"`
	selG := `SELECT ` + G + `."id", ` + G + `."group_id", ` + G + `."date_created", ` + G + `."date_done", ` + G + `."content_type", ` + G + `."content_encoding", ` + G + `."result" FROM ` + G + ` WHERE ` + G + `."group_id" = '` + gid + `' LIMIT 21`
	date := `'2026-12-01T22:08:10.538885+00:00'::timestamptz`
	want := [][]string{
		{ // worker task
			"[Connect]", "SET TIME ZONE 'UTC'", sel, "BEGIN",
			`INSERT INTO ` + T + ` ("task_id", "periodic_task_name", "task_name", "task_args", "task_kwargs", "status", "worker", "content_type", "content_encoding", "result", "date_created", "date_done", "traceback", "meta") VALUES ('` + id + `', NULL, NULL, NULL, NULL, 'SUCCESS', NULL, 'application/json', 'utf-8', '5', ` + date + `, ` + date + `, NULL, '{"children": []}') RETURNING ` + T + `."id"`,
			"COMMIT", "[Terminate]",
		},
		{ // caller: one connection
			"[Connect]", "SET TIME ZONE 'UTC'", sel,
			sel, `DELETE FROM ` + T + ` WHERE ` + T + `."id" IN (N)`,
			selG, "BEGIN",
			`INSERT INTO ` + G + ` ("group_id", "date_created", "date_done", "content_type", "content_encoding", "result") VALUES ('` + gid + `', ` + date + `, ` + date + `, 'application/json', 'utf-8', '[["` + gid + `", null], [[["` + id + `", null], null]]]') RETURNING ` + G + `."id"`,
			"COMMIT", selG, selG, `DELETE FROM ` + G + ` WHERE ` + G + `."id" IN (N)`,
		},
		{ // celery.backend_cleanup's task connection
			"[Connect]", "SET TIME ZONE 'UTC'",
			"BEGIN", `DELETE FROM ` + T + ` WHERE ` + T + `."date_done" < '2026-11-30T22:08:10.538885+00:00'::timestamptz`, "COMMIT",
			"BEGIN", `DELETE FROM ` + G + ` WHERE ` + G + `."date_done" < '2026-11-30T22:08:10.538885+00:00'::timestamptz`, "COMMIT",
			"[Terminate]",
		},
	}
	pk := regexp.MustCompile(`IN \(\d+\)`)
	var order []uint64
	per := map[uint64][]string{}
	for _, e := range got {
		if _, ok := per[e.conn]; !ok {
			order = append(order, e.conn)
		}
		per[e.conn] = append(per[e.conn], pk.ReplaceAllString(e.text, "IN (N)"))
	}
	if len(order) != len(want) {
		t.Fatalf("%d connections, want %d: %v", len(order), len(want), per)
	}
	for i, conn := range order {
		g, w := strings.Join(per[conn], "\n"), strings.Join(want[i], "\n")
		if g != w {
			t.Errorf("connection %d:\n--- bench\n%s\n--- django-celery-results\n%s", i+1, g, w)
		}
	}
}
