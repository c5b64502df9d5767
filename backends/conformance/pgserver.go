package conformance

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// PostgresServer is a PostgreSQL cluster of a test's own: initdb into a
// scratch directory, a postgres process on a free port of 127.0.0.1, never
// the shared server, every statement in its log. Tests that compare the
// statements a client sends (log_statement=all) see nobody else's.
type PostgresServer struct {
	// Port is the server's port.
	Port int
	// Dir holds the cluster's data directory, its socket and its log.
	Dir string
	// Log is the server's log (stderr): every line starts with
	// PostgresLogPrefix's fields; ReadPostgresLog parses it.
	Log string
}

// PostgresBin is the directory of the PostgreSQL programs StartPostgres runs
// (Debian's postgresql-15).
const PostgresBin = "/usr/lib/postgresql/15/bin"

// PostgresLogPrefix is the log_line_prefix of a PostgresServer: the backend's
// process id (one per connection), the user and the database, each followed
// by '|'. Lines logged before authentication have "[unknown]" for both.
const PostgresLogPrefix = "%p|%u|%d|"

// StartPostgres initialises a cluster (initdb, superuser postgres, trust
// authentication, UTF8) in a scratch directory, starts it on a free port of
// 127.0.0.1 with log_statement=all, log_connections and log_disconnections on,
// fsync off and PostgresLogPrefix, and waits up to 20 s for it to accept
// connections. Each extra argument is one more setting, "name=value", passed
// as -c (e.g. "timezone=UTC"); later settings win. The server is stopped when
// the test ends. When the test runs as root, initdb and postgres run as the
// postgres user (runuser), since both refuse root. Without PostgresBin the
// test is skipped, or fails under BENCH_REQUIRE_SERVERS=1. Setting it up
// takes about 2 s.
func StartPostgres(t testing.TB, extra ...string) *PostgresServer {
	t.Helper()
	for _, p := range []string{"initdb", "postgres", "psql"} {
		if _, err := os.Stat(filepath.Join(PostgresBin, p)); err != nil {
			if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
				t.Fatalf("%s is missing and BENCH_REQUIRE_SERVERS=1 (apt-get install postgresql-15)", filepath.Join(PostgresBin, p))
			}
			t.Skipf("%s is missing (apt-get install postgresql-15)", filepath.Join(PostgresBin, p))
		}
	}
	// Not t.TempDir: its parent is private to root, and the server runs as
	// postgres.
	dir, err := os.MkdirTemp("", "bench-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	asPostgres := false
	if u, _ := user.Current(); u != nil && u.Uid == "0" {
		asPostgres = true
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	command := func(ctx context.Context, name string, args ...string) *exec.Cmd {
		name = filepath.Join(PostgresBin, name)
		if asPostgres {
			return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		}
		return exec.CommandContext(ctx, name, args...)
	}
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := command(ctx, "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
		"--locale=C", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, firstLines(string(out), 20))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &PostgresServer{Port: l.Addr().(*net.TCPAddr).Port, Dir: dir, Log: filepath.Join(dir, "postgres.log")}
	l.Close()
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close() // the server keeps its own descriptor
	args := []string{"-D", data, "-p", strconv.Itoa(p.Port), "-k", dir}
	for _, s := range append([]string{"listen_addresses=127.0.0.1", "logging_collector=off", "log_destination=stderr",
		"log_statement=all", "log_connections=on", "log_disconnections=on", "log_line_prefix=" + PostgresLogPrefix,
		"fsync=off", "synchronous_commit=off", "full_page_writes=off"}, extra...) {
		args = append(args, "-c", s)
	}
	srv := command(context.Background(), "postgres", args...)
	srv.Stdout, srv.Stderr = logf, logf
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	t.Cleanup(func() { p.stop(srv, exited) })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		// The TCP port opens before the server accepts logins; the
		// superuser's SELECT 1 is the real test.
		if _, err := p.psql("postgres", "SELECT 1"); err == nil {
			return p
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(p.Log)
			t.Fatalf("private PostgreSQL on %s exited: %v\n%s", p.Addr(), srv.ProcessState, firstLines(string(b), 20))
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.Log)
			t.Fatalf("private PostgreSQL on %s did not start within 20 s:\n%s", p.Addr(), firstLines(string(b), 20))
		}
	}
}

// stop sends the postmaster SIGINT (fast shutdown: sessions are ended,
// nothing is left to recover) and waits up to 15 s before killing it. The
// postmaster's pid is read from postmaster.pid, since srv may be runuser.
func (p *PostgresServer) stop(srv *exec.Cmd, exited <-chan struct{}) {
	pid := srv.Process.Pid
	if b, err := os.ReadFile(filepath.Join(p.Dir, "data", "postmaster.pid")); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])); err == nil && n > 0 {
			pid = n
		}
	}
	syscall.Kill(pid, syscall.SIGINT)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		syscall.Kill(pid, syscall.SIGKILL)
		srv.Process.Kill()
		<-exited
	}
}

// Addr is host:port.
func (p *PostgresServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(p.Port) }

// URL is the Celery result_backend URL (db+postgresql://) of database db as
// the superuser postgres.
func (p *PostgresServer) URL(db string) string {
	return fmt.Sprintf("db+postgresql://postgres@%s/%s", p.Addr(), db)
}

// Exec runs each statement in database db as the superuser postgres, in
// autocommit, and fails the test at the first error. Its statements are in
// the log too, as user postgres.
func (p *PostgresServer) Exec(t testing.TB, db string, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if out, err := p.psql(db, s); err != nil {
			t.Fatalf("psql %s: %s: %v\n%s", db, s, err, firstLines(out, 20))
		}
	}
}

func (p *PostgresServer) psql(db, stmt string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(PostgresBin, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", db, "-c", stmt)
	cmd.Env = append(os.Environ(), "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=5")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// LogSize is the log's length in bytes: a mark for ReadPostgresLog.
func (p *PostgresServer) LogSize(t testing.TB) int64 {
	t.Helper()
	fi, err := os.Stat(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// A PostgresLogLine is one message of a PostgresServer's log.
type PostgresLogLine struct {
	// PID is the server process's id: one per connection.
	PID int
	// User and DB are "[unknown]" before the connection is authorized.
	User, DB string
	// Level is LOG, ERROR, DETAIL, STATEMENT, FATAL, …
	Level string
	// Text is the message after "LEVEL:  "; a multi-line statement keeps its
	// newlines.
	Text string
}

// ReadPostgresLog parses the log from byte offset from (a LogSize mark). A
// line that does not start with PostgresLogPrefix's fields continues the
// message before it: the server writes a statement's further lines with a
// leading tab, which is dropped.
func (p *PostgresServer) ReadPostgresLog(t testing.TB, from int64) []PostgresLogLine {
	t.Helper()
	f, err := os.Open(p.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(from, 0); err != nil {
		t.Fatal(err)
	}
	var out []PostgresLogLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		if l, ok := parsePostgresLogLine(line); ok {
			out = append(out, l)
		} else if len(out) > 0 {
			out[len(out)-1].Text += "\n" + strings.TrimPrefix(line, "\t")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func parsePostgresLogLine(line string) (PostgresLogLine, bool) {
	f := strings.SplitN(line, "|", 4)
	if len(f) != 4 {
		return PostgresLogLine{}, false
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return PostgresLogLine{}, false
	}
	level, text, ok := strings.Cut(f[3], ":  ")
	if !ok || level == "" || strings.ToUpper(level) != level {
		return PostgresLogLine{}, false
	}
	return PostgresLogLine{PID: pid, User: f[1], DB: f[2], Level: level, Text: text}, true
}
