package results

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Write writes c in the named format of the registry (LookupCompare).
func (c *Comparison) Write(w io.Writer, format string) error {
	f, err := LookupCompare(format)
	if err != nil {
		return err
	}
	return f.Compare(w, c)
}

func (ch *Change) where() string {
	return cell{ch.Backend, ch.Workload, ch.Level, ch.Op}.String()
}

// value formats a figure of the change's unit.
func (ch *Change) value(v float64) string {
	if ch.Unit == "ops/s" {
		return Rate(v) + "/s"
	}
	return Nanos(int64(math.Round(v)))
}

// stat formats a median and its interval as benchstat does: "1.23 ms ± 2%".
func (ch *Change) stat(s Stat) string {
	return ch.value(s.Summary.Center) + " ± " + s.Summary.PctRangeString()
}

// change formats the change: "~" when not significant, else the signed
// percentage and the verdict.
func (ch *Change) change() string {
	if !ch.Significant {
		return "~"
	}
	if math.IsNaN(ch.Delta) {
		return "?"
	}
	if ch.Verdict == "~" {
		return "0.00%" // significant, but the medians are equal
	}
	return signedPct(ch.Delta) + "% " + ch.Verdict
}

// signedPct formats a change in percent with two decimals and a sign,
// as benchstat does: "+20.00", "-3.10".
func signedPct(v float64) string {
	if math.IsNaN(v) {
		return "?"
	}
	return fmt.Sprintf("%+.2f", v)
}

// gatePct formats a gate threshold as written: "+10", "-2.5", and "-0"
// for throughput:-0% (a negative zero, whose sign says the direction).
func gatePct(v float64) string {
	s := strconv.FormatFloat(math.Abs(v), 'f', -1, 64)
	if math.Signbit(v) {
		return "-" + s
	}
	return "+" + s
}

func (c *Comparison) legend() string {
	return fmt.Sprintf("median ± %.0f%% confidence interval over the repetitions; change of the median and p-value of a Mann–Whitney U test; ~ means no significant change at alpha %v",
		c.Confidence*100, c.Alpha)
}

func (c *Comparison) tally() string {
	worse, better, same := c.Counts()
	return fmt.Sprintf("%d worse, %d better, %d without significant change (~)", worse, better, same)
}

// gateSpec is the gates as one --fail-on spec.
func (c *Comparison) gateSpec() string {
	var gs []string
	for _, g := range c.Gates {
		gs = append(gs, g.String())
	}
	return strings.Join(gs, ",")
}

func (c *Comparison) gateResult() string {
	n := len(c.GateFamily())
	family := fmt.Sprintf("%d %s, Holm-corrected", n, plural(n, "figure", "figures"))
	if len(c.Failures) == 0 {
		return "passed (" + family + ")"
	}
	return fmt.Sprintf("FAILED by %d %s (%s)", len(c.Failures), plural(len(c.Failures), "metric", "metrics"), family)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// WriteText writes one block per backend, workload and level: a row per op
// and metric.
func (c *Comparison) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "BASE %s (%s repetitions): %s\n", c.Base, repRange(c.BaseReps), c.BaseSummary)
	fmt.Fprintf(&b, "HEAD %s (%s repetitions): %s\n", c.Head, repRange(c.HeadReps), c.HeadSummary)
	fmt.Fprintf(&b, "%s.\n", c.legend())
	var rows [][]string
	flush := func() {
		if len(rows) > 1 {
			alignTable(&b, rows, "llrrrl")
		}
		rows = nil
	}
	var block, op string
	for i := range c.Rows {
		ch := &c.Rows[i]
		if k := strings.TrimSpace(ch.Backend + " · " + ch.Workload + " " + ch.Level); k != block {
			flush()
			block, op = k, ""
			fmt.Fprintf(&b, "\n%s\n", k)
			rows = [][]string{{"op", "metric", "BASE", "HEAD", "change", "p"}}
		}
		name := ch.Op
		if name == op {
			name = ""
		}
		op = ch.Op
		rows = append(rows, []string{name, ch.Metric, ch.stat(ch.Base), ch.stat(ch.Head), ch.change(), ch.Test.String()})
	}
	flush()
	fmt.Fprintf(&b, "\n%s.\n", c.tally())
	for _, s := range c.OnlyBase {
		fmt.Fprintf(&b, "only in BASE: %s\n", s)
	}
	for _, s := range c.OnlyHead {
		fmt.Fprintf(&b, "only in HEAD: %s\n", s)
	}
	for _, s := range c.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", s)
	}
	if len(c.Gates) > 0 {
		fmt.Fprintf(&b, "gate %s: %s\n", c.gateSpec(), c.gateResult())
		for _, f := range c.Failures {
			fmt.Fprintf(&b, "  %s\n", f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// alignTable writes rows indented by two, columns two spaces apart, each
// aligned as align says: 'l' left, 'r' right. Trailing spaces are trimmed.
func alignTable(b *strings.Builder, rows [][]string, align string) {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	for _, r := range rows {
		var line strings.Builder
		line.WriteString(" ")
		for i, c := range r {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if align[i] == 'r' {
				line.WriteString(" " + pad + c)
			} else {
				line.WriteString(" " + c + pad)
			}
			line.WriteString(" ")
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
}

// WriteMarkdown writes a GitHub comment: the tally and the gate, a table
// of the significant changes, and every row in a collapsed table.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	worse, _, _ := c.Counts()
	b.WriteString("### bench compare\n\n")
	fmt.Fprintf(&b, "**BASE** `%s` (%s repetitions) → **HEAD** `%s` (%s repetitions): ", mdCode(c.Base), repRange(c.BaseReps), mdCode(c.Head), repRange(c.HeadReps))
	if worse > 0 {
		fmt.Fprintf(&b, "**%s**.\n", c.tally())
	} else {
		fmt.Fprintf(&b, "%s.\n", c.tally())
	}
	if len(c.Gates) > 0 {
		fmt.Fprintf(&b, "\n**Gate `%s`: %s**\n", c.gateSpec(), c.gateResult())
		if len(c.Failures) > 0 {
			b.WriteString("\n")
		}
		for _, f := range c.Failures {
			fmt.Fprintf(&b, "- %s\n", mdEscape(f.String()))
		}
	}
	var sig []int
	for i := range c.Rows {
		if c.Rows[i].Significant {
			sig = append(sig, i)
		}
	}
	if len(sig) > 0 {
		b.WriteString("\n")
		c.mdTable(&b, sig)
	}
	all := make([]int, len(c.Rows))
	for i := range all {
		all[i] = i
	}
	fmt.Fprintf(&b, "\n<details><summary>All %d figures</summary>\n\n", len(c.Rows))
	c.mdTable(&b, all)
	b.WriteString("\n</details>\n")
	fmt.Fprintf(&b, "\n%s.\n", strings.ReplaceAll(c.legend(), "alpha", "α ="))
	fmt.Fprintf(&b, "\nBASE: %s  \nHEAD: %s\n", mdEscape(c.BaseSummary), mdEscape(c.HeadSummary))
	var notes []string
	for _, s := range c.OnlyBase {
		notes = append(notes, "only in BASE: "+s)
	}
	for _, s := range c.OnlyHead {
		notes = append(notes, "only in HEAD: "+s)
	}
	for _, s := range c.Warnings {
		notes = append(notes, "warning: "+s)
	}
	if len(notes) > 0 {
		b.WriteString("\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", mdEscape(n))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *Comparison) mdTable(b *strings.Builder, rows []int) {
	b.WriteString("| backend | workload | op | metric | BASE | HEAD | change | p |\n")
	b.WriteString("|:--|:--|:--|:--|--:|--:|--:|:--|\n")
	for _, i := range rows {
		ch := &c.Rows[i]
		wl := ch.Workload
		if ch.Level != "" {
			wl += " " + ch.Level
		}
		change := ch.change()
		if ch.Verdict == "worse" {
			change = "**" + change + "**"
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", mdEscape(ch.Backend), mdEscape(wl), ch.Op, ch.Metric,
			ch.stat(ch.Base), ch.stat(ch.Head), change, ch.Test)
	}
}

func mdCode(s string) string { return strings.ReplaceAll(s, "`", "'") }

// jsonNum is a float that encodes NaN and ±Inf as null.
type jsonNum float64

func (f jsonNum) MarshalJSON() ([]byte, error) {
	if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

type statJSON struct {
	N          int       `json:"n"`
	Median     jsonNum   `json:"median"`
	Lo         jsonNum   `json:"ci_lo"` // null: too few repetitions for an interval
	Hi         jsonNum   `json:"ci_hi"`
	Confidence float64   `json:"ci_level"`
	Values     []float64 `json:"values"`
}

type changeJSON struct {
	Backend     string   `json:"backend"`
	Workload    string   `json:"workload"`
	Level       string   `json:"level,omitempty"`
	Op          string   `json:"op"`
	Metric      string   `json:"metric"`
	Unit        string   `json:"unit"`
	Better      string   `json:"better"` // "higher" or "lower"
	Base        statJSON `json:"base"`
	Head        statJSON `json:"head"`
	DeltaPct    jsonNum  `json:"delta_pct"`
	P           float64  `json:"p"`
	Significant bool     `json:"significant"`
	Verdict     string   `json:"verdict"` // better, worse, ~
	Warnings    []string `json:"warnings,omitempty"`
}

type comparisonJSON struct {
	Base        string       `json:"base"`
	Head        string       `json:"head"`
	BaseSummary string       `json:"base_summary"`
	HeadSummary string       `json:"head_summary"`
	Alpha       float64      `json:"alpha"`
	Test        string       `json:"test"`
	Changes     []changeJSON `json:"changes"`
	Worse       int          `json:"worse"`
	Better      int          `json:"better"`
	Unchanged   int          `json:"unchanged"`
	OnlyBase    []string     `json:"only_base,omitempty"`
	OnlyHead    []string     `json:"only_head,omitempty"`
	Warnings    []string     `json:"warnings,omitempty"`
	Gate        string       `json:"gate,omitempty"`
	GatePassed  *bool        `json:"gate_passed,omitempty"`
	Failures    []string     `json:"failures,omitempty"`
}

func statToJSON(s Stat) statJSON {
	return statJSON{N: s.N, Median: jsonNum(s.Summary.Center), Lo: jsonNum(s.Summary.Lo), Hi: jsonNum(s.Summary.Hi),
		Confidence: s.Summary.Confidence, Values: s.Values}
}

// WriteJSON writes c as one indented JSON object.
func (c *Comparison) WriteJSON(w io.Writer) error {
	worse, better, same := c.Counts()
	j := comparisonJSON{Base: c.Base, Head: c.Head, BaseSummary: c.BaseSummary, HeadSummary: c.HeadSummary,
		Alpha: c.Alpha, Test: "Mann-Whitney U (golang.org/x/perf/benchmath AssumeNothing)",
		Worse: worse, Better: better, Unchanged: same,
		OnlyBase: c.OnlyBase, OnlyHead: c.OnlyHead, Warnings: c.Warnings, Changes: []changeJSON{}}
	for _, ch := range c.Rows {
		better := "lower"
		if ch.Higher {
			better = "higher"
		}
		cj := changeJSON{Backend: ch.Backend, Workload: ch.Workload, Level: ch.Level, Op: ch.Op, Metric: ch.Metric, Unit: ch.Unit,
			Better: better, Base: statToJSON(ch.Base), Head: statToJSON(ch.Head), DeltaPct: jsonNum(ch.Delta),
			P: ch.Test.P, Significant: ch.Significant, Verdict: ch.Verdict}
		for _, ws := range [][]error{ch.Base.Summary.Warnings, ch.Head.Summary.Warnings, ch.Test.Warnings} {
			for _, e := range ws {
				cj.Warnings = append(cj.Warnings, e.Error())
			}
		}
		j.Changes = append(j.Changes, cj)
	}
	if len(c.Gates) > 0 {
		j.Gate = c.gateSpec()
		passed := len(c.Failures) == 0
		j.GatePassed = &passed
		for _, f := range c.Failures {
			j.Failures = append(j.Failures, f.String())
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
