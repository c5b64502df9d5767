package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/results"
)

type reportOpts struct {
	format string
}

func newReportFlags() (*pflag.FlagSet, *reportOpts) {
	o := &reportOpts{}
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	fs.StringVar(&o.format, "format", "text", "output format: "+strings.Join(results.Formats(), ", "))
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bench report FILE [flags]\n\nRenders a run file saved with \"bench run --format json -o FILE\" again, without rerunning it.\n\nFlags:\n%s", fs.FlagUsages())
	}
	return fs, o
}

func reportCmd(args []string, stdout io.Writer) error {
	fs, o := newReportFlags()
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("report takes one run file, got %d arguments", fs.NArg())
	}
	format, err := results.Lookup(o.format)
	if err != nil {
		return usageError{err}
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return usageError{err}
	}
	defer f.Close()
	run, err := results.ReadJSON(f)
	if err != nil {
		return usagef("%s: %v", fs.Arg(0), err)
	}
	return format(stdout, run)
}
