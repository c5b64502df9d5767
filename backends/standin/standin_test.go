package standin

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// quietChildEnv makes the test binary run quietScenario instead of the
// tests, so TestQuiet can watch its stdout and stderr.
const quietChildEnv = "BENCH_EMBEDDED_QUIET_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(quietChildEnv) == "1" {
		if err := quietScenario(); err != nil {
			// The parent shows stderr; a failure must be visible.
			fmt.Fprintln(os.Stderr, "quiet scenario:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	// TestServers closes servers under open clients, which go-redis and
	// go-sql-driver report on stderr; those are the clients' lines, not
	// the servers'. (TestQuiet's child keeps them.)
	redis.SetLogger(discardRedisLog{})
	mysql.SetLogger(log.New(io.Discard, "", 0))
	os.Exit(m.Run())
}

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

func TestReachable(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if !Reachable(ctx, addr, time.Second) {
		t.Errorf("Reachable(%s) = false with a listener there", addr)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if Reachable(cctx, addr, time.Second) {
		t.Errorf("Reachable with a cancelled context = true")
	}
	l.Close()
	if Reachable(ctx, addr, time.Second) {
		t.Errorf("Reachable(%s) = true after the listener closed", addr)
	}
}

// TestServers checks what both Start functions return and that Close ends
// everything: the listener, open client connections and the server's
// goroutines.
func TestServers(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		start   func() (*Server, error)
		product string
		url     string // with ADDR for the address
		use     func(addr string) (closeAndCheck func() error, err error)
	}{
		{"redis", func() (*Server, error) { return StartRedis(ctx) }, "miniredis", "redis://ADDR/0",
			func(addr string) (func() error, error) {
				c := newRedisClient(addr)
				if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
					return nil, err
				}
				ps := c.Subscribe(ctx, "chan") // a pub/sub connection stays open
				if _, err := ps.Receive(ctx); err != nil {
					return nil, err
				}
				return func() error {
					defer c.Close()
					defer ps.Close()
					if err := c.Get(ctx, "k").Err(); err == nil {
						return fmt.Errorf("GET after Close succeeded")
					}
					return nil
				}, nil
			}},
		{"mysql", func() (*Server, error) { return StartMySQL(ctx, "celery_bench") }, "bench-mysql-standin", "db+mysql://root@ADDR/celery_bench",
			func(addr string) (func() error, error) {
				c, err := dialSQL(ctx, addr, "celery_bench")
				if err != nil {
					return nil, err
				}
				c.mustRun(t, ctx, "SET AUTOCOMMIT = 0")
				return func() error {
					defer c.Close()
					if r := c.run(ctx, "SELECT 1"); r.Err == 0 && r.ErrText == "" {
						return fmt.Errorf("SELECT after Close succeeded: %v", r)
					}
					return nil
				}, nil
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			srv, err := tc.start()
			if err != nil {
				t.Fatal(err)
			}
			host, _, err := net.SplitHostPort(srv.Addr)
			if err != nil || host != "127.0.0.1" {
				t.Errorf("Addr = %q, want 127.0.0.1:PORT", srv.Addr)
			}
			if want := strings.ReplaceAll(tc.url, "ADDR", srv.Addr); srv.URL != want {
				t.Errorf("URL = %q, want %q", srv.URL, want)
			}
			if srv.Product != tc.product || srv.ServerVersion == "" {
				t.Errorf("Product %q ServerVersion %q", srv.Product, srv.ServerVersion)
			}
			check, err := tc.use(srv.Addr)
			if err != nil {
				t.Fatal(err)
			}

			done := make(chan error, 1)
			go func() { done <- srv.Close() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Close: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not return with a client connection open")
			}
			if err := check(); err != nil {
				t.Error(err)
			}
			if Reachable(ctx, srv.Addr, time.Second) {
				t.Errorf("%s still accepts connections after Close", srv.Addr)
			}
			if err := srv.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			// The server's goroutines end (client-side ones too, as the
			// clients are closed).
			deadline := time.Now().Add(5 * time.Second)
			for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if n := runtime.NumGoroutine(); n > before {
				buf := make([]byte, 1<<20)
				t.Errorf("%d goroutines before Start, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// TestLoopbackOnly checks, from the kernel's socket tables, that the two
// servers open no listening socket but their 127.0.0.1 ones: no other
// interface, no IPv6, no Unix socket.
func TestLoopbackOnly(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before := listeningSockets(t)
	r, err := StartRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m, err := StartMySQL(context.Background(), "celery_bench")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var added []string
	for _, s := range listeningSockets(t) {
		if !slices.Contains(before, s) {
			added = append(added, s)
		}
	}
	slices.Sort(added)
	want := []string{"tcp " + m.Addr, "tcp " + r.Addr}
	slices.Sort(want)
	if !slices.Equal(added, want) {
		t.Errorf("new listening sockets %q, want %q", added, want)
	}
}

// listeningSockets returns this process's listening sockets, as "tcp
// IP:PORT", "tcp6 [IP]:PORT" or "unix PATH".
func listeningSockets(t *testing.T) []string {
	t.Helper()
	ours := make(map[string]bool) // socket inodes
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			ours[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6", "unix"} {
		f, err := os.Open("/proc/net/" + table)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			fl := strings.Fields(sc.Text())
			switch table {
			case "unix": // Num RefCount Protocol Flags Type St Inode [Path]
				if len(fl) >= 7 && ours[fl[6]] && fl[3] == "00010000" { // __SO_ACCEPTCON
					path := ""
					if len(fl) > 7 {
						path = fl[7]
					}
					out = append(out, "unix "+path)
				}
			default: // sl local rem st … inode
				if len(fl) >= 10 && ours[fl[9]] && fl[3] == "0A" { // LISTEN
					out = append(out, table+" "+procAddr(fl[1]))
				}
			}
		}
		f.Close()
	}
	return out
}

// procAddr decodes /proc/net/tcp's "0100007F:1F90" into "127.0.0.1:8080".
func procAddr(s string) string {
	h, p, _ := strings.Cut(s, ":")
	port, _ := strconv.ParseUint(p, 16, 16)
	b, _ := hex.DecodeString(h)
	for i := 0; i+4 <= len(b); i += 4 { // each 32-bit word is little-endian
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.JoinHostPort(net.IP(b).String(), strconv.FormatUint(port, 10))
}

// TestQuiet runs both servers through normal use, errors and misbehaving
// clients in a child process and checks it writes nothing at all.
func TestQuiet(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), quietChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if len(out) != 0 {
		t.Errorf("the embedded servers wrote %d bytes to stdout/stderr:\n%s", len(out), out)
	}
}

// quietScenario is TestQuiet's child: everything that could make either
// server log.
func quietScenario() error {
	ctx := context.Background()
	r, err := StartRedis(ctx)
	if err != nil {
		return err
	}
	m, err := StartMySQL(ctx, "celery_bench")
	if err != nil {
		return err
	}

	// Redis: a normal client, an unknown command, garbage, a dropped
	// connection.
	c := newRedisClient(r.Addr)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		return err
	}
	c.Do(ctx, "NOSUCHCOMMAND")
	c.Close()
	// MySQL: statements that fail, a client that sends garbage, one that
	// drops mid-handshake, one that quits without COM_QUIT.
	s, err := dialSQL(ctx, m.Addr, "celery_bench")
	if err != nil {
		return err
	}
	s.run(ctx, "SET AUTOCOMMIT = 0")
	s.run(ctx, createTaskmeta)
	s.run(ctx, "SELECT * FROM no_such_table")
	s.run(ctx, "THIS IS NOT SQL")
	s.run(ctx, fmt.Sprintf(insertPending, "x", "2026-11-25 22:43:48.234629"))
	s.run(ctx, fmt.Sprintf(insertPending, "x", "2026-11-25 22:43:48.234629")) // duplicate
	for _, addr := range []string{r.Addr, m.Addr} {
		for _, junk := range []string{"", "\x00\x01\x02garbage\r\n*1\r\n$-5\r\n"} {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				return err
			}
			conn.Write([]byte(junk))
			conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			conn.Read(make([]byte, 512))
			conn.Close()
		}
	}
	if err := r.Close(); err != nil {
		return err
	}
	if err := m.Close(); err != nil { // with s still open
		return err
	}
	s.Close()
	return nil
}

// TestCeleryInterop runs a real Celery result backend (Python Celery with
// SQLAlchemy and PyMySQL, as Debian's python3-celery packages them) against
// both embedded servers: testdata/celery_probe.py. It skips when Python
// lacks those modules, or fails when BENCH_REQUIRE_INTEROP=1.
func TestCeleryInterop(t *testing.T) {
	python := "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import celery, redis, sqlalchemy, pymysql").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s cannot import celery, redis, sqlalchemy and pymysql (%v: %s)", python, err, strings.TrimSpace(string(out)))
		if os.Getenv("BENCH_REQUIRE_INTEROP") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; BENCH_REQUIRE_INTEROP=1 makes this a failure")
	}
	ctx := context.Background()
	m, err := StartMySQL(ctx, "celery_bench")
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r, err := StartRedis(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mysqlURL := strings.Replace(m.URL, "db+mysql://", "db+mysql+pymysql://", 1)
	cmd := exec.CommandContext(ctx, python, "testdata/celery_probe.py", mysqlURL, r.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("celery_probe.py: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{"dialect mysql mysql auto_increment\n", "ok db+mysql+pymysql\n", "ok redis\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("celery_probe.py printed %q, want a line %q", got, strings.TrimSpace(want))
		}
	}
}
