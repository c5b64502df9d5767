package results

import (
	"strings"
	"testing"
)

// FuzzParseThresholds checks that ParseThresholds never panics, that its
// errors are one line, and that every threshold it accepts prints
// (String) as a term that parses back to the same threshold.
func FuzzParseThresholds(f *testing.F) {
	for _, s := range []string{"roundtrip.p99<50ms,errors<0.1%", "rate>500/s", "p99.9<=1s", "store_result.p999<2ms",
		"errors<10", "cost.server_cpu<2ms", "cost.commands<12.5", "max>=1h", "p98<1s", "errors<101%", "a.b.p99<1s", ",", "p99<5ms<6ms"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		ts, err := ParseThresholds(spec)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("%q: multi-line error %q", spec, err)
			}
			return
		}
		for _, th := range ts {
			back, err := ParseThresholds(th.String())
			if err != nil || len(back) != 1 || back[0] != th {
				t.Fatalf("%q: %+v prints as %q, which parses to %+v, %v", spec, th, th.String(), back, err)
			}
		}
	})
}
