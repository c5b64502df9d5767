package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/results"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden runs bench with args and compares its exit code, stdout and stderr
// with testdata/NAME.{stdout,stderr,code}. With -update it rewrites them.
// On a mismatch it writes NAME.got-stdout for inspection.
func golden(t *testing.T, name string, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := bench(context.Background(), args, &stdout, &stderr)
	got := map[string][]byte{
		"stdout": stdout.Bytes(),
		"stderr": stderr.Bytes(),
		"code":   []byte(strings.TrimSpace(string(rune('0' + code)))),
	}
	for _, ext := range []string{"stdout", "stderr", "code"} {
		path := filepath.Join("testdata", name+"."+ext)
		if *update {
			if err := os.WriteFile(path, got[ext], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got[ext], want) {
			os.WriteFile(filepath.Join("testdata", name+".got-"+ext), got[ext], 0o644)
			t.Errorf("bench %s: %s differs from %s\n--- got:\n%s\n--- want:\n%s", strings.Join(args, " "), ext, path, got[ext], want)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"help", []string{"help"}},
		{"run-help", []string{"run", "--help"}},
		{"report-help", []string{"help", "report"}},
		{"list", []string{"list"}},
		{"report-text", []string{"report", "testdata/run.json"}},
		{"report-markdown", []string{"report", "testdata/run.json", "--format", "markdown"}},
		{"report-json", []string{"report", "testdata/run.json", "--format", "json"}},
		// Bad input: one line on stderr, exit code 2, nothing on stdout.
		{"bad-flag", []string{"run", "--no-such-flag"}},
		{"bad-concurrency", []string{"-c", "0"}},
		{"bad-duration", []string{"--duration", "soon"}},
		{"bad-scheme", []string{"--backend", "mongodb://127.0.0.1/celery"}},
		{"bad-format", []string{"--format", "xml"}},
		{"bad-celery", []string{"--celery", "4.4"}},
		{"bad-workload", []string{"-w", "nope"}},
		{"bad-command", []string{"frobnicate"}},
		{"bad-threshold", []string{"--backend", "memory://", "--threshold", "roundtrip.p99<50ms,p98<1s"}},
		{"report-missing", []string{"report", "testdata/no-such-file.json"}},
		{"inspect-help", []string{"help", "inspect"}},
		{"inspect-pending", []string{"inspect", "memory://", "bec1e7e0-0000-4000-8000-000000000001", "--format", "json"}},
		{"inspect-pending-text", []string{"inspect", "memory://", "bec1e7e0-0000-4000-8000-000000000001"}},
		{"inspect-no-ids", []string{"inspect", "memory://"}},
		{"inspect-bad-url", []string{"inspect", "mongodb://x", "id"}},
		{"report-not-a-run", []string{"report", "testdata/list.stdout"}},
	} {
		t.Run(tc.name, func(t *testing.T) { golden(t, tc.name, tc.args...) })
	}
}

// TestFixture (re)writes testdata/run.json, the run file the report goldens
// render, from fixed histograms, so the goldens do not depend on timing.
func TestFixture(t *testing.T) {
	if !*update {
		t.Skip("the fixture is rewritten only with -update")
	}
	var buf bytes.Buffer
	if err := results.WriteJSON(&buf, fixtureRun()); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("testdata/run.json", buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func fixtureRun() *results.Run {
	t0 := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	hist := func(base int64, n int) *results.Op {
		h := results.NewHistogram()
		for i := 0; i < n; i++ {
			h.RecordValue(base + int64(i%100)*base/50)
		}
		return &results.Op{Latency: h}
	}
	op := func(name string, base int64, n int, errs int64, samples ...string) results.Op {
		o := hist(base, n)
		o.Name, o.Errors, o.ErrorSamples = name, errs, samples
		return *o
	}
	withKinds := func(o results.Op, k results.ErrorKinds) results.Op {
		o.ErrorKinds = k
		return o
	}
	return &results.Run{
		Format: results.FormatVersion, Bench: "devel", Go: "go1.26.8", Platform: "linux/amd64, 2 CPUs, GOMAXPROCS 2",
		Started: t0, Ended: t0.Add(20 * time.Second), Seed: 42,
		Summary: "workload roundtrip · 8 callers · 8 workers · 8s after 2s warm-up · result 64 B · Celery 5.6 · seed 42 · closed loop",
		Options: []results.Option{{Name: "backend", Value: "redis://:xxxxx@127.0.0.1:6379/0 db+mysql://root@127.0.0.1:3306/celery_bench"}, {Name: "concurrency", Value: "8"}},
		Results: []results.Result{
			{Backend: "redis://:xxxxx@127.0.0.1:6379/0", Name: "redis", Workload: "roundtrip",
				Server: results.Server{Product: "Redis", Version: "7.0.15"},
				Start:  t0.Add(2 * time.Second), End: t0.Add(10 * time.Second),
				Ops: []results.Op{
					op("roundtrip", 400_000, 20000, 0), op("time_to_observe", 60_000, 20000, 0),
					op("store_result", 150_000, 20000, 0), op("on_task_call", 80_000, 20000, 0),
					op("get_task_meta", 70_000, 20000, 0), op("drain_events", 200_000, 19000, 0),
					op("remove_pending_result", 20_000, 20000, 0),
				}},
			{Backend: "db+mysql://root@127.0.0.1:3306/celery_bench", Name: "mysql", Workload: "roundtrip",
				Server: results.Server{Product: "MariaDB", Version: "10.11.19-MariaDB-0+deb12u1"},
				Start:  t0.Add(12 * time.Second), End: t0.Add(20 * time.Second),
				Ops: []results.Op{
					withKinds(op("roundtrip", 510_000_000, 128, 4, "mysql: get_task_meta: context deadline exceeded", "mysql: get_task_meta: invalid connection"),
						results.ErrorKinds{results.KindTimeout: 3, results.KindConnection: 1}),
					op("time_to_observe", 250_000_000, 128, 0),
					op("store_result", 3_000_000, 129, 0), op("get_task_meta", 2_500_000, 256, 0),
				}},
		},
	}
}

// TestRunMemory runs the real CLI end to end on the memory backend in
// every format and checks the output's shape (its figures vary by machine).
func TestRunMemory(t *testing.T) {
	for _, format := range results.Formats() {
		t.Run(format, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := bench(context.Background(), []string{"--backend", "memory://", "--backend", "memory://",
				"-d", "300ms", "--warmup", "100ms", "--progress", "0", "--seed", "7", "--format", format}, &stdout, &stderr)
			if code != 0 {
				t.Fatalf("exit %d, stderr: %s", code, stderr.String())
			}
			out := stdout.String()
			switch format {
			case "json":
				r, err := results.ReadJSON(strings.NewReader(out))
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Results) != 2 || r.Seed != 7 {
					t.Fatalf("run file has %d results, seed %d; want 2 and 7", len(r.Results), r.Seed)
				}
				rt, ok := r.Results[0].Op("roundtrip")
				if !ok || rt.Count() == 0 || rt.Errors != 0 {
					t.Fatalf("roundtrip op = %+v", rt)
				}
				var raw map[string]any
				json.Unmarshal(stdout.Bytes(), &raw)
				for _, k := range []string{"bench", "go", "options", "seed", "started", "ended", "results"} {
					if _, ok := raw[k]; !ok {
						t.Errorf("run file lacks %q", k)
					}
				}
			case "png":
				if !strings.HasPrefix(out, "\x89PNG\r\n\x1a\n") {
					t.Fatalf("png output does not start with the PNG signature: %q", out[:min(len(out), 16)])
				}
			case "svg":
				// One chart: the primary op's percentiles, labelled with the backends.
				for _, want := range []string{"<svg", "roundtrip", "memory"} {
					if !strings.Contains(out, want) {
						t.Errorf("svg output lacks %q", want)
					}
				}
			default:
				for _, want := range []string{"roundtrip", "time_to_observe", "store_result", "seed 7"} {
					if !strings.Contains(out, want) {
						t.Errorf("%s output lacks %q:\n%s", format, want, out)
					}
				}
			}
		})
	}
}

// TestOutputNeverOverwrites checks that -o refuses an existing file.
func TestOutputNeverOverwrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	os.WriteFile(path, []byte("precious"), 0o644)
	var stdout, stderr bytes.Buffer
	code := bench(context.Background(), []string{"--backend", "memory://", "-d", "100ms", "--warmup", "0s", "-o", path}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "already exists") {
		t.Fatalf("exit %d, stderr %q; want 2 and an 'already exists' message", code, stderr.String())
	}
	if b, _ := os.ReadFile(path); string(b) != "precious" {
		t.Fatalf("the existing file was changed to %q", b)
	}
}

// TestInterrupt checks that a cancelled run still prints what it measured
// and exits 4 (run incomplete).
func TestInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(700*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	code := bench(ctx, []string{"--backend", "memory://", "-d", "1m", "--warmup", "200ms", "--progress", "0", "--format", "json"}, &stdout, &stderr)
	if code != exitIncomplete || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("exit %d, stderr %s", code, stderr.String())
	}
	r, err := results.ReadJSON(&stdout)
	if err != nil {
		t.Fatal(err)
	}
	if r.Interrupt == "" || len(r.Results) != 1 || !r.Results[0].Interrupted {
		t.Fatalf("interrupted run: %+v", r)
	}
	if rt, _ := r.Results[0].Op("roundtrip"); rt == nil || rt.Count() == 0 || rt.Errors != 0 {
		t.Fatalf("interrupted run kept no roundtrips, or counted the stop as errors: %+v", rt)
	}
	if d := r.Results[0].Elapsed(); d <= 0 || d > 5*time.Second {
		t.Fatalf("measured window %v", d)
	}
}

// TestIncompleteBeatsThreshold: an interrupted run whose threshold also
// failed exits 4, not 3 (a threshold on a partial run says little), and
// still names the failed threshold.
func TestIncompleteBeatsThreshold(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	var stdout, stderr bytes.Buffer
	code := bench(ctx, []string{"--backend", "memory://", "-d", "1m", "--warmup", "100ms", "--progress", "0", "--no-save",
		"--threshold", "rate>1000000000"}, &stdout, &stderr)
	if code != exitIncomplete {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitIncomplete, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted") || !strings.Contains(stderr.String(), "threshold") {
		t.Errorf("stderr names the interruption and the threshold? %s", stderr.String())
	}
}

// TestMainExits checks the built binary: bad input exits 2 with one line.
func TestMainExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "bench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--concurrency", "-3")
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit = %v, want 2", err)
	}
	if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines != 0 {
		t.Fatalf("want one line, got:\n%s", out)
	}
}

// TestReadmeFlags checks that the README's flag reference is bench run
// --help as it is now (-update rewrites the README block).
func TestReadmeFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := bench(context.Background(), []string{"run", "--help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("run --help: exit %d", code)
	}
	const begin, end = "<!-- flags:begin -->\n", "<!-- flags:end -->"
	path := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q block", begin, end)
	}
	want := "```text\n" + stdout.String() + "```\n"
	if got := s[i+len(begin) : j]; got != want {
		if *update {
			s = s[:i+len(begin)] + want + s[j:]
			if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("README.md's flag reference differs from bench run --help; run go test ./cmd/bench -run TestReadmeFlags -update")
	}
}
