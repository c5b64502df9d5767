// Package interop checks bench against real Celery (Debian's python3-celery 5.2.6):
// Celery reads every record bench writes, byte for byte (bench_writes_celery_reads.py), and
// bench sends the same command and statement streams as a real Celery worker and caller
// (traffic.py). See run.sh for the same checks from a shell.
//
// The test skips when /usr/bin/python3 cannot import celery, redis, sqlalchemy and pymysql, when
// redis-server/redis-cli are missing, or when Redis (127.0.0.1:6379) or MariaDB/MySQL
// (127.0.0.1:3306, root) do not answer; BENCH_REQUIRE_INTEROP=1 turns every such skip into a
// failure. It uses Redis db 11 and the MySQL database celery_bench_interop, and deletes the
// records it creates (ids starting bec1e7e0-).
package interop

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const (
	python   = "/usr/bin/python3"
	redisURL = "redis://127.0.0.1:6379/11"
	redisDB  = "11"
	mysqlDB  = "celery_bench_interop"
	mysqlURL = "db+mysql://root@127.0.0.1:3306/" + mysqlDB
	install  = "apt-get install python3-celery python3-redis python3-sqlalchemy python3-pymysql redis-server redis-tools"
)

// unavailable skips the test, or fails it when BENCH_REQUIRE_INTEROP=1.
func unavailable(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("BENCH_REQUIRE_INTEROP") == "1" {
		t.Fatalf("%s (BENCH_REQUIRE_INTEROP=1)", msg)
	}
	t.Skip(msg + " (set BENCH_REQUIRE_INTEROP=1 to make this a failure)")
}

func here(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate interop_test.go")
	}
	return filepath.Dir(file)
}

func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// setup checks the prerequisites and builds bench; it returns the scripts dir and the binary.
func setup(t *testing.T) (dir, bench string) {
	t.Helper()
	if testing.Short() && os.Getenv("BENCH_REQUIRE_INTEROP") != "1" {
		t.Skip("interop runs real Celery processes; skipped in -short mode")
	}
	if out, err := exec.Command(python, "-c", "import celery, redis, sqlalchemy, pymysql").CombinedOutput(); err != nil {
		unavailable(t, "Celery interop needs %s with celery, redis, sqlalchemy and pymysql: %s (%v: %s)",
			python, install, err, strings.TrimSpace(string(out)))
	}
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			unavailable(t, "Celery interop needs %s in PATH: %s", bin, install)
		}
	}
	for _, addr := range []string{"127.0.0.1:6379", "127.0.0.1:3306"} {
		if !dialable(addr) {
			unavailable(t, "Celery interop needs the real servers: %s does not answer", addr)
		}
	}
	dir = here(t)
	root := filepath.Clean(filepath.Join(dir, "..", ".."))
	bench = filepath.Join(t.TempDir(), "bench")
	build := exec.Command("go", "build", "-o", bench, "./cmd/bench")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/bench: %v\n%s", err, out)
	}
	list, err := exec.Command(bench, "list").CombinedOutput()
	if err != nil {
		t.Fatalf("bench list: %v\n%s", err, list)
	}
	if !bytes.Contains(list, []byte("redis://")) || !bytes.Contains(list, []byte("db+mysql://")) {
		unavailable(t, "bench list does not offer redis:// and db+mysql:// yet:\n%s", list)
	}
	py(t, dir, 0, "-c", "import pymysql; pymysql.connect(host='127.0.0.1', user='root')"+
		".cursor().execute('CREATE DATABASE IF NOT EXISTS `"+mysqlDB+"`')")
	return dir, bench
}

// py runs a Python script (or -c) with /usr/bin/python3 and returns its output and exit code.
// wantCode < 0 accepts any exit code.
func py(t *testing.T, dir string, wantCode int, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if !strings.HasPrefix(args[0], "-") {
		args[0] = filepath.Join(dir, args[0])
	}
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%s %v: %v\n%s", python, args, err, out)
		}
		code = ee.ExitCode()
	}
	if wantCode >= 0 && code != wantCode {
		t.Errorf("%s %s: exit %d, want %d\n%s", python, strings.Join(args, " "), code, wantCode, head(string(out), 40))
	}
	return string(out), code
}

func head(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append(lines[:n], fmt.Sprintf("... (%d more lines)", len(lines)-n))
	}
	return strings.Join(lines, "\n")
}

func cleanup(t *testing.T, dir string) {
	t.Helper()
	py(t, dir, 0, "cleanup.py", redisURL)
	py(t, dir, 0, "cleanup.py", mysqlURL)
}

// dropDB removes the scratch database the interop checks create.
func dropDB(t *testing.T, dir string) {
	t.Helper()
	py(t, dir, 0, "-c", "import pymysql; pymysql.connect(host='127.0.0.1', user='root')"+
		".cursor().execute('DROP DATABASE IF EXISTS `"+mysqlDB+"`')")
}

// TestInterop runs bench --keep against each backend and Celery line, with and without
// --track-started/--result-extended, and reads every kept record back with real Celery
// (check 1); then compares bench's traffic with a real Celery worker and caller (check 2).
func TestInterop(t *testing.T) {
	dir, bench := setup(t)
	cleanup(t, dir)
	t.Cleanup(func() { cleanup(t, dir); dropDB(t, dir) })

	type target struct{ name, url string }
	targets := []target{{"redis", redisURL}, {"mysql", mysqlURL}}
	flagSets := [][]string{nil, {"--track-started"}, {"--result-extended"}, {"--track-started", "--result-extended"}}
	for _, tg := range targets {
		for _, line := range []string{"5.2", "5.6"} {
			for _, flags := range flagSets {
				name := fmt.Sprintf("check1/%s/%s/%s", tg.name, line, strings.Join(append([]string{"plain"}, flags...), "+"))
				t.Run(name, func(t *testing.T) {
					py(t, dir, 0, "cleanup.py", tg.url)
					args := []string{"--backend", tg.url, "--tasks", "20", "-c", "2", "--workers", "2", "--warmup", "0s",
						"--keep", "--force", "--progress", "0", "--celery", line, "--seed", "4242"}
					args = append(args, flags...)
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					if out, err := exec.CommandContext(ctx, bench, args...).CombinedOutput(); err != nil {
						t.Fatalf("bench %s: %v\n%s", strings.Join(args, " "), err, head(string(out), 30))
					}
					check := []string{"bench_writes_celery_reads.py", tg.url, "--celery", line}
					for _, f := range flags {
						if f == "--result-extended" {
							check = append(check, "--extended")
						}
					}
					out, code := py(t, dir, -1, check...)
					if code != 0 {
						t.Errorf("Celery does not read bench's records as its own (%s):\n%s", strings.Join(check, " "), head(out, 25))
					}
					py(t, dir, 0, "cleanup.py", tg.url)
				})
			}
		}
	}
	for _, track := range []bool{false, true} {
		name := "traffic/plain"
		args := []string{"traffic.py", "--bench", bench}
		if track {
			name = "traffic/track-started"
			args = append(args, "--track-started")
		}
		t.Run(name, func(t *testing.T) {
			out, code := py(t, dir, -1, args...)
			var diffs []string
			sc := bufio.NewScanner(strings.NewReader(out))
			sc.Buffer(make([]byte, 1<<20), 1<<24)
			for sc.Scan() {
				l := sc.Text()
				if strings.HasPrefix(l, "redis ") || strings.HasPrefix(l, "mysql ") || strings.HasPrefix(l, "TRAFFIC ERROR") {
					diffs = append(diffs, l)
				}
			}
			switch code {
			case 0:
				t.Logf("%s", strings.Join(diffs, "\n"))
			case 1:
				t.Errorf("bench's traffic differs from Celery's:\n%s", strings.Join(diffs, "\n"))
			default:
				t.Errorf("traffic capture failed (exit %d):\n%s", code, head(out, 40))
			}
		})
	}
}

// redisCmd sends one command to db 11 over RESP and returns the first reply line.
func redisCmd(t *testing.T, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", "127.0.0.1:6379", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var b bytes.Buffer
	for _, cmd := range [][]string{{"SELECT", redisDB}, args} {
		fmt.Fprintf(&b, "*%d\r\n", len(cmd))
		for _, a := range cmd {
			fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	if _, err := c.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	var last string
	for i := 0; i < 2; i++ {
		if last, err = r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	return strings.TrimSpace(last)
}

// TestCheck1Bites proves check 1 catches encodings Celery would not produce: a record with
// Go-style compact separators, one with the keys in the wrong order, and a MySQL result column
// pickled with another protocol. Each must fail naming the task id and the field.
func TestCheck1Bites(t *testing.T) {
	dir, _ := setup(t)
	cleanup(t, dir)
	t.Cleanup(func() { cleanup(t, dir); dropDB(t, dir) })

	const compactID = "bec1e7e0-dead-4bad-8bad-000000000001"
	compact := `{"status":"SUCCESS","result":"x","traceback":null,"children":[],"date_done":"2026-11-26T01:00:00.123456","task_id":"` + compactID + `"}`
	if r := redisCmd(t, "SET", "celery-task-meta-"+compactID, compact, "EX", "600"); r != "+OK" {
		t.Fatalf("SET: %s", r)
	}
	out, code := py(t, dir, -1, "bench_writes_celery_reads.py", redisURL, "--celery", "5.2")
	if code != 1 {
		t.Errorf("check 1 on compact separators: exit %d, want 1\n%s", code, out)
	}
	want := "PROBLEM " + compactID + " bytes(reencode): expected app.backend.encode(json.loads(raw)) == raw got at byte 10: " +
		`expected b'{"status": "SUCCESS", "result": "x", "traceback": ' got b'{"status":"SUCCESS","result":"x","traceback":null,'`
	if !strings.Contains(out, want) {
		t.Errorf("check 1 on compact separators did not name the difference; want line\n%s\ngot\n%s", want, out)
	}
	py(t, dir, 0, "cleanup.py", redisURL)

	const orderID = "bec1e7e0-dead-4bad-8bad-000000000002"
	order := `{"task_id": "` + orderID + `", "status": "SUCCESS", "result": "x", "traceback": null, "children": [], "date_done": "2026-11-26T01:00:00.123456"}`
	redisCmd(t, "SET", "celery-task-meta-"+orderID, order, "EX", "600")
	out, code = py(t, dir, -1, "bench_writes_celery_reads.py", redisURL, "--celery", "5.2")
	if code != 1 || !strings.Contains(out, "PROBLEM "+orderID+" bytes(celery-meta)") ||
		!strings.Contains(out, "got keys ['task_id', 'status',") {
		t.Errorf("check 1 on a wrong key order: exit %d, want 1 and a bytes(celery-meta) problem\n%s", code, out)
	}
	if strings.Contains(out, "bytes(reencode)") {
		t.Errorf("key order alone must not be a reencode problem (json.loads keeps the order):\n%s", out)
	}
	py(t, dir, 0, "cleanup.py", redisURL)

	// MySQL: a row Celery can read, but pickled with protocol 2 (Celery writes HIGHEST_PROTOCOL).
	const pickleID = "bec1e7e0-dead-4bad-8bad-000000000003"
	py(t, dir, 0, "celery_writes.py", mysqlURL, "--n", "1") // creates Celery's tables when missing
	py(t, dir, 0, "-c", `
import pickle, pymysql
c = pymysql.connect(host='127.0.0.1', user='root', database='`+mysqlDB+`', autocommit=True)
cur = c.cursor()
cur.execute("DELETE FROM celery_taskmeta WHERE task_id LIKE 'bec1e7e0-%%'")
cur.execute("SELECT COALESCE(MAX(id), 0) + 1000 FROM celery_taskmeta")
n = cur.fetchone()[0]
cur.execute("INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback) VALUES (%s, %s, 'SUCCESS', %s, UTC_TIMESTAMP(), NULL)",
            (n, '`+pickleID+`', pickle.dumps('x', 2)))
`)
	out, code = py(t, dir, -1, "bench_writes_celery_reads.py", mysqlURL, "--celery", "5.2")
	if code != 1 || !strings.Contains(out, "PROBLEM "+pickleID+" result(bytes): expected pickle.dumps(value, HIGHEST_PROTOCOL=5)") {
		t.Errorf("check 1 on a protocol-2 pickle: exit %d, want 1 and a result(bytes) problem\n%s", code, out)
	}
}
