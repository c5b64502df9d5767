package results

// The output seam: one registry of formats serves bench run, bench
// report, bench compare and the artefacts a run also writes (--hdr-log).
// A new format is one file that calls RegisterFormat from init.

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
)

// A Format renders runs, comparisons, or both.
type Format struct {
	Name        string
	Description string // one line, for --help
	// Run writes a run file's content; nil when the format renders no run.
	Run func(w io.Writer, r *Run) error
	// Render is Run for formats that take options (a chart's kind and op);
	// a format sets Run or Render, not both.
	Render func(w io.Writer, r *Run, o RenderOptions) error
	// Binary formats (images) are not for a terminal.
	Binary bool
	// Compare writes a comparison; nil when the format renders none.
	Compare func(w io.Writer, c *Comparison) error
	// Artefact formats are written beside the main output, to a file
	// named by a flag of their own (--hdr-log), not chosen with --format.
	Artefact bool
}

// RenderOptions are the options of formats that draw one chart.
type RenderOptions struct {
	Chart string // the chart's kind ("percentiles"); "" for the format's default
	Op    string // the op it shows; "" for the run's first
}

// ErrCannotRender is wrapped by a format's error when the run or the
// options cannot be drawn (an unknown chart or op, a chart with no data):
// bad input, not a failure of bench.
var ErrCannotRender = errors.New("cannot render")

// WriteRun writes r in format f with options o (which formats without
// options ignore).
func (f Format) WriteRun(w io.Writer, r *Run, o RenderOptions) error {
	if f.Render != nil {
		return f.Render(w, r, o)
	}
	return f.Run(w, r)
}

func (f Format) rendersRuns() bool { return (f.Run != nil || f.Render != nil) && !f.Artefact }

var formats = map[string]Format{}

// RegisterFormat adds a format. It is called from init functions; a name
// registered twice is a programming error and panics.
func RegisterFormat(f Format) {
	if _, dup := formats[f.Name]; dup {
		panic("results: format registered twice: " + f.Name)
	}
	formats[f.Name] = f
}

func init() {
	RegisterFormat(Format{Name: "text", Description: "aligned tables for a terminal", Run: WriteText,
		Compare: func(w io.Writer, c *Comparison) error { return c.WriteText(w) }})
	RegisterFormat(Format{Name: "markdown", Description: "GitHub-flavoured tables for a pull request", Run: WriteMarkdown,
		Compare: func(w io.Writer, c *Comparison) error { return c.WriteMarkdown(w) }})
	RegisterFormat(Format{Name: "json", Description: `the run file "bench report" and "bench compare" read`, Run: WriteJSON,
		Compare: func(w io.Writer, c *Comparison) error { return c.WriteJSON(w) }})
	RegisterFormat(Format{Name: "hdrlog", Description: "HdrHistogram V2 interval log, one interval per op", Run: WriteHDRLog,
		Artefact: true})
}

// Lookup returns the named format that renders runs (chosen with
// --format; artefact formats are not).
func Lookup(name string) (Format, error) {
	f, ok := formats[name]
	if !ok || !f.rendersRuns() {
		return Format{}, fmt.Errorf("unknown format %q; use one of %s", name, strings.Join(Formats(), ", "))
	}
	return f, nil
}

// LookupCompare returns the named format that renders comparisons.
func LookupCompare(name string) (Format, error) {
	f, ok := formats[name]
	if !ok || f.Compare == nil {
		return Format{}, fmt.Errorf("unknown format %q; use one of %s", name, strings.Join(ComparisonFormats(), ", "))
	}
	return f, nil
}

// LookupArtefact returns the named artefact format.
func LookupArtefact(name string) (Format, error) {
	f, ok := formats[name]
	if !ok || !f.Artefact {
		return Format{}, fmt.Errorf("no artefact format %q", name)
	}
	return f, nil
}

// Formats lists the names of the formats --format can choose for a run,
// sorted.
func Formats() []string {
	return formatNames(Format.rendersRuns)
}

// ComparisonFormats lists the names of the formats that render comparisons,
// sorted.
func ComparisonFormats() []string {
	return formatNames(func(f Format) bool { return f.Compare != nil })
}

// AllFormats returns every registered format, sorted by name.
func AllFormats() []Format {
	var out []Format
	for _, n := range formatNames(func(Format) bool { return true }) {
		out = append(out, formats[n])
	}
	return out
}

func formatNames(keep func(Format) bool) []string {
	var out []string
	for n, f := range formats {
		if keep(f) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
