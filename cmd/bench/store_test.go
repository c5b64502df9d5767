package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/results"
)

// TestMain points the run store at a directory of this test binary's own,
// so that tests never write into the user's cache.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bench-cmd-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestRunIsSaved checks that a run without -o is saved in the run store,
// that bench report with no file renders the newest saved run, that
// --no-save saves nothing, and that the store keeps the last KeepRuns.
func TestRunIsSaved(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir, err := results.RunDir()
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string) {
		var stdout, stderr bytes.Buffer
		if code := bench(context.Background(), args, &stdout, &stderr); code != exitOK {
			t.Fatalf("bench %q: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	var stdout bytes.Buffer
	if code := bench(context.Background(), []string{"report"}, &stdout, &bytes.Buffer{}); code != exitUsage {
		t.Errorf("report with an empty store: exit %d, want %d", code, exitUsage)
	}
	out, errOut := run("--backend", "memory://", "-d", "100ms", "--warmup", "0", "--progress", "0", "--seed", "77")
	if !strings.Contains(errOut, "run saved to "+dir) {
		t.Fatalf("stderr %q does not say where the run was saved", errOut)
	}
	again, note := run("report")
	if again != out {
		t.Errorf("report of the latest run:\n%s\nwant what the run printed:\n%s", again, out)
	}
	if !strings.Contains(note, "the latest saved run") {
		t.Errorf("report's stderr %q does not name the file it rendered", note)
	}
	_, errOut = run("--backend", "memory://", "-d", "50ms", "--warmup", "0", "--progress", "0", "--no-save")
	if strings.Contains(errOut, "saved") {
		t.Errorf("--no-save: stderr %q", errOut)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the store after one saved run, want 1", len(entries))
	}

	// Past KeepRuns, the oldest go: fill the store with older runs.
	r, err := results.ReadRunFile(filepath.Join(dir, entries[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	newest := entries[0].Name()
	for i := 0; i < results.KeepRuns+3; i++ {
		r.Started = r.Started.Add(-time.Duration(i+1) * time.Second)
		if _, err := results.SaveRun(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != results.KeepRuns {
		t.Errorf("%d runs kept, want %d", len(entries), results.KeepRuns)
	}
	if latest, _ := results.LatestRun(dir); filepath.Base(latest) != newest {
		t.Errorf("latest run %s, want %s (the newest must survive)", latest, newest)
	}
}
