package main

import (
	"fmt"
	"syscall"
)

// filesPerCaller and filesPerWorker are the connections (file
// descriptors) one simulated process holds at most: a Redis caller keeps
// its command and its pub/sub connection, a worker one; filesSpare covers
// the process's own (stdio, the run store, server-stat connections).
const (
	filesPerCaller = 2
	filesPerWorker = 1
	filesSpare     = 64
)

// checkFiles refuses a run whose callers and workers need more file
// descriptors than the process may open (RLIMIT_NOFILE): such a run fails
// part way with "too many open files" after minutes of set-up.
func checkFiles(callers int, levels []level) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil // no limit known: let the run find out
	}
	workers := 0
	for _, lv := range levels {
		workers = max(workers, lv.workers)
	}
	need := uint64(callers)*filesPerCaller + uint64(workers)*filesPerWorker + filesSpare
	if need > lim.Cur {
		return fmt.Errorf("-c %d callers and %d workers need about %d open files (%d per caller, %d per worker), more than this process may open (RLIMIT_NOFILE %d; raise it with ulimit -n)",
			callers, workers, need, filesPerCaller, filesPerWorker, lim.Cur)
	}
	return nil
}
