package postgres

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

var update = flag.Bool("update", false, "rewrite testdata/celery52-lifecycle.golden")

const pgBin = "/usr/lib/postgresql/15/bin/"

// privateCluster starts a PostgreSQL of its own (initdb into a temp dir,
// a free port, log_statement=all) and returns its port and log path.
func privateCluster(t *testing.T) (string, string) {
	t.Helper()
	if _, err := os.Stat(pgBin + "initdb"); err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("no %sinitdb: %v", pgBin, err)
		}
		t.Skipf("no %sinitdb", pgBin)
	}
	dir, err := os.MkdirTemp("", "bench-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o777) // initdb runs as postgres when the test runs as root
	run := func(name string, args ...string) *exec.Cmd {
		if u, _ := user.Current(); u != nil && u.Uid == "0" { // initdb refuses root
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
		}
		return exec.Command(name, args...)
	}
	if out, err := run(pgBin+"initdb", "-D", dir+"/data", "-U", "postgres", "--auth=trust").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	logPath := filepath.Join(dir, "log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(logPath, 0o666)
	cmd := run(pgBin+"postgres", "-D", dir+"/data", "-p", port, "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "log_statement=all", "-c", "log_connections=on", "-c", "log_line_prefix=%p|", "-c", "logging_collector=off",
		"-c", "fsync=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
		logf.Close()
	})
	for i := 0; ; i++ {
		if exec.Command("pg_isready", "-q", "-h", "127.0.0.1", "-p", port).Run() == nil {
			break
		}
		if i > 100 {
			t.Fatal("private PostgreSQL did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, db := range []string{"celery", "bench"} {
		if out, err := exec.Command("psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-c", "CREATE DATABASE "+db).CombinedOutput(); err != nil {
			t.Fatalf("create database: %v\n%s", err, out)
		}
	}
	return port, logPath
}

// connections reads the server log: the statements of each connection to
// db, connections in the order they were authorized, normalized.
func connections(t *testing.T, logPath, db string) [][]string {
	f, err := os.Open(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var order []string
	conns := map[string][]string{}
	last := ""
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "\t") && last != "" {
			s := conns[last]
			s[len(s)-1] += "\n" + line[1:]
			continue
		}
		pid, rest, ok := strings.Cut(line, "|")
		if !ok {
			last = ""
			continue
		}
		switch {
		case strings.HasPrefix(rest, "LOG:  connection authorized:") && strings.Contains(rest, "database="+db):
			order = append(order, pid)
			conns[pid] = []string{}
			last = ""
		case strings.HasPrefix(rest, "LOG:  statement: "):
			if _, ok := conns[pid]; ok {
				conns[pid] = append(conns[pid], strings.TrimPrefix(rest, "LOG:  statement: "))
				last = pid
			}
		default:
			last = ""
		}
	}
	var out [][]string
	for _, pid := range order {
		var c []string
		for _, s := range conns[pid] {
			c = append(c, normalize(s))
		}
		out = append(out, c)
	}
	return out
}

var (
	reTS    = regexp.MustCompile(`'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?'::timestamp`)
	reTaskI = regexp.MustCompile(`'lifecycle-[a-z]+'`)
	reRowID = regexp.MustCompile(`\.id = \d+`)
)

func normalize(s string) string {
	s = reTS.ReplaceAllString(s, "'<ts>'::timestamp")
	s = reTaskI.ReplaceAllString(s, "'<task_id>'")
	return reRowID.ReplaceAllString(s, ".id = <n>")
}

// TestCeleryStatementLog runs one lifecycle (a prefork child stores
// SUCCESS 5 into empty tables; a caller reads it twice and forgets it) with
// the real Celery 5.2.6 and with bench against a private PostgreSQL, and
// compares the statements the server logged per connection.
func TestCeleryStatementLog(t *testing.T) {
	if _, err := exec.Command("/usr/bin/python3", "-c", "import celery, sqlalchemy, psycopg2").CombinedOutput(); err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("Celery with psycopg2 is not installed: %v", err)
		}
		t.Skip("Celery with psycopg2 is not installed")
	}
	port, logPath := privateCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	celeryURL := "db+postgresql://postgres@127.0.0.1:" + port + "/celery"
	for _, role := range []string{"worker", "caller"} {
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "testdata/celery_lifecycle.py", celeryURL, role, "lifecycle-celery")
		cmd.Env = append(os.Environ(), "PGSSLMODE=disable")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("celery %s: %v\n%s", role, err, out)
		}
	}

	u, _ := url.Parse("db+postgresql://postgres@127.0.0.1:" + port + "/bench")
	o := backends.DefaultOptions
	o.Celery = backends.Celery52
	b, err := openBackend(ctx, u, o)
	if err != nil {
		t.Fatal(err)
	}
	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.StoreResult(ctx, &backends.TaskMeta{TaskID: "lifecycle-bench", Status: backends.Success, Result: int64(5)}); err != nil {
		t.Fatal(err)
	}
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if m, err := c.GetTaskMeta(ctx, "lifecycle-bench"); err != nil || m.Status != backends.Success {
			t.Fatalf("GetTaskMeta = %+v, %v", m, err)
		}
	}
	if err := c.Forget(ctx, "lifecycle-bench"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	w.Close()
	time.Sleep(300 * time.Millisecond) // the log is written asynchronously

	want := connections(t, logPath, "celery")
	got := connections(t, logPath, "bench")
	render := func(cs [][]string) string {
		var sb strings.Builder
		for i, c := range cs {
			fmt.Fprintf(&sb, "-- connection %d\n", i+1)
			for _, s := range c {
				sb.WriteString(s + "\n")
			}
		}
		return sb.String()
	}
	if g, w := render(got), render(want); g != w {
		t.Errorf("bench's statements differ from Celery's.\n--- bench\n%s\n--- celery\n%s", g, w)
	}
	if len(want) != 5 { // worker child; caller: create_all check + 2 polls + forget
		t.Errorf("Celery opened %d connections, want 5", len(want))
	}
	golden := "testdata/celery52-lifecycle.golden"
	if *update {
		os.WriteFile(golden, []byte(render(want)), 0o644)
	}
	if g, err := os.ReadFile(golden); err != nil || string(g) != render(want) {
		t.Errorf("Celery's normalized log differs from %s (-update rewrites it): %v", golden, err)
	}
}
