package workloads

import (
	"context"
	"github.com/celery-bench/bench/backends/conformance"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// TestServerRestartDetected restarts a private Redis in the middle of a
// measured window and checks that the Result says so (run_id changed) and
// carries no server-cost figure, rather than differences of counters that
// started again from zero; and that a run without a restart has both
// server CPU per task and no restart mark.
func TestServerRestartDetected(t *testing.T) {
	srv := conformance.StartRedis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	meta, err := Lookup("roundtrip")
	if err != nil {
		t.Fatal(err)
	}
	sizes, _ := ParseSizes("64")
	for _, restart := range []bool{false, true} {
		const seed = 11
		b, err := backends.Open(ctx, srv.URL(0), backends.Options{Celery: backends.DefaultVersion, IDPrefix: RunPrefix(seed), ResultExpires: time.Hour, ConnectTimeout: 2 * time.Second})
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
				srv.Restart()
			}()
		} else {
			close(done)
		}
		res, err := Measure(ctx, Target{Backend: b, URL: srv.URL(0), Name: "redis"}, meta.New(), ro, Measurement{Workload: "roundtrip"})
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
