package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/celery-bench/bench/results"
)

// refuseExisting checks, before a run starts, that the output file a flag
// names can be created: it does not exist yet (an existing file is never
// overwritten) and its directory does. "" (stdout, or no such output) is
// fine. The file itself is only created at the end, by writeFlagOutput.
func refuseExisting(flag, path string) error {
	if path == "" {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return usagef("%s %s already exists; choose another name or remove it", flag, path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return usageError{fmt.Errorf("%s: %w", flag, err)}
	} else if !st.IsDir() {
		return usagef("%s %s: %s is not a directory", flag, path, dir)
	}
	return nil
}

// writeOutput writes with write to stdout when path is "", else to the new
// file path, atomically (results.WriteFileAtomic): never overwriting, never
// left empty or partial.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	return writeFlagOutput("--output", path, stdout, write)
}

// writeFlagOutput is writeOutput for the file named by flag.
func writeFlagOutput(flag, path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	err := results.WriteFileAtomic(path, write)
	if errors.Is(err, os.ErrExist) {
		return usagef("%s %s already exists; choose another name or remove it", flag, path)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return usageError{fmt.Errorf("%s: %w", flag, err)}
	}
	return err
}
