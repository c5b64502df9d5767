package workloads_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/memory"
	"github.com/celery-bench/bench/workloads"
)

// testFlags are the flags a registered workload needs to run in the
// registry tests beyond its defaults; a workload whose defaults cannot run
// (its Validate fails) must be given some here.
var testFlags = map[string][]string{
	"mix":     {"--mix", "roundtrip=3,store-only=2,polling=2,progress=1,failure=1,group=1,chord=1,cleanup=1"},
	"cleanup": {"--expired-results", "40", "--cleanup-after", "0"},
	"failure": {"--failure-rate", "0.3", "--retry-rate", "0.2"},
}

// timingOps are the operations whose counts depend on timing and not on
// the seed alone: a poll finds the task ready or not depending on when the
// worker stored it. Their presence is still compared.
var timingOps = map[string]bool{
	backends.OpGetTaskMeta: true, // polling: one per check until ready
	workloads.OpWastedPoll: true, // polling: the checks that found it unready
	// a blocking wait reads a message per state stored while it waits,
	// none when the task was ready before it began
	backends.OpDrainEvents: true,
}

// configured returns m's workload with its test flags parsed and validated.
func configured(t *testing.T, m workloads.Meta) workloads.Workload {
	t.Helper()
	w := m.New()
	if f, ok := w.(workloads.Flagser); ok {
		if err := f.Flags().Parse(testFlags[m.Name]); err != nil {
			t.Fatalf("%s: flags %q: %v", m.Name, testFlags[m.Name], err)
		}
	} else if testFlags[m.Name] != nil {
		t.Fatalf("%s has no flags but testFlags gives some", m.Name)
	}
	if c, ok := w.(workloads.Composer); ok {
		c.UseWorkloads(func(name string) workloads.Workload { // components with their test flags
			cm, err := workloads.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			return configured(t, cm)
		})
	}
	if v, ok := w.(workloads.Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("%s does not validate with %q: %v (give it flags in testFlags)", m.Name, testFlags[m.Name], err)
		}
	}
	return w
}

// measured is what one measurement of a workload reported.
type measured struct {
	counts  map[string]int64 // by op
	records int
	digest  uint64 // of the records written, by id, status and result
}

func measureOnce(t *testing.T, w workloads.Workload, name, url string) measured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := backends.DefaultOptions
	o.IDPrefix = workloads.IDMarker
	b, err := workloads.OpenTarget(ctx, url, o, w)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	const seed = 0x5eed
	res, err := workloads.Measure(ctx, workloads.Target{Backend: b, URL: url, Name: "memory"}, w, workloads.RunOptions{
		Callers: 1, Workers: 1, Tasks: 24, Seed: seed, PollInterval: time.Millisecond,
		ResultSizes: workloads.FixedSize(32), TaskTimeout: 10 * time.Second,
	}, workloads.Measurement{Workload: name, Keep: true})
	if err != nil {
		t.Fatalf("%s on %s: %v", name, url, err)
	}
	got := measured{counts: map[string]int64{}}
	for _, op := range res.Ops {
		got.counts[op.Name] = op.Count()
	}
	var ok bool
	got.records, got.digest, ok = memory.Fingerprint(b, workloads.RunPrefix(seed))
	if !ok {
		t.Fatal("not a memory:// backend")
	}
	// Every op a run reports is one the workload declares or the harness
	// or backend records, so reports can list them in a declared order.
	declared := workloads.ReportOrder(w)
	for _, op := range res.Ops {
		if !slices.Contains(declared, op.Name) {
			t.Errorf("%s reported %s, which neither it (Ops) nor the harness nor backends.Ops declares", name, op.Name)
		}
	}
	return got
}

// TestEveryWorkloadFreshPerMeasurement runs every registered workload on
// memory:// twice with the same seed, the second time after a run on
// another backend in the same process, all from one configured instance
// (as bench run does for several backends, levels and repetitions). Each
// run must report the same operations with the same counts and write the
// same records: state kept in the workload between measurements (the
// cleanup workload once filled and ran its cleanup only in the first)
// would show here.
func TestEveryWorkloadFreshPerMeasurement(t *testing.T) {
	for _, m := range workloads.Registered() {
		t.Run(m.Name, func(t *testing.T) {
			w := configured(t, m)
			first := measureOnce(t, w, m.Name, "memory://")
			other := measureOnce(t, w, m.Name, "memory://?delay=20us")
			again := measureOnce(t, w, m.Name, "memory://")
			if first.records == 0 {
				t.Fatalf("%s wrote no record", m.Name)
			}
			for label, got := range map[string]measured{"after another backend": other, "again": again} {
				if !slices.Equal(slices.Sorted(maps.Keys(got.counts)), slices.Sorted(maps.Keys(first.counts))) {
					t.Errorf("%s: ops %v, first run %v", label, slices.Sorted(maps.Keys(got.counts)), slices.Sorted(maps.Keys(first.counts)))
				}
				for op, n := range first.counts {
					if !timingOps[op] && got.counts[op] != n {
						t.Errorf("%s: %s count %d, first run %d", label, op, got.counts[op], n)
					}
				}
				if got.records != first.records || got.digest != first.digest {
					t.Errorf("%s: %d records with digest %x, first run %d with %x", label, got.records, got.digest, first.records, first.digest)
				}
			}
		})
	}
}
