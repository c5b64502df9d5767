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
		// Three significant digits after rounding, not before.
		{9.998, "10.0"},
		{99.97, "100"},
		{999.7, "1,000"},
	} {
		if got := FormatStat(c.v); got != c.want {
			t.Errorf("FormatStat(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

func TestNanos(t *testing.T) {
	for _, c := range []struct {
		ns   int64
		want string
	}{
		{999, "999 ns"},
		{1_000, "1.00 µs"},
		{9_998, "10.0 µs"},
		{412_345, "412 µs"},
		{999_700, "1.00 ms"}, // not "1000 µs"
		{1_234_567, "1.23 ms"},
		{999_999_999, "1.00 s"},
		{2_500_000_000, "2.50 s"},
	} {
		if got := Nanos(c.ns); got != c.want {
			t.Errorf("Nanos(%d) = %q, want %q", c.ns, got, c.want)
		}
	}
}

func TestRate(t *testing.T) {
	for r, want := range map[float64]string{85.24: "85.2", 99.94: "99.9", 99.97: "100", 7818.4: "7,818"} {
		if got := Rate(r); got != want {
			t.Errorf("Rate(%v) = %q, want %q", r, got, want)
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
