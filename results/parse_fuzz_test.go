package results

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// FuzzReadJSON checks the run-file reader on any bytes: no panic, and a
// run it accepts writes back to a file that reads to a run writing the very
// same bytes (the file form is a fixed point after one round).
func FuzzReadJSON(f *testing.F) {
	var b bytes.Buffer
	r := fixedRun(1_000_000, 2_000_000)
	r.Results[0].Ops[0].OverRange = 3
	r.ID = "0123456789abcdef0123456789abcdef"
	WriteJSON(&b, r)
	f.Add(b.Bytes())
	f.Add([]byte(`{"format":"bench-run/1"}`))
	f.Add([]byte(`{"format":"bench-run/1","results":[{"ops":[{"name":"x","histogram":"AAAA"}]}]}`))
	f.Add([]byte(`{"format":"bench-run/2"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			return
		}
		var one, two bytes.Buffer
		if err := WriteJSON(&one, r); err != nil {
			return // a histogram that cannot be encoded again is refused at write, not a panic
		}
		r2, err := ReadJSON(bytes.NewReader(one.Bytes()))
		if err != nil {
			t.Fatalf("a run read from %q writes a file that does not read back: %v\n%s", data, err, one.Bytes())
		}
		if err := WriteJSON(&two, r2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one.Bytes(), two.Bytes()) {
			t.Fatalf("round trip changed the file:\n%s\n---\n%s", one.Bytes(), two.Bytes())
		}
		// Everything that renders a run must cope with what the reader
		// accepts.
		_ = r.Combine()
		_ = r.Identity()
		for _, o := range r.Results {
			_ = o.Elapsed()
		}
	})
}

// FuzzParseGates checks ParseGates on any spec: no panic; accepted gates
// print (Gate.String, joined by commas) to a spec that parses to the same
// gates; every gate's sign is its metric's worse direction.
func FuzzParseGates(f *testing.F) {
	for _, s := range []string{"p99:+10%", "p99:+10%,throughput:-5%", "roundtrip.p99.9:+2.5%", "store_result.mean:+0%",
		"throughput:-0%", "p99:10%", "p95:+1%", "p99:+1%,p99:+2%", "", ",", "x.y.throughput:-1e3%", "p50:+NaN%", "p50:+Inf%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		gs, err := ParseGates(spec)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("ParseGates(%q): a multi-line error %q", spec, err)
			}
			return
		}
		var parts []string
		for _, g := range gs {
			m, ok := lookupMetric(g.Metric)
			if !ok || (g.Pct > 0 && m.higher) || (g.Pct < 0 && !m.higher) {
				t.Fatalf("ParseGates(%q): gate %+v", spec, g)
			}
			parts = append(parts, g.String())
		}
		again, err := ParseGates(strings.Join(parts, ","))
		if err != nil {
			t.Fatalf("ParseGates(%q) = %v, printed %q, which does not parse: %v", spec, gs, strings.Join(parts, ","), err)
		}
		if !reflect.DeepEqual(again, gs) {
			t.Fatalf("ParseGates(%q) = %+v, printed %q, parses to %+v", spec, gs, strings.Join(parts, ","), again)
		}
	})
}
