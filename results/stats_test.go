package results

import (
	"os"
	"testing"
)

func TestFormatStat(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{1000, "1,000"},
		{1880432, "1,880,432"},
		{416.384, "416"},
		{26.693999, "26.7"},
		{5.004, "5.00"},
		{0.0267, "0.0267"},
		{-3.5, "-3.50"},
		{12345.6, "12,346"},
	} {
		if got := FormatStat(c.v); got != c.want {
			t.Errorf("FormatStat(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func ExampleWriteStatsText() {
	WriteStatsText(os.Stdout, ServerStats{
		{Name: "used_memory", Unit: "bytes", Value: 1880432},
		{Name: "keys", Unit: "keys", Value: 1000},
		{Name: "server CPU per task", Unit: "µs", Value: 26.694, PerTask: true},
		{Name: "memory per result", Unit: "bytes", Value: 416.384, PerTask: true},
	})
	// Output:
	//   server cost              value   unit
	//   server CPU per task       26.7     µs
	//   memory per result          416  bytes
	//   used_memory          1,880,432  bytes
	//   keys                     1,000   keys
}

func TestStatsMarkdownRows(t *testing.T) {
	rows := StatsMarkdownRows(ServerStats{{Name: "a|b", Unit: "rows", Value: 2}})
	if len(rows) != 1 || rows[0][0] != `a\|b` || rows[0][1] != "2" || rows[0][2] != "rows" {
		t.Errorf("rows = %q", rows)
	}
	if _, ok := (ServerStats{{Name: "x"}}).Get("x"); !ok {
		t.Error("Get missed x")
	}
}
