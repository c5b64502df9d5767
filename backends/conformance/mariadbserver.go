package conformance

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MariaDBServer is a mariadbd process of a test's own, on a scratch
// datadir and a free port of 127.0.0.1, never the shared server: tests of
// server-wide counters (SHOW GLOBAL STATUS) read figures nobody else moves.
type MariaDBServer struct {
	// Port is the server's port.
	Port int
	// Dir holds the datadir, the socket and the logs; GeneralLog is the
	// general log's path when the server was started with it on.
	Dir, GeneralLog string
}

// mariaDBBinaries are the programs StartMariaDB runs.
var mariaDBBinaries = []string{"/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db"}

// StartMariaDB initialises a scratch datadir, starts mariadbd on it (root
// without a password, no binary log; extra arguments are added, e.g.
// "--general-log=1") and waits up to 20 s for it to accept connections.
// The server is stopped when the test ends. Without mariadbd the test is
// skipped, or fails under BENCH_REQUIRE_SERVERS=1. Setting it up takes
// about 3 s.
func StartMariaDB(t testing.TB, extra ...string) *MariaDBServer {
	t.Helper()
	for _, p := range mariaDBBinaries {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
				t.Fatalf("%s is missing and BENCH_REQUIRE_SERVERS=1 (apt-get install mariadb-server)", p)
			}
			t.Skipf("%s is missing (apt-get install mariadb-server)", p)
		}
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, mariaDBBinaries[1], "--no-defaults", "--datadir="+data,
		"--auth-root-authentication-method=normal", "--skip-test-db", "--user=root").CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, firstLines(string(out), 20))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &MariaDBServer{Port: l.Addr().(*net.TCPAddr).Port, Dir: dir}
	l.Close()
	args := []string{"--no-defaults", "--datadir=" + data, "--port=" + strconv.Itoa(m.Port),
		"--bind-address=127.0.0.1", "--socket=" + filepath.Join(dir, "sock"), "--user=root", "--skip-log-bin",
		"--log-error=" + filepath.Join(dir, "error.log")}
	for _, a := range extra {
		if a == "--general-log=1" {
			m.GeneralLog = filepath.Join(dir, "general.log")
			args = append(args, "--general-log-file="+m.GeneralLog)
		}
	}
	srv := exec.Command(mariaDBBinaries[0], append(args, extra...)...)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			srv.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", m.Addr(), time.Second)
		if err == nil {
			c.Close()
			return m
		}
		if time.Now().After(deadline) {
			errLog, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("private mariadbd on %s did not start within 20 s:\n%s", m.Addr(), firstLines(string(errLog), 20))
		}
	}
}

// Addr is host:port.
func (m *MariaDBServer) Addr() string { return "127.0.0.1:" + strconv.Itoa(m.Port) }

// URL is the Celery result_backend URL (db+mysql://) of database db as root.
func (m *MariaDBServer) URL(db string) string {
	return fmt.Sprintf("db+mysql://root@%s/%s", m.Addr(), db)
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
