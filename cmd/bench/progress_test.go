package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/workloads"
)

// TestFormatProgress: the progress line names the measurement and its
// place in the plan, the figures so far, the last interval's rate, p50,
// p99 and errors (marked when it is the warm-up's), and the ETA over the
// plan; in place on a terminal, one line each elsewhere.
func TestFormatProgress(t *testing.T) {
	pl := progressLine{name: "redis", k: 2, n: 6, after: 4 * 12 * time.Second}
	p := workloads.Progress{Elapsed: 7 * time.Second, Total: 12 * time.Second, Tasks: 12345, Errors: 3,
		Last: &results.IntervalStat{Index: 5, Length: time.Second, Count: 1200, Errors: 1, Rate: 1200,
			P50: 1_250_000, P99: 48_000_000}}
	for _, tc := range []struct {
		tty  bool
		p    workloads.Progress
		want string
	}{
		{false, p, "redis [2/6]: measuring 7s of 12s, 12,345 tasks, 3 errors | last 1s: 1,200/s p50 1.25 ms p99 48.0 ms 1 errors | ETA 53s\n"},
		{true, p, "\r\033[Kredis [2/6]: measuring 7s of 12s, 12,345 tasks, 3 errors | last 1s: 1,200/s p50 1.25 ms p99 48.0 ms 1 errors | ETA 53s"},
	} {
		if got := formatProgress(pl, tc.p, tc.tty); got != tc.want {
			t.Errorf("tty %v:\n got %q\nwant %q", tc.tty, got, tc.want)
		}
	}
	// An outage: an interval with errors only shows no percentiles.
	q := p
	q.Warmup, q.Elapsed = true, time.Second
	q.Last = &results.IntervalStat{Index: -1, Length: time.Second, Errors: 40}
	got := formatProgress(progressLine{name: "mysql"}, q, false)
	if want := "mysql: warming up 1s of 12s, 12,345 tasks, 3 errors | last 1s, warm-up: 0.0/s 40 errors\n"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

// TestIntervalFlag: --interval sets the length of the run file's
// timeline intervals, and bad values are refused as bad input.
func TestIntervalFlag(t *testing.T) {
	out := runCLI(t, 0, "--backend", "memory://", "-d", "1s", "--warmup", "0s", "--interval", "250ms",
		"--progress", "0", "--no-save", "--format", "json")
	run, err := results.ReadJSON(strings.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	ivs := 0
	for _, op := range run.Results[0].Ops {
		for _, iv := range op.Intervals {
			ivs++
			if iv.Length != 250*time.Millisecond {
				t.Fatalf("%s interval of %v, want 250ms", op.Name, iv.Length)
			}
		}
	}
	if ivs < 4 {
		t.Errorf("%d intervals, want at least 4 per op over 1 s", ivs)
	}
	for _, bad := range []string{"0s", "5ms", "2h", "-1s"} {
		runCLI(t, 2, "--backend", "memory://", "--interval", bad)
	}
}

// TestReportImages: markdown with --images writes each chart as a PNG
// beside the -o file and shows it at the top; what cannot work is refused
// before anything is written, and an existing image is never overwritten.
func TestReportImages(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "pr.md")
	run := "../../results/testdata/redis-mysql-sweep.json"
	runCLI(t, 0, "report", run, "--format", "markdown", "-o", md, "--images", "percentiles,cost")
	text, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(text), "![percentiles](pr-percentiles.png)\n\n![cost](pr-cost.png)\n\n| summary") {
		t.Errorf("markdown starts %q", text[:min(len(text), 120)])
	}
	for _, kind := range []string{"percentiles", "cost"} {
		b, err := os.ReadFile(filepath.Join(dir, "pr-"+kind+".png"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 2000 || len(b) > 300<<10 {
			t.Errorf("pr-%s.png: %d bytes, PNG signature %v", kind, len(b), bytes.HasPrefix(b, []byte("\x89PNG")))
		}
	}
	runCLI(t, 2, "report", run, "--format", "markdown", "-o", filepath.Join(dir, "pr.md"), "--images", "percentiles") // pr-percentiles.png exists
	runCLI(t, 2, "report", run, "--format", "markdown", "-o", filepath.Join(dir, "b.md"), "--images", "bogus")
	runCLI(t, 2, "report", run, "--format", "text", "-o", filepath.Join(dir, "c.txt"), "--images", "cost")
	runCLI(t, 2, "report", run, "--format", "markdown", "--images", "cost")
	for _, f := range []string{"b.md", "b-bogus.png", "c.txt", "c-cost.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("a refused report left %s", f)
		}
	}
}

// TestSettingsEcho: the settings a run prints are what ran, in every
// format: a workload file's result sizes (with units, not the flag's
// default) and lifecycle settings, and a workload's own flags.
func TestSettingsEcho(t *testing.T) {
	file := filepath.Join("..", "..", "workloads", "testdata", "mix.yaml")
	for _, format := range []string{"text", "markdown", "benchfmt", "json"} {
		var out, errb bytes.Buffer
		args := []string{"--backend", "memory://", "-w", "mix", "--workload-file", file, "-d", "200ms", "--warmup", "0",
			"--progress", "0", "--no-save", "--format", format}
		if code := bench(t.Context(), args, &out, &errb); code != exitOK {
			t.Fatalf("%s: exit %d: %s", format, code, errb.String())
		}
		for _, want := range []string{"result 64 B 70 %, 4 KiB 30 % (workload file)", "progress: progress_updates 3",
			"failure_rate 0.5, retry_rate 0.2, traceback 2 KiB", "from mix.yaml: poll_interval 20ms · task_timeout 30s"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s output lacks %q:\n%s", format, want, firstLines(out.String(), 4))
			}
		}
	}
	var out, errb bytes.Buffer
	args := []string{"--backend", "memory://", "-w", "group", "--group-size", "7", "--result-size", "16-1KiB", "-d", "200ms",
		"--warmup", "0", "--progress", "0", "--no-save"}
	if code := bench(t.Context(), args, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if want := "result 16 B–1 KiB · Celery"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, firstLines(out.String(), 2))
	}
	if want := "· group of 7 ·"; !strings.Contains(out.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, firstLines(out.String(), 2))
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}
