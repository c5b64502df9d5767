package interop

// TestPGTraffic checks bench's db+postgresql:// backend against Celery 5.2.6's SQLAlchemy
// database backend (Debian's python3-celery 5.2.6, python3-sqlalchemy 1.4, python3-psycopg2) on a
// private PostgreSQL 15 cluster (conformance.StartPostgres: log_statement=all, connections and
// disconnections logged), lifecycle by lifecycle, statement by statement, per connection.
//
// pg_traffic.py runs a prefork worker (-c 1, DB user pgw) and a caller (DB user pgc) through the
// lifecycles roundtrip, progress (update_state PROGRESS), failure, polling (the caller polls before
// the result exists), forget, group (GroupResult save, restore, delete), chord (two header tasks,
// celery.chord_unlock, the body), started (track_started) and retry; a second worker (DB user pgx,
// result_extended=True, -n pgx@bench) then runs extended (a track_started task with args (2,) and
// kwargs {'y': 3}) and cleanup (celery.backend_cleanup, result_expires 1 day). The broker is the
// shared RabbitMQ (amqp://guest:guest@127.0.0.1:5672//, queues of the run's own). Then the
// tables are emptied and their sequences restarted (as postgres, whose connections are not
// compared), and bench's worker, caller and a worker on a ResultExtended backend play the same
// lifecycles as the same users with the same task ids (so the pickled GroupResult and the row ids
// are the same bytes), the same STARTED pids and the same tracebacks Celery's run produced (values,
// not traffic). The server log's statements are compared per connection, in order, after
// pgNormRules; the normalised stream is kept in testdata/pg_traffic.golden (BENCH_UPDATE_GOLDEN=1
// rewrites it). Finally Celery reads what bench wrote.
//
// It skips when Celery, SQLAlchemy or psycopg2, RabbitMQ or the PostgreSQL binaries are missing;
// BENCH_REQUIRE_SERVERS=1 (or BENCH_REQUIRE_INTEROP=1) makes that a failure.
// BENCH_PG_TRAFFIC_DIR=dir writes each role's streams there, normalised and raw (<role>.celery,
// <role>.bench, each also with .raw).

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	pyv "github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/conformance"
	_ "github.com/celery-bench/bench/backends/postgres"
)

const (
	pgTrafficDB     = "celery_bench_pgtraffic"
	pgTrafficBroker = "amqp://guest:guest@127.0.0.1:5672//"
)

// pgNormRules are applied to every statement of both sides. Task ids, row ids and pickles are
// not normalised: bench uses Celery's ids on emptied tables with restarted sequences.
var pgNormRules = []rewriteRule{
	{regexp.MustCompile(`'20[2-9]\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(\+00:00)?'`), "'<date>'",
		"a date literal, '2026-12-01T22:02:14.265046'::timestamp or the cleanup cutoff '…+00:00'::timestamptz, is '<date>' (the cast stays)"},
	{regexp.MustCompile(`bench-pgtraffic-[0-9a-f]{8}`), "<queue>",
		"the run's RabbitMQ queue, bench-pgtraffic-<8 hex digits> (in the extended queue column), is <queue>"},
}

// pgNormalise applies pgNormRules to every statement of conns.
func pgNormalise(conns [][]string) [][]string {
	return mapStatements(conns, func(s string) string { return rewrite(s, pgNormRules) })
}

// pgGoldenRules make the golden file the same on every run: applied after pgNormRules, to the
// golden only (the live comparison already uses Celery's values on both sides).
var pgGoldenRules = []rewriteRule{
	{regexp.MustCompile(`(\\x800595)[0-9a-f]{16}(7d94288c0370696494)(?:4b[0-9a-f]{2}|4d[0-9a-f]{4}|4a[0-9a-f]{8})`), "${1}<len>${2}<pid>",
		"in a STARTED pickle ({'pid': N, 'hostname': …}), the frame length is <len> and the pid's opcode and value <pid>"},
	{regexp.MustCompile(hex.EncodeToString([]byte("127.0.0.1:")) + `(?:3[0-9])+2f`), hex.EncodeToString([]byte("127.0.0.1:")) + "<port>2f",
		"the private cluster's port in the pickled GroupResult's dburi (hex) is <port>"},
	{regexp.MustCompile(`/tmp/bench-pgtraffic-[A-Za-z0-9_]+/`), "<dir>/",
		"the task module's temp dir in a traceback is <dir>"},
}

// reHexUUID is a UUID's text, hex-encoded (as in a pickled GroupResult's bytea literal).
var reHexUUID = regexp.MustCompile(`(?:(?:3[0-9]|6[1-6]){8})2d(?:(?:3[0-9]|6[1-6]){4}2d){3}(?:3[0-9]|6[1-6]){12}`)

// pgGolden renumbers the task and group ids of conns to <id1>, <id2>, … by first appearance,
// as text and, inside bytea literals, as hex, then applies pgGoldenRules.
func pgGolden(conns [][]string) [][]string {
	ids := map[string]string{}
	for _, c := range conns {
		for _, s := range c {
			found := reUUID.FindAllString(s, -1)
			for _, h := range reHexUUID.FindAllString(s, -1) {
				b, _ := hex.DecodeString(h)
				found = append(found, string(b))
			}
			for _, u := range found {
				if ids[u] == "" {
					ids[u] = fmt.Sprintf("<id%d>", len(ids)+1)
				}
			}
		}
	}
	return mapStatements(conns, func(s string) string {
		for u, n := range ids {
			s = strings.ReplaceAll(s, u, n)
			s = strings.ReplaceAll(s, hex.EncodeToString([]byte(u)), n)
		}
		return rewrite(s, pgGoldenRules)
	})
}

// pgNormHeader describes pgNormRules and pgGoldenRules, for the golden file.
func pgNormHeader() string {
	var b strings.Builder
	b.WriteString("# Celery 5.2.6 db+postgresql:// (SQLAlchemy 1.4, psycopg2) vs bench, per connection, in the server's log order.\n")
	b.WriteString("# Normalised:\n")
	for _, r := range pgNormRules {
		b.WriteString("# " + r.what + ";\n")
	}
	b.WriteString("# Values taken from Celery's run (not traffic): the task and group ids, the STARTED pids and the FAILURE and RETRY\n" +
		"#   tracebacks; both sides start on emptied tables with restarted sequences, so row ids match unnormalised.\n")
	b.WriteString("# In this file only (the values differ per run): task and group ids (UUIDs) are <id1>, <id2>, … by first appearance\n" +
		"#   over all roles, as text and as hex inside bytea literals;\n")
	for _, r := range pgGoldenRules {
		b.WriteString("#   " + r.what + ";\n")
	}
	for _, r := range pgRules {
		b.WriteString("# RULE " + r + "\n")
	}
	return b.String()
}

// pgRules are the documented differences the comparison allows (the reference,
// celery-postgresql-backend.md, § named).
var pgRules = []string{
	"extended-worker (pgx): bench's CleanupExpired runs on a connection of its own (README, cleanup); its statements are spliced into the\n" +
		"#   worker connection at their place in the log (its Connect, Authorized and Disconnect dropped), since a prefork child\n" +
		"#   runs backend_cleanup on its one pooled connection (§2.11); the test checks bench opened 2 pgx connections.",
}

// rePGCutoff is the cutoff of the cleanup's DELETE from celery_taskmeta.
var rePGCutoff = regexp.MustCompile(`^Query\tDELETE FROM celery_taskmeta WHERE celery_taskmeta\.date_done < '([^']+)'::timestamptz$`)

// spliceConn applies the first of pgRules to entries: the entries of user's second
// connection take the first's connection id, without their Connect, Authorized and
// Disconnect. It returns how many connections user opened.
func spliceConn(entries []logEntry, user string) ([]logEntry, int) {
	var pids []int
	for _, e := range entries {
		if e.cmd == "Connect" && strings.HasPrefix(e.arg, user+"@") {
			pids = append(pids, e.conn)
		}
	}
	if len(pids) != 2 {
		return entries, len(pids)
	}
	var out []logEntry
	in := false
	for _, e := range entries {
		if e.conn == pids[1] {
			if e.cmd == "Connect" {
				in = strings.HasPrefix(e.arg, user+"@")
				if in {
					continue
				}
			}
			if in {
				if e.cmd == "Authorized" {
					continue
				}
				if e.cmd == "Disconnect" {
					in = false
					continue
				}
				e.conn = pids[0]
			}
		}
		out = append(out, e)
	}
	return out, 2
}

var (
	// reStarted finds a STARTED UPDATE's result pickle and reTB a FAILURE or RETRY traceback.
	reStarted = regexp.MustCompile(`status='STARTED', result='\\x([0-9a-f]+)'::bytea`)
	reTB      = regexp.MustCompile(`(?s)status='(FAILURE|RETRY)', .*?traceback='((?:[^']|'')*)' WHERE`)
)

// startedPID reads the pid out of a pickled {'pid': N, 'hostname': …}.
func startedPID(t *testing.T, hexPickle string) int {
	t.Helper()
	b, err := hex.DecodeString(hexPickle)
	if err != nil {
		t.Fatal(err)
	}
	key := []byte("\x8c\x03pid\x94")
	i := strings.Index(string(b), string(key))
	if i < 0 || i+len(key)+3 > len(b) {
		t.Fatalf("no pid in the STARTED pickle %s", hexPickle)
	}
	v := b[i+len(key):]
	switch v[0] {
	case 'K':
		return int(v[1])
	case 'M':
		return int(binary.LittleEndian.Uint16(v[1:3]))
	case 'J':
		return int(int32(binary.LittleEndian.Uint32(v[1:5])))
	}
	t.Fatalf("unexpected pickle opcode %q for the pid in %s", v[0], hexPickle)
	return 0
}

// celeryValues are the values of Celery's run that bench stores in turn.
type celeryValues struct {
	ids                    map[string][]string
	workerPID, extendedPID int
	failureTB, retryTB     string
	queue                  string // the extended worker's queue
}

func pgTrafficPrerequisites(t *testing.T) {
	t.Helper()
	if testing.Short() && os.Getenv("BENCH_REQUIRE_INTEROP") != "1" && os.Getenv("BENCH_REQUIRE_SERVERS") != "1" {
		t.Skip("runs real Celery workers and a private PostgreSQL cluster; skipped in -short mode")
	}
	if out, err := exec.Command(python, "-c", "import celery, sqlalchemy, psycopg2, kombu").CombinedOutput(); err != nil {
		djangoUnavailable(t, "needs %s with celery, sqlalchemy, psycopg2 (apt-get install python3-celery python3-sqlalchemy python3-psycopg2): %s",
			python, lastLine(string(out)))
	}
	if !dialable("127.0.0.1:5672") {
		djangoUnavailable(t, "RabbitMQ (the Celery broker) does not answer on 127.0.0.1:5672")
	}
	if _, err := os.Stat(filepath.Join(conformance.PostgresBin, "postgres")); err != nil {
		djangoUnavailable(t, "%s is missing (apt-get install postgresql-15)", conformance.PostgresBin)
	}
}

func TestPGTraffic(t *testing.T) {
	pgTrafficPrerequisites(t)
	dir := here(t)
	srv := conformance.StartPostgres(t, "timezone=Etc/UTC")
	srv.Exec(t, "postgres", "CREATE ROLE pgw LOGIN", "CREATE ROLE pgc LOGIN", "CREATE ROLE pgx LOGIN", "CREATE DATABASE "+pgTrafficDB)
	srv.Exec(t, pgTrafficDB,
		"ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO pgw, pgc, pgx",
		"ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES TO pgw, pgc, pgx")
	ps := strconv.Itoa(srv.Port)
	queue := fmt.Sprintf("bench-pgtraffic-%08x", uint32(time.Now().UnixNano()))
	common := []string{"--port", ps, "--db", pgTrafficDB, "--queue", queue}
	py(t, dir, 0, append([]string{"pg_traffic.py", "migrate"}, common...)...)
	read := func(from int64) []logEntry { return settledPostgresLog(t, srv, from) }
	saveDir := os.Getenv("BENCH_PG_TRAFFIC_DIR")
	save := func(name, s string) {
		if saveDir != "" {
			os.WriteFile(filepath.Join(saveDir, name), []byte(s), 0o644)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	open := func(user string, extended bool) backends.Backend {
		o := backends.DefaultOptions
		o.Celery = backends.Celery52
		o.ResultExtended = extended
		b, err := backends.Open(ctx, "db+postgresql://"+user+"@127.0.0.1:"+ps+"/"+pgTrafficDB, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	// Expired rows for each side's cleanup (done 2 days ago), written by postgres.
	ab := open("postgres", false)
	aec, ok := backends.AsExpiredCleaner(ab)
	if !ok {
		t.Fatal("the db+postgresql backend has no FillExpired")
	}
	const expiredRows = 3
	fillExpired := func(prefix string) {
		t.Helper()
		if n, err := aec.FillExpired(ctx, prefix, expiredRows, time.Now().Add(-48*time.Hour)); err != nil || n != expiredRows {
			t.Fatalf("FillExpired = %d, %v", n, err)
		}
	}
	fillExpired("dead0000-0000-4000-8000-")

	// The real software.
	start := time.Now()
	from := srv.LogSize(t)
	out, _ := py(t, dir, 0, append([]string{"pg_traffic.py", "run", "--broker", pgTrafficBroker}, common...)...)
	celeryLog := read(from)
	t.Logf("Celery's lifecycles took %.1f s", time.Since(start).Seconds())
	var v celeryValues
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "{\"roundtrip\"") {
			json.Unmarshal([]byte(l), &v.ids)
		}
	}
	if v.ids == nil {
		t.Fatalf("pg_traffic.py run printed no ids:\n%s", head(out, 40))
	}
	roles := []struct{ name, user string }{{"worker", "pgw"}, {"caller", "pgc"}, {"extended-worker", "pgx"}}
	for _, role := range roles {
		c := streams(celeryLog, role.user)
		if len(c) == 0 {
			t.Fatalf("the server logged no connection of %s (Celery's %s)", role.user, role.name)
		}
		all := strings.Join(c[0], "\n")
		if role.user == "pgw" || role.user == "pgx" {
			if len(c) != 1 {
				t.Errorf("Celery's %s (%s) opened %d connections, want 1 (a prefork child's pooled connection)", role.name, role.user, len(c))
			}
			m := reStarted.FindStringSubmatch(all)
			if m == nil {
				t.Fatalf("Celery's %s stored no STARTED result:\n%s", role.name, head(all, 40))
			}
			if role.user == "pgw" {
				v.workerPID = startedPID(t, m[1])
			} else {
				v.extendedPID = startedPID(t, m[1])
			}
		}
		if role.user == "pgw" {
			for _, m := range reTB.FindAllStringSubmatch(all, -1) {
				tb := strings.ReplaceAll(m[2], "''", "'")
				if m[1] == "FAILURE" {
					v.failureTB = tb
				} else {
					v.retryTB = tb
				}
			}
			if v.failureTB == "" || v.retryTB == "" {
				t.Fatalf("no FAILURE or RETRY traceback in Celery's worker stream")
			}
		}
	}
	// Celery's cleanup cutoff: result_expires before the cleanup task's own result.
	pgx := streams(celeryLog, "pgx")[0]
	var cut, stored time.Time
	for i, s := range pgx {
		if m := rePGCutoff.FindStringSubmatch(s); m != nil {
			cut = parseDateLiteral(t, m[1])
			for _, u := range pgx[i:] {
				if m := regexp.MustCompile(`status='SUCCESS', result=NULL, date_done='([^']+)'::timestamp`).FindStringSubmatch(u); m != nil {
					stored = parseDateLiteral(t, m[1]+"+00:00")
					break
				}
			}
		}
	}
	if ran := cut.Add(resultExpires); cut.IsZero() || stored.IsZero() || ran.After(stored) || stored.Sub(ran) > 2*time.Second {
		t.Errorf("Celery's cleanup cutoff %s + %s, want within 2 s before its result's date_done %s", cut, resultExpires, stored)
	}
	// polling: Celery's caller read the row before the result existed (PENDING), then once done.
	polls := 0
	for _, c := range streams(celeryLog, "pgc") {
		if strings.Contains(strings.Join(c, "\n"), "WHERE celery_taskmeta.task_id = '"+v.ids["polling"][0]+"'") {
			polls++
		}
	}
	if polls < 2 {
		t.Errorf("Celery's caller read the polling task %d times, want at least 2 (PENDING, then SUCCESS)", polls)
	}
	t.Logf("Celery's caller polled the polling task %d times", polls)
	wants := map[string]string{}
	for _, role := range roles {
		wants[role.name] = render(role.name, pgNormalise(streams(celeryLog, role.user)))
		save(role.name+".celery", wants[role.name])
		save(role.name+".celery.raw", render(role.name, streams(celeryLog, role.user)))
	}

	// Empty the tables and restart their sequences (as postgres), for bench's run.
	srv.Exec(t, pgTrafficDB, "TRUNCATE celery_taskmeta, celery_tasksetmeta",
		"ALTER SEQUENCE task_id_sequence RESTART", "ALTER SEQUENCE taskset_id_sequence RESTART")
	fillExpired("dead0001-0000-4000-8000-")

	// bench.
	wb, cb, xb := open("pgw", false), open("pgc", false), open("pgx", true)
	start = time.Now()
	from = srv.LogSize(t)
	v.queue = queue + "-x"
	cleanupFrom, cleanupTo, deleted := pgBenchLifecycles(t, ctx, wb, cb, xb, v)
	benchLog := read(from)
	t.Logf("bench's lifecycles took %.1f s", time.Since(start).Seconds())
	if deleted != expiredRows {
		t.Errorf("bench's CleanupExpired deleted %d rows, want the %d expired ones", deleted, expiredRows)
	}
	benchLog, n := spliceConn(benchLog, "pgx")
	if n != 2 {
		t.Errorf("bench's extended worker (pgx) opened %d connections, want 2 (the worker's, CleanupExpired's)", n)
	}
	for _, s := range streams(benchLog, "pgx")[0] {
		if m := rePGCutoff.FindStringSubmatch(s); m != nil {
			if ran := parseDateLiteral(t, m[1]).Add(resultExpires); ran.Before(cleanupFrom.Truncate(time.Microsecond)) || ran.After(cleanupTo) {
				t.Errorf("bench's cleanup cutoff + %s = %s, want between %s and %s", resultExpires, ran, cleanupFrom.UTC(), cleanupTo.UTC())
			}
		}
	}
	var all [][]string
	for _, role := range roles {
		c := pgNormalise(streams(benchLog, role.user))
		g := render(role.name, c)
		save(role.name+".bench", g)
		save(role.name+".bench.raw", render(role.name, streams(benchLog, role.user)))
		if g != wants[role.name] {
			t.Errorf("bench's %s statements differ from Celery's (- celery, + bench):\n%s", role.name, lineDiff(wants[role.name], g))
		}
		all = append(all, c...)
	}
	// The golden: the same streams with the ids renumbered over all roles.
	got := pgNormHeader()
	all = pgGolden(all)
	k := 0
	for _, role := range roles {
		n := len(streams(benchLog, role.user))
		got += render(role.name, all[k:k+n])
		k += n
	}
	golden := filepath.Join(dir, "testdata", "pg_traffic.golden")
	if os.Getenv("BENCH_UPDATE_GOLDEN") == "1" {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil {
		t.Errorf("%v (BENCH_UPDATE_GOLDEN=1 writes it)", err)
	} else if string(want) != got {
		t.Errorf("bench's normalised stream differs from %s (BENCH_UPDATE_GOLDEN=1 rewrites it; - golden, + bench):\n%s", golden, lineDiff(string(want), got))
	}

	// Celery reads what bench wrote.
	idOf := func(name string) string {
		switch name {
		case "header1":
			return v.ids["chord"][1]
		case "body":
			return v.ids["chord"][3]
		}
		return v.ids[name][0]
	}
	rd := readBack(t, dir, "pg_traffic.py", common, idOf)
	for name, w := range readBackWant {
		r := rd[idOf(name)]
		if r == nil || r["state"] != w.state || fmt.Sprint(r["result"]) != fmt.Sprint(w.result) || r["date_done"] == "None" {
			t.Errorf("%s: Celery read %v from bench's row, want state %s result %v with a date_done", name, r, w.state, w.result)
		}
	}
}

// pgBenchLifecycles plays pg_traffic.py's lifecycles through bench: a worker on wb (pgw), a
// caller on cb (pgc) and a worker on xb (pgx, ResultExtended), with Celery's ids and values.
func pgBenchLifecycles(t *testing.T, ctx context.Context, wb, cb, xb backends.Backend, v celeryValues) (cleanupFrom, cleanupTo time.Time, deleted int64) {
	t.Helper()
	w, err := wb.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cb.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := trafficPlayer{t: t, ctx: ctx, w: w, c: c}
	store, wait, end := p.store, p.wait, p.end
	p.playSimple(func(name string) string { return v.ids[name][0] }, v.failureTB)

	gid, members := v.ids["group"][0], v.ids["group"][1:]
	if err := backends.SaveGroup(ctx, c, gid, members); err != nil {
		t.Fatal(err)
	}
	got, err := backends.RestoreGroup(ctx, c, gid)
	if err != nil || strings.Join(got, ",") != strings.Join(members, ",") {
		t.Fatalf("RestoreGroup = %v, %v; want %v", got, err, members)
	}
	if err := backends.DeleteGroup(ctx, c, gid); err != nil {
		t.Fatal(err)
	}

	gid, header, body := v.ids["chord"][0], v.ids["chord"][1:3], v.ids["chord"][3]
	if err := backends.ApplyChord(ctx, c, gid, header); err != nil {
		t.Fatal(err)
	}
	for i, h := range header {
		store(&backends.TaskMeta{TaskID: h, Status: backends.Success, Result: 2 * (i + 1), GroupID: gid, DateDone: time.Now()})
		end()
	}
	if ready, err := w.(backends.ChordUnlocker).ChordUnlock(ctx, header); err != nil || !ready {
		t.Fatalf("ChordUnlock = %v, %v", ready, err)
	}
	store(&backends.TaskMeta{TaskID: body, Status: backends.Success, Result: 6, ParentID: header[1], DateDone: time.Now()})
	end()
	if st, err := backends.WaitForWithParents(ctx, c, body, gid, header, 500*time.Millisecond); err != nil || st != backends.Success {
		t.Fatalf("chord body = %s, %v", st, err)
	}

	id := v.ids["started"][0]
	store(&backends.TaskMeta{TaskID: id, Status: backends.Started, Result: pyv.Dict{{Key: "pid", Value: v.workerPID}, {Key: "hostname", Value: "pgw@bench"}}})
	store(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 5, DateDone: time.Now()})
	end()
	wait(id, backends.Success)

	id = v.ids["retry"][0]
	store(&backends.TaskMeta{TaskID: id, Status: backends.Retry, Result: pyv.Exception("builtins", "KeyError", "try again"),
		Traceback: v.retryTB, Children: []string{id}})
	end()
	store(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: "retried-ok", ParentID: id, DateDone: time.Now()})
	end()
	wait(id, backends.Success)
	w.Close()

	x, err := xb.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	xstore := func(m *backends.TaskMeta) {
		t.Helper()
		if m.Children == nil {
			m.Children = []string{}
		}
		if err := x.StoreResult(ctx, m); err != nil {
			t.Fatalf("StoreResult (extended) %s: %v", m.Status, err)
		}
	}
	id = v.ids["extended"][0]
	ext := &backends.Extended{Name: "pgtasks.started_add", Args: []any{2}, Kwargs: pyv.Dict{{Key: "y", Value: 3}}, Worker: "pgx@bench", Queue: v.queue}
	xstore(&backends.TaskMeta{TaskID: id, Status: backends.Started, Result: pyv.Dict{{Key: "pid", Value: v.extendedPID}, {Key: "hostname", Value: "pgx@bench"}}, Extended: ext})
	xstore(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 5, DateDone: time.Now(), Extended: ext})
	backends.EndTask(ctx, x)
	wait(id, backends.Success)

	xc, ok := backends.AsExpiredCleaner(xb)
	if !ok {
		t.Fatal("the db+postgresql backend has no CleanupExpired")
	}
	cleanupFrom = time.Now()
	if deleted, err = xc.CleanupExpired(ctx, time.Now().Add(-resultExpires)); err != nil {
		t.Fatalf("CleanupExpired: %v", err)
	}
	cleanupTo = time.Now()
	id = v.ids["cleanup"][0]
	xstore(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: nil, DateDone: time.Now(),
		Extended: &backends.Extended{Name: "celery.backend_cleanup", Args: []any{}, Kwargs: pyv.Dict{}, Worker: "pgx@bench", Queue: v.queue}})
	backends.EndTask(ctx, x)
	x.Close()
	return cleanupFrom, cleanupTo, deleted
}
