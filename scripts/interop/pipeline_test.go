package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestPipeline checks bench's task-time model against a real Celery 5.2 pipeline (issue
// "task profiles"): a prefork worker with 2 children, RabbitMQ as the broker, 2 caller
// processes doing sleep_task.delay(T).get() in a loop, against a private result-backend
// server (pipeline.py starts it on a free port, so nothing else adds to its counters), and
// bench with the same callers, workers and --task-time T against the same server.
//
// The rule (pipeline.py): counters before and after a phase of 4 and one of 12 tasks per
// caller; per task = (Δ12 − Δ4) / (tasks of 12 − tasks of 4), so what a phase pays once
// (process start, connection set-up, snapshots, bench's cleanup of its own records) cancels.
// Tolerance: on Redis every command's calls per task within 2 % of Celery's; on MariaDB
// Questions, Connections and every Com_* counter per task within 5 % (absolute 0.05 for a
// counter Celery does not use, so a stray statement in 20 tasks fails). Measured: equal on
// both (Redis GET 2, SUBSCRIBE 1, UNSUBSCRIBE 3, MULTI/SETEX/EXEC/PUBLISH 1 per task;
// MariaDB 30 statements and 2 connections per 300 ms task, 42 and 3 per 700 ms task: the
// caller's extra poll of the longer task, a connection of its own).
func TestPipeline(t *testing.T) {
	dir, bench := setup(t)
	if !dialable("127.0.0.1:5672") {
		unavailable(t, "the pipeline check needs RabbitMQ on 127.0.0.1:5672 (guest/guest) as the broker")
	}
	for _, bin := range []string{"mariadb-install-db", "/usr/sbin/mariadbd"} {
		if _, err := exec.LookPath(bin); err != nil {
			unavailable(t, "the pipeline check needs %s for its private MariaDB", bin)
		}
	}
	if out, err := exec.Command(python, "-c", "import kombu, amqp").CombinedOutput(); err != nil {
		unavailable(t, "the pipeline check needs kombu and py-amqp (python3-celery's dependencies): %v: %s", err, out)
	}
	for _, tc := range []struct {
		backend  string
		taskTime string
		tol      float64
	}{
		{"redis", "0.3", 0.02},
		{"mysql", "0.3", 0.05},
		{"mysql", "0.7", 0.05},
	} {
		t.Run(tc.backend+"-"+tc.taskTime+"s", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, python, filepath.Join(dir, "pipeline.py"), "--bench", bench,
				"--backend", tc.backend, "--task-time", tc.taskTime)
			cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("pipeline.py: %v\n%s", err, head(stderr.String(), 40))
			}
			var got struct {
				Celery, Bench map[string]float64
				CelerySec     float64 `json:"celery_seconds"`
				BenchSec      float64 `json:"bench_seconds"`
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("pipeline.py printed %q: %v", out, err)
			}
			if len(got.Celery) == 0 {
				t.Fatalf("no counters from the Celery pipeline: %s", out)
			}
			var report []string
			for _, k := range counterNames(tc.backend, got.Celery, got.Bench) {
				c, b := got.Celery[k], got.Bench[k]
				ok := math.Abs(b-c) <= tc.tol*c || (c == 0 && math.Abs(b) <= 0.05)
				mark := "ok"
				if !ok {
					mark = "DIFFERS"
					t.Errorf("%s per task: bench %.3f, Celery %.3f (tolerance %.0f %%)", k, b, c, tc.tol*100)
				}
				report = append(report, fmt.Sprintf("  %-14s Celery %7.3f  bench %7.3f  %s", k, c, b, mark))
			}
			t.Logf("%s, %s s tasks, per task (Celery phases %.1f s, bench %.1f s):\n%s", tc.backend, tc.taskTime,
				got.CelerySec, got.BenchSec, strings.Join(report, "\n"))
		})
	}
}

// counterNames are the counters compared: on Redis every command either side sent in the
// phases (what bench's harness sends once per run, INFO snapshots, SCAN and UNLINK of its own
// records, cancels to 0 by the rule, and must); on MariaDB Questions, Connections and the
// Com_* counters.
func counterNames(backend string, celery, bench map[string]float64) []string {
	seen := map[string]bool{}
	for _, m := range []map[string]float64{celery, bench} {
		for k := range m {
			switch {
			case backend == "redis":
				seen[k] = true
			case backend == "mysql" && (k == "Questions" || k == "Connections" || strings.HasPrefix(k, "Com_")):
				seen[k] = true
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
