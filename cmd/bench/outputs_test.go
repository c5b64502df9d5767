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

// TestFailedRunLeavesNoOutput checks that a run that fails before it has
// results (a backend that does not answer) creates neither its -o nor its
// --hdr-log file, so that the same command, rerun, is not refused; and that
// the rerun writes both files whole.
func TestFailedRunLeavesNoOutput(t *testing.T) {
	dir := t.TempDir()
	out, hdr := filepath.Join(dir, "run.json"), filepath.Join(dir, "run.hlog")
	var stdout, stderr bytes.Buffer
	code := bench(context.Background(), []string{"--backend", "redis://127.0.0.1:1/0", "--connect-timeout", "500ms",
		"-d", "100ms", "--warmup", "0s", "--progress", "0", "--no-save", "--format", "json", "-o", out, "--hdr-log", hdr}, &stdout, &stderr)
	if code == 0 {
		t.Fatalf("a run against a closed port exited 0; stderr %s", stderr.String())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Fatalf("the failed run left %d files in the output directory (%s); want none", len(ents), ents[0].Name())
	}
	stdout.Reset()
	stderr.Reset()
	code = bench(context.Background(), []string{"--backend", "memory://", "-d", "200ms", "--warmup", "0s", "--progress", "0",
		"--no-save", "--format", "json", "-o", out, "--hdr-log", hdr}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("rerun: exit %d, stderr %s", code, stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r, err := results.ReadJSON(f); err != nil || len(r.Results) != 1 {
		t.Fatalf("rerun's -o file: %v", err)
	}
	if b, err := os.ReadFile(hdr); err != nil || !strings.Contains(string(b), "op=roundtrip") {
		t.Fatalf("rerun's --hdr-log file: %v, %d bytes", err, len(b))
	}
	ents, _ = os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("want the two output files and no temporary ones, got %d entries", len(ents))
	}
	// A third run is refused before it starts, and changes neither file.
	before, _ := os.ReadFile(out)
	stderr.Reset()
	code = bench(context.Background(), []string{"--backend", "memory://", "-d", "100ms", "--no-save", "--hdr-log", hdr}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--hdr-log "+hdr+" already exists") {
		t.Fatalf("existing --hdr-log: exit %d, stderr %q", code, stderr.String())
	}
	if after, _ := os.ReadFile(out); !bytes.Equal(before, after) {
		t.Fatal("the -o file changed")
	}
}

// TestOutputDirMissing checks that an -o file in a directory that does not
// exist is refused before the run.
func TestOutputDirMissing(t *testing.T) {
	var stdout, stderr bytes.Buffer
	path := filepath.Join(t.TempDir(), "nope", "run.json")
	code := bench(context.Background(), []string{"--backend", "memory://", "-d", "1h", "--no-save", "-o", path}, &stdout, &stderr)
	if code != 2 || strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q; want 2 and one line", code, stderr.String())
	}
}
