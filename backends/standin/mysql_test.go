package standin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// realMySQLAddr is where a developer's or CI's MariaDB/MySQL listens. Tests
// that compare the embedded server with it skip when nothing answers there.
const realMySQLAddr = "127.0.0.1:3306"

// mysqlTarget is a server the Celery statements are replayed on.
type mysqlTarget struct {
	name string
	addr string
	db   string
}

// startEmbeddedMySQL starts the embedded server for a test.
func startEmbeddedMySQL(t *testing.T, db string) mysqlTarget {
	t.Helper()
	srv, err := StartMySQL(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return mysqlTarget{name: "embedded", addr: srv.Addr, db: db}
}

// realMySQL returns a scratch database on the local MariaDB/MySQL, dropped
// when t ends, or ok == false if none answers.
func realMySQL(t testing.TB) (tg mysqlTarget, ok bool) {
	t.Helper()
	ctx := context.Background()
	if !Reachable(ctx, realMySQLAddr, time.Second) {
		return tg, false
	}
	c, err := dialSQL(ctx, realMySQLAddr, "")
	if err != nil {
		t.Logf("%s answers but refuses root without a password: %v", realMySQLAddr, err)
		return tg, false
	}
	db := fmt.Sprintf("bench_embedded_test_%d", time.Now().UnixNano())
	c.mustRun(t, ctx, "CREATE DATABASE "+db)
	t.Cleanup(func() {
		c.mustRun(t, ctx, "DROP DATABASE "+db)
		c.Close()
	})
	return mysqlTarget{name: "real", addr: realMySQLAddr, db: db}, true
}

// A replayStep is one statement of the replay and what it returned.
type replayStep struct {
	conn string // which simulated connection sent it
	sql  string
	res  sqlResult
	// own marks answers that legitimately differ between servers (version,
	// sql_mode, …); they are checked on the embedded server alone.
	own bool
}

// replay runs Celery's statement sequences against one server.
type replay struct {
	t     *testing.T
	ctx   context.Context
	tg    mysqlTarget
	steps []replayStep
}

// connect opens a connection as a Celery process does (NullPool: one per
// operation) and sends the per-connection and per-Engine setup of §2.0.
func (r *replay) connect(label string) *sqlConn {
	r.t.Helper()
	c, err := dialSQL(r.ctx, r.tg.addr, r.tg.db)
	if err != nil {
		r.t.Fatalf("%s: connect %s: %v", r.tg.name, label, err)
	}
	r.do(c, label, "SET AUTOCOMMIT = 0")
	r.do(c, label, "SET NAMES utf8mb4")
	r.own(c, label, "SELECT VERSION()")
	r.do(c, label, "SELECT DATABASE()")
	r.do(c, label, "SELECT @@tx_isolation")
	// SQLAlchemy asks MySQL ≥ 5.7.20 for transaction_isolation instead;
	// MariaDB < 11.1 does not know it.
	r.own(c, label, "SELECT @@transaction_isolation")
	r.own(c, label, "SELECT @@sql_mode")
	r.do(c, label, "SELECT @@lower_case_table_names")
	r.do(c, label, "ROLLBACK")
	return c
}

func (r *replay) do(c *sqlConn, label, query string) sqlResult {
	return r.record(c, label, query, false)
}

func (r *replay) own(c *sqlConn, label, query string) sqlResult {
	return r.record(c, label, query, true)
}

func (r *replay) record(c *sqlConn, label, query string, own bool) sqlResult {
	query = strings.ReplaceAll(query, "{db}", r.tg.db)
	res := c.run(r.ctx, query)
	for _, row := range res.Rows {
		for i := range row {
			row[i] = strings.ReplaceAll(row[i], r.tg.db, "{db}")
		}
	}
	r.steps = append(r.steps, replayStep{conn: label, sql: query, res: res, own: own})
	return res
}

func (r *replay) close(c *sqlConn, label string) {
	r.t.Helper()
	if err := c.Close(); err != nil {
		r.t.Errorf("%s: close %s: %v", r.tg.name, label, err)
	}
}

// The statements, verbatim from /work/shared/reference/celery-db-backend.md
// (§1.1 with the MySQL dialect's AUTO_INCREMENT, §2).
const (
	countTaskmeta     = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{db}' AND table_name = 'celery_taskmeta'"
	countTasksetmeta  = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{db}' AND table_name = 'celery_tasksetmeta'"
	createTaskmeta    = "CREATE TABLE celery_taskmeta (\n\tid INTEGER NOT NULL AUTO_INCREMENT, \n\ttask_id VARCHAR(155), \n\tstatus VARCHAR(50), \n\tresult BLOB, \n\tdate_done DATETIME, \n\ttraceback TEXT, \n\tname VARCHAR(155), \n\targs BLOB, \n\tkwargs BLOB, \n\tworker VARCHAR(155), \n\tretries INTEGER, \n\tqueue VARCHAR(155), \n\tPRIMARY KEY (id), \n\tUNIQUE (task_id)\n)"
	createTasksetmeta = "CREATE TABLE celery_tasksetmeta (\n\tid INTEGER NOT NULL AUTO_INCREMENT, \n\ttaskset_id VARCHAR(155), \n\tresult BLOB, \n\tdate_done DATETIME, \n\tPRIMARY KEY (id), \n\tUNIQUE (taskset_id)\n)"
	selectTask        = "SELECT celery_taskmeta.id AS celery_taskmeta_id, celery_taskmeta.task_id AS celery_taskmeta_task_id, celery_taskmeta.status AS celery_taskmeta_status, celery_taskmeta.result AS celery_taskmeta_result, celery_taskmeta.date_done AS celery_taskmeta_date_done, celery_taskmeta.traceback AS celery_taskmeta_traceback \nFROM celery_taskmeta \nWHERE celery_taskmeta.task_id = '%s'"
	selectGroup       = "SELECT celery_tasksetmeta.id AS celery_tasksetmeta_id, celery_tasksetmeta.taskset_id AS celery_tasksetmeta_taskset_id, celery_tasksetmeta.result AS celery_tasksetmeta_result, celery_tasksetmeta.date_done AS celery_tasksetmeta_date_done \nFROM celery_tasksetmeta \nWHERE celery_tasksetmeta.taskset_id = '%s' \n LIMIT 1"
	insertPending     = "INSERT INTO celery_taskmeta (task_id, status, result, date_done, traceback) VALUES ('%s', 'PENDING', NULL, '%s', NULL)"
	insertPendingExt  = "INSERT INTO celery_taskmeta (task_id, status, result, date_done, traceback, name, args, kwargs, worker, retries, queue) VALUES ('%s', 'PENDING', NULL, '%s', NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
	updateReady       = "UPDATE celery_taskmeta SET status='%s', result=%s, date_done='%s', traceback=%s WHERE celery_taskmeta.id = %d"
)

// Task ids and payloads of the replay.
const (
	idPrefix = "bench-embedded-"
	task1    = idPrefix + "2ae0ce77-0371-46a8-b988-0a2c24a41488"
	task2    = idPrefix + "78252b6e-5a4e-4f0b-9d3c-6c1b7e0f2a11"
	task3    = idPrefix + "c0ffee00-1111-4222-8333-944445555666"
	group1   = idPrefix + "d9d2e6fc-0000-4000-8000-000000000001"
)

var (
	pickle5  = []byte("\x80\x05K\x05.") // pickle.dumps(5, 5)
	allBytes = func() []byte {
		b := make([]byte, 256)
		for i := range b {
			b[i] = byte(i)
		}
		return b
	}()
	startedPk = []byte("\x80\x05\x95!\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x03pid\x94M\xba i\x8c\x08hostname\x94\x8c\x05w2@vm\x94u.")
	traceback = "'Traceback (most recent call last):\\n  File \"/usr/lib/python3/dist-packages/celery/app/trace.py\", line 451, in trace_task\\nValueError: boom!\\n'"
)

// celeryReplay sends, on tg, what a Celery 5.2.6 worker (prefork child,
// one long-lived connection) and its callers (a new connection per poll)
// send over a task's life, plus forget, groups and cleanup.
func celeryReplay(t *testing.T, tg mysqlTarget) []replayStep {
	r := &replay{t: t, ctx: context.Background(), tg: tg}

	// The database bench prepares (the embedded one exists already).
	admin, err := dialSQL(r.ctx, tg.addr, "")
	if err != nil {
		t.Fatalf("%s: %v", tg.name, err)
	}
	r.own(admin, "admin", "CREATE DATABASE IF NOT EXISTS {db}")
	r.close(admin, "admin")

	// A fresh caller process: dialect init, then create_all (§1.1, §2.0).
	a := r.connect("create_all")
	r.do(a, "create_all", countTaskmeta)
	r.do(a, "create_all", countTasksetmeta)
	r.do(a, "create_all", createTaskmeta)
	r.do(a, "create_all", createTasksetmeta)
	r.do(a, "create_all", "COMMIT")
	r.do(a, "create_all", countTaskmeta)
	r.do(a, "create_all", "ROLLBACK")
	r.close(a, "create_all")

	// A caller polls before the worker has stored anything.
	poll := func(label, id string) {
		c := r.connect(label)
		r.do(c, label, fmt.Sprintf(selectTask, id))
		r.do(c, label, "ROLLBACK")
		r.do(c, label, "ROLLBACK")
		r.close(c, label)
	}
	poll("poll-pending", task1)

	// The worker child: one connection, pool_pre_ping (Celery 5.6.3).
	w := r.connect("worker")
	if err := w.Ping(r.ctx); err != nil {
		t.Errorf("%s: COM_PING: %v", tg.name, err)
	}
	// §2.1: store_result of a new row, SUCCESS 5.
	r.do(w, "worker", fmt.Sprintf(selectTask, task1))
	ins := r.do(w, "worker", fmt.Sprintf(insertPending, task1, "2026-11-25 22:43:48.234629"))
	r.do(w, "worker", fmt.Sprintf(updateReady, "SUCCESS", pymysqlEscape(pickle5), "2026-11-25 22:43:48.240841", "NULL", ins.InsertID))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")

	// §2.3: FAILURE, with every byte value 0x00–0xff in the BLOB.
	r.do(w, "worker", fmt.Sprintf(selectTask, task2))
	ins = r.do(w, "worker", fmt.Sprintf(insertPending, task2, "2026-11-25 22:44:01.5"))
	r.do(w, "worker", fmt.Sprintf(updateReady, "FAILURE", pymysqlEscape(allBytes), "2026-11-25 22:44:01.000123", traceback, ins.InsertID))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")

	// §2.2: track_started with result_extended: STARTED, then SUCCESS
	// updating only the changed columns.
	r.do(w, "worker", fmt.Sprintf(selectTask, task3))
	ins = r.do(w, "worker", fmt.Sprintf(insertPendingExt, task3, "2026-11-25 22:46:20.1"))
	r.do(w, "worker", fmt.Sprintf("UPDATE celery_taskmeta SET status='STARTED', result=%s, date_done=NULL, traceback=NULL, name='tasks.add', args='[2, 3]', kwargs='{}', worker='w2@vm', retries=0, queue='celery' WHERE celery_taskmeta.id = %d", pymysqlEscape(startedPk), ins.InsertID))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")
	r.do(w, "worker", fmt.Sprintf(selectTask, task3))
	r.do(w, "worker", fmt.Sprintf("UPDATE celery_taskmeta SET status='SUCCESS', result=%s, date_done='2026-11-25 22:46:20.394664' WHERE celery_taskmeta.id = %d", pymysqlEscape(pickle5), ins.InsertID))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")

	// DATETIME (fsp 0) with µs ≥ .5: MySQL, and the embedded server, round;
	// MariaDB truncates (§4.1).
	r.do(w, "worker", fmt.Sprintf(insertPending, idPrefix+"rounding", "2026-11-25 22:46:20.694664"))
	r.own(w, "worker", fmt.Sprintf("SELECT date_done FROM celery_taskmeta WHERE task_id = '%s'", idPrefix+"rounding"))
	r.do(w, "worker", fmt.Sprintf("DELETE FROM celery_taskmeta WHERE celery_taskmeta.task_id = '%s'", idPrefix+"rounding"))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")

	// §6.6: a pickle over BLOB's 65,535 bytes fails under strict mode.
	r.do(w, "worker", fmt.Sprintf("INSERT INTO celery_taskmeta (task_id, status, result) VALUES ('%s', 'SUCCESS', %s)", idPrefix+"toolong", pymysqlEscape(make([]byte, 65536))))
	r.do(w, "worker", fmt.Sprintf("INSERT INTO celery_taskmeta (task_id, status, result) VALUES ('%s', 'SUCCESS', %s)", idPrefix+"fits", pymysqlEscape(make([]byte, 65535))))
	r.do(w, "worker", fmt.Sprintf("SELECT LENGTH(result) FROM celery_taskmeta WHERE task_id LIKE '%s%%' ORDER BY task_id", idPrefix+"toolong"))
	r.do(w, "worker", fmt.Sprintf("SELECT LENGTH(result) FROM celery_taskmeta WHERE task_id = '%s'", idPrefix+"fits"))
	r.do(w, "worker", fmt.Sprintf("DELETE FROM celery_taskmeta WHERE celery_taskmeta.task_id = '%s'", idPrefix+"fits"))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")

	// §6.5: a second INSERT of the same task_id fails with 1062.
	r.do(w, "worker", fmt.Sprintf(insertPending, task1, "2026-11-25 22:47:00.000001"))
	r.do(w, "worker", "ROLLBACK")

	// Callers poll each task on a new connection (§2.5).
	poll("poll-1", task1)
	poll("poll-2", task2)
	poll("poll-3", task3)

	// §2.7: GroupResult.save / restore / delete.
	r.do(w, "worker", fmt.Sprintf("INSERT INTO celery_tasksetmeta (taskset_id, result, date_done) VALUES ('%s', %s, '2026-11-25 22:48:00.000002')", group1, pymysqlEscape(allBytes[0x80:])))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")
	g := r.connect("restore")
	r.do(g, "restore", fmt.Sprintf(selectGroup, group1))
	r.do(g, "restore", "ROLLBACK")
	r.do(g, "restore", "ROLLBACK")
	r.close(g, "restore")
	r.do(w, "worker", fmt.Sprintf("DELETE FROM celery_tasksetmeta WHERE celery_tasksetmeta.taskset_id = '%s'", group1))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")

	// §2.6 forget, then the poll that follows finds nothing.
	r.do(w, "worker", fmt.Sprintf("DELETE FROM celery_taskmeta WHERE celery_taskmeta.task_id = '%s'", task1))
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")
	poll("poll-forgotten", task1)

	// §2.9 backend_cleanup, and bench's own cleanup by id prefix.
	r.do(w, "worker", "DELETE FROM celery_taskmeta WHERE celery_taskmeta.date_done < '2026-11-24 22:45:53.302639'")
	r.do(w, "worker", "DELETE FROM celery_tasksetmeta WHERE celery_tasksetmeta.date_done < '2026-11-24 22:45:53.302639'")
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "ROLLBACK")
	r.do(w, "worker", "DELETE FROM celery_taskmeta WHERE task_id LIKE '"+idPrefix+"%' LIMIT 10000")
	r.do(w, "worker", "COMMIT")
	r.do(w, "worker", "SELECT COUNT(*) FROM celery_taskmeta")
	r.do(w, "worker", "ROLLBACK")
	if err := w.Ping(r.ctx); err != nil {
		t.Errorf("%s: COM_PING: %v", tg.name, err)
	}
	r.close(w, "worker")
	return r.steps
}

// TestMySQLCeleryStatements replays Celery's statements on the embedded
// server, checks its answers, and, when a MariaDB/MySQL answers at
// 127.0.0.1:3306, checks that both give the same answers.
func TestMySQLCeleryStatements(t *testing.T) {
	emb := celeryReplay(t, startEmbeddedMySQL(t, "celery_bench"))

	// Every statement but the server-specific ones succeeds…
	for _, s := range emb {
		if s.res.Err != 0 || s.res.ErrText != "" {
			if strings.HasPrefix(s.sql, "INSERT INTO celery_taskmeta") && (s.res.Err == 1062 || s.res.Err == 1406) {
				continue // the duplicate and the oversized BLOB, checked below
			}
			t.Errorf("embedded: %s: %s: %v", s.conn, abbrev(s.sql), s.res)
		}
	}
	// … and answers what Celery expects.
	want := map[string]string{ // first value of the answer
		"SELECT VERSION()":                     fmt.Sprintf("%q", MySQLVersion),
		"SELECT DATABASE()":                    `"{db}"`,
		"SELECT @@tx_isolation":                `"REPEATABLE-READ"`,
		"SELECT @@transaction_isolation":       `"REPEATABLE-READ"`,
		"SELECT @@lower_case_table_names":      "0",
		"SELECT COUNT(*) FROM celery_taskmeta": "0",
	}
	for _, s := range emb {
		if w, ok := want[s.sql]; ok && (len(s.res.Rows) != 1 || s.res.Rows[0][0] != w) {
			t.Errorf("embedded: %s = %v, want %s", s.sql, s.res, w)
		}
	}
	if v := find(emb, "create_all", "SELECT VERSION()").Rows[0][0]; strings.Contains(strings.ToLower(v), "mariadb") {
		t.Errorf("VERSION() = %s: SQLAlchemy would pick the MariaDB dialect (sequences)", v)
	}
	counts := findAll(emb, "create_all", strings.ReplaceAll(countTaskmeta, "{db}", "celery_bench"))
	if len(counts) != 2 || counts[0].Rows[0][0] != "0" || counts[1].Rows[0][0] != "1" {
		t.Errorf("information_schema check before/after CREATE TABLE = %v, want 0 then 1", counts)
	}
	checkRow := func(label, id, status string, result []byte) {
		t.Helper()
		got := find(emb, label, fmt.Sprintf(selectTask, id))
		if len(got.Rows) != 1 || got.Rows[0][2] != fmt.Sprintf("%q", status) || got.Rows[0][3] != fmt.Sprintf("%q", result) {
			t.Errorf("%s: %v, want status %s result %q", label, got, status, result)
		}
	}
	checkRow("poll-1", task1, "SUCCESS", pickle5)
	checkRow("poll-2", task2, "FAILURE", allBytes)
	checkRow("poll-3", task3, "SUCCESS", pickle5)
	if got := find(emb, "poll-pending", fmt.Sprintf(selectTask, task1)); len(got.Rows) != 0 {
		t.Errorf("poll before store: %v, want no row", got)
	}
	if got := find(emb, "poll-forgotten", fmt.Sprintf(selectTask, task1)); len(got.Rows) != 0 {
		t.Errorf("poll after forget: %v, want no row", got)
	}
	if got := find(emb, "worker", fmt.Sprintf("SELECT date_done FROM celery_taskmeta WHERE task_id = '%s'", idPrefix+"rounding")); len(got.Rows) != 1 || got.Rows[0][0] != `"2026-11-25 22:46:21"` {
		t.Errorf("DATETIME from '…20.694664': %v, want 22:46:21 (MySQL rounds)", got)
	}
	for _, s := range emb {
		if strings.Contains(s.sql, "'"+idPrefix+"toolong'") && s.res.Err != 1406 {
			t.Errorf("65,536-byte BLOB: %v, want error 1406 (data too long)", s.res)
		}
	}
	if got := find(emb, "worker", fmt.Sprintf("SELECT LENGTH(result) FROM celery_taskmeta WHERE task_id = '%s'", idPrefix+"fits")); len(got.Rows) != 1 || got.Rows[0][0] != "65535" {
		t.Errorf("65,535-byte BLOB: %v, want it stored whole", got)
	}
	if got := find(emb, "worker", fmt.Sprintf(insertPending, task1, "2026-11-25 22:47:00.000001")); got.Err != 1062 {
		t.Errorf("duplicate task_id: %v, want error 1062", got)
	}
	if got := find(emb, "worker", "DELETE FROM celery_taskmeta WHERE task_id LIKE '"+idPrefix+"%' LIMIT 10000"); got.Affected != 2 {
		t.Errorf("cleanup by prefix: %v, want 2 rows", got)
	}
	if t.Failed() {
		dump(t, "embedded", emb)
	}

	real, ok := realMySQL(t)
	if !ok {
		t.Logf("no MariaDB/MySQL at %s: embedded server checked alone", realMySQLAddr)
		return
	}
	rl := celeryReplay(t, real)
	if len(rl) != len(emb) {
		t.Fatalf("replays differ in length: embedded %d, real %d", len(emb), len(rl))
	}
	same, own := 0, 0
	logged := make(map[string]bool)
	for i, e := range emb {
		r := rl[i]
		if e.own {
			own++
			if !logged[r.sql] {
				logged[r.sql] = true
				t.Logf("server-specific %s\n\tembedded: %v\n\treal:     %v", abbrev(r.sql), e.res, r.res)
			}
			continue
		}
		if !e.res.equal(r.res) {
			t.Errorf("%s %s:\n\tembedded: %v\n\treal:     %v", e.conn, abbrev(r.sql), e.res, r.res)
			continue
		}
		same++
	}
	t.Logf("%d statements answered alike on the embedded server and %s; %d server-specific", same, realMySQLAddr, own)
}

// find returns the result of the last step on conn that sent query (with
// "{db}" already substituted or absent).
func find(steps []replayStep, conn, query string) sqlResult {
	all := findAll(steps, conn, query)
	if len(all) == 0 {
		return sqlResult{ErrText: "statement not in replay"}
	}
	return all[len(all)-1]
}

func findAll(steps []replayStep, conn, query string) []sqlResult {
	var out []sqlResult
	for _, s := range steps {
		if s.conn == conn && s.sql == query {
			out = append(out, s.res)
		}
	}
	return out
}

func dump(t *testing.T, name string, steps []replayStep) {
	t.Helper()
	for _, s := range steps {
		t.Logf("%s %-12s %s → %v", name, s.conn, abbrev(s.sql), s.res)
	}
}

// embeddedConn starts the embedded server with celery_taskmeta created and
// returns a function that opens connections to it.
func embeddedConn(t *testing.T) func() *sqlConn {
	t.Helper()
	tg := startEmbeddedMySQL(t, "celery_bench")
	ctx := context.Background()
	dial := func() *sqlConn {
		t.Helper()
		c, err := dialSQL(ctx, tg.addr, tg.db)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	dial().mustRun(t, ctx, createTaskmeta)
	return dial
}

// TestMySQLTransactions checks the transaction semantics StartMySQL
// documents: ROLLBACK undoes, a failed statement changes nothing, and a
// transaction's writes are seen by no other connection before COMMIT
// (which waits for it).
func TestMySQLTransactions(t *testing.T) {
	ctx := context.Background()
	dial := embeddedConn(t)
	a, b := dial(), dial()
	count := func(c *sqlConn) string {
		t.Helper()
		return c.mustRun(t, ctx, "SELECT COUNT(*) FROM celery_taskmeta").Rows[0][0]
	}

	a.mustRun(t, ctx, "SET AUTOCOMMIT = 0")
	if r := a.mustRun(t, ctx, "SELECT @@autocommit"); r.Rows[0][0] != "0" {
		t.Errorf("@@autocommit after SET AUTOCOMMIT = 0: %v, want 0", r)
	}
	a.mustRun(t, ctx, fmt.Sprintf(insertPending, "t1", "2026-11-25 22:43:48"))
	a.mustRun(t, ctx, "ROLLBACK")
	if n := count(b); n != "0" {
		t.Errorf("after INSERT, ROLLBACK: %s rows, want 0", n)
	}

	// b's read waits for a's open transaction, then sees its COMMIT.
	a.mustRun(t, ctx, fmt.Sprintf(insertPending, "t2", "2026-11-25 22:43:48"))
	read := make(chan sqlResult, 1)
	go func() { read <- b.run(ctx, fmt.Sprintf(selectTask, "t2")) }()
	select {
	case r := <-read:
		t.Fatalf("a read during another connection's open transaction returned at once: %s", r)
	case <-time.After(200 * time.Millisecond):
	}
	a.mustRun(t, ctx, "COMMIT")
	if r := <-read; len(r.Rows) != 1 || r.Rows[0][1] != `"t2"` {
		t.Errorf("read after COMMIT: %s, want the row of t2", r)
	}

	// A multi-row INSERT failing at its second row inserts nothing.
	r := a.run(ctx, "INSERT INTO celery_taskmeta (task_id, status) VALUES ('t3', 'PENDING'), ('T2', 'PENDING')")
	if r.Err != 1062 {
		t.Errorf("INSERT of a duplicate (case-insensitively) task_id: %v, want error 1062", r)
	}
	a.mustRun(t, ctx, "COMMIT")
	if n := count(b); n != "1" {
		t.Errorf("after the failed INSERT: %s rows, want 1 (t3 not kept)", n)
	}

	// UPDATE and DELETE are undone too, unique index included.
	a.mustRun(t, ctx, "UPDATE celery_taskmeta SET status='SUCCESS' WHERE task_id = 't2'")
	a.mustRun(t, ctx, "DELETE FROM celery_taskmeta WHERE task_id = 't2'")
	if n := count(a); n != "0" {
		t.Errorf("inside the transaction after DELETE: %s rows, want 0", n)
	}
	a.mustRun(t, ctx, "ROLLBACK")
	if r := b.mustRun(t, ctx, fmt.Sprintf(selectTask, "t2")); len(r.Rows) != 1 || r.Rows[0][2] != `"PENDING"` {
		t.Errorf("after UPDATE, DELETE, ROLLBACK: %v, want t2 PENDING", r)
	}

	// BEGIN opens a transaction in autocommit mode too.
	b.mustRun(t, ctx, "BEGIN")
	b.mustRun(t, ctx, "DELETE FROM celery_taskmeta")
	b.mustRun(t, ctx, "ROLLBACK")
	if n := count(b); n != "1" {
		t.Errorf("after BEGIN, DELETE, ROLLBACK: %s rows, want 1", n)
	}
}

// TestMySQLSetupDoesNotWait checks that what every Celery connection sends
// first (PyMySQL's SET AUTOCOMMIT, the dialect's SET NAMES and probes)
// touches no table and so runs while another transaction is open.
func TestMySQLSetupDoesNotWait(t *testing.T) {
	ctx := context.Background()
	dial := embeddedConn(t)
	a := dial()
	a.mustRun(t, ctx, "SET AUTOCOMMIT = 0")
	a.mustRun(t, ctx, fmt.Sprintf(insertPending, "held", "2026-11-25 22:43:48"))
	done := make(chan error, 1)
	go func() {
		c := dial()
		for _, q := range []string{"SET AUTOCOMMIT = 0", "SET NAMES utf8mb4", "SELECT VERSION()", "SELECT DATABASE()",
			"SELECT @@transaction_isolation", "SELECT @@sql_mode", "SELECT @@lower_case_table_names", "ROLLBACK", "COMMIT"} {
			if r := c.run(ctx, q); r.Err != 0 || r.ErrText != "" {
				done <- fmt.Errorf("%s: %v", q, r)
				return
			}
		}
		done <- c.Ping(ctx)
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the connection setup waited for another connection's transaction")
	}
	a.mustRun(t, ctx, "ROLLBACK")
}

// TestMySQLStringLiterals checks that string literals are read as MySQL
// reads them, with and without NO_BACKSLASH_ESCAPES, and that the bytes
// come back as they went in.
func TestMySQLStringLiterals(t *testing.T) {
	for _, tc := range []struct {
		lit         string
		noBackslash bool
		want        string
		bin         bool
	}{
		{`'plain'`, false, "plain", false},
		{`'it''s'`, false, "it's", false},
		{`'it\'s'`, false, "it's", false},
		{`"say \"hi\""`, false, `say "hi"`, false},
		{`'\0\b\n\r\t\Z\\'`, false, "\x00\b\n\r\t\x1a\\", false},
		{`'\%\_'`, false, `\%\_`, false}, // kept for LIKE
		{`'\x\y'`, false, "xy", false},
		{`_binary'\0a'`, false, "\x00a", true},
		{`_utf8mb4 'a'`, false, "a", false},
		{`x'00ff41'`, false, "\x00\xffA", true},
		{`0x00ff41`, false, "\x00\xffA", true},
		{`'a\nb'`, true, `a\nb`, false},
		{`'it''s \'`, true, `it's \`, false},
	} {
		lx := &lexer{src: tc.lit, noBackslash: tc.noBackslash}
		tok, err := lx.next()
		if err != nil || tok.kind != tStr || tok.s != tc.want || tok.bin != tc.bin || lx.i != len(tc.lit) {
			t.Errorf("%s (noBackslash %v): %q bin %v kind %d end %d, %v; want %q bin %v", tc.lit, tc.noBackslash, tok.s, tok.bin, tok.kind, lx.i, err, tc.want, tc.bin)
		}
	}

	ctx := context.Background()
	c := embeddedConn(t)()
	c.mustRun(t, ctx, fmt.Sprintf("INSERT INTO celery_taskmeta (task_id, result) VALUES ('all', %s)", pymysqlEscape(allBytes)))
	c.mustRun(t, ctx, "SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'")
	c.mustRun(t, ctx, `INSERT INTO celery_taskmeta (task_id, result) VALUES ('nb', 'a\0''b')`)
	for id, want := range map[string][]byte{"all": allBytes, "nb": []byte(`a\0'b`)} {
		if r := c.mustRun(t, ctx, fmt.Sprintf("SELECT result FROM celery_taskmeta WHERE task_id = '%s'", id)); len(r.Rows) != 1 || r.Rows[0][0] != fmt.Sprintf("%q", want) {
			t.Errorf("result of %s: %v, want %q", id, r, want)
		}
	}
}

// TestMySQLRefuses checks that statements the stand-in has no meaning for
// get an ERR packet that names them, and that the connection stays usable.
func TestMySQLRefuses(t *testing.T) {
	ctx := context.Background()
	c := embeddedConn(t)()
	for _, q := range []string{
		"SHOW GLOBAL STATUS WHERE Variable_name IN ('Com_select')",
		"ANALYZE TABLE celery_bench.celery_taskmeta",
		"THIS IS NOT SQL",
		"SELECT status, COUNT(*) FROM celery_taskmeta GROUP BY status",
		"INSERT INTO celery_taskmeta (task_id) VALUES ('x') ON DUPLICATE KEY UPDATE status = 'y'",
		"SELECT * FROM no_such_table",
		"SELECT no_such_column FROM celery_taskmeta",
		"SELECT @@no_such_variable",
		"SELECT 'unterminated",
		"SET @user_var = 1",
		"select nextval(task_id_sequence)",
	} {
		r := c.run(ctx, q)
		if r.Err == 0 {
			t.Errorf("%s: %v, want a MySQL error", q, r)
			continue
		}
		word := strings.Fields(q)[0]
		if r.Err == 1235 && !strings.Contains(r.ErrText, word) {
			t.Errorf("%s: error %q does not name the statement", q, r.ErrText)
		}
	}
	if r := c.mustRun(t, ctx, "SELECT 1"); r.Rows[0][0] != "1" {
		t.Errorf("SELECT 1 after the refusals: %v", r)
	}
	if r := c.mustRun(t, ctx, "SELECT * FROM celery_taskmeta"); len(r.Cols) != 12 {
		t.Errorf("SELECT *: columns %q, want celery_taskmeta's 12", r.Cols)
	}
}
