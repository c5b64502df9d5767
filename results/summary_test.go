package results

import (
	"os"
	"strings"
	"testing"
)

// TestSummaryGolden renders the side-by-side summary of the committed
// Redis+MariaDB sweep run (two levels, two repetitions) and of the five
// backend run, in text and markdown, against golden files: the run files
// are fixed, so the figures are.
func TestSummaryGolden(t *testing.T) {
	for _, name := range []string{"redis-mysql-sweep", "five"} {
		f, err := os.Open("testdata/" + name + ".json")
		if err != nil {
			t.Fatal(err)
		}
		r, err := ReadJSON(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		writeSummaryText(&b, r.Combine(), r.Results)
		b.WriteString("\n")
		writeSummaryMarkdown(&b, r.Combine(), r.Results)
		path := "testdata/" + name + ".summary.golden"
		if *update {
			if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -update writes it)", err)
		}
		if b.String() != string(want) {
			t.Errorf("%s summary:\n%s\nwant:\n%s", name, b.String(), want)
		}
	}
}

// TestSummaryRatios checks the ratios against the figures they divide, and
// that one result has no summary.
func TestSummaryRatios(t *testing.T) {
	mk := func(name string, n int, v int64) Result {
		h := NewHistogram()
		for i := 0; i < n; i++ {
			_ = h.RecordValue(v)
		}
		return Result{Name: name, Backend: name + "://", Ops: []Op{{Name: "roundtrip", Latency: h}}}
	}
	rs := []Result{mk("a", 100, 1_000_000), mk("b", 50, 4_000_000)}
	rows := summaryTable(rs, rs)
	if got := strings.Join(rows[2], "|"); got != "roundtrip p50|1.00 ms|4.00 ms (4.00×)" {
		t.Errorf("p50 row = %q", got)
	}
	if summaryTable(rs[:1], rs[:1]) != nil {
		t.Error("a summary of one result")
	}
	// Two repetitions of each: medians, their ranges, the medians' ratio.
	reps := []Result{mk("a", 100, 1_000_000), mk("b", 50, 4_000_000), mk("a", 100, 3_000_000), mk("b", 50, 4_000_000)}
	rows = summaryTable(rs, reps)
	if got := strings.Join(rows[0], "|"); got != "summary: median [range] of 2 repetitions|a|b" {
		t.Errorf("header = %q", got)
	}
	if got := strings.Join(rows[2], "|"); got != "roundtrip p50|2.00 ms [1.00 ms–3.00 ms]|4.00 ms (2.00×)" {
		t.Errorf("p50 row over repetitions = %q", got)
	}
	if ratio(0.0064) != "0.0064×" || ratio(1270.4) != "1270×" {
		t.Errorf("ratios: %s %s", ratio(0.0064), ratio(1270.4))
	}
}

// TestCombineServerStats: over repetitions a per-task server figure is the
// server's spending over all their tasks (weighted by each repetition's
// tasks), not the first repetition's, and a total is a repetition's median.
func TestCombineServerStats(t *testing.T) {
	rep := func(tasks int, cpu, keys float64) Result {
		h := NewHistogram()
		for i := 0; i < tasks; i++ {
			_ = h.RecordValue(1_000_000)
		}
		return Result{Backend: "redis://", Ops: []Op{{Name: "roundtrip", Latency: h}},
			Stats: ServerStats{{Name: "server CPU per task", Unit: "µs", Value: cpu, PerTask: true}, {Name: "keys", Unit: "keys", Value: keys}}}
	}
	r := &Run{Results: []Result{rep(100, 100, 10), rep(300, 200, 30), rep(100, 100, 1000)}}
	c := r.Combine()
	if len(c) != 1 {
		t.Fatalf("%d combined results, want 1", len(c))
	}
	cpu, _ := c[0].Stats.Get("server CPU per task")
	keys, _ := c[0].Stats.Get("keys")
	if cpu.Value != 160 || keys.Value != 30 { // (100·100+300·200+100·100)/500; median of 10, 30, 1000
		t.Errorf("server CPU per task %v, keys %v; want 160 and 30", cpu.Value, keys.Value)
	}
	if len(c[0].Notes) == 0 || !strings.Contains(c[0].Notes[len(c[0].Notes)-1], "over 3 repetitions") {
		t.Errorf("notes %q lack the server cost's note", c[0].Notes)
	}
}
