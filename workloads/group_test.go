package workloads

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	_ "github.com/celery-bench/bench/backends/memory"
	_ "github.com/celery-bench/bench/backends/mysql"
	_ "github.com/celery-bench/bench/backends/postgres"
	_ "github.com/celery-bench/bench/backends/redis"
)

// The servers of the group, chord and cleanup tests, when they answer: a
// spare Redis db and a database of bench's own.
const (
	groupRedisURL = "redis://127.0.0.1:6379/15"
	groupMySQLURL = "db+mysql://root@127.0.0.1:3306/celery_bench_groups"
	groupPGURL    = "db+postgresql://postgres@127.0.0.1:5432/celery_bench_groups"
)

// openGroupTest opens and prepares rawURL under a fresh seed's prefix,
// skipping when a server does not answer (failing with
// BENCH_REQUIRE_SERVERS=1), and deletes what the test wrote at the end.
func openGroupTest(t *testing.T, rawURL string, o backends.Options, seed uint64) backends.Backend {
	t.Helper()
	return openTestUnder(t, rawURL, o, RunPrefix(seed))
}

// runGroupTasks runs n lifecycles of w with one caller and one worker and
// returns every op's count, failing on any error.
func runGroupTasks(t *testing.T, w Workload, b backends.Backend, n int64, seed uint64, o RunOptions) map[string]int64 {
	t.Helper()
	if v, ok := w.(Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	o.Callers, o.Workers, o.Tasks, o.Warmup, o.Seed = 1, 1, n, 0, seed
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.TaskTimeout == 0 {
		o.TaskTimeout = 20 * time.Second
	}
	if o.ResultSizes.Max() == 0 {
		o.ResultSizes = FixedSize(8)
	}
	oc, err := Run(context.Background(), w, b, o)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, op := range oc.Ops {
		if op.Errors > 0 {
			t.Errorf("op %s: %d errors: %v", op.Name, op.Errors, op.ErrorSamples)
		}
		counts[op.Name] = op.Count()
	}
	return counts
}

func wantOps(t *testing.T, counts map[string]int64, want map[string]int64) {
	t.Helper()
	for op, n := range want {
		if counts[op] != n {
			t.Errorf("%s: %d, want %d (all: %v)", op, counts[op], n, counts)
		}
	}
}

var testSeed = uint64(time.Now().UnixNano())

func nextSeed() uint64 { testSeed++; return testSeed }

// TestGroupChordCleanupMemory checks each lifecycle's per-task operations
// on the memory backend, which has Redis's capabilities (native join,
// saved groups) and SQL's cleanup.
func TestGroupChordCleanupMemory(t *testing.T) {
	t.Run("group", func(t *testing.T) {
		seed := nextSeed()
		b := openGroupTest(t, "memory://", backends.DefaultOptions, seed)
		c := runGroupTasks(t, &group{size: 5, save: true}, b, 4, seed, RunOptions{})
		wantOps(t, c, map[string]int64{
			OpGroupJoin: 4, OpTask: 20, OpTimeToObserve: 20, backends.OpStoreResult: 20,
			backends.OpOnTaskCall: 40, // SUBSCRIBE, UNSUBSCRIBE, SUBSCRIBE per member
			backends.OpSaveGroup:  4, backends.OpRestoreGroup: 4, backends.OpDeleteGroup: 4,
		})
	})
	for _, ordered := range []bool{true, false} {
		t.Run(fmt.Sprintf("chord ordered=%v", ordered), func(t *testing.T) {
			seed := nextSeed()
			b := openGroupTest(t, "memory://", backends.DefaultOptions, seed)
			ch := newChord()
			ch.ordered = ordered
			c := runGroupTasks(t, ch, b, 3, seed, RunOptions{})
			wantOps(t, c, map[string]int64{
				OpChord: 3, OpChordBody: 3, OpChordUnlockDelay: 3,
				OpTask: 18, backends.OpStoreResult: 18, // 5 header + body
				backends.OpSetChordSize: 3, backends.OpOnChordPartReturn: 15,
				backends.OpChordUnlock: 0,
			})
		})
	}
	t.Run("cleanup", func(t *testing.T) {
		seed := nextSeed()
		b := openGroupTest(t, "memory://", backends.DefaultOptions, seed)
		w := &cleanup{expired: 1000, after: 20 * time.Millisecond}
		o := RunOptions{Callers: 2}
		o.Callers, o.Workers, o.Duration, o.Seed = 2, 1, 300*time.Millisecond, seed
		o.PollInterval, o.TaskTimeout, o.ResultSizes = 5*time.Millisecond, 5*time.Second, FixedSize(8)
		oc, err := Run(context.Background(), w, b, o)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int64{}
		for _, op := range oc.Ops {
			counts[op.Name] = op.Count()
		}
		if counts[backends.OpBackendCleanup] != 1 || counts[OpRoundtrip] == 0 {
			t.Errorf("want 1 backend_cleanup among roundtrips: %v", counts)
		}
		// Every expired result went; none of the run's own did.
		n, err := b.(backends.ExpiredCleaner).CleanupExpired(context.Background(), time.Now().Add(-cleanupExpires))
		if err != nil || n != 0 {
			t.Errorf("a second cleanup deleted %d, %v; want 0", n, err)
		}
	})
}

// TestChordUnlockPath checks, on MariaDB/MySQL, the path of a backend
// without native chords: no set_chord_size or on_chord_part_return,
// chord_unlock runs (first after its 1 s countdown) and publishes the body.
func TestChordUnlockPath(t *testing.T) {
	for _, u := range []string{groupMySQLURL, groupPGURL} {
		t.Run(backends.Redact(u), func(t *testing.T) { testChordUnlockPath(t, u) })
	}
}

func testChordUnlockPath(t *testing.T, rawURL string) {
	seed := nextSeed()
	b := openGroupTest(t, rawURL, backends.DefaultOptions, seed)
	ch := newChord()
	c := runGroupTasks(t, ch, b, 1, seed, RunOptions{PollInterval: 500 * time.Millisecond})
	wantOps(t, c, map[string]int64{
		OpChord: 1, OpChordBody: 1, OpChordUnlockDelay: 1, OpTask: 6, backends.OpStoreResult: 6,
		backends.OpSetChordSize: 0, backends.OpOnChordPartReturn: 0,
	})
	if c[backends.OpChordUnlock] < 1 {
		t.Errorf("no chord_unlock run: %v", c)
	}
}

// TestCleanupServers runs the cleanup workload on MariaDB/MySQL (one
// backend_cleanup deleting every pre-filled row during roundtrips) and on
// Redis, which has no cleanup task: no backend_cleanup and no
// roundtrip_during_cleanup, only roundtrips.
func TestCleanupServers(t *testing.T) {
	run := func(t *testing.T, rawURL string) (backends.Backend, map[string]int64) {
		seed := nextSeed()
		b := openGroupTest(t, rawURL, backends.DefaultOptions, seed)
		// The pre-fill must end inside the window for the cleanup to run:
		// 5,000 rows take about 0.2 s here, and CI's parallel packages
		// have made 20,000 take longer than a 1.5 s window.
		w := &cleanup{expired: 5000, after: 300 * time.Millisecond}
		o := RunOptions{Callers: 4, Workers: 2, Duration: 2500 * time.Millisecond, Seed: seed,
			PollInterval: 50 * time.Millisecond, TaskTimeout: 10 * time.Second, ResultSizes: FixedSize(8)}
		oc, err := Run(context.Background(), w, b, o)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int64{}
		for _, op := range oc.Ops {
			if op.Errors > 0 {
				t.Errorf("op %s: %d errors: %v", op.Name, op.Errors, op.ErrorSamples)
			}
			counts[op.Name] = op.Count()
			if op.Name == backends.OpBackendCleanup || op.Name == OpRoundtrip || op.Name == OpRoundtripDuringCleanup {
				t.Logf("%s: n=%d p50=%v p99=%v max=%v", op.Name, op.Count(),
					time.Duration(op.Latency.ValueAtQuantile(50)), time.Duration(op.Latency.ValueAtQuantile(99)),
					time.Duration(op.Latency.Max()))
			}
		}
		return b, counts
	}
	for name, u := range map[string]string{"sql": groupMySQLURL, "postgres": groupPGURL} {
		t.Run(name, func(t *testing.T) {
			b, c := run(t, u)
			if c[backends.OpBackendCleanup] != 1 || c[OpRoundtrip] == 0 {
				t.Errorf("want one backend_cleanup among roundtrips: %v", c)
			}
			n, err := b.(backends.ExpiredCleaner).CleanupExpired(context.Background(), time.Now().Add(-cleanupExpires))
			if err != nil || n != 0 {
				t.Errorf("expired rows left: %d, %v", n, err)
			}
		})
	}
	t.Run("redis", func(t *testing.T) {
		_, c := run(t, groupRedisURL)
		if c[backends.OpBackendCleanup] != 0 || c[OpRoundtripDuringCleanup] != 0 || c[OpRoundtrip] == 0 {
			t.Errorf("Redis has no cleanup task: %v", c)
		}
	})
}
