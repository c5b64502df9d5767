package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/celery-bench/bench/results"
)

// TestCompareGolden runs bench compare and bench merge on the fixed run
// files in testdata (written by TestCompareFixtures) and compares exit
// code, stdout and stderr with testdata/compare-* and merge-* goldens.
func TestCompareGolden(t *testing.T) {
	const (
		base = "testdata/compare-base.json" // 8 repetitions of redis and mysql
		head = "testdata/compare-head.json" // the same, redis store_result (and so roundtrip) 20% slower
		same = "testdata/compare-same.json" // base again: another sample of the same thing
		few  = "testdata/compare-few.json"  // 3 repetitions only
		c16  = "testdata/compare-c16.json"  // like base, but --concurrency 16 and --celery 5.5
	)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"compare-help", []string{"help", "compare"}},
		{"compare-text", []string{"compare", base, head}},
		{"compare-markdown", []string{"compare", base, head, "--format", "markdown"}},
		{"compare-json", []string{"compare", base, head, "--format", "json"}},
		{"compare-few", []string{"compare", base, few}},
		// Rounds pooled: BASE is two files of 8 repetitions each.
		{"compare-pooled", []string{"compare", base + "," + same, head, "--fail-on", "p99:+10%"}},
		{"compare-pooled-missing", []string{"compare", base + ",testdata/compare-no-such-file.json", head}},
		// The gate: exit 1 only on a significant regression beyond its limit.
		{"compare-gate-fail", []string{"compare", base, head, "--fail-on", "p99:+10%,throughput:-5%"}},
		{"compare-gate-fail-markdown", []string{"compare", base, head, "--fail-on", "p99:+10%,throughput:-5%", "--format", "markdown"}},
		{"compare-gate-within", []string{"compare", base, head, "--fail-on", "p99:+50%,throughput:-30%"}},
		{"compare-gate-same", []string{"compare", base, same, "--fail-on", "p99:+10%,throughput:-5%"}},
		{"compare-gate-improvement", []string{"compare", head, base, "--fail-on", "p50:+1%,p99:+1%,throughput:-1%"}},
		// Bad input: one line on stderr, exit 2, nothing on stdout.
		{"compare-bad-spec", []string{"compare", base, head, "--fail-on", "p99:10%"}},
		{"compare-bad-metric", []string{"compare", base, head, "--fail-on", "p99:+10%,p95:+10%"}},
		{"compare-bad-direction", []string{"compare", base, head, "--fail-on", "throughput:+5%"}},
		{"compare-bad-empty-spec", []string{"compare", base, head, "--fail-on", ""}},
		{"compare-bad-alpha", []string{"compare", base, head, "--alpha", "1.5"}},
		{"compare-bad-format", []string{"compare", base, head, "--format", "xml"}},
		{"compare-one-file", []string{"compare", base}},
		{"compare-missing", []string{"compare", base, "testdata/compare-no-such-file.json"}},
		{"compare-not-a-run", []string{"compare", base, "compare.go"}},
		// Settings that differ: a warning naming each, or with --strict a
		// refusal; across the files of a pool too.
		{"compare-settings", []string{"compare", base, c16}},
		{"compare-strict", []string{"compare", base, c16, "--strict"}},
		{"compare-strict-same", []string{"compare", base, few, "--strict"}},
		{"compare-pooled-settings", []string{"compare", base + "," + c16, head}},
		{"compare-pooled-strict", []string{"compare", base, head + "," + c16, "--strict"}},
		{"merge-same", []string{"merge", "testdata/merge-a.json", "testdata/merge-b.json", "testdata/merge-a.json"}},
		{"merge-help", []string{"merge", "--help"}},
		{"merge-stdout", []string{"merge", "testdata/merge-a.json", "testdata/merge-b.json"}},
		{"merge-mismatch", []string{"merge", "testdata/merge-a.json", "testdata/merge-b.json", "testdata/merge-c.json"}},
		{"merge-one-file", []string{"merge", "testdata/merge-a.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) { golden(t, tc.name, tc.args...) })
	}
}

// TestCompareFixtures (re)writes the run files the compare and merge
// goldens read, from seeded synthetic histograms, so the goldens do not
// depend on timing.
func TestCompareFixtures(t *testing.T) {
	if !*update {
		t.Skip("the fixtures are rewritten only with -update")
	}
	slow := map[string]float64{"redis/store_result": 1.2, "redis/roundtrip": 1.2}
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	for name, r := range map[string]*results.Run{
		"compare-base.json": synthRun(8, 1, t0, nil, []string{"redis", "mysql"}),
		"compare-head.json": synthRun(8, 2, t0.Add(time.Hour), slow, []string{"redis", "mysql"}),
		"compare-same.json": synthRun(8, 3, t0.Add(2*time.Hour), nil, []string{"redis", "mysql"}),
		"compare-few.json":  synthRun(3, 4, t0.Add(3*time.Hour), nil, []string{"redis", "mysql"}),
		"compare-c16.json":  synthRun(8, 8, t0.Add(4*time.Hour), nil, []string{"redis", "mysql"}),
		"merge-a.json":      synthRun(2, 5, t0, nil, []string{"redis"}),
		"merge-b.json":      synthRun(2, 6, t0.Add(40*time.Millisecond), slow, []string{"redis"}),
		"merge-c.json":      synthRun(2, 7, t0, nil, []string{"redis"}),
	} {
		switch name {
		case "merge-b.json":
			r.Options[0].Value = "redis://10.0.0.2:6379/0"
			for i := range r.Results {
				r.Results[i].Backend = r.Options[0].Value
			}
		case "merge-c.json":
			r.Options[1].Value = "16" // concurrency
		case "compare-c16.json":
			r.Options[1].Value = "16" // concurrency
			for i := range r.Options {
				if r.Options[i].Name == "celery" {
					r.Options[i].Value = "5.5"
				}
			}
		}
		var b bytes.Buffer
		if err := results.WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", name), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// synthRun builds a run of reps repetitions of the named backends
// (interleaved, as --count does) measuring roundtrip, store_result and
// get_task_meta over 2 s windows: log-normal latencies around each op's
// median, a per-repetition drift of about 2%, and slow["backend/op"] as an
// injected slowdown, which also lowers that op's throughput.
func synthRun(reps int, seed uint64, t0 time.Time, slow map[string]float64, names []string) *results.Run {
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	url := map[string]string{"redis": "redis://127.0.0.1:6379/0", "mysql": "db+mysql://root@127.0.0.1:3306/celery_bench"}
	server := map[string]results.Server{"redis": {Product: "Redis", Version: "7.0.15"}, "mysql": {Product: "MariaDB", Version: "10.11.19-MariaDB-0+deb12u1"}}
	var urls []string
	for _, n := range names {
		urls = append(urls, url[n])
	}
	r := &results.Run{
		Format: results.FormatVersion, Bench: "devel", Go: "go1.26.8", Platform: "linux/amd64, 2 CPUs, GOMAXPROCS 2",
		Started: t0, Seed: seed,
		Summary: "workload roundtrip · 8 callers · 8 workers · 2s after 1s warm-up · result 64 B · Celery 5.6 · seed " +
			strconv.FormatUint(seed, 10) + " · closed loop · " + strconv.Itoa(reps) + " repetitions",
		Options: []results.Option{{Name: "backend", Value: strings.Join(urls, " ")}, {Name: "concurrency", Value: "8"},
			{Name: "workers", Value: "8"}, {Name: "count", Value: strconv.Itoa(reps)}, {Name: "duration", Value: "2s"},
			{Name: "seed", Value: strconv.FormatUint(seed, 10)}, {Name: "celery", Value: "5.6"}},
	}
	ops := []struct {
		name string
		ns   float64
	}{{"roundtrip", 400_000}, {"store_result", 150_000}, {"get_task_meta", 70_000}}
	at := t0
	for rep := 0; rep < reps; rep++ {
		for _, n := range names {
			res := results.Result{Backend: url[n], Name: n, Server: server[n], Workload: "roundtrip", Rep: rep,
				Start: at.Add(time.Second), End: at.Add(3 * time.Second)}
			at = at.Add(3 * time.Second)
			drift := 1 + 0.02*rng.NormFloat64()
			for _, op := range ops {
				f := 1.0
				if s, ok := slow[n+"/"+op.name]; ok {
					f = s
				}
				count := int(math.Round(2000 / f * (1 + 0.02*rng.NormFloat64())))
				h := results.NewHistogram()
				for i := 0; i < count; i++ {
					h.RecordValue(int64(op.ns * f * drift * math.Exp(0.3*rng.NormFloat64())))
				}
				res.Ops = append(res.Ops, results.Op{Name: op.name, Latency: h})
			}
			r.Results = append(r.Results, res)
		}
	}
	r.Ended = at
	return r
}

// TestMergeOutput checks that merge -o writes what merge prints, and never
// overwrites an existing file.
func TestMergeOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "all.json")
	args := []string{"merge", "testdata/merge-a.json", "testdata/merge-b.json", "-o", path}
	var stdout, stderr bytes.Buffer
	if code := bench(context.Background(), args, &stdout, &stderr); code != 0 || stdout.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout.String(), stderr.String())
	}
	got, _ := os.ReadFile(path)
	want, _ := os.ReadFile("testdata/merge-stdout.stdout")
	if !bytes.Equal(got, want) {
		t.Errorf("merge -o wrote other bytes than merge prints")
	}
	os.WriteFile(path, []byte("precious"), 0o644)
	stderr.Reset()
	if code := bench(context.Background(), args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "already exists") {
		t.Fatalf("exit %d, stderr %q; want 2 and an 'already exists' message", code, stderr.String())
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatalf("the existing file was changed to %q", b)
	}
}

// runCLI runs bench with args, wants exit code want, and returns stdout.
func runCLI(t *testing.T, want int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := bench(context.Background(), args, &stdout, &stderr); code != want {
		t.Fatalf("bench %s: exit %d, want %d; stderr:\n%s\nstdout:\n%s", strings.Join(args, " "), code, want, stderr.String(), stdout.String())
	}
	return stdout.String()
}

// splitRun returns a run file holding only the results of backend url.
func splitRun(t *testing.T, dir string, r *results.Run, url, name string) string {
	t.Helper()
	c := *r
	c.Results = nil
	for _, res := range r.Results {
		if res.Backend == url {
			c.Results = append(c.Results, res)
		}
	}
	if len(c.Results) == 0 {
		t.Fatalf("no results of %s", url)
	}
	var b bytes.Buffer
	if err := results.WriteJSON(&b, &c); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type compareJSON struct {
	Changes []struct {
		Op, Metric, Verdict string
		Significant         bool
		DeltaPct            *float64 `json:"delta_pct"`
	}
	GatePassed *bool    `json:"gate_passed"`
	Warnings   []string `json:"warnings"`
	Failures   []string `json:"failures"`
}

// TestCompareMemoryEndToEnd runs the real CLI on the memory backend with
// an injected delay on every store_result: --count 5 over three backends,
// interleaved (2 ms, the same 2 ms spelt differently, and 6 ms), then
// compares the runs of each backend. The same delay against itself must
// show no significant change in most figures and pass a gate; 2 ms
// against 6 ms must show store_result and roundtrip significantly worse
// (and the reverse better), and fire the gate.
//
// Note: the delays are whole milliseconds because a sleep on a machine
// whose timers tick every millisecond lasts about 1.1 ms whatever shorter
// time it asks for: 200 µs and 1 ms would be the same delay there. Two
// callers and two workers keep the harness's own CPU small beside the
// sleeps, so that a loaded machine (CI runs it under -race, beside other
// packages) cannot blur a threefold delay into noise, as four of each at
// 1 ms once did (1,240/s against a 4,000/s ceiling).
func TestCompareMemoryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bench for about 6 s")
	}
	const (
		fast  = "memory://?delay=2ms"
		fast2 = "memory://?delay=2000us"
		slow  = "memory://?delay=6ms"
	)
	out := runCLI(t, 0, "--backend", fast, "--backend", fast2, "--backend", slow, "--count", "5",
		"-d", "400ms", "--warmup", "100ms", "-c", "2", "--workers", "2", "--progress", "0", "--seed", "11", "--format", "json")
	run, err := results.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	a := splitRun(t, dir, run, fast, "a.json")
	a2 := splitRun(t, dir, run, fast2, "a2.json")
	b := splitRun(t, dir, run, slow, "b.json")

	decode := func(s string) compareJSON {
		var c compareJSON
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
		return c
	}

	// Same against same.
	t.Logf("bench compare a.json a2.json (2ms vs 2000us):\n%s", runCLI(t, 0, "compare", a, a2))
	same := decode(runCLI(t, 0, "compare", a, a2, "--format", "json", "--fail-on", "roundtrip.p50:+25%,roundtrip.throughput:-25%"))
	sig := 0
	for _, ch := range same.Changes {
		if ch.Significant {
			sig++
		}
	}
	if len(same.Changes) < 8 || sig*4 > len(same.Changes) {
		t.Errorf("same vs same: %d of %d figures significant; want at most a quarter", sig, len(same.Changes))
	}
	if same.GatePassed == nil || !*same.GatePassed {
		t.Errorf("same vs same: the gate did not pass")
	}

	// A gate on every op's p50 tests 9 figures: with 5 repetitions a side
	// no p-value can reach 0.05/9, and compare says the gate cannot fire.
	if w := strings.Join(same.Warnings, "\n"); strings.Contains(w, "cannot fire") {
		t.Errorf("a gate of two figures over 5 repetitions: %s", w)
	}
	wide := decode(runCLI(t, 0, "compare", a, b, "--format", "json", "--fail-on", "p50:+10%"))
	if w := strings.Join(wide.Warnings, "\n"); !strings.Contains(w, "the gate cannot fire") {
		t.Errorf("a gate on every op's p50 over 5 repetitions does not warn that it cannot fire: %s", w)
	}

	// 2 ms against 6 ms: slower, significantly, and the gate fires.
	gate := "roundtrip.p50:+10%,store_result.p50:+10%"
	t.Logf("bench compare a.json b.json (2ms vs 6ms):\n%s", runCLI(t, 1, "compare", a, b, "--fail-on", gate))
	slower := decode(runCLI(t, 1, "compare", a, b, "--format", "json", "--fail-on", gate))
	faster := decode(runCLI(t, 0, "compare", b, a, "--format", "json", "--fail-on", gate))
	if len(slower.Failures) != 2 {
		t.Errorf("gate %s failed on %v, want roundtrip and store_result", gate, slower.Failures)
	}
	for _, tc := range []struct {
		c       compareJSON
		verdict string
	}{{slower, "worse"}, {faster, "better"}} {
		checked := 0
		for _, ch := range tc.c.Changes {
			if (ch.Op == "store_result" || ch.Op == "roundtrip") && (ch.Metric == "p50" || ch.Metric == "throughput") {
				checked++
				if !ch.Significant || ch.Verdict != tc.verdict {
					t.Errorf("%s %s: %s (delta %v), want a significant change, %s", ch.Op, ch.Metric, ch.Verdict, *ch.DeltaPct, tc.verdict)
				}
			}
		}
		if checked != 4 {
			t.Errorf("checked %d figures, want 4", checked)
		}
	}
}

// TestMergeEndToEnd takes two runs at the same time (two bench processes'
// worth, in goroutines) and checks that bench merge adds their counts and
// merges their histograms exactly.
func TestMergeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs bench for about a second")
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	paths := []string{filepath.Join(dir, "x.json"), filepath.Join(dir, "y.json")}
	codes := make([]int, 2)
	errs := make([]bytes.Buffer, 2)
	for i, p := range paths {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = bench(context.Background(), []string{"--backend", "memory://?delay=100us", "-d", "500ms", "--warmup", "100ms",
				"-c", "2", "--workers", "2", "--progress", "0", "--seed", strconv.Itoa(31 + i), "--format", "json", "-o", p}, io.Discard, &errs[i])
		}()
	}
	wg.Wait()
	for i := range codes {
		if codes[i] != 0 {
			t.Fatalf("run %d: exit %d: %s", i, codes[i], errs[i].String())
		}
	}
	all := filepath.Join(dir, "all.json")
	runCLI(t, 0, "merge", paths[0], paths[1], "-o", all)
	var runs []*results.Run
	for _, p := range append(paths, all) {
		r, err := readRunFile(p)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	m := &runs[2].Results[0]
	for _, o := range m.Ops {
		want := results.NewHistogram()
		var errors int64
		for _, r := range runs[:2] {
			if x, ok := r.Results[0].Op(o.Name); ok {
				want.Merge(x.Latency)
				errors += x.Errors
			}
		}
		if o.Count() != want.TotalCount() || o.Errors != errors || results.Summarize(o.Latency) != results.Summarize(want) {
			t.Errorf("%s: merged count %d, errors %d, %+v; want %d, %d, %+v", o.Name, o.Count(), o.Errors,
				results.Summarize(o.Latency), want.TotalCount(), errors, results.Summarize(want))
		}
	}
}

// TestOutputFiles checks that compare -o and report -o write what they
// print, refuse an existing file, and leave no file (nor temporary file)
// when the command fails, so that a retry is not blocked.
func TestOutputFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		args   []string
		golden string
	}{
		{"compare", []string{"compare", "testdata/compare-base.json", "testdata/compare-head.json"}, "testdata/compare-text.stdout"},
		{"report", []string{"report", "testdata/run.json"}, "testdata/report-text.stdout"},
	} {
		path := filepath.Join(dir, tc.name+".txt")
		out := runCLI(t, 0, append(tc.args, "-o", path)...)
		if out != "" {
			t.Errorf("%s -o printed %q", tc.name, out)
		}
		got, _ := os.ReadFile(path)
		want, _ := os.ReadFile(tc.golden)
		if !bytes.Equal(got, want) {
			t.Errorf("%s -o wrote other bytes than %s", tc.name, tc.golden)
		}
		runCLI(t, 2, append(tc.args, "-o", path)...)
		if b, _ := os.ReadFile(path); !bytes.Equal(b, want) {
			t.Errorf("%s -o changed an existing file", tc.name)
		}
	}
	// A compare that fails its gate still writes the comparison; one that
	// fails on bad input writes nothing.
	failed := filepath.Join(dir, "failed.txt")
	runCLI(t, 2, "compare", "testdata/compare-base.json", "testdata/no-such.json", "-o", failed)
	runCLI(t, 2, "report", "testdata/list.stdout", "-o", failed)
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "compare.txt" && e.Name() != "report.txt" {
			t.Errorf("left %s behind", e.Name())
		}
	}
}
