package interop

// TestDjangoTraffic checks bench's django-db+mysql:// backend against a real django-celery-results
// 2.4 backend (Debian's python3-django 3.2, python3-django-celery-results 2.4, python3-mysqldb,
// python3-celery 5.2.6) on a private MariaDB server (a scratch datadir on a free port, general log
// on): django_traffic.py runs a prefork worker (DB user djw) and a caller (DB user djc) through the
// lifecycles roundtrip, progress, failure, polling, forget, group (GroupResult save, restore,
// delete) chord (ChordCounter, two header tasks, the body),
// started (track_started) and retry (RETRY, then the re-run on a new connection); bench's worker and caller sessions
// then play the same lifecycles as the same users; the general log's statements are compared per
// connection, in order, after ids, dates and primary keys are normalised. The normalised stream is
// kept in testdata/django_traffic.golden (BENCH_UPDATE_GOLDEN=1 rewrites it). Finally Django reads
// what bench wrote (AsyncResult and the TaskResult model), and bench reads what Django wrote.
//
// It skips when the Python packages, mariadbd or Redis (the broker, db 13, a queue of its own) are
// missing; BENCH_REQUIRE_INTEROP=1 or BENCH_REQUIRE_SERVERS=1 make that a failure.

import (
	"context"
	"database/sql"
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

// privateMariaDB starts mariadbd on a scratch datadir and a free port with the general log on,
// creates the django database and its two users, and returns the port and the log's path. The
// server is stopped when the test ends.
func privateMariaDB(t *testing.T) (int, string) {
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
	for _, s := range []string{"CREATE DATABASE " + djangoDB, "CREATE USER djw@'%'", "CREATE USER djc@'%'",
		"GRANT ALL ON " + djangoDB + ".* TO djw@'%'", "GRANT ALL ON " + djangoDB + ".* TO djc@'%'"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return srv.Port, srv.GeneralLog
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
// Connect names user; the Connect line itself is kept as "Connect <user>".
func streams(entries []logEntry, user string) [][]string {
	idx := map[int]int{}
	var out [][]string
	for _, e := range entries {
		if e.cmd == "Connect" {
			if strings.HasPrefix(e.arg, user+"@") {
				idx[e.conn] = len(out)
				out = append(out, []string{"Connect " + user})
			}
			continue
		}
		if i, ok := idx[e.conn]; ok {
			out[i] = append(out[i], strings.TrimRight(e.cmd+"\t"+e.arg, "\t"))
		}
	}
	return out
}

var (
	reUUID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	reDate = regexp.MustCompile(`'20[2-9]\d-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?'`)
	rePK   = regexp.MustCompile("(`id` = |`id` IN \\()\\d+")
	rePID  = regexp.MustCompile(`(\\"pid\\": )\d+`)
)

// normalise replaces task ids by their order of first appearance (<id1>, …), dates by <date> and
// primary keys by <pk>.
func normalise(conns [][]string) [][]string {
	ids := map[string]string{}
	out := make([][]string, len(conns))
	for i, c := range conns {
		for _, s := range c {
			s = reUUID.ReplaceAllStringFunc(s, func(u string) string {
				if ids[u] == "" {
					ids[u] = fmt.Sprintf("<id%d>", len(ids)+1)
				}
				return ids[u]
			})
			s = reDate.ReplaceAllString(s, "'<date>'")
			s = rePK.ReplaceAllString(s, "${1}<pk>")
			s = rePID.ReplaceAllString(s, "${1}<pid>")
			out[i] = append(out[i], s)
		}
	}
	return out
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

// benchLifecycles plays django_traffic.py's lifecycles through bench's sessions, with a worker on
// backend w (user djw) and a caller on backend c (user djc). It returns the ids, by lifecycle.
func benchLifecycles(t *testing.T, ctx context.Context, wb, cb backends.Backend) map[string]string {
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
	ids := map[string]string{}
	n := 0
	newID := func(name string) string {
		n++
		ids[name] = fmt.Sprintf("bec1d500-0000-4000-8000-%012d", n)
		return ids[name]
	}
	store := func(m *backends.TaskMeta) {
		t.Helper()
		if m.Children == nil {
			m.Children = []string{}
		}
		if err := w.StoreResult(ctx, m); err != nil {
			t.Fatalf("StoreResult %s: %v", m.Status, err)
		}
	}
	wait := func(id string, want backends.State) {
		t.Helper()
		st, err := c.WaitFor(ctx, id, 500*time.Millisecond)
		if err != nil || st != want {
			t.Fatalf("WaitFor %s = %s, %v; want %s", id, st, err, want)
		}
	}
	end := func() { backends.EndTask(ctx, w) }

	id := newID("roundtrip")
	store(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 5, DateDone: time.Now()})
	end()
	wait(id, backends.Success)

	id = newID("progress")
	store(&backends.TaskMeta{TaskID: id, Status: backends.Progress, Result: pyv.Dict{{Key: "done", Value: 1}, {Key: "total", Value: 2}}})
	store(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: "done", DateDone: time.Now()})
	end()
	wait(id, backends.Success)

	id = newID("failure")
	store(&backends.TaskMeta{TaskID: id, Status: backends.Failure, Result: pyv.Exception("builtins", "ValueError", "boom!"),
		Traceback: "Traceback (most recent call last):\n  File \"tasks.py\", line 1, in boom\nValueError: boom!\n", DateDone: time.Now()})
	end()
	wait(id, backends.Failure)

	id = newID("polling")
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(1200 * time.Millisecond)
		m := &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: "ok", Children: []string{}, DateDone: time.Now()}
		if err := w.StoreResult(ctx, m); err != nil {
			t.Errorf("StoreResult: %v", err)
		}
		end()
	}()
	wait(id, backends.Success)
	<-done

	id = newID("forget")
	store(&backends.TaskMeta{TaskID: id, Status: backends.Success, Result: 2, DateDone: time.Now()})
	end()
	wait(id, backends.Success)
	if err := c.Forget(ctx, id); err != nil {
		t.Fatal(err)
	}

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

	id = newID("started")
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
	return ids
}

func TestDjangoTraffic(t *testing.T) {
	if testing.Short() && os.Getenv("BENCH_REQUIRE_INTEROP") != "1" {
		t.Skip("runs a real Celery worker and a private MariaDB; skipped in -short mode")
	}
	if out, err := exec.Command(python, "-c", "import django, django_celery_results, MySQLdb, celery, redis").CombinedOutput(); err != nil {
		djangoUnavailable(t, "needs %s with django, django_celery_results, MySQLdb, celery and redis (apt-get install python3-django python3-django-celery-results python3-mysqldb python3-celery python3-redis): %s",
			python, head(string(out), 3))
	}
	if !dialable("127.0.0.1:6379") {
		djangoUnavailable(t, "Redis (the Celery broker) does not answer on 127.0.0.1:6379")
	}
	dir := here(t)
	port, logFile := privateMariaDB(t)
	ps := strconv.Itoa(port)
	common := []string{"--port", ps, "--db", djangoDB}
	py(t, dir, 0, append([]string{"django_traffic.py", "migrate"}, common...)...)

	// The real software.
	from := logSize(t, logFile)
	out, _ := py(t, dir, 0, append([]string{"django_traffic.py", "run", "--broker", "redis://127.0.0.1:6379/13"}, common...)...)
	time.Sleep(300 * time.Millisecond)
	djangoLog := readLog(t, logFile, from)
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

	// bench.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	open := func(user string) backends.Backend {
		o := backends.DefaultOptions
		o.Celery = backends.Celery52
		b, err := backends.Open(ctx, "django-db+mysql://"+user+"@127.0.0.1:"+ps+"/"+djangoDB, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	wb, cb := open("djw"), open("djc")
	from = logSize(t, logFile)
	ids := benchLifecycles(t, ctx, wb, cb)
	time.Sleep(300 * time.Millisecond)
	benchLog := readLog(t, logFile, from)

	for _, role := range []struct{ name, user string }{{"worker", "djw"}, {"caller", "djc"}} {
		want := render(role.name, normalise(streams(djangoLog, role.user)))
		got := render(role.name, normalise(streams(benchLog, role.user)))
		if got != want {
			if d := os.Getenv("BENCH_DJANGO_TRAFFIC_DIR"); d != "" {
				os.WriteFile(filepath.Join(d, role.name+".bench"), []byte(got), 0o644)
				os.WriteFile(filepath.Join(d, role.name+".django"), []byte(want), 0o644)
			}
			t.Errorf("bench's %s statements differ from django-celery-results':\n--- bench\n%s\n--- django\n%s", role.name, got, want)
		}
	}
	golden := filepath.Join(dir, "testdata", "django_traffic.golden")
	got := render("worker", normalise(streams(benchLog, "djw"))) + render("caller", normalise(streams(benchLog, "djc")))
	if os.Getenv("BENCH_UPDATE_GOLDEN") == "1" {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want, err := os.ReadFile(golden); err != nil {
		t.Errorf("%v (BENCH_UPDATE_GOLDEN=1 writes it)", err)
	} else if string(want) != got {
		t.Errorf("bench's normalised stream differs from %s (BENCH_UPDATE_GOLDEN=1 rewrites it):\n%s", golden, got)
	}
	for _, role := range []string{"djw", "djc"} {
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
	} {
		m, err := rc.GetTaskMeta(ctx, djIDs[name][0])
		if err != nil || m.Status != want.state || fmt.Sprint(m.Result) != want.result || m.DateDone.IsZero() {
			t.Errorf("%s: bench read Django's %s as %+v, %v; want %s %s with a date_done", name, djIDs[name][0], m, err, want.state, want.result)
		}
	}

	// Django reads what bench wrote.
	args := append([]string{"django_traffic.py", "read"}, common...)
	for _, name := range []string{"roundtrip", "progress", "failure", "polling", "header1", "body", "started", "retry"} {
		args = append(args, ids[name])
	}
	out, _ = py(t, dir, 0, args...)
	var read map[string]map[string]any
	if err := json.Unmarshal([]byte(lastLine(out)), &read); err != nil {
		t.Fatalf("django_traffic.py read: %v\n%s", err, head(out, 40))
	}
	want := map[string]struct {
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
	}
	for name, w := range want {
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
