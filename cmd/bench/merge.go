package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/results"
)

type mergeOpts struct {
	output string
}

func newMergeFlags() (*pflag.FlagSet, *mergeOpts) {
	o := &mergeOpts{}
	fs := pflag.NewFlagSet("merge", pflag.ContinueOnError)
	fs.StringVarP(&o.output, "output", "o", "", "write the merged run file here instead of stdout; an existing file is never overwritten")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: bench merge A.json B.json ... [-o ALL.json]

Combines run files taken at the same time on several machines against the
same servers into one run file, as if one machine had driven all the load:
the latency histograms are merged, so percentiles are exact over every
observation, and counts and throughputs add up. Runs whose settings differ
(other than backend URLs, seeds and output paths), that measured different
things, or that were not taken at the same time are refused.

Flags:
%s`, fs.FlagUsages())
	}
	return fs, o
}

func mergeCmd(args []string, stdout io.Writer) error {
	fs, o := newMergeFlags()
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usagef("merge takes two or more run files, got %d", fs.NArg())
	}
	var runs []*results.Run
	for _, path := range fs.Args() {
		r, err := readRunFile(path)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	merged, err := results.Merge(runs...)
	var me *results.MergeMismatchError
	if errors.As(err, &me) {
		return usagef("cannot merge: %s differs from %s in %s: %s, not %s", fs.Arg(me.Run), fs.Arg(0), me.What, quoted(me.Got), quoted(me.Want))
	}
	var se *results.SameRunError
	if errors.As(err, &se) {
		return usagef("cannot merge: %s (argument %d) is the same run as %s (argument %d), or holds it; its observations would be counted twice", fs.Arg(se.Run), se.Run+1, fs.Arg(se.First), se.First+1)
	}
	if err != nil {
		return usagef("cannot merge: %v", err)
	}
	return writeOutput(o.output, stdout, func(w io.Writer) error { return results.WriteJSON(w, merged) })
}

func quoted(s string) string {
	if s == "" {
		return "unset"
	}
	return s
}
