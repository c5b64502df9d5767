package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends"
	_ "github.com/celery-bench/bench/backends/all"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the run itself failed
	exitUsage = 2 // bad input, or a server that cannot be used
	// exitThreshold: the run completed but a --threshold failed; the
	// results were printed and saved.
	exitThreshold = 3
	// exitIncomplete: the run did not complete (interrupted, overloaded, a
	// backend stopped on errors); the partial results were printed and saved.
	exitIncomplete = 4
)

// usageError is an error the user can fix by changing the command line or
// the environment; it exits with exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// thresholdError is a failed --threshold; it exits with exitThreshold.
type thresholdError struct{ err error }

func (e thresholdError) Error() string { return e.err.Error() }
func (e thresholdError) Unwrap() error { return e.err }

// incompleteError is a run that ended before its plan was done; it exits
// with exitIncomplete.
type incompleteError struct{ err error }

func (e incompleteError) Error() string { return e.err.Error() }
func (e incompleteError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

const topUsage = `bench measures Celery result backends with the traffic Celery itself sends.

Usage:
  bench [run] [flags]         run a workload against one or more backends (the default)
  bench report [FILE]         render a run file again (default: the newest saved run)
  bench list                  list the backends and workloads
  bench inspect URL ID...     decode and print what a backend holds for task ids
  bench compare BASE HEAD     compare two run files: significant changes, --fail-on gates
  bench merge A B... -o ALL   combine run files taken at the same time on several machines
  bench help [COMMAND]        show help

Run "bench run --help" for every flag of a run.
`

// bench is the whole command line program: it parses args, runs the
// subcommand, writes to stdout and stderr, and returns the exit code.
func bench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Any URL on the command line may hold a password: remember them all
	// before anything can echo one, so that messages can be scrubbed.
	for _, a := range args {
		if _, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "-") {
			a = v
		}
		if strings.Contains(a, ":") {
			backends.RememberURLSecrets(a)
		}
	}
	cmd, rest := "run", args
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, rest = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "run":
		err = runCmd(ctx, rest, stdout, stderr)
	case "report":
		err = reportCmd(rest, stdout, stderr)
	case "list":
		err = listCmd(rest, stdout)
	case "inspect":
		err = inspectCmd(ctx, rest, stdout)
	case "compare":
		err = compareCmd(rest, stdout)
	case "merge":
		err = mergeCmd(rest, stdout)
	case "help":
		err = helpCmd(rest, stdout)
	default:
		err = usagef("unknown command %q; run \"bench help\"", cmd)
	}
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pflag.ErrHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "bench: %s\n", backends.Scrub(err.Error()))
		return exitUsage
	case errors.As(err, new(incompleteError)):
		// Before thresholds: a threshold over an incomplete run says little.
		fmt.Fprintf(stderr, "bench: %s\n", backends.Scrub(err.Error()))
		return exitIncomplete
	case errors.As(err, new(thresholdError)):
		fmt.Fprintf(stderr, "bench: %s\n", backends.Scrub(err.Error()))
		return exitThreshold
	default:
		fmt.Fprintf(stderr, "bench: %s\n", backends.Scrub(err.Error()))
		return exitFail
	}
}

func helpCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		_, err := io.WriteString(stdout, topUsage)
		return err
	}
	switch args[0] {
	case "run":
		fs, _ := newRunFlags()
		fs.SetOutput(stdout)
		fs.Usage()
		return nil
	case "report":
		fs, _ := newReportFlags()
		fs.SetOutput(stdout)
		fs.Usage()
		return nil
	case "compare", "merge":
		return subcommandHelp(args[0], stdout)
	case "inspect":
		fs, _ := newInspectFlags()
		fs.SetOutput(stdout)
		fs.Usage()
		return nil
	case "list":
		_, err := io.WriteString(stdout, "Usage: bench list\n\nLists every registered backend (by URL scheme) and workload with a one-line description.\n")
		return err
	}
	return usagef("no help for %q; commands are run, report, list, inspect", args[0])
}

// parseFlags parses args into fs, turning pflag's errors into usage errors
// (one line, exit 2) and --help into pflag.ErrHelp after printing usage.
func parseFlags(fs *pflag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	if errors.Is(err, pflag.ErrHelp) {
		fs.SetOutput(stdout)
		fs.Usage()
		return err
	}
	if err != nil {
		return usageError{err}
	}
	return nil
}

// version is bench's version: the module version when built from a tagged
// module, "devel" otherwise.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func platform() string {
	return fmt.Sprintf("%s/%s, %d CPUs, GOMAXPROCS %d", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
}
