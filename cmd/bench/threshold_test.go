package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/celery-bench/bench/results"
)

// TestThresholdExit runs the memory backend with one threshold it cannot
// meet and one it meets: the results and the checks are printed and kept
// in the -o run file, and the run exits 3 with a one-line verdict; with the
// one it meets alone it exits 0.
func TestThresholdExit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.json")
	var stdout, stderr bytes.Buffer
	code := bench(context.Background(), []string{"--backend", "memory://", "-d", "300ms", "--warmup", "100ms", "--progress", "0", "--no-save",
		"--threshold", "roundtrip.p50<1ns,errors<=0", "--format", "json", "-o", path}, &stdout, &stderr)
	if code != exitThreshold {
		t.Fatalf("exit %d, want %d; stderr %s", code, exitThreshold, stderr.String())
	}
	if msg := strings.TrimSpace(stderr.String()); strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "1 of 2 thresholds failed: memory roundtrip.p50<1ns (") {
		t.Fatalf("stderr %q", msg)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := results.ReadJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Thresholds) != 2 || r.Thresholds[0].Pass || !r.Thresholds[1].Pass || r.Thresholds[0].Measured == "" {
		t.Fatalf("run file's thresholds: %+v", r.Thresholds)
	}
	// bench report prints them again from the file.
	stdout.Reset()
	if code := bench(context.Background(), []string{"report", path}, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "roundtrip.p50<1ns") || !strings.Contains(stdout.String(), "FAILED") {
		t.Fatalf("report: exit %d\n%s", code, stdout.String())
	}
	stdout.Reset()
	stderr.Reset()
	code = bench(context.Background(), []string{"--backend", "memory://", "-d", "300ms", "--warmup", "100ms", "--progress", "0", "--no-save",
		"--threshold", "errors<=0,rate>1"}, &stdout, &stderr)
	if code != 0 || !strings.Contains(stdout.String(), "thresholds (measured window): 2 of 2 passed") {
		t.Fatalf("exit %d, stderr %s\n%s", code, stderr.String(), stdout.String())
	}
}
