package results

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "run.json")
	if err := WriteFileAtomic(path, func(w io.Writer) error { _, err := io.WriteString(w, "one"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("got %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
	// An existing file is refused before write runs, and kept.
	called := false
	err := WriteFileAtomic(path, func(w io.Writer) error { called = true; return nil })
	if !errors.Is(err, os.ErrExist) || called {
		t.Errorf("existing path: err %v, write called %v", err, called)
	}
	if b, _ := os.ReadFile(path); string(b) != "one" {
		t.Fatalf("existing file changed: %q", b)
	}
	// A failed write leaves nothing, so the next attempt succeeds.
	failed := filepath.Join(dir, "failed.json")
	boom := errors.New("boom")
	if err := WriteFileAtomic(failed, func(w io.Writer) error { io.WriteString(w, "partial"); return boom }); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if _, err := os.Lstat(failed); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed write left %s: %v", failed, err)
	}
	if err := WriteFileAtomic(failed, func(w io.Writer) error { _, err := io.WriteString(w, "two"); return err }); err != nil {
		t.Fatal(err)
	}
	// A file created while write runs is not overwritten.
	raced := filepath.Join(dir, "raced.json")
	err = WriteFileAtomic(raced, func(w io.Writer) error {
		io.WriteString(w, "mine")
		return os.WriteFile(raced, []byte("theirs"), 0o644)
	})
	if !errors.Is(err, os.ErrExist) {
		t.Errorf("raced: err %v, want ErrExist", err)
	}
	if b, _ := os.ReadFile(raced); string(b) != "theirs" {
		t.Errorf("raced file overwritten: %q", b)
	}
	// Concurrent writers of one path: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	one := filepath.Join(dir, "one.json")
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if WriteFileAtomic(one, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent writers succeeded, want 1", wins)
	}
	// No temporary files are left.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left %s", e.Name())
		}
	}
}
