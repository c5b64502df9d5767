package results

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// EmbeddedWarning is printed by every format when a figure comes from an
// embedded server.
const EmbeddedWarning = "WARNING: figures marked (embedded) come from in-process stand-in servers started because no real server answered; they are not representative of Redis or MySQL."

// columns are the figures of one op row, in print order.
var columns = []string{"count", "per s", "mean", "p50", "p90", "p99", "p99.9", "max", "errors"}

// opNames returns the union of op names over every result, in first-seen
// order, so every backend's block has the same rows in the same order.
func opNames(rs []Result) []string {
	var names []string
	seen := map[string]bool{}
	for _, res := range rs {
		for _, o := range res.Ops {
			if !seen[o.Name] {
				seen[o.Name] = true
				names = append(names, o.Name)
			}
		}
	}
	return names
}

// row returns the cells of one op of res ("-" for an op it lacks).
func row(res *Result, name string) []string {
	o, ok := res.Op(name)
	if !ok {
		return []string{"-", "-", "-", "-", "-", "-", "-", "-", "-"}
	}
	s := Summarize(o.Latency)
	n := o.Count()
	cells := []string{Count(n), Rate(o.Rate(res.Elapsed()))}
	if n == 0 {
		cells = append(cells, "-", "-", "-", "-", "-", "-")
	} else {
		cells = append(cells, Nanos(int64(math.Round(s.Mean))), Nanos(s.P50), Nanos(s.P90), Nanos(s.P99), Nanos(s.P999), Nanos(s.Max))
	}
	return append(cells, Count(o.Errors))
}

// WriteText writes one block per backend, with the same rows in the same
// order, so that the blocks read side by side.
func WriteText(w io.Writer, r *Run) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", r.Summary)
	if r.Interrupt != "" {
		fmt.Fprintf(&b, "INTERRUPTED: %s; the figures cover the time until then.\n", r.Interrupt)
	}
	if r.Embedded() {
		fmt.Fprintf(&b, "%s\n", EmbeddedWarning)
	}
	rs := r.Combine()
	writeSummaryText(&b, rs, r.Results)
	names := opNames(rs)
	for i := range rs {
		res := &rs[i]
		fmt.Fprintf(&b, "\n%s  %s  %s%s measured%s\n", res.Backend, res.Server, level(res), Seconds(res.Elapsed()), reps(res))
		rows := [][]string{append([]string{"op"}, columns...)}
		for _, n := range names {
			rows = append(rows, append([]string{n}, row(res, n)...))
		}
		writeTable(&b, rows)
		WriteStatsText(&b, perTask(res.Stats)) // totals are in the json run file
		if res.Pipeline != nil {
			fmt.Fprintf(&b, "  pipeline: %s\n", res.Pipeline)
		}
		writeNotes(&b, res)
	}
	if len(r.Findings) > 0 {
		b.WriteString("\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "%s\n", f)
		}
	}
	writeThresholdsText(&b, r)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable writes rows with the first column left-aligned and the others
// right-aligned (alignTable).
func writeTable(b *strings.Builder, rows [][]string) {
	alignTable(b, rows, "l"+strings.Repeat("r", len(rows[0])-1))
}

// perTask returns the derived per-task figures of s.
func perTask(s ServerStats) ServerStats {
	var out ServerStats
	for _, st := range s {
		if st.PerTask {
			out = append(out, st)
		}
	}
	return out
}

func level(res *Result) string {
	if res.Level == "" {
		return ""
	}
	return res.Level + "  "
}

// reps notes how many repetitions a combined result sums.
func reps(res *Result) string {
	if res.Rep == 0 {
		return ""
	}
	return fmt.Sprintf(" over %d repetitions", res.Rep+1)
}

func writeNotes(b *strings.Builder, res *Result) {
	for _, n := range res.Notes {
		fmt.Fprintf(b, "  note: %s\n", n)
	}
	if res.ServerRestart != "" {
		fmt.Fprintf(b, "  note: %s (%s)\n", RestartNote, res.ServerRestart)
	}
	for _, o := range res.Outages {
		fmt.Fprintf(b, "  outage: %s\n", o)
	}
	for _, o := range res.Ops {
		if k := o.ErrorKinds.String(); k != "" {
			fmt.Fprintf(b, "  errors in %s by kind: %s\n", o.Name, k)
		}
		for _, s := range o.ErrorSamples {
			fmt.Fprintf(b, "  error in %s: %s\n", o.Name, s)
		}
	}
}

// WriteMarkdown writes one GitHub table, a row per backend and op grouped
// by op so the backends sit next to each other, and the run's settings in
// one line under it.
func WriteMarkdown(w io.Writer, r *Run) error {
	var b strings.Builder
	writeSummaryMarkdown(&b, r.Combine(), r.Results)
	fmt.Fprintf(&b, "| op | backend | %s |\n", strings.Join(columns, " | "))
	b.WriteString("|:--|:--|")
	for range columns {
		b.WriteString("--:|")
	}
	b.WriteString("\n")
	rs := r.Combine()
	for _, n := range opNames(rs) {
		for i := range rs {
			res := &rs[i]
			if _, ok := res.Op(n); !ok {
				continue
			}
			label := res.Name + " (" + res.Server.String() + ")"
			if res.Level != "" {
				label += " " + res.Level
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", n, mdEscape(label), strings.Join(row(res, n), " | "))
		}
	}
	writeStatsMarkdown(&b, rs)
	fmt.Fprintf(&b, "\n%s\n", mdEscape(r.Summary))
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "\n**%s**\n", mdEscape(f))
	}
	for i := range rs {
		if p := rs[i].Pipeline; p != nil {
			fmt.Fprintf(&b, "\n- %s %s pipeline: %s\n", rs[i].Name, rs[i].Level, mdEscape(p.String()))
		}
		for _, n := range rs[i].Notes {
			fmt.Fprintf(&b, "\n- %s %s: %s\n", rs[i].Name, rs[i].Level, mdEscape(n))
		}
		if rs[i].ServerRestart != "" {
			fmt.Fprintf(&b, "\n- %s %s: **%s** (%s)\n", rs[i].Name, rs[i].Level, RestartNote, mdEscape(rs[i].ServerRestart))
		}
		for _, o := range rs[i].Outages {
			fmt.Fprintf(&b, "\n- %s %s: **outage**: %s\n", rs[i].Name, rs[i].Level, mdEscape(o.String()))
		}
	}
	writeThresholdsMarkdown(&b, r)
	if r.Interrupt != "" {
		fmt.Fprintf(&b, "\n**Interrupted:** %s; the figures cover the time until then.\n", mdEscape(r.Interrupt))
	}
	if r.Embedded() {
		fmt.Fprintf(&b, "\n**%s**\n", EmbeddedWarning)
	}
	for i := range r.Results {
		for _, o := range r.Results[i].Ops {
			if k := o.ErrorKinds.String(); k != "" {
				fmt.Fprintf(&b, "\n- errors in %s %s by kind: %s\n", r.Results[i].Name, o.Name, k)
			}
			for _, s := range o.ErrorSamples {
				fmt.Fprintf(&b, "\n- error in %s %s: `%s`\n", r.Results[i].Name, o.Name, strings.ReplaceAll(s, "`", "'"))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeStatsMarkdown writes the per-task server figures as one table with
// a column per result, so the backends' costs sit side by side.
func writeStatsMarkdown(b *strings.Builder, rs []Result) {
	var names []string
	seen := map[string]bool{}
	var cols []int
	for i := range rs {
		has := false
		for _, st := range rs[i].Stats {
			if !st.PerTask {
				continue
			}
			has = true
			if !seen[st.Name+"\x00"+st.Unit] {
				seen[st.Name+"\x00"+st.Unit] = true
				names = append(names, st.Name+"\x00"+st.Unit)
			}
		}
		if has {
			cols = append(cols, i)
		}
	}
	if len(names) == 0 {
		return
	}
	b.WriteString("\n| server cost |")
	for _, i := range cols {
		label := rs[i].Name
		if rs[i].Level != "" {
			label += " " + rs[i].Level
		}
		fmt.Fprintf(b, " %s |", mdEscape(label))
	}
	b.WriteString("\n|:--|")
	for range cols {
		b.WriteString("--:|")
	}
	b.WriteString("\n")
	for _, key := range names {
		name, unit, _ := strings.Cut(key, "\x00")
		fmt.Fprintf(b, "| %s (%s) |", mdEscape(name), mdEscape(unit))
		for _, i := range cols {
			cell := "-"
			for _, st := range rs[i].Stats {
				if st.PerTask && st.Name == name && st.Unit == unit {
					cell = FormatStat(st.Value)
				}
			}
			fmt.Fprintf(b, " %s |", cell)
		}
		b.WriteString("\n")
	}
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// Nanos formats a latency in nanoseconds with three significant digits and
// a unit that keeps the number short: 412 µs, 1.23 ms, 2.50 s.
func Nanos(ns int64) string {
	f := round3(float64(ns)) // 999,700 ns is 1.00 ms, not 1000 µs
	switch {
	case f < 1e3:
		return fmt.Sprintf("%.0f ns", f)
	case f < 1e6:
		return sig3(f/1e3) + " µs"
	case f < 1e9:
		return sig3(f/1e6) + " ms"
	default:
		return sig3(f/1e9) + " s"
	}
}

// round3 rounds v to three significant digits.
func round3(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
	return r
}

// sig3 formats v (not below 1) with three significant digits: 412, 41.2,
// 4.12; 9.998 is 10.0, not 10.00.
func sig3(v float64) string {
	v = round3(v)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// Seconds formats a duration as seconds with one decimal, "20.0 s".
func Seconds(d interface{ Seconds() float64 }) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
}

// Count formats n with thousands separators.
func Count(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + Count(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// Rate formats a per-second rate: one decimal below 100, none above.
func Rate(r float64) string {
	if r < 99.95 { // what rounds to 100.0 prints as 100
		return strconv.FormatFloat(r, 'f', 1, 64)
	}
	return Count(int64(math.Round(r)))
}
