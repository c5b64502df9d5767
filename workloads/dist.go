package workloads

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// MaxDistDuration bounds every duration a Dist can produce: a task that
// runs longer than a day is not a benchmark.
const MaxDistDuration = 24 * time.Hour

// A Dist is a distribution of durations, written in the one syntax every
// duration-distribution flag takes (--task-time, --dispatch-delay):
//
//	50ms                          a fixed duration
//	10ms-200ms                    uniform between the two
//	5ms:90,2s:10                  a weighted list: 90 % 5 ms, 10 % 2 s
//	lognormal:p50=40ms,p99=900ms  log-normal through two percentiles
//	@FILE                         observed durations, one a line (a Go
//	                              duration, or a number of seconds as Flower
//	                              and most logs give them), replayed by
//	                              sampling; blank lines and #-comments skip
//
// The zero Dist is the fixed duration 0. Sample draws from a caller's
// seeded generator, so a seed replays the same durations. A Dist is
// read-only once parsed and safe for concurrent use.
type Dist struct {
	text string
	kind distKind
	// fixed, uniform: lo (and hi); weighted: parts; lognormal: mu, sigma
	// of ln(seconds); file: values, sorted.
	lo, hi    time.Duration
	parts     []distPart
	total     int
	mu, sigma float64
	values    []time.Duration
}

type distKind int

const (
	distFixed distKind = iota
	distUniform
	distWeighted
	distLognormal
	distFile
)

type distPart struct {
	d      time.Duration
	weight int
}

// ParseDist parses s in Dist's syntax.
func ParseDist(s string) (Dist, error) {
	var d Dist
	err := d.Set(s)
	return d, err
}

// Set parses s (pflag.Value).
func (d *Dist) Set(s string) error {
	s = strings.TrimSpace(s)
	var nd Dist
	var err error
	switch {
	case strings.HasPrefix(s, "@"):
		nd, err = parseDistFile(s[1:])
	case strings.HasPrefix(s, "lognormal:"):
		nd, err = parseLognormal(s[len("lognormal:"):])
	case strings.Contains(s, ":"):
		nd, err = parseWeighted(s)
	case strings.Contains(s, "-") && !strings.HasPrefix(s, "-"):
		lo, hi, _ := strings.Cut(s, "-")
		nd.kind = distUniform
		if nd.lo, err = distDuration(lo); err == nil {
			nd.hi, err = distDuration(hi)
		}
		if err == nil && nd.hi < nd.lo {
			err = fmt.Errorf("range %s: the upper bound is below the lower", s)
		}
	default:
		nd.kind = distFixed
		nd.lo, err = distDuration(s)
	}
	if err != nil {
		return fmt.Errorf("%q: %w (use 50ms, 10ms-200ms, 5ms:90,2s:10, lognormal:p50=40ms,p99=900ms or @FILE)", s, err)
	}
	nd.text = s
	*d = nd
	return nil
}

// distDuration parses one duration: a Go duration, or a number of seconds.
func distDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("%q is not a duration (50ms) or a number of seconds", s)
		}
		if f > MaxDistDuration.Seconds() {
			return 0, fmt.Errorf("%s s is more than %s", s, MaxDistDuration)
		}
		d = time.Duration(f * float64(time.Second))
	}
	switch {
	case d < 0:
		return 0, fmt.Errorf("%s is negative", s)
	case d > MaxDistDuration:
		return 0, fmt.Errorf("%s is more than %s", s, MaxDistDuration)
	}
	return d, nil
}

func parseWeighted(s string) (Dist, error) {
	d := Dist{kind: distWeighted}
	for _, e := range strings.Split(s, ",") {
		ds, ws, ok := strings.Cut(e, ":")
		if !ok {
			return d, fmt.Errorf("%q is not duration:weight", e)
		}
		dur, err := distDuration(ds)
		if err != nil {
			return d, err
		}
		w, err := strconv.Atoi(strings.TrimSpace(ws))
		if err != nil || w <= 0 {
			return d, fmt.Errorf("the weight of %s must be a positive integer, not %q", ds, ws)
		}
		d.parts = append(d.parts, distPart{dur, w})
		d.total += w
		if d.total > 1<<30 {
			return d, errors.New("the weights add up to more than 2^30")
		}
	}
	return d, nil
}

// parseLognormal reads two percentiles, "p50=40ms,p99=900ms", and fits the
// log-normal distribution through them: with z the standard normal
// quantile, ln(x_q) = mu + sigma·z(q).
func parseLognormal(s string) (Dist, error) {
	d := Dist{kind: distLognormal}
	var qs [2]float64
	var xs [2]float64
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return d, errors.New("lognormal takes two percentiles, as p50=40ms,p99=900ms")
	}
	for i, p := range parts {
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.HasPrefix(name, "p") {
			return d, fmt.Errorf("%q is not pNN=duration", p)
		}
		q, err := strconv.ParseFloat(name[1:], 64)
		if err != nil || !(q > 0 && q < 100) {
			return d, fmt.Errorf("%q: the percentile must be between 0 and 100, exclusive", name)
		}
		x, err := distDuration(val)
		if err != nil {
			return d, err
		}
		if x <= 0 {
			return d, fmt.Errorf("%s: a log-normal percentile must be positive", p)
		}
		qs[i], xs[i] = q/100, x.Seconds()
	}
	if qs[0] == qs[1] {
		return d, errors.New("lognormal needs two different percentiles")
	}
	if qs[0] > qs[1] {
		qs[0], qs[1], xs[0], xs[1] = qs[1], qs[0], xs[1], xs[0]
	}
	if xs[1] <= xs[0] {
		return d, errors.New("the higher percentile must have the longer duration")
	}
	za, zb := normalQuantile(qs[0]), normalQuantile(qs[1])
	d.sigma = (math.Log(xs[1]) - math.Log(xs[0])) / (zb - za)
	d.mu = math.Log(xs[0]) - d.sigma*za
	return d, nil
}

// normalQuantile is the standard normal distribution's quantile function.
func normalQuantile(q float64) float64 { return math.Sqrt2 * math.Erfinv(2*q-1) }

func parseDistFile(path string) (Dist, error) {
	d := Dist{kind: distFile}
	if path == "" {
		return d, errors.New("@ must be followed by a file name")
	}
	f, err := os.Open(path)
	if err != nil {
		return d, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text, _, _ := strings.Cut(sc.Text(), "#")
		if text = strings.TrimSpace(text); text == "" {
			continue
		}
		v, err := distDuration(text)
		if err != nil {
			return d, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		d.values = append(d.values, v)
		if len(d.values) > 10_000_000 {
			return d, fmt.Errorf("%s: more than 10,000,000 durations", path)
		}
	}
	if err := sc.Err(); err != nil {
		return d, fmt.Errorf("%s: %w", path, err)
	}
	if len(d.values) == 0 {
		return d, fmt.Errorf("%s holds no duration", path)
	}
	sort.Slice(d.values, func(i, j int) bool { return d.values[i] < d.values[j] })
	return d, nil
}

// String returns the Dist as it was written.
func (d Dist) String() string {
	if d.text == "" {
		return "0s"
	}
	return d.text
}

// Type names the flag value type in usage text (pflag.Value).
func (d Dist) Type() string { return "dist" }

// IsZero reports whether every sample is 0.
func (d Dist) IsZero() bool {
	return d.kind == distFixed && d.lo == 0
}

// Sample draws one duration with rng. It does not allocate.
func (d Dist) Sample(rng *rand.Rand) time.Duration {
	switch d.kind {
	case distUniform:
		if d.hi == d.lo {
			return d.lo
		}
		return d.lo + time.Duration(rng.Int64N(int64(d.hi-d.lo)+1))
	case distWeighted:
		n := rng.IntN(d.total)
		for _, p := range d.parts {
			if n < p.weight {
				return p.d
			}
			n -= p.weight
		}
		return d.parts[len(d.parts)-1].d
	case distLognormal:
		s := math.Exp(d.mu + d.sigma*rng.NormFloat64())
		return min(time.Duration(s*float64(time.Second)), MaxDistDuration)
	case distFile:
		return d.values[rng.IntN(len(d.values))]
	}
	return d.lo
}

// Quantile returns the duration below which a fraction q (0..1) of the
// samples fall, exactly for every kind but the weighted list, whose value
// is the part q falls in.
func (d Dist) Quantile(q float64) time.Duration {
	q = min(max(q, 0), 1)
	switch d.kind {
	case distUniform:
		return d.lo + time.Duration(q*float64(d.hi-d.lo))
	case distWeighted:
		ps := append([]distPart(nil), d.parts...)
		sort.Slice(ps, func(i, j int) bool { return ps[i].d < ps[j].d })
		acc := 0
		for _, p := range ps {
			acc += p.weight
			if float64(acc) >= q*float64(d.total) {
				return p.d
			}
		}
		return ps[len(ps)-1].d
	case distLognormal:
		if q == 0 {
			return 0
		}
		if q == 1 {
			return MaxDistDuration
		}
		return min(time.Duration(math.Exp(d.mu+d.sigma*normalQuantile(q))*float64(time.Second)), MaxDistDuration)
	case distFile:
		i := int(math.Ceil(q*float64(len(d.values)))) - 1
		return d.values[min(max(i, 0), len(d.values)-1)]
	}
	return d.lo
}

// Mean returns the distribution's mean.
func (d Dist) Mean() time.Duration {
	switch d.kind {
	case distUniform:
		return (d.lo + d.hi) / 2
	case distWeighted:
		var sum float64
		for _, p := range d.parts {
			sum += float64(p.d) * float64(p.weight)
		}
		return time.Duration(sum / float64(d.total))
	case distLognormal:
		return min(time.Duration(math.Exp(d.mu+d.sigma*d.sigma/2)*float64(time.Second)), MaxDistDuration)
	case distFile:
		var sum float64
		for _, v := range d.values {
			sum += float64(v)
		}
		return time.Duration(sum / float64(len(d.values)))
	}
	return d.lo
}
