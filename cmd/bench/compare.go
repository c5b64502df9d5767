package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/results"
)

type compareOpts struct {
	format string
	alpha  float64
	failOn string
	output string
	strict bool
}

func newCompareFlags() (*pflag.FlagSet, *compareOpts) {
	o := &compareOpts{}
	fs := pflag.NewFlagSet("compare", pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&o.format, "format", "text", "output format: "+strings.Join(results.ComparisonFormats(), ", ")+" (markdown: a pull-request comment)")
	fs.Float64Var(&o.alpha, "alpha", results.DefaultAlpha, "significance level: a change counts when the Mann–Whitney U test's p-value is at most this")
	fs.StringVarP(&o.output, "output", "o", "", "write the comparison here instead of stdout; an existing file is never overwritten")
	fs.BoolVar(&o.strict, "strict", false, "refuse (exit 2) to compare runs whose settings differ other than in backend URLs, seeds,\nrepetitions and output; without it they are compared with a warning naming each difference")
	fs.StringVar(&o.failOn, "fail-on", "", "exit 1 when a metric gets significantly worse by more than a limit, e.g. 'p99:+10%,throughput:-5%'\n(metrics: throughput, mean, p50, p99, p99.9; + for latencies, - for throughput;\nop.metric gates one op, e.g. roundtrip.p99:+10%; significance is Holm-corrected\nover all the figures gated, so more figures need more repetitions)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: bench compare BASE.json HEAD.json [flags]

Compares two run files, each with several repetitions (bench run --count 10
--format json -o FILE). For every backend, workload, level and operation in
both, it prints the median and 95%% confidence interval of throughput, p50,
p99 and p99.9 over the repetitions, the change, and the p-value of a
Mann–Whitney U test; ~ marks a change that is not significant at --alpha.
Backends are matched by name (redis, mysql, memory), so the runs may come
from different machines. At least 4 repetitions on each side are needed for
any change to be significant, 6 for a confidence interval.

BASE and HEAD may each be a comma-separated list of run files, whose
repetitions are pooled: run a few rounds of each side alternately (base,
head, base, head, ...) so that the machine's drift spreads over both.

--fail-on tests many figures at once (every op of every backend for an
unscoped metric); to keep two runs of the same code from failing it by
chance, a figure fails only if its p-value passes Holm's correction at
--alpha over all the figures gated. Gate the figures that matter
(roundtrip.p99:+10%%) rather than every op, or run more repetitions; compare
warns when the gate cannot fire with the repetitions given.

Exit status: 0, or 1 when --fail-on fires, 2 for bad input.

Flags:
%s`, fs.FlagUsages())
	}
	return fs, o
}

// gateError is a --fail-on gate that fired; it exits with exitFail.
type gateError struct{ c *results.Comparison }

func (e gateError) Error() string {
	var fs []string
	for _, f := range e.c.Failures {
		ch := f.Change
		fs = append(fs, fmt.Sprintf("%s/%s/%s %s %+.2f%%", ch.Backend, strings.TrimSpace(ch.Workload+" "+ch.Level), ch.Op, ch.Metric, ch.Delta))
	}
	return fmt.Sprintf("--fail-on: %d %s significantly worse beyond the limit: %s", len(fs),
		map[bool]string{true: "metric got", false: "metrics got"}[len(fs) == 1], strings.Join(fs, ", "))
}

func compareCmd(args []string, stdout io.Writer) error {
	fs, o := newCompareFlags()
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("compare takes two run files, BASE and HEAD, got %d arguments", fs.NArg())
	}
	format, err := results.LookupCompare(o.format)
	if err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	if !(o.alpha > 0 && o.alpha < 1) {
		return usagef("--alpha must be between 0 and 1, got %v", o.alpha)
	}
	var gates []results.Gate
	if fs.Changed("fail-on") {
		var err error
		if gates, err = results.ParseGates(o.failOn); err != nil {
			return usagef("--fail-on: %v", err)
		}
	}
	base, baseDiffs, err := readPooled(fs.Arg(0))
	if err != nil {
		return err
	}
	head, headDiffs, err := readPooled(fs.Arg(1))
	if err != nil {
		return err
	}
	var poolWarnings []string
	for _, d := range append(baseDiffs, headDiffs...) {
		if o.strict {
			return usagef("--strict: %v", d)
		}
		poolWarnings = append(poolWarnings, results.SettingsWarning(d.What, d.Diffs))
	}
	c, err := results.Compare(base, head, results.CompareOptions{
		BaseLabel: poolLabel(fs.Arg(0)), HeadLabel: poolLabel(fs.Arg(1)), Alpha: o.alpha, Gates: gates, Strict: o.strict,
	})
	var se *results.SettingsError
	if errors.As(err, &se) {
		return usagef("--strict: %s %s: %v", fs.Arg(0), fs.Arg(1), err)
	}
	if err != nil {
		return usagef("compare %s %s: %v", fs.Arg(0), fs.Arg(1), err)
	}
	c.Warnings = append(poolWarnings, c.Warnings...)
	if err := writeOutput(o.output, stdout, func(w io.Writer) error { return format.Compare(w, c) }); err != nil {
		return err
	}
	if len(c.Failures) > 0 {
		return gateError{c}
	}
	return nil
}

// readRunFile reads a run file; every failure is a usage error.
func readRunFile(path string) (*results.Run, error) {
	r, err := results.ReadRunFile(path)
	if err != nil {
		return nil, usageError{err}
	}
	return r, nil
}

// readPooled reads a comma-separated list of run files as one run whose
// repetitions are all of theirs, renumbered in order: rounds of one side
// run alternately with the other's, so that drift spreads over both.
//
// It also returns how each file's settings differ from the first's.
func readPooled(list string) (*results.Run, []*results.SettingsError, error) {
	var pooled *results.Run
	var diffs []*results.SettingsError
	reps := map[string]int{}
	files := strings.Split(list, ",")
	for _, path := range files {
		r, err := readRunFile(path)
		if err != nil {
			return nil, nil, err
		}
		if pooled != nil {
			if d := results.SettingsDiff(pooled, r); len(d) > 0 {
				diffs = append(diffs, &results.SettingsError{What: files[0] + " and " + path, Diffs: d})
			}
		}
		if pooled == nil {
			c := *r
			c.Results = nil
			pooled = &c
		} else if r.Interrupt != "" && pooled.Interrupt == "" {
			pooled.Interrupt = r.Interrupt
		}
		// Each file's backends by their label (their name, when unique in
		// the file), so that one backend stays one across files whose URLs
		// differ (other machines).
		labels := results.BackendLabels(r)
		for _, res := range r.Results {
			res.Backend = labels[res.Backend]
			k := res.Name + "\x00" + res.Backend + "\x00" + res.Workload + "\x00" + res.Level
			res.Rep = reps[k]
			reps[k]++
			pooled.Results = append(pooled.Results, res)
		}
	}
	return pooled, diffs, nil
}

// poolLabel names a list of run files by its first: "base-1.json + 4 more".
func poolLabel(list string) string {
	files := strings.Split(list, ",")
	if len(files) == 1 {
		return list
	}
	return fmt.Sprintf("%s + %d more", files[0], len(files)-1)
}

// subcommandHelp prints the usage of compare or merge ("bench help compare").
func subcommandHelp(cmd string, stdout io.Writer) error {
	fs, _ := newCompareFlags()
	if cmd == "merge" {
		fs, _ = newMergeFlags()
	}
	fs.SetOutput(stdout)
	fs.Usage()
	return nil
}
