package workloads

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// MaxResultSize bounds one result: Redis refuses a str value over 512 MiB
// (RedisBackend.set raises BackendStoreError).
const MaxResultSize = 512 << 20

// Sizes is a distribution of result sizes in bytes: a fixed size ("64"), a
// uniform range ("16-1024", both ends included) or a weighted list of
// either ("64:70,4096:30": 70 % of results are 64 bytes, 30 % are 4 KiB).
// Sizes may carry a unit: B, KiB, MiB (1024-based) or KB, MB (1000-based).
// The zero Sizes is a fixed size of 0. A Sizes is immutable once parsed and
// safe for concurrent use; it implements pflag.Value, so it can back a flag.
type Sizes struct {
	parts []sizePart
	total int // sum of the weights
	text  string
}

// sizePart is one entry of a weighted list: the range lo..hi (lo == hi for
// a fixed size) drawn with the given weight.
type sizePart struct{ lo, hi, weight int }

// FixedSize returns the Sizes of a single size n.
func FixedSize(n int) Sizes {
	return Sizes{parts: []sizePart{{n, n, 1}}, total: 1, text: strconv.Itoa(n)}
}

// ParseSizes parses a size distribution: "64", "16-1024", "64:70,4096:30"
// or "16-64:90,1MiB:10". Weights are positive integers; a lone size or
// range has weight 1.
func ParseSizes(s string) (Sizes, error) {
	text := strings.TrimSpace(s)
	if text == "" {
		return Sizes{}, errors.New("empty size; use 64, 16-1024 or 64:70,4096:30")
	}
	var out Sizes
	entries := strings.Split(text, ",")
	for _, e := range entries {
		e = strings.TrimSpace(e)
		spec, weight := e, 1
		if i := strings.LastIndexByte(e, ':'); i >= 0 {
			spec = strings.TrimSpace(e[:i])
			w, err := strconv.Atoi(strings.TrimSpace(e[i+1:]))
			if err != nil || w <= 0 {
				return Sizes{}, fmt.Errorf("size %q: the weight after ':' must be a positive integer", e)
			}
			weight = w
		} else if len(entries) > 1 {
			return Sizes{}, fmt.Errorf("size %q: in a list every entry needs a weight (size:weight)", e)
		}
		lo, hi, err := parseRange(spec)
		if err != nil {
			return Sizes{}, fmt.Errorf("size %q: %w", e, err)
		}
		out.parts = append(out.parts, sizePart{lo, hi, weight})
		out.total += weight
	}
	out.text = text
	return out, nil
}

// parseRange parses "64" or "16-1024".
func parseRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	if lo, err = parseBytes(a); err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = parseBytes(b); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, fmt.Errorf("range %s has its larger end first", s)
		}
	}
	return lo, hi, nil
}

// parseBytes parses a byte count with an optional unit.
func parseBytes(s string) (int, error) {
	s = strings.TrimSpace(s)
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"KB", 1000}, {"MB", 1000 * 1000}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte count (like 64, 4KiB)", s)
	}
	if n > MaxResultSize/mult {
		return 0, fmt.Errorf("%s is over %d bytes, the largest value Celery's Redis backend stores", s, MaxResultSize)
	}
	return n * mult, nil
}

// String returns the distribution as it was parsed.
func (s Sizes) String() string {
	if s.text == "" {
		return "0"
	}
	return s.text
}

// Set parses v into s (pflag.Value).
func (s *Sizes) Set(v string) error {
	p, err := ParseSizes(v)
	if err != nil {
		return err
	}
	*s = p
	return nil
}

// Type names the flag value type in usage text (pflag.Value).
func (s *Sizes) Type() string { return "sizes" }

// Fixed reports whether every draw is the same size.
func (s Sizes) Fixed() bool {
	for _, p := range s.parts {
		if p.lo != s.parts[0].lo || p.hi != p.lo {
			return false
		}
	}
	return true
}

// Max returns the largest size s can draw.
func (s Sizes) Max() int {
	m := 0
	for _, p := range s.parts {
		m = max(m, p.hi)
	}
	return m
}

// Mean returns the expected size in bytes.
func (s Sizes) Mean() float64 {
	if s.total == 0 {
		return 0
	}
	var sum float64
	for _, p := range s.parts {
		sum += float64(p.weight) * float64(p.lo+p.hi) / 2
	}
	return sum / float64(s.total)
}

// Quantile returns the size at cumulative probability q in [0, 1): the
// inverse of the distribution function, so Quantile of a uniform q draws
// from s.
func (s Sizes) Quantile(q float64) int {
	if s.total == 0 {
		return 0
	}
	q = min(max(q, 0), 1) * float64(s.total)
	for i, p := range s.parts {
		w := float64(p.weight)
		if q < w || i == len(s.parts)-1 {
			f := min(q/w, 1)
			n := p.lo + int(f*float64(p.hi-p.lo+1))
			return min(n, p.hi)
		}
		q -= w
	}
	return 0 // unreachable
}

// Draw returns a size drawn from s with rng; the same rng state draws the
// same size.
func (s Sizes) Draw(rng *rand.Rand) int { return s.Quantile(rng.Float64()) }

// payloadVariants is how many distinct return values MakePayloads makes
// for a fixed size, and stratifiedPayloads for a distribution.
const (
	payloadVariants    = 16
	stratifiedPayloads = 1024
)

// MakePayloads returns the return values a run's tasks pick from uniformly
// (Caller.NewTask): str values whose sizes follow s. For a fixed size they
// are 16 distinct strings; otherwise 1024 strings at the 1024 evenly
// spaced quantiles of s, so a uniform pick draws from s (weights are met to
// within 1/1024). The strings are slices of one random text drawn from
// seed, so memory is about s.Max() whatever the list's length.
func MakePayloads(seed uint64, s Sizes) []string {
	n := stratifiedPayloads
	if s.Fixed() {
		n = payloadVariants
	}
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewPCG(seed, 0x9a7))
	buf := make([]byte, s.Max()+n)
	for j := range buf {
		buf[j] = alphabet[rng.IntN(len(alphabet))]
	}
	text := string(buf)
	out := make([]string, n)
	for i := range out {
		size := s.Quantile((float64(i) + 0.5) / float64(n))
		out[i] = text[i : i+size]
	}
	return out
}

// Describe returns the distribution with its units, as a settings echo
// shows it: "64 B", "16 B–1 KiB", "64 B 70 %, 4 KiB 30 %".
func (s Sizes) Describe() string {
	if len(s.parts) == 0 {
		return "0 B"
	}
	var b strings.Builder
	for i, p := range s.parts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(describeBytes(p.lo))
		if p.hi != p.lo {
			b.WriteString("–")
			b.WriteString(describeBytes(p.hi))
		}
		if len(s.parts) > 1 {
			fmt.Fprintf(&b, " %s %%", strconv.FormatFloat(100*float64(p.weight)/float64(s.total), 'g', 3, 64))
		}
	}
	return b.String()
}

// describeBytes writes n bytes in the largest unit that divides it.
func describeBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	case n >= 1000*1000 && n%(1000*1000) == 0:
		return strconv.Itoa(n/(1000*1000)) + " MB"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + " KB"
	}
	return strconv.Itoa(n) + " B"
}
