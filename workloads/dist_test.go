package workloads

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// samples draws n durations from d, sorted.
func samples(d Dist, n int) []time.Duration {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d.Sample(rng)
	}
	slices.Sort(out)
	return out
}

func pct(s []time.Duration, q float64) time.Duration { return s[int(q*float64(len(s)-1))] }

func within(got, want time.Duration, frac float64) bool {
	return float64(got) >= float64(want)*(1-frac) && float64(got) <= float64(want)*(1+frac)
}

// TestDistLognormalPercentiles checks that a log-normal given by two
// percentiles comes out with those percentiles (within 5 %).
func TestDistLognormalPercentiles(t *testing.T) {
	for _, tc := range []struct {
		spec   string
		qs     [2]float64
		values [2]time.Duration
	}{
		{"lognormal:p50=40ms,p99=900ms", [2]float64{0.50, 0.99}, [2]time.Duration{40 * time.Millisecond, 900 * time.Millisecond}},
		{"lognormal:p90=2s,p10=100ms", [2]float64{0.10, 0.90}, [2]time.Duration{100 * time.Millisecond, 2 * time.Second}},
	} {
		d, err := ParseDist(tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		s := samples(d, 200_000)
		for i, q := range tc.qs {
			if got := pct(s, q); !within(got, tc.values[i], 0.05) {
				t.Errorf("%s: sampled p%g = %v, want %v ±5%%", tc.spec, 100*q, got, tc.values[i])
			}
			if got := d.Quantile(q); !within(got, tc.values[i], 0.001) {
				t.Errorf("%s: Quantile(%g) = %v, want %v", tc.spec, q, got, tc.values[i])
			}
		}
	}
}

func TestDistKinds(t *testing.T) {
	d, _ := ParseDist("50ms")
	if s := samples(d, 10); s[0] != 50*time.Millisecond || s[9] != 50*time.Millisecond || d.IsZero() {
		t.Errorf("fixed: %v", s)
	}
	d, _ = ParseDist("10ms-200ms")
	s := samples(d, 100_000)
	if s[0] < 10*time.Millisecond || s[len(s)-1] > 200*time.Millisecond || !within(pct(s, 0.5), 105*time.Millisecond, 0.02) {
		t.Errorf("uniform: min %v max %v p50 %v", s[0], s[len(s)-1], pct(s, 0.5))
	}
	d, _ = ParseDist("5ms:90,2s:10")
	s = samples(d, 100_000)
	long := len(s) - slices.Index(s, 2*time.Second)
	if long < 9500 || long > 10500 || d.Mean() != 5*time.Millisecond*9/10+200*time.Millisecond {
		t.Errorf("weighted: %d of 100000 took 2s, want about 10000; mean %v", long, d.Mean())
	}
	if z, _ := ParseDist("0"); !z.IsZero() || (Dist{}).Sample(nil) != 0 {
		t.Error("0 is not zero")
	}
	// A seed replays the same durations.
	d, _ = ParseDist("lognormal:p50=40ms,p99=900ms")
	if a, b := samples(d, 100), samples(d, 100); !slices.Equal(a, b) {
		t.Error("the same seed drew different durations")
	}
}

// TestDistFileReplays checks that @FILE replays the file's durations: the
// samples take only its values, in its proportions.
func TestDistFileReplays(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runtimes.txt")
	body := "# task runtimes exported from Flower (seconds) and logs\n0.010\n0.010\n0.010\n\n250ms # a slow one\n1.5\n"
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := ParseDist("@" + path)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[time.Duration]int{}
	for _, v := range samples(d, 50_000) {
		counts[v]++
	}
	want := map[time.Duration]float64{10 * time.Millisecond: 0.6, 250 * time.Millisecond: 0.2, 1500 * time.Millisecond: 0.2}
	if len(counts) != len(want) {
		t.Fatalf("sampled values %v, want only %v", counts, want)
	}
	for v, share := range want {
		if got := float64(counts[v]) / 50_000; got < share-0.01 || got > share+0.01 {
			t.Errorf("%v drawn %.3f of the time, want %.2f", v, got, share)
		}
	}
	if d.Quantile(0.6) != 10*time.Millisecond || d.Quantile(1) != 1500*time.Millisecond {
		t.Errorf("quantiles %v %v", d.Quantile(0.6), d.Quantile(1))
	}
}

func TestDistBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("# nothing\n"), 0o644)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("1ms\nsoon\n"), 0o644)
	for spec, want := range map[string]string{
		"-5ms":                          "negative",
		"NaN":                           "not a duration",
		"+Inf":                          "not a duration",
		"25h":                           "more than 24h",
		"200ms-10ms":                    "upper bound",
		"5ms:0":                         "positive integer",
		"5ms:x":                         "positive integer",
		"lognormal:p50=40ms":            "two percentiles",
		"lognormal:p50=40ms,p50=900ms":  "two different",
		"lognormal:p50=900ms,p99=40ms":  "longer duration",
		"lognormal:p100=1s,p50=1ms":     "between 0 and 100",
		"lognormal:p50=0s,p99=1s":       "positive",
		"@":                             "file name",
		"@" + filepath.Join(dir, "nof"): "no such file",
		"@" + empty:                     "no duration",
		"@" + bad:                       bad + ":2",
		"":                              "not a duration",
	} {
		_, err := ParseDist(spec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseDist(%q) = %v, want an error saying %q", spec, err, want)
		}
	}
}

// BenchmarkDistSample shows sampling allocates nothing.
func BenchmarkDistSample(b *testing.B) {
	d, _ := ParseDist("lognormal:p50=40ms,p99=900ms")
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	for b.Loop() {
		d.Sample(rng)
	}
}
