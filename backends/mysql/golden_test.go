package mysql

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
)

// The golden files testdata/celery52_*.golden are what Celery 5.2.6 with
// SQLAlchemy 1.4.46 and PyMySQL 1.0.2 (Debian 12's packages) sent to
// MariaDB 10.11 for the same operations, captured on the wire with strace
// (the general log trims the newlines around CREATE TABLE) and then
// generalised: {{DB}} is the database, {{ID}} the row id the server handed
// out, {{NOW}} the clock of the INSERT default and of date_done's onupdate,
// {{DONE}} and {{DONE2}} the date_done of the ready states. The
// testdata/derived_celery56_*.golden files are derived from those and from Celery
// 5.6.3's source (see TestGoldenCelery56); so are derived_celery52_*,
// for Options.CallerPool, which has no Celery counterpart to capture.

var (
	goldenNow   = time.Date(2026, 11, 25, 22, 43, 48, 234629000, time.UTC)
	goldenDone  = time.Date(2026, 11, 25, 22, 43, 48, 240841000, time.UTC)
	goldenDone2 = time.Date(2026, 11, 25, 22, 43, 49, 500000000, time.UTC)
)

// golden reads testdata/name.golden with its placeholders filled in.
func golden(t *testing.T, name, db, id string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name+".golden"))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(
		"{{DB}}", db,
		"{{ID}}", id,
		"{{NOW}}", string(backends.AppendSQLDate(nil, goldenNow)),
		"{{DONE}}", string(backends.AppendSQLDate(nil, goldenDone)),
		"{{DONE2}}", string(backends.AppendSQLDate(nil, goldenDone2)),
	).Replace(strings.TrimRight(string(data), "\n"))
	return strings.Split(s, "\n")
}

func checkGolden(t *testing.T, got []string, name, db, id string) {
	t.Helper()
	if d := diffLines(got, golden(t, name, db, id)); d != "" {
		t.Errorf("%s: %s", name, d)
	}
}

func success(id string, result any) *backends.TaskMeta {
	return &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: result, DateDone: goldenDone}
}

func meta(id string, st backends.State, result any) *backends.TaskMeta {
	m := &backends.TaskMeta{TaskID: id, Status: st, Result: result}
	if st.Ready() {
		m.DateDone = goldenDone
	}
	return m
}

var (
	startedResult  = py.Dict{{Key: "pid", Value: 27066}, {Key: "hostname", Value: "w2@vm"}}
	progressResult = py.Dict{{Key: "done", Value: 1}, {Key: "total", Value: 2}}
	addRequest     = &backends.Extended{Name: "tasks.add", Args: []any{2, 3}, Kwargs: py.Dict{},
		Worker: "w2@vm", Retries: 0, Queue: "celery"}
	failureTraceback = "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nValueError: boom!\n"
)

// storeAll runs ms through a new worker session (a new prefork child) and
// returns what it sent, its closing COM_QUIT left out.
func storeAll(t *testing.T, b *backend, rec *recorder, ms ...*backends.TaskMeta) []string {
	t.Helper()
	ctx := context.Background()
	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	for _, m := range ms {
		if err := w.StoreResult(ctx, m); err != nil {
			t.Fatalf("StoreResult(%s %s): %v", m.TaskID, m.Status, err)
		}
	}
	got := rec.take()
	w.Close()
	rec.take()
	return got
}

// rowID returns the id of task id's row.
func rowID(t *testing.T, db, id string) string {
	return queryString(t, db, "SELECT id FROM celery_taskmeta WHERE task_id = '"+id+"'")
}

// TestGoldenCelery52 replays the captured Celery 5.2.6 sessions in the
// order they were captured, starting from an empty database.
func TestGoldenCelery52(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	adminExec(t, "CREATE DATABASE `"+db+"`")
	o := testOptions(backends.Celery52)
	b := openTest(t, db, o)
	if !b.dialect.mariadb || !b.dialect.sequences {
		t.Skipf("the 5.2 goldens were captured on MariaDB >= 10.3; the server is %s", b.server)
	}
	b.now = func() time.Time { return goldenNow }
	rec := record(b)
	ox := o
	ox.ResultExtended = true
	bx := openTest(t, db, ox)
	bx.now = b.now
	bx.hook = rec.hook

	// A worker's first task on an empty database: create_all creates the
	// tables, then §2.1's new SUCCESS row.
	got := storeAll(t, b, rec, success("g-success", 5))
	checkGolden(t, got, "celery52_store_success_createall", db, rowID(t, db, "g-success"))

	// track_started: STARTED, then SUCCESS updating the changed columns (§2.2).
	got = storeAll(t, b, rec, meta("g-started", backends.Started, startedResult), success("g-started", 5))
	checkGolden(t, got, "celery52_store_started", db, rowID(t, db, "g-started"))

	// FAILURE with a traceback (§2.3): the exception dict json callers store.
	f := success("g-failure", py.Exception("builtins", "ValueError", "boom!"))
	f.Status, f.Traceback = backends.Failure, failureTraceback
	got = storeAll(t, b, rec, f)
	checkGolden(t, got, "celery52_store_failure", db, rowID(t, db, "g-failure"))

	// update_state PROGRESS, then SUCCESS (§2.4).
	got = storeAll(t, b, rec, meta("g-progress", "PROGRESS", progressResult), success("g-progress", "ok"))
	checkGolden(t, got, "celery52_store_progress", db, rowID(t, db, "g-progress"))

	// date_done's onupdate: STARTED→PROGRESS sets it without being asked;
	// an unchanged PROGRESS then resets it to NULL.
	got = storeAll(t, b, rec,
		meta("g-progress2", backends.Started, py.Dict{{Key: "pid", Value: 1}, {Key: "hostname", Value: "h"}}),
		meta("g-progress2", "PROGRESS", progressResult),
		meta("g-progress2", "PROGRESS", progressResult),
		success("g-progress2", "ok"))
	checkGolden(t, got, "celery52_store_progress2", db, rowID(t, db, "g-progress2"))

	// The same SUCCESS twice: only date_done changes.
	again := success("g-same", 5)
	again.DateDone = goldenDone2
	got = storeAll(t, b, rec, success("g-same", 5), again)
	checkGolden(t, got, "celery52_store_same", db, rowID(t, db, "g-same"))

	// Every byte PyMySQL escapes, in a bytes result and a str traceback.
	e := success("g-escape", []byte("\x00\\\n\r\x1a\"'\x80\xff\xc3\xa9"))
	e.Traceback = "a'b\"c\\d\ne\rf\x00g\x1ah \xc3\xa9"
	got = storeAll(t, b, rec, e)
	checkGolden(t, got, "celery52_store_escape", db, rowID(t, db, "g-escape"))

	// result_extended: 12 columns read and inserted, the request's fields
	// set by the first UPDATE and left out of later ones.
	x := success("g-success-ext", 5)
	x.Extended = addRequest
	got = storeAll(t, bx, rec, x)
	checkGolden(t, got, "celery52_store_extended", db, rowID(t, db, "g-success-ext"))
	xs := meta("g-started-ext", backends.Started, startedResult)
	xs.Extended = addRequest
	x2 := success("g-started-ext", 5)
	x2.Extended = addRequest
	got = storeAll(t, bx, rec, xs, x2)
	checkGolden(t, got, "celery52_store_extended_started", db, rowID(t, db, "g-started-ext"))

	// A caller process's first two get_task_meta: the first makes a
	// connection for create_all and one for the poll, on one Engine; the
	// second is a new Engine, probes included (§2.5, §5 row D).
	ctx := context.Background()
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.GetTaskMeta(ctx, "g-success")
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != backends.Success || m.Result != int64(5) || !m.DateDone.Equal(goldenDone.Truncate(time.Second)) {
		t.Errorf("GetTaskMeta(g-success) = %+v, want SUCCESS 5 done at %v", m, goldenDone.Truncate(time.Second))
	}
	if m, err = c.GetTaskMeta(ctx, "g-missing"); err != nil || m.Status != backends.Pending {
		t.Errorf("GetTaskMeta(g-missing) = %+v, %v; want PENDING", m, err)
	}
	c.Close()
	checkGolden(t, rec.take(), "celery52_caller_poll", db, "")

	// forget as a caller process's first operation (§2.6).
	c, err = b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Forget(ctx, "g-success"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	checkGolden(t, rec.take(), "celery52_caller_forget", db, "")
	if got := rowID(t, db, "g-success"); got != "" {
		t.Errorf("the forgotten row is still there (id %s)", got)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/derived_*.golden from what the code sends (the celery52_* files are captures of real Celery and are never rewritten)")

// checkDerived compares got with a derived golden file, or rewrites it
// with -update.
func checkDerived(t *testing.T, got []string, name, db, id string) {
	t.Helper()
	if *update {
		s := strings.Join(got, "\n") + "\n"
		s = strings.ReplaceAll(s, db, "{{DB}}")
		s = strings.ReplaceAll(s, string(backends.AppendSQLDate(nil, goldenNow)), "{{NOW}}")
		s = strings.ReplaceAll(s, string(backends.AppendSQLDate(nil, goldenDone)), "{{DONE}}")
		if id != "" {
			s = strings.ReplaceAll(s, "VALUES ("+id+", ", "VALUES ({{ID}}, ")
			s = strings.ReplaceAll(s, "celery_taskmeta.id = "+id+"\"", "celery_taskmeta.id = {{ID}}\"")
		}
		if err := os.WriteFile(filepath.Join("testdata", name+".golden"), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	checkGolden(t, got, name, db, id)
}

// TestGoldenCelery56 checks what changes with Celery 5.6.3, from its
// source (not captured: Debian ships 5.2.6):
//   - tables are created when the backend is set up
//     (database_create_tables_at_setup), by a process that is not a forked
//     child, so on a NullPool connection of its own, with the date_done
//     indexes (index=True);
//   - a prefork child's Engine has pool_pre_ping, so every checkout but the
//     first of a fresh connection sends COM_PING (checked against Celery
//     5.2.6 run with the same engine options by hand);
//   - date_done is timezone-aware, so it never compares equal to the
//     stored naive value and every ready-state UPDATE carries it;
//   - a caller still makes a new Engine per operation, probes included.
func TestGoldenCelery56(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	adminExec(t, "CREATE DATABASE `"+db+"`")
	o := testOptions(backends.Celery56)
	b := openTest(t, db, o)
	if !b.dialect.mariadb || !b.dialect.sequences {
		t.Skipf("the goldens are for MariaDB >= 10.3; the server is %s", b.server)
	}
	b.now = func() time.Time { return goldenNow }
	rec := record(b)
	ctx := context.Background()

	got := storeAll(t, b, rec, meta("g-started", backends.Started, startedResult), success("g-started", 5), success("g-started", 5))
	checkDerived(t, got, "derived_celery56_worker_createall", db, rowID(t, db, "g-started"))

	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"g-started", "g-missing"} {
		if _, err := c.GetTaskMeta(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Forget(ctx, "g-started"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	checkDerived(t, rec.take(), "derived_celery56_caller", db, "")

	// Options.CallerPool: the caller keeps one pooled connection.
	op := o
	op.CallerPool = true
	bp := openTest(t, db, op)
	bp.hook = rec.hook
	c, err = bp.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"g-started", "g-missing"} {
		if _, err := c.GetTaskMeta(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	checkDerived(t, rec.take(), "derived_celery56_caller_pool", db, "")
}

// TestGoldenCallerPool52 checks Options.CallerPool with Celery 5.2: the
// probes once, create_all at the first poll on the pooled connection, no
// COM_PING.
func TestGoldenCallerPool52(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	o := testOptions(backends.Celery52)
	o.CallerPool = true
	b := openTest(t, db, o)
	if err := b.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := record(b)
	ctx := context.Background()
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"g-1", "g-2"} {
		if _, err := c.GetTaskMeta(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	checkDerived(t, rec.take(), "derived_celery52_caller_pool", db, "")
}
