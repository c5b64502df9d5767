package main

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseLevels checks parseLevels on any --workers and --rate lists: no
// panic; an accepted sweep has at least one level, valid workers and
// rates, distinct names when it sweeps, and a level name prints back (as
// its workers=N or rate=R value) to a list that parses to the same level.
func FuzzParseLevels(f *testing.F) {
	for _, s := range [][2]string{{"8", ""}, {"1,2,4,8", ""}, {"8", "100,200/s"}, {"1,2", "5,6"}, {"0", ""},
		{"8", "1e7"}, {"8", "1e8"}, {"8", "NaN"}, {"8", "-1"}, {" 3 , 4", ""}, {"", ""}, {"8", "0x10"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, workers, rate string) {
		lvs, err := parseLevels(workers, rate)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("parseLevels(%q, %q): multi-line error %q", workers, rate, err)
			}
			return
		}
		if len(lvs) == 0 {
			t.Fatalf("parseLevels(%q, %q): no level", workers, rate)
		}
		for _, lv := range lvs {
			if lv.workers < 1 || lv.rate < 0 || lv.rate > 1e7 || lv.rate != lv.rate {
				t.Fatalf("parseLevels(%q, %q): level %+v", workers, rate, lv)
			}
			if len(lvs) == 1 && lv.name != "" {
				t.Fatalf("parseLevels(%q, %q): a single level named %q", workers, rate, lv.name)
			}
			w, r := strconv.Itoa(lv.workers), ""
			if lv.rate > 0 {
				r = strconv.FormatFloat(lv.rate, 'g', -1, 64)
			}
			back, err := parseLevels(w, r)
			if err != nil || len(back) != 1 || back[0].workers != lv.workers || back[0].rate != lv.rate {
				t.Fatalf("parseLevels(%q, %q): level %+v printed as %q %q parses to %+v, %v", workers, rate, lv, w, r, back, err)
			}
		}
	})
}

// FuzzParseSLO checks parseSLO on any --slo spec: no panic; an accepted
// objective has a known metric and a positive limit, and prints back
// (metric, < or <=, limit) to a spec that parses to the same objective.
func FuzzParseSLO(f *testing.F) {
	for _, s := range []string{"p99<50ms", "p99.9<=1s", "mean < 2.5ms", "max<=1h", "p95<1ms", "p99<0", "p99<-1s", "p99", "<", "p99<<1ms", "p50<1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := parseSLO(s)
		if err != nil {
			return
		}
		if spec.limit <= 0 {
			t.Fatalf("parseSLO(%q): limit %v", s, spec.limit)
		}
		op := "<"
		if spec.equal {
			op = "<="
		}
		text := spec.metric + op + spec.limit.String()
		back, err := parseSLO(text)
		if err != nil || back.metric != spec.metric || back.limit != spec.limit || back.equal != spec.equal {
			t.Fatalf("parseSLO(%q) = %+v, printed %q, parses to %+v, %v", s, spec, text, back, err)
		}
	})
}
