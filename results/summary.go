package results

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// summaryRows are the figures of the side-by-side summary: the first op's
// throughput, median, tail and errors, then the server's CPU per task.
// value returns the figure of res (ok false when res lacks it), format
// its text; ratio says whether a ratio to the first result means anything.
type summaryRow struct {
	label  string
	value  func(res *Result, op string) (v float64, ok bool)
	format func(v float64) string
	ratio  bool
	// total: over repetitions the figure is the sum (the combined
	// result's), not a median: an error in one repetition must show.
	total bool
}

func latencyRow(name string, pick func(Summary) int64) summaryRow {
	return summaryRow{name, func(res *Result, op string) (float64, bool) {
		o, ok := res.Op(op)
		if !ok || o.Count() == 0 {
			return 0, false
		}
		return float64(pick(Summarize(o.Latency))), true
	}, func(v float64) string { return Nanos(int64(math.Round(v))) }, true, false}
}

var summaryRows = []summaryRow{
	{"per s", func(res *Result, op string) (float64, bool) {
		o, ok := res.Op(op)
		if !ok {
			return 0, false
		}
		return o.Rate(res.Elapsed()), true
	}, Rate, true, false},
	latencyRow("p50", func(s Summary) int64 { return s.P50 }),
	latencyRow("p99", func(s Summary) int64 { return s.P99 }),
	latencyRow("p99.9", func(s Summary) int64 { return s.P999 }),
	{"errors", func(res *Result, op string) (float64, bool) {
		o, ok := res.Op(op)
		if !ok {
			return 0, false
		}
		return float64(o.Errors), true
	}, func(v float64) string { return Count(int64(math.Round(v))) }, false, true},
	{"server CPU per task (µs)", func(res *Result, _ string) (float64, bool) {
		st, ok := res.Stats.Get("server CPU per task")
		if !ok || !st.PerTask {
			return 0, false
		}
		return st.Value, true
	}, FormatStat, true, false},
}

// summaryTable returns the side-by-side summary of the combined results
// rs: a header row (the results as columns) and one row per figure of the
// first op, each cell with its ratio to the first result's at the same
// level. reps are the run's uncombined results: where a result has two or
// more repetitions, its cell is the median over them with their range in
// brackets (and the ratio is of the medians) instead of the pooled figure.
// It returns nil for fewer than two results, where there is nothing to put
// side by side.
func summaryTable(rs, reps []Result) [][]string {
	if len(rs) < 2 || len(rs[0].Ops) == 0 {
		return nil
	}
	op := rs[0].Ops[0].Name
	byKey := map[string][]*Result{}
	most := 1
	for i := range reps {
		k := reps[i].Key()
		byKey[k] = append(byKey[k], &reps[i])
		most = max(most, len(byKey[k]))
	}
	head := []string{"summary"}
	if most > 1 {
		head[0] = fmt.Sprintf("summary: median [range] of %d repetitions", most)
	}
	for i := range rs {
		l := rs[i].Name
		for j := range rs {
			if j != i && rs[j].Name == rs[i].Name && rs[j].Backend != rs[i].Backend {
				l = rs[i].Backend // two backends of one kind: their URLs tell them apart
			}
		}
		if rs[i].Level != "" {
			l += " " + rs[i].Level
		}
		head = append(head, l)
	}
	rows := [][]string{head}
	for _, sr := range summaryRows {
		label := op + " " + sr.label
		if strings.HasPrefix(sr.label, "server") {
			label = sr.label
		}
		if sr.total && most > 1 {
			label += " (total)"
		}
		row := []string{label}
		any := false
		for i := range rs {
			v, spread, ok := summaryValue(sr, &rs[i], byKey[rs[i].Key()], op)
			if !ok {
				row = append(row, "-")
				continue
			}
			any = true
			text := sr.format(v) + spread
			b := firstOfLevel(rs, i) // a sweep compares backends at the same level
			base, _, baseOK := summaryValue(sr, &rs[b], byKey[rs[b].Key()], op)
			if b != i && baseOK && base > 0 && sr.ratio {
				text += " (" + ratio(v/base) + ")"
			}
			row = append(row, text)
		}
		if any {
			rows = append(rows, row)
		}
	}
	return rows
}

// summaryValue is sr's figure of the combined result res: with two or more
// repetitions the median of theirs and, as text, their range
// " [min–max]"; otherwise res's own and "".
func summaryValue(sr summaryRow, res *Result, reps []*Result, op string) (float64, string, bool) {
	if len(reps) < 2 || sr.total {
		v, ok := sr.value(res, op)
		return v, "", ok
	}
	vs := make([]float64, 0, len(reps))
	for _, r := range reps {
		if v, ok := sr.value(r, op); ok {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		return 0, "", false
	}
	slices.Sort(vs)
	med := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	lo, hi := sr.format(vs[0]), sr.format(vs[len(vs)-1])
	if lo == hi {
		return med, "", true // every repetition the same: no range to show
	}
	return med, " [" + lo + "–" + hi + "]", true
}

// firstOfLevel is the index of the first result at rs[i]'s level.
func firstOfLevel(rs []Result, i int) int {
	for j := range rs {
		if rs[j].Level == rs[i].Level {
			return j
		}
	}
	return i
}

// ratio formats a ratio to the first backend with three significant digits.
func ratio(r float64) string {
	if math.IsInf(r, 0) || math.IsNaN(r) {
		return "-"
	}
	if r >= 1 {
		return sig3(r) + "×"
	}
	return fmt.Sprintf("%.3g×", r)
}

// writeSummaryText writes the summary table, if any, and a blank line.
func writeSummaryText(b *strings.Builder, rs, reps []Result) {
	rows := summaryTable(rs, reps)
	if rows == nil {
		return
	}
	b.WriteString("\n")
	writeTable(b, rows)
}

// writeSummaryMarkdown writes the summary table, if any, as a GitHub table
// followed by a blank line.
func writeSummaryMarkdown(b *strings.Builder, rs, reps []Result) {
	rows := summaryTable(rs, reps)
	if rows == nil {
		return
	}
	for i, r := range rows {
		cells := make([]string, len(r))
		for j, c := range r {
			cells[j] = mdEscape(c)
		}
		fmt.Fprintf(b, "| %s |\n", strings.Join(cells, " | "))
		if i == 0 {
			b.WriteString("|:--|" + strings.Repeat("--:|", len(r)-1) + "\n")
		}
	}
	b.WriteString("\n")
}
