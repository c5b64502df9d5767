package conformance

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisServer is a redis-server process of a test's own on a free port of
// 127.0.0.1, never the shared server: fault tests kill, pause and restart
// it, and tests of server-wide counters read figures nobody else moves.
// Start, Kill and Restart may be called from one goroutine other than the
// test's at a time (they report with t.Errorf, not t.Fatal).
type RedisServer struct {
	t    testing.TB
	path string
	// Port is the server's port; it stays the same across restarts.
	Port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// StartRedis starts a private redis-server that keeps nothing on disk
// (extra arguments override that, e.g. "--appendonly", "yes") and stops
// it when the test ends. Without redis-server in PATH the test is skipped,
// or fails under BENCH_REQUIRE_SERVERS=1.
func StartRedis(t testing.TB, extra ...string) *RedisServer {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatal("redis-server is not installed and BENCH_REQUIRE_SERVERS=1")
		}
		t.Skip("redis-server is not installed")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &RedisServer{t: t, path: path, Port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir(), args: extra}
	l.Close()
	t.Cleanup(r.Kill)
	r.Start()
	if t.Failed() {
		t.FailNow()
	}
	return r
}

// Addr is host:port.
func (r *RedisServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.Port) }

// URL is the Celery result_backend URL of db.
func (r *RedisServer) URL(db int) string { return fmt.Sprintf("redis://%s/%d", r.Addr(), db) }

// Process is the running server's process (nil after Kill).
func (r *RedisServer) Process() *os.Process {
	if r.cmd == nil {
		return nil
	}
	return r.cmd.Process
}

// Start starts the server (again) and waits up to 10 s for its PONG.
func (r *RedisServer) Start() {
	args := append([]string{"--port", strconv.Itoa(r.Port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", r.dir}, r.args...)
	r.cmd = exec.Command(r.path, args...)
	if err := r.cmd.Start(); err != nil {
		r.t.Errorf("redis-server: %v", err)
		r.cmd = nil
		return
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if reply, err := RedisCmd(r.Addr(), "PING"); err == nil && reply == "+PONG" {
			return
		}
		if time.Now().After(deadline) {
			r.t.Errorf("private redis-server on %s did not answer", r.Addr())
			return
		}
	}
}

// Kill stops the server at once (resuming it first if it was paused).
func (r *RedisServer) Kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT)
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Restart kills the server and starts a new one on the same port.
func (r *RedisServer) Restart() {
	r.Kill()
	r.Start()
}

// RedisCmd sends one command to addr and returns the first line of the
// reply (with a bulk reply, its payload), within 2 s.
func RedisCmd(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, b.String()); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		payload, err := br.ReadString('\n')
		return strings.TrimRight(payload, "\r\n"), err
	}
	return line, nil
}
