package results

import (
	"strings"
	"testing"
	"time"
)

// outageResult is a 10 s window of 1 s intervals of roundtrip with 100
// successes each, except as counts and errors say (an index absent from
// counts keeps 100; -1 leaves the interval out, as the recorder does for
// one without any observation).
func outageResult(counts map[int]int64, errors map[int]int64, elapsed time.Duration) *Result {
	start := time.Unix(1000, 0)
	op := Op{Name: "roundtrip", Latency: NewHistogram()}
	op.Intervals = append(op.Intervals, Interval{Start: -time.Second, Length: time.Second, Warmup: true, Count: 0, Errors: 5})
	for k := 0; k*int(time.Second) < int(elapsed); k++ {
		n, ok := counts[k]
		if !ok {
			n = 100
		}
		if n < 0 {
			continue
		}
		op.Intervals = append(op.Intervals, Interval{Start: time.Duration(k) * time.Second, Length: time.Second, Count: n, Errors: errors[k]})
	}
	return &Result{Backend: "redis://x", Name: "redis", Workload: "roundtrip", Start: start, End: start.Add(elapsed), Ops: []Op{op}}
}

func TestFindOutages(t *testing.T) {
	for _, tc := range []struct {
		name    string
		counts  map[int]int64
		errors  map[int]int64
		elapsed time.Duration
		want    []string
	}{
		{"none", nil, nil, 10 * time.Second, nil},
		// Errors only from 3 s, nothing at all at 4 s, back at 5 s.
		{"errors then silence", map[int]int64{3: 0, 4: -1}, map[int]int64{3: 37}, 10 * time.Second,
			[]string{"no successful roundtrip from 3.0 s to 5.0 s (2.0 s), 37 errors"}},
		{"two", map[int]int64{1: -1, 7: 0}, map[int]int64{7: 1}, 10 * time.Second,
			[]string{"no successful roundtrip from 1.0 s to 2.0 s (1.0 s), no errors", "no successful roundtrip from 7.0 s to 8.0 s (1.0 s), 1 error"}},
		{"to the end", map[int]int64{8: -1, 9: -1}, nil, 10 * time.Second,
			[]string{"no successful roundtrip from 8.0 s until the end of the window at 10.0 s (2.0 s), no errors"}},
		// A partial last interval (the window ends 3 ms into it) is not an outage.
		{"partial last", nil, nil, 10*time.Second + 3*time.Millisecond, nil},
		// An op that completes twice a second has quiet intervals by chance.
		{"sparse", map[int]int64{0: 2, 1: 2, 2: -1, 3: 2, 4: 2, 5: 2, 6: 2, 7: 2, 8: 2, 9: 2}, nil, 10 * time.Second, nil},
	} {
		got := FindOutages(outageResult(tc.counts, tc.errors, tc.elapsed), "roundtrip")
		var s []string
		for _, o := range got {
			s = append(s, o.String())
		}
		if strings.Join(s, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: got %q, want %q", tc.name, s, tc.want)
		}
	}
	if FindOutages(outageResult(nil, nil, 10*time.Second), "store_result") != nil {
		t.Error("outages of an op the result lacks")
	}
}

// TestOutageRendered checks that the outage is in every format that
// prints text, and in the run file.
func TestOutageRendered(t *testing.T) {
	res := outageResult(map[int]int64{3: 0, 4: -1}, map[int]int64{3: 37}, 10*time.Second)
	res.Outages = FindOutages(res, "roundtrip")
	r := &Run{Format: FormatVersion, Summary: "s", Results: []Result{*res}}
	want := "no successful roundtrip from 3.0 s to 5.0 s (2.0 s), 37 errors"
	for _, f := range []string{"text", "markdown", "json", "benchfmt"} {
		format, err := Lookup(f)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := format.WriteRun(&b, r, RenderOptions{}); err != nil {
			t.Fatal(err)
		}
		out := b.String()
		if f == "json" {
			back, err := ReadJSON(strings.NewReader(out))
			if err != nil || len(back.Results[0].Outages) != 1 || back.Results[0].Outages[0].String() != want {
				t.Errorf("run file's outages: %+v, %v", back, err)
			}
			continue
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s lacks the outage:\n%s", f, out)
		}
	}
}
