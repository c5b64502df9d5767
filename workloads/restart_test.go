package workloads

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// restartableRedis is a redis-server of the test's own on a free port
// (never the shared one), which restart replaces with a new process on the
// same port.
type restartableRedis struct {
	t    *testing.T
	path string
	port int
	dir  string
	cmd  *exec.Cmd
}

func newRestartableRedis(t *testing.T) *restartableRedis {
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
	r := &restartableRedis{t: t, path: path, port: l.Addr().(*net.TCPAddr).Port, dir: t.TempDir()}
	l.Close()
	r.start()
	t.Cleanup(func() {
		if r.cmd != nil {
			_ = r.cmd.Process.Kill()
			_ = r.cmd.Wait()
		}
	})
	return r
}

func (r *restartableRedis) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *restartableRedis) start() {
	r.cmd = exec.Command(r.path, "--port", fmt.Sprint(r.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Error(err)
		return
	}
	addr := fmt.Sprintf("127.0.0.1:%d", r.port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(time.Second))
		fmt.Fprint(c, "PING\r\n")
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.HasPrefix(line, "+PONG") {
			return
		}
	}
	r.t.Errorf("private redis-server on %s did not answer", addr)
}

// restart kills the server and starts a new one on the same port.
func (r *restartableRedis) restart() {
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.start()
}

// TestServerRestartDetected restarts a private Redis in the middle of a
// measured window and checks that the Result says so (run_id changed) and
// carries no server-cost figure, rather than differences of counters that
// started again from zero; and that a run without a restart has both
// server CPU per task and no restart mark.
func TestServerRestartDetected(t *testing.T) {
	srv := newRestartableRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	meta, err := Lookup("roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	sizes, _ := ParseSizes("64")
	for _, restart := range []bool{false, true} {
		const seed = 11
		b, err := backends.Open(ctx, srv.url(), backends.Options{Celery: backends.DefaultVersion, IDPrefix: RunPrefix(seed), ResultExpires: time.Hour, ConnectTimeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		ro := RunOptions{Callers: 2, Workers: 2, Duration: 3 * time.Second, Warmup: 500 * time.Millisecond, Seed: seed,
			PollInterval: 100 * time.Millisecond, TaskTimeout: 2 * time.Second, ResultSizes: sizes}
		done := make(chan struct{})
		if restart {
			go func() {
				defer close(done)
				time.Sleep(1500 * time.Millisecond) // 1 s into the window
				srv.restart()
			}()
		} else {
			close(done)
		}
		res, err := Measure(ctx, Target{Backend: b, URL: srv.url(), Name: "redis"}, meta.New(), ro, Measurement{Workload: "roundtrip"})
		<-done
		b.Close()
		if res == nil {
			t.Fatalf("restart=%v: no result: %v", restart, err)
		}
		t.Logf("restart=%v: err %v, server_restart %q, %d stats", restart, err, res.ServerRestart, len(res.Stats))
		if !restart {
			if res.ServerRestart != "" {
				t.Fatalf("a restart seen where there was none: %s", res.ServerRestart)
			}
			if _, ok := res.Stats.Get("server CPU per task"); !ok {
				t.Fatalf("no server CPU per task without a restart: %+v", res.Stats)
			}
			continue
		}
		if !strings.Contains(res.ServerRestart, "run_id") {
			t.Fatalf("restart not detected by run_id: %q", res.ServerRestart)
		}
		if len(res.Stats) != 0 {
			t.Fatalf("server figures kept across a restart: %+v", res.Stats)
		}
	}
}
