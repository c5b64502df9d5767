package interop

// TestDjangoTraffic checks bench's django-db backends against a real django-celery-results 2.4
// backend (Debian's python3-django 3.2, python3-django-celery-results 2.4, python3-celery 5.2.6),
// once per server, as subtests:
//
//   - mysql: django-db+mysql:// against mysqlclient (python3-mysqldb) on a private MariaDB server
//     (a scratch datadir on a free port, general log on), broker Redis db 13;
//   - postgresql: django-db+postgresql:// against psycopg2 (python3-psycopg2) on a private
//     PostgreSQL 15 cluster (conformance.StartPostgres: log_statement=all, connections and
//     disconnections logged, server TimeZone Etc/UTC as Debian's initdb sets it), broker Redis db 12;
//   - postgresql-utc-server: a cluster whose TimeZone is 'UTC' itself, where Django sends no
//     SET TIME ZONE; one store (as djw) and one read (as djc), Django's and bench's compared.
//
// django_traffic.py runs a prefork worker (DB user djw) and a caller (DB user djc) through the
// lifecycles roundtrip, progress, failure, polling, forget, group (GroupResult save, restore,
// delete) chord (ChordCounter, two header tasks, the body),
// started (track_started) and retry (RETRY, then the re-run on a new connection); a second worker
// (DB user djx, CELERY_RESULT_EXTENDED=True, -n djx@bench) then runs extended (a track_started
// task with args (2,) and kwargs {'y': 3}) and cleanup (celery.backend_cleanup, result_expires 1
// day; each DELETE's cutoff is checked to be 1 day before it ran). bench's worker and caller
// sessions, and a worker on a ResultExtended backend as djx (CleanupExpired for cleanup), then
// play the same lifecycles as the same users; the server log's statements are compared per
// connection, in order, after the rules in normRules (ids, dates, primary keys, pids) are applied.
// The normalised stream is kept in testdata/django_traffic.golden (MySQL) and
// testdata/django_traffic_pg.golden (PostgreSQL); BENCH_UPDATE_GOLDEN=1 rewrites them. Finally
// Django reads what bench wrote (AsyncResult and the TaskResult model), and bench reads what
// Django wrote.
//
// A subtest skips when its Python driver, its server or Redis (the broker, a queue of its own) are
// missing; BENCH_REQUIRE_INTEROP=1 or BENCH_REQUIRE_SERVERS=1 make that a failure.
// BENCH_DJANGO_TRAFFIC_DIR=dir writes each role's streams there, normalised and raw
// (<engine>-<role>.django, <engine>-<role>.bench, each also with .raw).

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	pyv "github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/conformance"
	_ "github.com/celery-bench/bench/backends/djangodb"
	_ "github.com/go-sql-driver/mysql"
)

const djangoDB = "celery_bench_django"

func djangoUnavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
		t.Fatalf(format+" (BENCH_REQUIRE_SERVERS=1)", args...)
	}
	unavailable(t, format, args...)
}

// A djangoServer is a private database server with the django database and its two users, djw
// (the worker) and djc (the caller), who may create, read, write and delete in it.
type djangoServer struct {
	port int
	// mark is the log's current end; read parses the log from a mark.
	mark func() int64
	read func(from int64) []logEntry
}

// privateMariaDB starts mariadbd on a scratch datadir and a free port with the general log on,
// creates the django database and its two users. The server is stopped when the test ends.
func privateMariaDB(t *testing.T) djangoServer {
	t.Helper()
	for _, p := range []string{"/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db"} {
		if _, err := os.Stat(p); err != nil {
			djangoUnavailable(t, "%s is missing (apt-get install mariadb-server)", p)
		}
	}
	srv := conformance.StartMariaDB(t, "--general-log=1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("mysql", "root@tcp("+srv.Addr()+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range []string{"CREATE DATABASE " + djangoDB, "CREATE USER djw@'%'", "CREATE USER djc@'%'", "CREATE USER djx@'%'",
		"GRANT ALL ON " + djangoDB + ".* TO djw@'%'", "GRANT ALL ON " + djangoDB + ".* TO djc@'%'", "GRANT ALL ON " + djangoDB + ".* TO djx@'%'"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return djangoServer{
		port: srv.Port,
		mark: func() int64 { return logSize(t, srv.GeneralLog) },
		read: func(from int64) []logEntry { return readLog(t, srv.GeneralLog, from) },
	}
}

// privatePostgres starts a PostgreSQL cluster of the test's own (every statement logged) with
// TimeZone tz, creates the django database, owned by postgres (manage.py migrate runs as
// postgres, as it runs as root on MySQL), and the login roles djw and djc with every privilege on
// the tables and sequences postgres creates in its public schema.
func privatePostgres(t *testing.T, tz string) djangoServer {
	t.Helper()
	if _, err := os.Stat(conformance.PostgresBin); err != nil && os.Getenv("BENCH_REQUIRE_SERVERS") != "1" {
		djangoUnavailable(t, "%s is missing (apt-get install postgresql-15)", conformance.PostgresBin)
	}
	srv := conformance.StartPostgres(t, "timezone="+tz)
	srv.Exec(t, "postgres", "CREATE ROLE djw LOGIN", "CREATE ROLE djc LOGIN", "CREATE ROLE djx LOGIN", "CREATE DATABASE "+djangoDB)
	srv.Exec(t, djangoDB,
		"ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON TABLES TO djw, djc, djx",
		"ALTER DEFAULT PRIVILEGES FOR ROLE postgres IN SCHEMA public GRANT ALL ON SEQUENCES TO djw, djc, djx")
	return djangoServer{
		port: srv.Port,
		mark: func() int64 { return srv.LogSize(t) },
		read: func(from int64) []logEntry { return settledPostgresLog(t, srv, from) },
	}
}

// settledPostgresLog returns srv's log since from as entries (pgEntries). A server process logs
// its disconnection as it exits, after the client has gone: it waits (up to 5 s) until every
// connection authorized since from has.
func settledPostgresLog(t *testing.T, srv *conformance.PostgresServer, from int64) []logEntry {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lines := srv.ReadPostgresLog(t, from)
		open := map[int]bool{}
		for _, l := range lines {
			if l.Level == "LOG" && strings.HasPrefix(l.Text, "connection authorized:") {
				open[l.PID] = true
			} else if l.Level == "LOG" && strings.HasPrefix(l.Text, "disconnection:") {
				delete(open, l.PID)
			}
		}
		if len(open) == 0 || time.Now().After(deadline) {
			return pgEntries(lines)
		}
	}
}

// pgEntries turns PostgreSQL log lines into the general log's shape, one connection per server
// process: "connection authorized: user=U database=D …" is Connect U@D followed by Authorized
// with the rest of the message (so an application_name or TLS that psycopg2 does not send would
// show as a difference), a statement is Query, the
// disconnection is Disconnect (its session time dropped), and any other message of an
// authorized connection (an ERROR and its STATEMENT, "could not receive data from client", a
// WARNING) is kept as LEVEL and text, so it must match too. "connection received" comes before
// the user is known and is dropped.
func pgEntries(lines []conformance.PostgresLogLine) []logEntry {
	var out []logEntry
	for _, l := range lines {
		e := logEntry{conn: l.PID, cmd: l.Level, arg: l.Text}
		switch {
		case l.Level == "LOG" && strings.HasPrefix(l.Text, "connection received:"):
			continue
		case l.Level == "LOG" && strings.HasPrefix(l.Text, "connection authorized:"):
			e.cmd, e.arg = "Connect", l.User+"@"+l.DB
			out = append(out, e)
			e = logEntry{conn: l.PID, cmd: "Authorized", arg: strings.TrimSpace(strings.TrimPrefix(l.Text, "connection authorized:"))}
		case l.Level == "LOG" && strings.HasPrefix(l.Text, "statement: "):
			e.cmd, e.arg = "Query", strings.TrimPrefix(l.Text, "statement: ")
		case l.Level == "LOG" && strings.HasPrefix(l.Text, "disconnection:"):
			e.cmd, e.arg = "Disconnect", ""
		}
		out = append(out, e)
	}
	return out
}

// logEntry is one general-log command.
type logEntry struct {
	conn int
	cmd  string // Connect, Query, Quit
	arg  string
}

var logLine = regexp.MustCompile(`^(?:\d{6}\s+\d{1,2}:\d{2}:\d{2})?\t+ *(\d+) ([A-Za-z]+(?: [A-Za-z]+)?)\t(.*)$`)

// readLog parses the general log from byte offset from.
func readLog(t *testing.T, path string, from int64) []logEntry {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []logEntry
	for _, line := range strings.Split(string(b[from:]), "\n") {
		if m := logLine.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			out = append(out, logEntry{n, m[2], m[3]})
		} else if len(out) > 0 && line != "" {
			out[len(out)-1].arg += "\n" + line
		}
	}
	return out
}

func logSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// streams groups entries by connection, in the order connections opened, keeping those whose
// Connect names user; the Connect line itself is kept as "Connect <user>". A connection ends at
// its Quit or Disconnect, so a reused connection id (a PostgreSQL pid) starts afresh.
func streams(entries []logEntry, user string) [][]string {
	idx := map[int]int{}
	var out [][]string
	for _, e := range entries {
		if e.cmd == "Connect" {
			delete(idx, e.conn)
			if strings.HasPrefix(e.arg, user+"@") {
				idx[e.conn] = len(out)
				out = append(out, []string{"Connect " + user})
			}
			continue
		}
		if i, ok := idx[e.conn]; ok {
			out[i] = append(out[i], strings.TrimRight(e.cmd+"\t"+e.arg, "\t"))
			if e.cmd == "Quit" || e.cmd == "Disconnect" {
				delete(idx, e.conn)
			}
		}
	}
	return out
}

// normRules are the normalisations applied to each statement, in order, after task and group ids
// (UUIDs) are replaced by <id1>, <id2>, … in the order of their first appearance in a role's
// streams. They are written at the top of each golden file.
var normRules = []rewriteRule{
	{regexp.MustCompile(`'20[2-9]\d-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d{1,6})?(\+00:00)?'`), "'<date>'",
		"a date literal, MySQL '2026-12-01 22:06:19.914812' or PostgreSQL '2026-12-01T22:08:10.538885+00:00' (the ::timestamptz cast stays), is '<date>'"},
	{regexp.MustCompile("([`\"]id[`\"] = |[`\"]id[`\"] IN \\()\\d+"), "${1}<pk>",
		"a primary key in `id` = N, \"id\" = N, `id` IN (N) or \"id\" IN (N) is <pk>"},
	{regexp.MustCompile(`(\\?"pid\\?": )\d+`), "${1}<pid>",
		`the worker pid of a STARTED result ("pid": N; \"pid\": N in MySQL's log) is <pid>`},
}

var reUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// normalise applies the id renumbering and normRules to a role's streams.
func normalise(conns [][]string) [][]string {
	ids := map[string]string{}
	return mapStatements(conns, func(s string) string {
		s = reUUID.ReplaceAllStringFunc(s, func(u string) string {
			if ids[u] == "" {
				ids[u] = fmt.Sprintf("<id%d>", len(ids)+1)
			}
			return ids[u]
		})
		return rewrite(s, normRules)
	})
}

// A rewriteRule replaces, in every statement, what a traffic comparison must not see (a
// date, a port, a temp dir); what says so in the golden's header.
type rewriteRule struct {
	re   *regexp.Regexp
	repl string
	what string
}

// rewrite applies rules to s, in order.
func rewrite(s string, rules []rewriteRule) string {
	for _, r := range rules {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}

// mapStatements returns conns with f applied to each statement, connection by connection
// and in order.
func mapStatements(conns [][]string, f func(string) string) [][]string {
	out := make([][]string, len(conns))
	for i, c := range conns {
		for _, s := range c {
			out[i] = append(out[i], f(s))
		}
	}
	return out
}

// normHeader describes the normalisation, for the golden files and the test log.
func normHeader() string {
	var b strings.Builder
	b.WriteString("# Normalised: task and group ids (UUIDs) are <id1>, <id2>, … in the order of first appearance per role;\n")
	for _, r := range normRules {
		b.WriteString("# " + r.what + ";\n")
	}
	b.WriteString("# statements are in the server's log order per connection; connections in the order they opened.\n")
	b.WriteString("# extended-worker (djx): bench's connections 2 and 3, CleanupExpired's and the store of celery.backend_cleanup's own result,\n" +
		"#   are joined into one (the first without its Quit/Disconnect, the second without its Connect and set-up), since a real\n" +
		"#   worker runs both on the cleanup task's connection; the test checks bench opened 3 djx connections and Django 2.\n")
	return b.String()
}

func render(role string, conns [][]string) string {
	var b strings.Builder
	for i, c := range conns {
		fmt.Fprintf(&b, "## %s connection %d (%d statements)\n", role, i+1, queries(c))
		for _, s := range c {
			b.WriteString(s + "\n")
		}
	}
	return b.String()
}

// lineDiff is a line diff of want and got (longest common subsequence): lines only in want
// start with "- ", lines only in got with "+ ", and up to 2 common lines around each change are
// kept (with "  "); runs of common lines in between are "@@ … @@". A line changed in place (one -
// then one +) is followed by a "^" line saying from which byte it differs.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	n, m := len(a), len(b)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type op struct {
		kind byte
		s    string
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, op{' ', a[i]})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', a[i]})
			i++
		default:
			ops = append(ops, op{'+', b[j]})
			j++
		}
	}
	near := func(k int) bool {
		for d := -2; d <= 2; d++ {
			if k+d >= 0 && k+d < len(ops) && ops[k+d].kind != ' ' {
				return true
			}
		}
		return false
	}
	var out strings.Builder
	skipped := 0
	for k, o := range ops {
		if o.kind == ' ' && !near(k) {
			skipped++
			continue
		}
		if skipped > 0 {
			fmt.Fprintf(&out, "@@ %d common lines @@\n", skipped)
			skipped = 0
		}
		fmt.Fprintf(&out, "%c %s\n", o.kind, o.s)
		// A changed line (one - then one +): where it changes, since statements are long.
		if o.kind == '+' && k > 0 && ops[k-1].kind == '-' && (k < 2 || ops[k-2].kind != '-') {
			out.WriteString(changeAt(ops[k-1].s, o.s))
		}
	}
	if skipped > 0 {
		fmt.Fprintf(&out, "@@ %d common lines @@\n", skipped)
	}
	return out.String()
}

// benchLifecycles plays django_traffic.py's lifecycles through bench's sessions, with a worker on
// backend wb (user djw), a caller on backend cb (user djc) and, for extended and cleanup, a worker
// on backend xb (user djx, Options.ResultExtended). It returns the ids, by lifecycle, and the
// times just before and after CleanupExpired, and the number of rows it deleted.
func benchLifecycles(t *testing.T, ctx context.Context, wb, cb, xb backends.Backend) (ids map[string]string, cleanupFrom, cleanupTo time.Time, deleted int64) {
	t.Helper()
	w, err := wb.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, err := cb.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids = map[string]string{}
	n := 0
	newID := func(name string) string {
		n++
		ids[name] = fmt.Sprintf("bec1d500-0000-4000-8000-%012d", n)
		return ids[name]
	}
	p := trafficPlayer{t: t, ctx: ctx, w: w, c: c}
	store, wait, end := p.store, p.wait, p.end
	p.playSimple(newID, "Traceback (most recent call last):\n  File \"tasks.py\", line 1, in boom\nValueError: boom!\n")

	gid := newID("group")
	members := []string{newID("member1"), newID("member2"), newID("member3")}
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

	gid = newID("chord")
	header := []string{newID("header1"), newID("header2")}
	body := newID("body")
	if err := backends.ApplyChord(ctx, c, gid, header); err != nil {
		t.Fatal(err)
	}
	published := false
	for i, h := range header {
		m := &backends.TaskMeta{TaskID: h, Status: backends.Success, Result: 2 * (i + 1), GroupID: gid, DateDone: time.Now()}
		store(m)
		last, err := backends.OnChordPartReturn(ctx, w, gid, i, m, false, func() { published = true })
		if err != nil || last != (i == len(header)-1) {
			t.Fatalf("OnChordPartReturn %d = %v, %v", i, last, err)
		}
		end()
	}
	if !published {
		t.Fatal("the last header part did not publish the body")
	}
	store(&backends.TaskMeta{TaskID: body, Status: backends.Success, Result: 6, ParentID: header[1], DateDone: time.Now()})
	end()
	if st, err := backends.WaitForWithParents(ctx, c, body, gid, header, 500*time.Millisecond); err != nil || st != backends.Success {
		t.Fatalf("chord body = %s, %v", st, err)
	}

	id := newID("started")
	store(&backends.TaskMeta{TaskID: id, Status: backends.Started, Result: pyv.Dict{{Key: "pid", Value: 4242}, {Key: "hostname", Value: "djw@bench"}}})
	store(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 5, DateDone: time.Now()})
	end()
	wait(id, backends.Success)

	id = newID("retry")
	store(&backends.TaskMeta{TaskID: id, Status: backends.Retry, Result: pyv.Exception("builtins", "KeyError", "try again"),
		Traceback: "Traceback (most recent call last):\nKeyError: 'try again'\n", Children: []string{id}})
	end()
	store(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: "retried-ok", ParentID: id, DateDone: time.Now()})
	end()
	wait(id, backends.Success)

	// result_extended, on djx: started_add.apply_async((2,), {'y': 3}) with track_started.
	x, err := xb.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	xstore := func(m *backends.TaskMeta) {
		t.Helper()
		if m.Children == nil {
			m.Children = []string{}
		}
		if err := x.StoreResult(ctx, m); err != nil {
			t.Fatalf("StoreResult (extended) %s: %v", m.Status, err)
		}
	}
	id = newID("extended")
	ext := &backends.Extended{Name: "djtasks.started_add", Args: []any{2}, Kwargs: pyv.Dict{{Key: "y", Value: 3}}, Worker: "djx@bench"}
	xstore(&backends.TaskMeta{TaskID: id, Status: backends.Started, Result: pyv.Dict{{Key: "pid", Value: 4242}, {Key: "hostname", Value: "djx@bench"}}, Extended: ext})
	xstore(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 5, DateDone: time.Now(), Extended: ext})
	backends.EndTask(ctx, x)
	wait(id, backends.Success)

	// cleanup, on djx: CleanupExpired with result_expires (1 day), then the store of
	// celery.backend_cleanup's own result, which a real worker does at the task's end.
	xc, ok := backends.AsExpiredCleaner(xb)
	if !ok {
		t.Fatal("the django-db backend has no CleanupExpired")
	}
	cleanupFrom = time.Now()
	if deleted, err = xc.CleanupExpired(ctx, time.Now().Add(-24*time.Hour)); err != nil {
		t.Fatalf("CleanupExpired: %v", err)
	}
	cleanupTo = time.Now()
	id = newID("cleanup")
	xstore(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: nil, DateDone: time.Now(),
		Extended: &backends.Extended{Name: "celery.backend_cleanup", Args: []any{}, Kwargs: pyv.Dict{}, Worker: "djx@bench"}})
	backends.EndTask(ctx, x)
	return ids, cleanupFrom, cleanupTo, deleted
}

// A djangoEngine is one server TestDjangoTraffic runs on.
type djangoEngine struct {
	name   string // django_traffic.py --engine, and the subtest's name
	module string // the Python driver Django needs
	pkg    string // its Debian package
	scheme string // bench's URL scheme
	broker string // the Celery broker: a Redis db of its own
	golden string // under testdata
	start  func(t *testing.T) djangoServer
}

// pgEtcUTC is a cluster with TimeZone Etc/UTC, the value Debian's initdb writes on a UTC machine
// and the one the reference capture saw: Django then sends SET TIME ZONE 'UTC' on every
// connection, since the reported name is not 'UTC'.
func pgEtcUTC(t *testing.T) djangoServer { return privatePostgres(t, "Etc/UTC") }

var djangoEngines = []djangoEngine{
	{"mysql", "MySQLdb", "python3-mysqldb", "django-db+mysql", "redis://127.0.0.1:6379/13", "django_traffic.golden", privateMariaDB},
	{"postgresql", "psycopg2", "python3-psycopg2", "django-db+postgresql", "redis://127.0.0.1:6379/12", "django_traffic_pg.golden", pgEtcUTC},
}

func TestDjangoTraffic(t *testing.T) {
	if testing.Short() && os.Getenv("BENCH_REQUIRE_INTEROP") != "1" {
		t.Skip("runs a real Celery worker and private MariaDB and PostgreSQL servers; skipped in -short mode")
	}
	t.Log("normalisation rules:\n" + normHeader())
	for _, e := range djangoEngines {
		t.Run(e.name, func(t *testing.T) { testDjangoTraffic(t, e) })
		if e.name == "postgresql" {
			t.Run("postgresql-utc-server", func(t *testing.T) { testDjangoUTCServer(t, e) })
		}
	}
}

// djangoPrerequisites skips (or fails) t when Python lacks e's modules or Redis is down.
func djangoPrerequisites(t *testing.T, e djangoEngine) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import django, django_celery_results, celery, redis, "+e.module).CombinedOutput(); err != nil {
		djangoUnavailable(t, "needs %s with django, django_celery_results, %s, celery and redis (apt-get install python3-django python3-django-celery-results %s python3-celery python3-redis): %s",
			python, e.module, e.pkg, head(string(out), 3))
	}
	if !dialable("127.0.0.1:6379") {
		djangoUnavailable(t, "Redis (the Celery broker) does not answer on 127.0.0.1:6379")
	}
}

func testDjangoTraffic(t *testing.T, e djangoEngine) {
	djangoPrerequisites(t, e)
	dir := here(t)
	srv := e.start(t)
	ps := strconv.Itoa(srv.port)
	common := []string{"--engine", e.name, "--port", ps, "--db", djangoDB}
	py(t, dir, 0, append([]string{"django_traffic.py", "migrate"}, common...)...)
	saveDir := os.Getenv("BENCH_DJANGO_TRAFFIC_DIR")

	// Expired rows for each side's cleanup (done 2 days ago), written and checked by the
	// administrative user, whose connections the comparison leaves out; the lifecycles' own rows
	// are recent and must survive (Django's are read back after both cleanups).
	admin := map[string]string{"mysql": "root", "postgresql": "postgres"}[e.name]
	actx, acancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer acancel()
	ao := backends.DefaultOptions
	ao.Celery = backends.Celery52
	ab, err := backends.Open(actx, e.scheme+"://"+admin+"@127.0.0.1:"+ps+"/"+djangoDB, ao)
	if err != nil {
		t.Fatal(err)
	}
	defer ab.Close()
	aec, ok := backends.AsExpiredCleaner(ab)
	if !ok {
		t.Fatal("the django-db backend has no FillExpired")
	}
	const expiredRows = 3
	prefix := map[string]string{"django": "dead0000-0000-4000-8000-", "bench": "dead0001-0000-4000-8000-"}
	fillExpired := func(side string) {
		t.Helper()
		if n, err := aec.FillExpired(actx, prefix[side], expiredRows, time.Now().Add(-48*time.Hour)); err != nil || n != expiredRows {
			t.Fatalf("FillExpired for %s's cleanup = %d, %v", side, n, err)
		}
	}
	checkExpiredGone := func(side string) {
		t.Helper()
		ac, err := ab.NewCaller(actx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ac.Close()
		for i := 0; i < expiredRows; i++ {
			id := fmt.Sprintf("%s%012x", prefix[side], i)
			if m, err := ac.GetTaskMeta(actx, id); err != nil || m.Status != backends.Pending {
				t.Errorf("%s's cleanup left the expired row %s: %+v, %v", side, id, m, err)
			}
		}
	}
	fillExpired("django")
	save := func(name, s string) {
		if saveDir != "" {
			os.WriteFile(filepath.Join(saveDir, e.name+"-"+name), []byte(s), 0o644)
		}
	}

	// The real software.
	start := time.Now()
	from := srv.mark()
	out, _ := py(t, dir, 0, append([]string{"django_traffic.py", "run", "--broker", e.broker}, common...)...)
	time.Sleep(300 * time.Millisecond)
	djangoLog := srv.read(from)
	t.Logf("Django's lifecycles took %.1f s", time.Since(start).Seconds())
	checkExpiredGone("django")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var djIDs map[string][]string
	for _, l := range lines {
		if strings.HasPrefix(l, "{\"roundtrip\"") {
			json.Unmarshal([]byte(l), &djIDs)
		}
	}
	if djIDs == nil {
		t.Fatalf("django_traffic.py run printed no ids:\n%s", head(out, 40))
	}
	roles := []struct{ name, user string }{{"worker", "djw"}, {"caller", "djc"}, {"extended-worker", "djx"}}
	wants := map[string]string{}
	if n := len(streams(djangoLog, "djx")); n != 2 {
		t.Errorf("Django's extended worker (djx) opened %d connections, want 2 (extended, cleanup)", n)
	}
	checkDjangoCutoffs(t, streams(djangoLog, "djx"))
	for _, role := range roles {
		wants[role.name] = render(role.name, normalise(streams(djangoLog, role.user)))
		save(role.name+".django", wants[role.name])
		save(role.name+".django.raw", render(role.name, streams(djangoLog, role.user)))
		if len(streams(djangoLog, role.user)) == 0 {
			t.Fatalf("the server logged no connection of %s (Django's %s)", role.user, role.name)
		}
	}

	// bench.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(user string) backends.Backend {
		o := backends.DefaultOptions
		o.Celery = backends.Celery52
		b, err := backends.Open(ctx, e.scheme+"://"+user+"@127.0.0.1:"+ps+"/"+djangoDB, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	wb, cb := open("djw"), open("djc")
	xo := backends.DefaultOptions
	xo.Celery = backends.Celery52
	xo.ResultExtended = true
	xb, err := backends.Open(ctx, e.scheme+"://djx@127.0.0.1:"+ps+"/"+djangoDB, xo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { xb.Close() })
	start = time.Now()
	from = srv.mark()
	fillExpired("bench")
	ids, cleanupFrom, cleanupTo, deleted := benchLifecycles(t, ctx, wb, cb, xb)
	time.Sleep(300 * time.Millisecond)
	benchLog := srv.read(from)
	t.Logf("bench's lifecycles took %.1f s", time.Since(start).Seconds())
	if deleted != expiredRows {
		t.Errorf("bench's CleanupExpired deleted %d rows, want the %d expired ones", deleted, expiredRows)
	}
	checkExpiredGone("bench")
	if c := streams(benchLog, "djx"); len(c) != 3 {
		t.Errorf("bench's extended worker (djx) opened %d connections, want 3 (extended, CleanupExpired, the cleanup task's store)", len(c))
	} else {
		checkBenchCutoffs(t, c, cleanupFrom, cleanupTo)
	}
	benchStreams := func(user string) [][]string {
		if user == "djx" {
			return mergeCleanup(streams(benchLog, user))
		}
		return streams(benchLog, user)
	}

	for _, role := range roles {
		want := wants[role.name]
		got := render(role.name, normalise(benchStreams(role.user)))
		save(role.name+".bench", got)
		save(role.name+".bench.raw", render(role.name, benchStreams(role.user)))
		if got != want {
			t.Errorf("bench's %s statements differ from django-celery-results' on %s (- django, + bench):\n%s", role.name, e.name, lineDiff(want, got))
		}
	}
	golden := filepath.Join(dir, "testdata", e.golden)
	got := normHeader()
	for _, role := range roles {
		got += render(role.name, normalise(benchStreams(role.user)))
	}
	if os.Getenv("BENCH_UPDATE_GOLDEN") == "1" {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil {
		t.Errorf("%v (BENCH_UPDATE_GOLDEN=1 writes it)", err)
	} else if string(want) != got {
		t.Errorf("bench's normalised stream differs from %s (BENCH_UPDATE_GOLDEN=1 rewrites it; - golden, + bench):\n%s", golden, lineDiff(string(want), got))
	}
	for _, role := range []string{"djw", "djc", "djx"} {
		for i, c := range streams(benchLog, role) {
			t.Logf("bench %s connection %d: %d statements", role, i+1, queries(c))
		}
	}

	// bench reads what Django wrote (as bench inspect does).
	rc, err := cb.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for name, want := range map[string]struct {
		state  backends.State
		result string
	}{
		"roundtrip": {backends.Success, "5"},
		"progress":  {backends.Success, "done"},
		"failure":   {backends.Failure, "[{exc_type ValueError} {exc_message [boom!]} {exc_module builtins}]"},
		"polling":   {backends.Success, "ok"},
		"extended":  {backends.Success, "5"},
	} {
		m, err := rc.GetTaskMeta(ctx, djIDs[name][0])
		if err != nil || m.Status != want.state || fmt.Sprint(m.Result) != want.result || m.DateDone.IsZero() {
			t.Errorf("%s: bench read Django's %s as %+v, %v; want %s %s with a date_done", name, djIDs[name][0], m, err, want.state, want.result)
		}
	}

	// Django reads what bench wrote.
	read := readBack(t, dir, "django_traffic.py", common, func(name string) string { return ids[name] })
	for name, w := range readBackWant {
		r := read[ids[name]]
		if r == nil {
			t.Errorf("%s: Django read nothing for %s", name, ids[name])
			continue
		}
		if r["state"] != w.state || fmt.Sprint(r["result"]) != fmt.Sprint(w.result) ||
			r["content_type"] != "application/json" || r["content_encoding"] != "utf-8" || r["date_done_aware"] != true {
			t.Errorf("%s: Django read %v, want state %s result %v (application/json, utf-8, aware date_done)", name, r, w.state, w.result)
		}
	}
	// The extended columns, as Django's TaskResult model reads them back.
	if r, want := read[ids["extended"]], map[string]any{"task_name": "djtasks.started_add", "task_args": "\"(2,)\"",
		"task_kwargs": "\"{'y': 3}\"", "worker": "djx@bench", "periodic_task_name": nil}; r != nil {
		for k, v := range want {
			if r[k] != v {
				t.Errorf("extended: Django read %s = %#v from bench's row, want %#v", k, r[k], v)
			}
		}
	}
}

// readBackWant is what the real software must read back from the rows bench wrote in the
// traffic tests' lifecycles: state and result, as the scripts' "read" command prints them.
var readBackWant = map[string]struct {
	state  string
	result any
}{
	"roundtrip": {"SUCCESS", 5.0},
	"progress":  {"SUCCESS", "done"},
	"failure":   {"FAILURE", map[string]any{"exception": "ValueError", "args": []any{"boom!"}}},
	"polling":   {"SUCCESS", "ok"},
	"header1":   {"SUCCESS", 2.0},
	"body":      {"SUCCESS", 6.0},
	"started":   {"SUCCESS", 5.0},
	"retry":     {"SUCCESS", "retried-ok"},
	"extended":  {"SUCCESS", 5.0},
}

// readBack runs script's "read" command (with the common connection arguments) on the ids of
// readBackWant's lifecycles, idOf giving each lifecycle's id, and returns what it read by id.
func readBack(t *testing.T, dir, script string, common []string, idOf func(name string) string) map[string]map[string]any {
	t.Helper()
	args := append([]string{script, "read"}, common...)
	for _, name := range slices.Sorted(maps.Keys(readBackWant)) {
		args = append(args, idOf(name))
	}
	out, _ := py(t, dir, 0, args...)
	var read map[string]map[string]any
	if err := json.Unmarshal([]byte(lastLine(out)), &read); err != nil {
		t.Fatalf("%s read: %v\n%s", script, err, head(out, 40))
	}
	return read
}

// reCutoff is the cutoff of a delete_expired DELETE, with its date literal.
var reCutoff = regexp.MustCompile(`^Query\tDELETE FROM .*date_done[` + "`" + `"] < '([^']+)'`)

// cutoffs returns the date_done cutoffs of the DELETEs in connection c.
func cutoffs(t *testing.T, c []string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, s := range c {
		if m := reCutoff.FindStringSubmatch(s); m != nil {
			out = append(out, parseDateLiteral(t, m[1]))
		}
	}
	return out
}

// parseDateLiteral parses a MySQL ('2026-12-01 22:06:19.914812', naive UTC) or PostgreSQL
// ('2026-12-01T22:08:10.538885+00:00') date literal.
func parseDateLiteral(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02T15:04:05.999999-07:00"} {
		if d, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return d
		}
	}
	t.Fatalf("unparsable date literal %q", s)
	return time.Time{}
}

// resultExpires is Celery's default result_expires.
const resultExpires = 24 * time.Hour

// checkDjangoCutoffs checks that Django's cleanup connection (djx's second) deletes from both
// tables with a cutoff result_expires before it ran: at most 2 s before the date_created that
// the cleanup task's own result, stored next on that connection, carries.
func checkDjangoCutoffs(t *testing.T, conns [][]string) {
	t.Helper()
	if len(conns) < 2 {
		return
	}
	c := conns[len(conns)-1]
	cs := cutoffs(t, c)
	var stored time.Time
	for _, s := range c {
		if strings.HasPrefix(s, "Query\tINSERT INTO ") {
			if m := regexp.MustCompile(`'(20\d\d-[^']+)'`).FindStringSubmatch(s); m != nil {
				stored = parseDateLiteral(t, m[1])
			}
		}
	}
	if len(cs) != 2 || stored.IsZero() {
		t.Errorf("Django's cleanup connection: %d DELETE cutoffs and stored date %v, want 2 and the cleanup task's result:\n%s", len(cs), stored, strings.Join(c, "\n"))
		return
	}
	for i, cut := range cs {
		if ran := cut.Add(resultExpires); ran.After(stored) || stored.Sub(ran) > 2*time.Second || (i > 0 && cut.Before(cs[i-1])) {
			t.Errorf("Django's cleanup cutoff %d is %s: + result_expires (%s) = %s, want within 2 s before the cleanup task's result (%s)", i+1, cut, resultExpires, ran, stored)
		}
	}
	t.Logf("Django's cleanup cutoffs: %s, %s (its result stored at %s)", cs[0].Format(time.RFC3339Nano), cs[1].Format(time.RFC3339Nano), stored.Format(time.RFC3339Nano))
}

// checkBenchCutoffs checks that bench's CleanupExpired connection (djx's second) deletes from
// both tables with the cutoff result_expires before the call (between from and to).
func checkBenchCutoffs(t *testing.T, conns [][]string, from, to time.Time) {
	t.Helper()
	if len(conns) < 2 {
		return
	}
	cs := cutoffs(t, conns[1])
	if len(cs) != 2 {
		t.Errorf("bench's CleanupExpired connection has %d DELETE cutoffs, want 2:\n%s", len(cs), strings.Join(conns[1], "\n"))
	}
	for i, cut := range cs {
		if ran := cut.Add(resultExpires); ran.Before(from.Truncate(time.Microsecond)) || ran.After(to) {
			t.Errorf("bench's cleanup cutoff %d is %s: + result_expires (%s) = %s, want between %s and %s (the CleanupExpired call)", i+1, cut, resultExpires, ran, from.UTC(), to.UTC())
		}
	}
}

// mergeCleanup joins bench's CleanupExpired connection (djx's second) and the next one (the
// store of the cleanup task's own result) into one, as a real worker runs both on the task's
// connection: the first loses its Quit/Disconnect, the second its Connect and set-up (every
// line before its first statement naming a django_celery_results table). The test checks
// beforehand that bench opened three connections.
func mergeCleanup(conns [][]string) [][]string {
	if len(conns) != 3 {
		return conns
	}
	a, b := conns[1], conns[2]
	if n := len(a); n > 0 && (a[n-1] == "Quit" || a[n-1] == "Disconnect") {
		a = a[:n-1]
	}
	i := 0
	for i < len(b) && !strings.Contains(b[i], "django_celery_results_") {
		i++
	}
	merged := append(append([]string{}, a...), b[i:]...)
	return [][]string{conns[0], merged}
}

// testDjangoUTCServer checks the other branch of Django's PostgreSQL connection set-up: on a
// server whose TimeZone is the string 'UTC' itself, psycopg2 reports it and Django sends no
// SET TIME ZONE at all. Django stores one result as djw (app.backend.store_result, in a process
// of its own) and reads it as djc (AsyncResult.get); bench's worker and caller do the same; each
// role's statements must match, and Django's must have no SET TIME ZONE.
func testDjangoUTCServer(t *testing.T, e djangoEngine) {
	djangoPrerequisites(t, e)
	dir := here(t)
	srv := privatePostgres(t, "UTC")
	ps := strconv.Itoa(srv.port)
	common := []string{"--engine", e.name, "--port", ps, "--db", djangoDB}
	py(t, dir, 0, append([]string{"django_traffic.py", "migrate"}, common...)...)
	djID := "d1a9c0de-0000-4000-8000-000000000001"
	from := srv.mark()
	py(t, dir, 0, append([]string{"django_traffic.py", "store", djID}, common...)...)
	if out, _ := py(t, dir, 0, append([]string{"django_traffic.py", "poll", djID}, common...)...); lastLine(out) != "5" {
		t.Fatalf("Django read back %q, want 5", out)
	}
	djangoLog := srv.read(from)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	o := backends.DefaultOptions
	o.Celery = backends.Celery52
	wb, err := backends.Open(ctx, e.scheme+"://djw@127.0.0.1:"+ps+"/"+djangoDB, o)
	if err != nil {
		t.Fatal(err)
	}
	defer wb.Close()
	cb, err := backends.Open(ctx, e.scheme+"://djc@127.0.0.1:"+ps+"/"+djangoDB, o)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	from = srv.mark()
	id := "bec1d500-0000-4000-8000-000000000001"
	w, err := wb.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.StoreResult(ctx, &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 5, Children: []string{}, DateDone: time.Now()}); err != nil {
		t.Fatal(err)
	}
	backends.EndTask(ctx, w)
	w.Close()
	c, err := cb.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := c.WaitFor(ctx, id, 500*time.Millisecond); err != nil || st != backends.Success {
		t.Fatalf("WaitFor = %s, %v", st, err)
	}
	c.Close()
	benchLog := srv.read(from)

	for _, role := range []struct{ name, user string }{{"worker", "djw"}, {"caller", "djc"}} {
		want := render(role.name, normalise(streams(djangoLog, role.user)))
		got := render(role.name, normalise(streams(benchLog, role.user)))
		if len(streams(djangoLog, role.user)) == 0 || strings.Contains(want, "SET TIME ZONE") {
			t.Errorf("Django's %s on a TimeZone=UTC server, want one connection without SET TIME ZONE:\n%s", role.name, want)
		}
		if d := os.Getenv("BENCH_DJANGO_TRAFFIC_DIR"); d != "" {
			os.WriteFile(filepath.Join(d, "postgresql-utc-server-"+role.name+".django"), []byte(want), 0o644)
			os.WriteFile(filepath.Join(d, "postgresql-utc-server-"+role.name+".bench"), []byte(got), 0o644)
		}
		if got != want {
			t.Errorf("bench's %s statements differ from django-celery-results' on a TimeZone=UTC server (- django, + bench):\n%s", role.name, lineDiff(want, got))
		}
	}
}

// changeAt says where line b first differs from a, with 40 bytes of each from there.
func changeAt(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	cut := func(s string) string {
		s = s[i:]
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return strconv.Quote(s)
	}
	return fmt.Sprintf("^ from byte %d: - %s, + %s\n", i, cut(a), cut(b))
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// queries counts the statements (COM_QUERY) of a connection's stream.
func queries(c []string) int {
	n := 0
	for _, s := range c {
		if strings.HasPrefix(s, "Query\t") {
			n++
		}
	}
	return n
}
