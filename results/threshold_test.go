package results

import (
	"strings"
	"testing"
	"time"
)

func TestParseThresholds(t *testing.T) {
	ts, err := ParseThresholds("roundtrip.p99<50ms, errors<0.1%,rate>=500/s,store_result.p99.9<=1s,p999<2ms,errors<10,cost.server_cpu<2ms,cost.commands_per_task<=12.5,throughput>1")
	if err != nil {
		t.Fatal(err)
	}
	want := []Threshold{
		{Op: "roundtrip", Stat: "p99", Cmp: "<", Value: 50e6, Limit: "50ms"},
		{Stat: "errors", Cmp: "<", Value: 0.1, Percent: true, Limit: "0.1%"},
		{Stat: "rate", Cmp: ">=", Value: 500, Limit: "500/s"},
		{Op: "store_result", Stat: "p99.9", Cmp: "<=", Value: 1e9, Limit: "1s"},
		{Stat: "p99.9", Cmp: "<", Value: 2e6, Limit: "2ms"},
		{Stat: "errors", Cmp: "<", Value: 10, Limit: "10"},
		{Stat: "cost.server_cpu", Cmp: "<", Value: 2000, Duration: true, Limit: "2ms"},
		{Stat: "cost.commands_per_task", Cmp: "<=", Value: 12.5, Limit: "12.5"},
		{Stat: "rate", Cmp: ">", Value: 1, Limit: "1"},
	}
	if len(ts) != len(want) {
		t.Fatalf("got %d thresholds, want %d: %+v", len(ts), len(want), ts)
	}
	for i := range want {
		if ts[i] != want[i] {
			t.Errorf("term %d: got %+v, want %+v", i, ts[i], want[i])
		}
	}
	for _, bad := range []string{"", "p99", "p99<", "<5ms", "p98<5ms", "p99<-5ms", "p99<5", "p99<5ms<6ms", "errors<101%",
		"errors<1.5", "rate>NaN", "rate>fast", "roundtrip.p99<50ms,", "a b.p99<1s", "cost.<1", "cost.x<soon", "errors<-1%", "p99=5ms"} {
		_, err := ParseThresholds(bad)
		if err == nil {
			t.Errorf("%q: accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error has more than one line: %v", bad, err)
		}
	}
	if CostKey("server CPU per task") != "server_cpu" || CostKey("memory per result") != "memory_per_result" {
		t.Errorf("CostKey: %q, %q", CostKey("server CPU per task"), CostKey("memory per result"))
	}
}

// thresholdRun is a run of two backends: redis with 1 ms roundtrips and 1
// error in 1,000, mysql with 100 ms ones and none.
func thresholdRun() *Run {
	start := time.Unix(1000, 0)
	mk := func(name string, lat int64, errs int64, cpu float64) Result {
		h := NewHistogram()
		for i := 0; i < 999; i++ {
			_ = h.RecordValue(lat)
		}
		_ = h.RecordValue(lat * 10)
		return Result{Backend: name + "://x", Name: name, Workload: "roundtrip", Start: start, End: start.Add(10 * time.Second),
			Ops:   []Op{{Name: "roundtrip", Latency: h, Errors: errs}},
			Stats: ServerStats{{Name: "server CPU per task", Unit: "µs", Value: cpu, PerTask: true}}}
	}
	return &Run{Format: FormatVersion, Summary: "workload roundtrip", Results: []Result{mk("redis", 1e6, 1, 500), mk("mysql", 100e6, 0, 3000)}}
}

func TestEvaluateThresholds(t *testing.T) {
	r := thresholdRun()
	ts, err := ParseThresholds("p99<50ms,errors<0.05%,rate>99,cost.server_cpu<2ms,get.p50<1s,max<=2s")
	if err != nil {
		t.Fatal(err)
	}
	cs := EvaluateThresholds(r, ts, "roundtrip")
	got := map[string]bool{}
	for _, c := range cs {
		got[c.Backend+" "+c.Threshold] = c.Pass
	}
	want := map[string]bool{
		"redis p99<50ms": true, "mysql p99<50ms": false,
		"redis errors<0.05%": false, "mysql errors<0.05%": true, // 1 of 1,001 is 0.0999%
		"redis rate>99": true, "mysql rate>99": true, // 100/s each
		"redis cost.server_cpu<2ms": true, "mysql cost.server_cpu<2ms": false,
		"redis get.p50<1s": false, "mysql get.p50<1s": false, // no such op
		"redis max<=2s": true, "mysql max<=2s": true,
	}
	for k, w := range want {
		if p, ok := got[k]; !ok || p != w {
			t.Errorf("%s: pass = %v (present %v), want %v", k, p, ok, w)
		}
	}
	if len(cs) != len(want) {
		t.Errorf("%d checks, want %d", len(cs), len(want))
	}
	// A restart spoils the cost figures: not measured, failed.
	r.Results[0].ServerRestart = "run_id changed"
	cs = EvaluateThresholds(r, ts[3:4], "roundtrip")
	if cs[0].Pass || cs[0].Why != RestartNote {
		t.Errorf("cost after a restart: %+v", cs[0])
	}

	// Every format that prints tables prints the checks with their values.
	r.Thresholds = EvaluateThresholds(r, ts[:1], "roundtrip")
	var b strings.Builder
	if err := WriteText(&b, r); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	for _, want := range []string{"thresholds (measured window): 1 of 2 passed", "p99<50ms   redis     1.00 ms  ok", "p99<50ms   mysql      100 ms  FAILED", RestartNote} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	b.Reset()
	if err := WriteMarkdown(&b, r); err != nil {
		t.Fatal(err)
	}
	if md := b.String(); !strings.Contains(md, "| `p99<50ms` | mysql | 100 ms | **FAILED** |") || !strings.Contains(md, RestartNote) {
		t.Errorf("markdown lacks the checks or the restart:\n%s", md)
	}
	b.Reset()
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Thresholds) != 2 || back.Thresholds[1].Pass || back.Thresholds[1].Measured != "100 ms" || back.Results[0].ServerRestart == "" {
		t.Errorf("run file's thresholds: %+v", back.Thresholds)
	}
}
