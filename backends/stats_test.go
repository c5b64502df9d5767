package backends

import (
	"strings"
	"testing"
	"time"
)

func TestDiffStats(t *testing.T) {
	before := ServerStats{
		{Name: "mem", Unit: "bytes", Value: 100, Kind: Gauge},
		{Name: "conns", Unit: "connections", Value: 10, Kind: Counter, Self: 1},
		{Name: "reset", Unit: "commands", Value: 50, Kind: Counter},
		{Name: "gone", Unit: "rows", Value: 1, Kind: Counter},
	}
	after := ServerStats{
		{Name: "mem", Unit: "bytes", Value: 80, Kind: Gauge},
		{Name: "conns", Unit: "connections", Value: 15, Kind: Counter, Self: 1},
		{Name: "reset", Unit: "commands", Value: 3, Kind: Counter},
		{Name: "new", Unit: "s", Value: 2, Kind: Counter},
	}
	d := DiffStats(before, after)
	want := ServerStats{
		{Name: "mem", Unit: "bytes", Value: 80, Kind: Gauge},
		{Name: "conns", Unit: "connections", Value: 4, Kind: Counter},
	}
	if len(d) != len(want) {
		t.Fatalf("DiffStats = %v, want %v", d, want)
	}
	for i := range want {
		if d[i] != want[i] {
			t.Errorf("DiffStats[%d] = %v, want %v", i, d[i], want[i])
		}
	}
}

func TestPerTask(t *testing.T) {
	before := ServerStats{
		{Name: "used_memory", Value: 1000, Kind: Gauge},
		{Name: "keys", Value: 0, Kind: Gauge},
		{Name: StatServerCPU, Value: 1, Kind: Counter},
		{Name: "Connections", Value: 10, Kind: Counter, Self: 1},
	}
	after := ServerStats{
		{Name: "used_memory", Value: 41000, Kind: Gauge},
		{Name: "keys", Value: 100, Kind: Gauge},
		{Name: StatServerCPU, Value: 1.002, Kind: Counter},
		{Name: "Connections", Value: 61, Kind: Counter, Self: 1},
		{Name: "table_rows", Value: 100, Kind: Gauge},
		{Name: "data_length", Value: 16384, Kind: Gauge},
		{Name: "index_length", Value: 16384, Kind: Gauge},
	}
	p := PerTask(before, after, 50)
	for name, want := range map[string]float64{
		"server CPU per task": 40, "connections per task": 1, "data+index bytes per row": 327.68,
	} {
		st, ok := p.Get(name)
		if !ok || st.Value < want*0.999 || st.Value > want*1.001 {
			t.Errorf("%s = %v (present %v), want %v", name, st.Value, ok, want)
		}
	}
	if _, ok := p.Get("rows read per task"); ok {
		t.Error("rows read per task without Rows_read")
	}
	if p := PerTask(before, after, 0); len(p) != 1 { // bytes per row needs no task count
		t.Errorf("PerTask with 0 tasks = %v", p)
	}
}

func TestResultMemory(t *testing.T) {
	snap := func(used, clients, keys float64) ServerStats {
		s := ServerStats{{Name: "used_memory", Value: used, Kind: Gauge}, {Name: "keys", Value: keys, Kind: Gauge}}
		if clients >= 0 {
			s = append(s, Stat{Name: "mem_clients_normal", Value: clients, Kind: Gauge})
		}
		return s
	}
	for _, c := range []struct {
		name          string
		before, after ServerStats
		want          float64 // 0: left out
	}{
		{"growth over keys", snap(1000, -1, 0), snap(41000, -1, 100), 400},
		// Client buffers freed between the snapshots are not results.
		{"client buffers left out", snap(501000, 500000, 0), snap(41500, 500, 100), 400},
		{"memory shrank", snap(900000, -1, 0), snap(41000, -1, 100), 0},
		{"no new keys", snap(1000, -1, 100), snap(41000, -1, 100), 0},
		{"no figures", nil, snap(41000, -1, 100), 0},
	} {
		st, ok := ResultMemory(c.before, c.after)
		if c.want == 0 {
			if ok {
				t.Errorf("%s: ResultMemory = %v, want none", c.name, st)
			}
			continue
		}
		if !ok || st.Name != "memory per result" || st.Unit != "bytes" || st.Value != c.want {
			t.Errorf("%s: ResultMemory = %v, %v; want %v bytes", c.name, st, ok, c.want)
		}
	}
}

func TestRestarted(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	snap := func(runID string, at time.Time, uptime, cmds float64) ServerStats {
		s := ServerStats{{Name: "cmds", Unit: "commands", Value: cmds, Kind: Counter}, ServerStarted(at, uptime)}
		if runID != "" {
			s = append(s, Stat{Name: StatRunID, Kind: Identity, Text: runID})
		}
		return s
	}
	for _, tc := range []struct {
		name          string
		before, after ServerStats
		want          string // "" for no restart
	}{
		{"same process", snap("a", now, 100, 5), snap("a", now.Add(10*time.Second), 110, 900), ""},
		{"uptime rounding", snap("", now, 100, 5), snap("", now.Add(10*time.Second+900*time.Millisecond), 110, 900), ""},
		{"run id", snap("a", now, 100, 5), snap("b", now.Add(10*time.Second), 110, 900), "run_id"},
		// A restart 1 s into a 10 s window: the counters grew past their
		// reading before, so only the uptime shows it.
		{"uptime", snap("", now, 2, 5), snap("", now.Add(10*time.Second), 9, 900), "started 3 s after"},
		{"counter down", ServerStats{{Name: "cmds", Value: 50, Kind: Counter}}, ServerStats{{Name: "cmds", Value: 3, Kind: Counter}}, "cmds went down"},
	} {
		why, ok := Restarted(tc.before, tc.after)
		if ok != (tc.want != "") || !strings.Contains(why, tc.want) {
			t.Errorf("%s: Restarted = %q, %v; want %q", tc.name, why, ok, tc.want)
		}
	}
	d := DiffStats(snap("a", now, 1, 1), snap("a", now, 2, 2))
	for _, st := range d {
		if st.Kind == Identity {
			t.Errorf("DiffStats kept the identity figure %s", st.Name)
		}
	}
}
