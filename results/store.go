package results

// The run store: every run's file is also saved in the user's cache
// directory, so that a run is never lost for a forgotten -o, and
// "bench report" with no file renders the latest.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// KeepRuns is how many saved runs the store keeps; saving another removes
// the oldest.
const KeepRuns = 50

// runFileSuffix ends every file the store writes; files not ending in it
// are never listed or removed.
const runFileSuffix = ".bench-run.json"

// RunDir returns the directory runs are saved in: bench/runs under the
// user's cache directory ($XDG_CACHE_HOME, or ~/.cache, on Linux).
func RunDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory to save runs in: %w", err)
	}
	return filepath.Join(dir, "bench", "runs"), nil
}

// SaveRun writes r as a run file into dir, creating dir if needed, and
// returns its path. The file appears whole or not at all (it is written
// under a temporary name, then renamed); its name sorts by the run's start,
// so the newest is last. Beyond KeepRuns saved runs, the oldest go.
func SaveRun(dir string, r *Run) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		return "", err
	}
	name := r.Started.UTC().Format("20060102T150405.000000000Z") + fmt.Sprintf("-%016x", r.Seed) + runFileSuffix
	path := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, ".saving-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(buf.Bytes())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	names, err := savedRuns(dir)
	if err != nil {
		return path, err
	}
	for len(names) > KeepRuns {
		if err := os.Remove(filepath.Join(dir, names[0])); err != nil && !errors.Is(err, os.ErrNotExist) {
			return path, err
		}
		names = names[1:]
	}
	return path, nil
}

// LatestRun returns the path of the newest run saved in dir.
func LatestRun(dir string) (string, error) {
	names, err := savedRuns(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no saved run in %s yet; run bench first, or name a run file", dir)
	}
	return filepath.Join(dir, names[len(names)-1]), nil
}

// savedRuns lists the run files of dir, oldest first.
func savedRuns(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), runFileSuffix) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// ReadRunFile reads a run file from path. Errors name the file.
func ReadRunFile(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return r, nil
}
