package workloads

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// FuzzSizes checks ParseSizes (and so Sizes.Set) on any text: no panic; an
// accepted distribution prints (String) to text that parses to the same
// distribution; every size it draws or quotes lies within its parts'
// bounds and MaxResultSize; its mean lies between its smallest and largest
// size.
func FuzzSizes(f *testing.F) {
	for _, s := range []string{"64", "16-1024", "64:70,4096:30", "16-64:90,1MiB:10", "1 KB", "512MiB", "513MiB",
		"0", "-1", "5-3", "64:0", "64,128", " 4KiB : 2 ", "1-2-3", "9223372036854775807MB", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sz Sizes
		if err := sz.Set(s); err != nil {
			return
		}
		var again Sizes
		if err := again.Set(sz.String()); err != nil {
			t.Fatalf("%q parses, but its String %q does not: %v", s, sz.String(), err)
		}
		if !reflect.DeepEqual(again.parts, sz.parts) || again.total != sz.total {
			t.Fatalf("%q: String %q parses to %+v, not %+v", s, sz.String(), again.parts, sz.parts)
		}
		lo, hi := MaxResultSize, 0
		for _, p := range sz.parts {
			if p.lo < 0 || p.hi < p.lo || p.hi > MaxResultSize || p.weight <= 0 {
				t.Fatalf("%q: part %+v", s, p)
			}
			lo, hi = min(lo, p.lo), max(hi, p.hi)
		}
		if sz.total <= 0 || sz.Max() != hi {
			t.Fatalf("%q: total %d, Max %d, want %d", s, sz.total, sz.Max(), hi)
		}
		if m := sz.Mean(); m < float64(lo)-1e-6*float64(hi) || m > float64(hi)*(1+1e-9) {
			t.Fatalf("%q: mean %v outside [%d, %d]", s, m, lo, hi)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for _, q := range []float64{0, 0.25, 0.5, 0.999999, rng.Float64(), rng.Float64()} {
			if v := sz.Quantile(q); v < lo || v > hi {
				t.Fatalf("%q: Quantile(%v) = %d outside [%d, %d]", s, q, v, lo, hi)
			}
		}
		if v := sz.Draw(rng); v < lo || v > hi {
			t.Fatalf("%q: Draw = %d outside [%d, %d]", s, v, lo, hi)
		}
	})
}
