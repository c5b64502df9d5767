package results

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// A ServerStat is one figure of what the server behind a backend spent
// during the measured window: a counter's growth, a level at the end, or a
// figure derived per task or per stored result (PerTask).
type ServerStat struct {
	Name  string  `json:"name"`  // "used_memory", "server CPU per task"
	Unit  string  `json:"unit"`  // "bytes", "µs", "rows"
	Value float64 `json:"value"` // in Unit
	// PerTask marks a derived figure (per task, per stored result or per
	// row, as Name says), the ones that compare backends; the others are
	// totals over the window.
	PerTask bool `json:"per_task,omitempty"`
}

// ServerStats are a result's server figures, in print order.
type ServerStats []ServerStat

// StatsHeader names the cells of the rows of StatsMarkdownRows.
var StatsHeader = []string{"server cost", "value", "unit"}

// WriteStatsText writes s as a table headed "server cost", derived
// figures first, indented as WriteText's op tables. It writes nothing when s
// is empty.
func WriteStatsText(w io.Writer, s ServerStats) error {
	if len(s) == 0 {
		return nil
	}
	var b strings.Builder
	writeTable(&b, append([][]string{StatsHeader}, StatsMarkdownRows(s)...))
	_, err := io.WriteString(w, b.String())
	return err
}

// StatsMarkdownRows returns one row per figure, {name, value, unit} as in
// StatsHeader, derived figures first, with values formatted by FormatStat.
// Names are escaped for a Markdown table cell.
func StatsMarkdownRows(s ServerStats) [][]string {
	var out [][]string
	for _, derived := range []bool{true, false} {
		for _, st := range s {
			if st.PerTask == derived {
				out = append(out, []string{mdEscape(st.Name), FormatStat(st.Value), mdEscape(st.Unit)})
			}
		}
	}
	return out
}

// FormatStat formats a figure: whole numbers with thousands separators,
// others with three significant digits ("416", "0.0270", "26.7").
func FormatStat(v float64) string {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Sprint(v)
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return Count(int64(v))
	case math.Abs(v) >= 999.5: // what rounds to 1,000 or more
		return Count(int64(math.Round(v)))
	case v <= -1:
		return "-" + sig3(-v)
	case v >= 1:
		return sig3(v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}

// Get returns the named figure and whether s has it.
func (s ServerStats) Get(name string) (ServerStat, bool) {
	for _, st := range s {
		if st.Name == name {
			return st, true
		}
	}
	return ServerStat{}, false
}
