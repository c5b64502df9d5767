package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/results"
	"github.com/celery-bench/bench/results/charts"
)

type reportOpts struct {
	format string
	output string
	chart  string
	op     string
	images []string
}

func newReportFlags() (*pflag.FlagSet, *reportOpts) {
	o := &reportOpts{}
	fs := pflag.NewFlagSet("report", pflag.ContinueOnError)
	fs.StringVar(&o.format, "format", "text", "output format: "+strings.Join(results.Formats(), ", ")+
		"\n(html: one self-contained page with every chart; png, svg: the one chart --chart names)")
	fs.StringVarP(&o.output, "output", "o", "", "write to this file instead of stdout; an existing file is never overwritten")
	fs.StringVar(&o.chart, "chart", charts.Kinds[0], "chart of --format png or svg: "+strings.Join(charts.Kinds, ", "))
	fs.StringSliceVar(&o.images, "images", nil, "with --format markdown and -o FILE: draw these charts (comma-separated, as --chart) as PNG files\n"+
		"beside FILE, named FILE's base-CHART.png, and show them at the top of the markdown (attach them with the comment)")
	fs.StringVar(&o.op, "op", "", "operation the chart shows (default: the workload's first, e.g. roundtrip)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bench report [FILE] [flags]\n\nRenders a run file again, without rerunning it: FILE as saved with \"bench run --format json -o FILE\",\nor with no FILE the newest run in the run store (every run saves one unless --no-save).\n\nFlags:\n%s", fs.FlagUsages())
	}
	return fs, o
}

func reportCmd(args []string, stdout, stderr io.Writer) error {
	fs, o := newReportFlags()
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("report takes one run file, got %d arguments", fs.NArg())
	}
	format, err := results.Lookup(o.format)
	if err != nil {
		return usageError{err}
	}
	if format.Binary && o.output == "" && isTerminal(stdout) {
		return usagef("--format %s writes an image; give -o FILE or redirect stdout", o.format)
	}
	path := fs.Arg(0)
	if path == "" {
		dir, err := results.RunDir()
		if err == nil {
			path, err = results.LatestRun(dir)
		}
		if err != nil {
			return usageError{err}
		}
		fmt.Fprintf(stderr, "bench: the latest saved run, %s\n", path)
	}
	run, err := results.ReadRunFile(path)
	if err != nil {
		return usageError{err}
	}
	var refs []string
	if len(o.images) > 0 {
		if refs, err = writeImages(o, run); err != nil {
			return err
		}
	}
	err = writeOutput(o.output, stdout, func(w io.Writer) error {
		for _, r := range refs {
			if _, err := fmt.Fprintf(w, "%s\n\n", r); err != nil {
				return err
			}
		}
		return format.WriteRun(w, run, results.RenderOptions{Chart: o.chart, Op: o.op})
	})
	if errors.Is(err, results.ErrCannotRender) {
		return usageError{err}
	}
	return err
}

// writeImages draws the charts o.images names as PNG files beside
// o.output and returns the markdown that shows them, one image per line.
// It refuses, before drawing any, what cannot work: another format than
// markdown, no -o, an unknown chart, or an image file that exists.
func writeImages(o *reportOpts, run *results.Run) ([]string, error) {
	if o.format != "markdown" || o.output == "" {
		return nil, usagef("--images needs --format markdown and -o FILE (the images are written beside FILE)")
	}
	png, err := results.Lookup("png")
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(o.output, filepath.Ext(o.output))
	var paths []string
	for _, kind := range o.images {
		if !slices.Contains(charts.Kinds, kind) {
			return nil, usagef("--images: unknown chart %q; use %s", kind, strings.Join(charts.Kinds, ", "))
		}
		p := base + "-" + kind + ".png"
		if _, err := os.Stat(p); err == nil {
			return nil, usagef("--images: %s already exists; choose another -o or remove it", p)
		}
		paths = append(paths, p)
	}
	var refs []string
	for i, kind := range o.images {
		err := writeOutput(paths[i], nil, func(w io.Writer) error {
			return png.WriteRun(w, run, results.RenderOptions{Chart: kind, Op: o.op})
		})
		if errors.Is(err, results.ErrCannotRender) {
			return nil, usageError{err}
		}
		if err != nil {
			return nil, err
		}
		refs = append(refs, fmt.Sprintf("![%s](%s)", kind, filepath.Base(paths[i])))
	}
	return refs, nil
}
