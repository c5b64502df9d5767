package workloads

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max int
		mean     float64
		fixed    bool
	}{
		{"64", 64, 64, 64, true},                              // a fixed size
		{"16-1024", 16, 1024, 520, false},                     // a uniform range
		{"64:70,4096:30", 64, 4096, 64*0.7 + 4096*0.3, false}, // a weighted list
		{"4KiB", 4096, 4096, 4096, true},                      // units
		{"1KB-2KB:1, 1MiB:1", 1000, 1 << 20, (1500 + 1<<20) / 2.0, false},
	} {
		s, err := ParseSizes(tc.in)
		if err != nil {
			t.Fatalf("ParseSizes(%q): %v", tc.in, err)
		}
		if got := s.Quantile(0); got != tc.min {
			t.Errorf("%q: Quantile(0) = %d, want %d", tc.in, got, tc.min)
		}
		if got := s.Max(); got != tc.max {
			t.Errorf("%q: Max = %d, want %d", tc.in, got, tc.max)
		}
		if got := s.Mean(); got != tc.mean {
			t.Errorf("%q: Mean = %v, want %v", tc.in, got, tc.mean)
		}
		if s.Fixed() != tc.fixed || s.String() != tc.in {
			t.Errorf("%q: Fixed %v String %q", tc.in, s.Fixed(), s.String())
		}
	}
	for _, bad := range []string{"", "x", "-1", "10-5", "64:0", "64:70,4096", "64:x", "1GiB", "600MiB"} {
		if _, err := ParseSizes(bad); err == nil {
			t.Errorf("ParseSizes(%q) succeeded", bad)
		}
	}
}

func TestSizesDrawIsSeededAndWeighted(t *testing.T) {
	s, _ := ParseSizes("64:70,4096:30")
	draw := func() []int {
		rng := rand.New(rand.NewPCG(7, 1))
		out := make([]int, 10000)
		for i := range out {
			out[i] = s.Draw(rng)
		}
		return out
	}
	a, b := draw(), draw()
	small := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs with the same seed: %d vs %d", i, a[i], b[i])
		}
		if a[i] == 64 {
			small++
		} else if a[i] != 4096 {
			t.Fatalf("drew %d", a[i])
		}
	}
	if small < 6800 || small > 7200 {
		t.Errorf("64 drawn %d times in 10000, want about 7000", small)
	}
	r, _ := ParseSizes("16-1024")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		if n := r.Draw(rng); n < 16 || n > 1024 {
			t.Fatalf("uniform draw %d out of range", n)
		}
	}
}

func TestMakePayloads(t *testing.T) {
	s, _ := ParseSizes("64:70,4096:30")
	p := MakePayloads(1, s)
	small := 0
	for _, v := range p {
		switch len(v) {
		case 64:
			small++
		case 4096:
		default:
			t.Fatalf("payload of %d bytes", len(v))
		}
	}
	if got := float64(small) / float64(len(p)); got < 0.699 || got > 0.701 {
		t.Errorf("share of 64-byte payloads %.4f, want 0.70", got)
	}
	f := MakePayloads(1, FixedSize(100))
	if len(f) != payloadVariants || len(f[0]) != 100 || f[0] == f[1] {
		t.Errorf("fixed payloads: %d values, first %d bytes", len(f), len(f[0]))
	}
	if g := MakePayloads(1, FixedSize(100)); strings.Join(g, "") != strings.Join(f, "") {
		t.Error("payloads differ with the same seed")
	}
}

// TestSizesDescribe checks the settings echo of result sizes: units, ranges
// and the share of each entry of a weighted list.
func TestSizesDescribe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"64", "64 B"},
		{"4KiB", "4 KiB"},
		{"4096", "4 KiB"},
		{"1MiB", "1 MiB"},
		{"2KB", "2 KB"},
		{"0", "0 B"},
		{"16-1024", "16 B–1 KiB"},
		{"64:70,4096:30", "64 B 70 %, 4 KiB 30 %"},
		{"16-64:1,1MiB:2", "16 B–64 B 33.3 %, 1 MiB 66.7 %"},
	} {
		s, err := ParseSizes(tc.in)
		if err != nil {
			t.Fatalf("ParseSizes(%q): %v", tc.in, err)
		}
		if got := s.Describe(); got != tc.want {
			t.Errorf("ParseSizes(%q).Describe() = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := (Sizes{}).Describe(); got != "0 B" {
		t.Errorf("zero Sizes: %q", got)
	}
}
