package results

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// mergeIgnored are the options runs may differ in and still be merged:
// where each machine pointed (server URLs) and wrote its output, its seed
// (machines sharing a server must use different seeds), and how it
// displayed progress or treated leftovers. Every other option shapes the
// figures and must be equal.
var mergeIgnored = map[string]bool{
	"backend": true, "seed": true, "output": true, "hdr-log": true, "format": true,
	"progress": true, "keep": true, "force": true, "connect-timeout": true,
}

// A MergeMismatchError says why runs cannot be merged: run Run (an index
// into Merge's arguments) differs from the first.
type MergeMismatchError struct {
	Run  int
	What string // "option concurrency", "bench version", "results"
	Want string // the first run's value
	Got  string // run Run's value
}

func (e *MergeMismatchError) Error() string {
	return fmt.Sprintf("run %d differs from run 1 in %s: %s, not %s", e.Run+1, e.What, quoteEmpty(e.Got), quoteEmpty(e.Want))
}

// A SameRunError says that run Run (an index into Merge's arguments) is,
// or contains, the same run as run First: merging it would count its
// observations twice.
type SameRunError struct{ First, Run int }

func (e *SameRunError) Error() string {
	return fmt.Sprintf("run %d is the same run as run %d (or holds it), and would be counted twice", e.Run+1, e.First+1)
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// Merge combines runs taken at the same time on several machines into one
// run, as if one machine had driven all the load: for each backend name,
// workload, level and repetition, the histograms are merged (so
// percentiles are exact over every observation), errors are summed, and
// the measurement window is the union of the runs' windows, so that
// counts, and throughputs over a shared window, add up.
//
// It refuses a run given twice, or a merged run together with one of the
// runs it was merged from (a *SameRunError; runs are told apart by
// Run.Identity), runs whose options differ other than in mergeIgnored, whose
// bench versions differ, which measured different things, or whose
// measurement windows do not overlap (runs taken one after the other are
// repetitions: compare them, or take them with --count). The runs are not
// changed.
func Merge(runs ...*Run) (*Run, error) {
	if len(runs) == 0 {
		return nil, errors.New("nothing to merge")
	}
	seen := map[string]int{} // identity of a part → the run holding it
	for i, r := range runs {
		for _, id := range r.Parts() {
			if j, ok := seen[id]; ok {
				return nil, &SameRunError{First: j, Run: i}
			}
			seen[id] = i
		}
	}
	first := runs[0]
	for i, r := range runs[1:] {
		i++
		if r.Format != first.Format {
			return nil, &MergeMismatchError{i, "file format", first.Format, r.Format}
		}
		if r.Bench != first.Bench {
			return nil, &MergeMismatchError{i, "bench version", first.Bench, r.Bench}
		}
		if name, want, got, ok := optionsDiffer(first, r); ok {
			return nil, &MergeMismatchError{i, "option " + name, want, got}
		}
		if want, got := resultKeys(first), resultKeys(r); !slices.Equal(want, got) {
			k := 0
			for k < len(want) && k < len(got) && want[k] == got[k] {
				k++
			}
			w, g := "nothing", "nothing"
			if k < len(want) {
				w = want[k]
			}
			if k < len(got) {
				g = got[k]
			}
			return nil, &MergeMismatchError{i, fmt.Sprintf("result %d", k+1), w, g}
		}
	}

	out := &Run{
		Format: first.Format, Bench: first.Bench, Seed: first.Seed,
		Started: first.Started, Ended: first.Ended,
		Go:       joinDistinct(runs, func(r *Run) string { return r.Go }),
		Platform: joinDistinct(runs, func(r *Run) string { return r.Platform }),
	}
	var seeds []string
	for _, r := range runs {
		seeds = append(seeds, strconv.FormatUint(r.Seed, 10))
		if r.Started.Before(out.Started) {
			out.Started = r.Started
		}
		if r.Ended.After(out.Ended) {
			out.Ended = r.Ended
		}
	}
	for _, r := range runs {
		out.MergedFrom = append(out.MergedFrom, r.Parts()...)
	}
	out.Summary = fmt.Sprintf("%s · merged from %d runs taken at the same time (seeds %s)", first.Summary, len(runs), strings.Join(seeds, ", "))
	out.Interrupt = joinDistinct(runs, func(r *Run) string { return r.Interrupt })
	for _, o := range first.Options {
		switch o.Name {
		case "backend", "seed":
			var vals []string
			for _, r := range runs {
				if v, ok := r.Option(o.Name); ok && !slices.Contains(vals, v) {
					vals = append(vals, v)
				}
			}
			o.Value = strings.Join(vals, " ")
		}
		out.Options = append(out.Options, o)
	}

	for i := range first.Results {
		m, err := mergeResults(runs, i)
		if err != nil {
			return nil, err
		}
		out.Results = append(out.Results, *m)
	}
	return out, nil
}

// mergeResults merges result i of every run (resultKeys has checked that
// they measured the same thing).
func mergeResults(runs []*Run, i int) (*Result, error) {
	f := &runs[0].Results[i]
	m := &Result{
		Name: f.Name, Server: f.Server, Workload: f.Workload, Level: f.Level, Rep: f.Rep,
		Start: f.Start, End: f.End,
		Backend: joinDistinct(runs, func(r *Run) string { return r.Results[i].Backend }),
	}
	for k, r := range runs {
		res := &r.Results[i]
		if res.Start.Before(m.Start) {
			m.Start = res.Start
		}
		if res.End.After(m.End) {
			m.End = res.End
		}
		m.Interrupted = m.Interrupted || res.Interrupted
		if res.Server.Embedded {
			m.Server.Embedded = true
		}
		if res.Server.Product != f.Server.Product || res.Server.Version != f.Server.Version {
			addNote(m, fmt.Sprintf("run %d measured %s, run 1 %s", k+1, res.Server, f.Server))
		}
		for _, n := range res.Notes {
			addNote(m, n)
		}
		if op, dropped := m.mergeOps(res.Ops); dropped != 0 {
			return nil, fmt.Errorf("merging %s %s of run %d: %d observations out of the histogram's range", resultKey(res), op, k+1, dropped)
		}
	}
	// Runs taken at the same time share a window; check they overlap at
	// all, and say so when they are far apart (clocks, or start skew).
	var latestStart, earliestEnd time.Time
	for _, r := range runs {
		res := &r.Results[i]
		if latestStart.IsZero() || res.Start.After(latestStart) {
			latestStart = res.Start
		}
		if earliestEnd.IsZero() || res.End.Before(earliestEnd) {
			earliestEnd = res.End
		}
	}
	if !earliestEnd.After(latestStart) {
		return nil, fmt.Errorf("%s: the runs' measurement windows do not overlap, so they were not taken at the same time (check the machines' clocks; runs taken one after the other are repetitions, see --count and bench compare)", resultKey(f))
	}
	if overlap, union := earliestEnd.Sub(latestStart), m.End.Sub(m.Start); union > 0 && float64(overlap) < 0.95*float64(union) {
		addNote(m, fmt.Sprintf("merged runs overlap for %s of %s; throughput is over the whole %s", Seconds(overlap), Seconds(union), Seconds(union)))
	}
	addNote(m, fmt.Sprintf("merged from %d runs taken at the same time", len(runs)))
	return m, nil
}

func addNote(r *Result, n string) {
	if !slices.Contains(r.Notes, n) {
		r.Notes = append(r.Notes, n)
	}
}

// optionsDiffer returns the first option, in a's order and then b's, that
// differs between a and b outside mergeIgnored.
func optionsDiffer(a, b *Run) (name, want, got string, differ bool) {
	for _, o := range a.Options {
		if mergeIgnored[o.Name] {
			continue
		}
		if v, ok := b.Option(o.Name); !ok || v != o.Value {
			return o.Name, o.Value, v, true
		}
	}
	for _, o := range b.Options {
		if _, ok := a.Option(o.Name); !ok && !mergeIgnored[o.Name] {
			return o.Name, "", o.Value, true
		}
	}
	return "", "", "", false
}

func resultKey(r *Result) string {
	s := r.Name + " " + r.Workload
	if r.Level != "" {
		s += " " + r.Level
	}
	return s + " rep " + strconv.Itoa(r.Rep)
}

// resultKeys lists what each result of r measured, in order.
func resultKeys(r *Run) []string {
	out := make([]string, len(r.Results))
	for i := range r.Results {
		out[i] = resultKey(&r.Results[i])
	}
	return out
}

// joinDistinct joins the distinct non-empty values of f over runs, in order.
func joinDistinct(runs []*Run, f func(*Run) string) string {
	var vals []string
	for _, r := range runs {
		if v := f(r); v != "" && !slices.Contains(vals, v) {
			vals = append(vals, v)
		}
	}
	return strings.Join(vals, " + ")
}
