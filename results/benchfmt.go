package results

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

func init() {
	RegisterFormat(Format{Name: "benchfmt", Description: "Go benchmark format, for benchstat", Run: WriteBenchfmt})
}

// BenchfmtPkg is the pkg: configuration line of the benchfmt format.
const BenchfmtPkg = "github.com/celery-bench/bench"

// benchfmtUnits are the units of a benchfmt line after the iteration count,
// in order, with the direction that is better. Units containing "ns" are
// scaled to seconds by benchstat ("p99-ns/op" is shown as "p99-sec/op").
var benchfmtUnits = []struct{ unit, better string }{
	{"ns/op", "lower"}, // the mean
	{"p50-ns/op", "lower"},
	{"p99-ns/op", "lower"},
	{"p99.9-ns/op", "lower"},
	{"ops/s", "higher"},
}

// unconfigured are the options that do not go into benchfmt configuration
// lines: they differ between runs that are meant to be compared (seeds,
// server URLs, repetitions) or do not shape the figures. benchstat puts
// results whose configuration differs in separate tables, so anything here
// would stop it from comparing BASE and HEAD.
var unconfigured = map[string]bool{
	"backend": true, "seed": true, "count": true, "format": true, "output": true, "hdr-log": true,
	"progress": true, "keep": true, "force": true, "connect-timeout": true,
}

// WriteBenchfmt writes r in the Go benchmark format
// (https://golang.org/design/14313-benchmark-format), so that benchstat
// reads it unchanged: one line per repetition per backend, workload, level
// and op,
//
//	BenchmarkCelery/backend=redis/workload=roundtrip/op=store_result  20000  412000 ns/op  398000 p50-ns/op  ...  2500 ops/s
//
// with the op's successful count as the iteration count, the mean latency
// as ns/op, the p50, p99 and p99.9 latencies, and the throughput. Sweep
// levels add a /level=workers=8 key. Ops that never succeeded in a
// repetition are left out (benchfmt has no empty measurement).
//
// The settings that shape the figures are configuration lines (goos,
// goarch, pkg, and one per option), so runs with different settings land in
// different benchstat tables; the seed, the bench and Go versions, the
// servers and the embedded-server warning are comment lines, which
// benchstat ignores.
func WriteBenchfmt(w io.Writer, r *Run) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# bench %s · %s · seed %d · started %s\n", r.Bench, r.Go, r.Seed, r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "# %s\n", r.Summary)
	if r.Interrupt != "" {
		fmt.Fprintf(&b, "# INTERRUPTED: %s; the figures cover the time until then.\n", r.Interrupt)
	}
	if r.Embedded() {
		fmt.Fprintf(&b, "# %s\n", EmbeddedWarning)
	}
	labels := BackendLabels(r)
	seen := map[string]bool{}
	for _, res := range r.Results {
		if !seen[res.Backend] {
			seen[res.Backend] = true
			fmt.Fprintf(&b, "# backend=%s: %s, %s\n", labels[res.Backend], res.Backend, res.Server)
		}
		if res.ServerRestart != "" {
			fmt.Fprintf(&b, "# backend=%s %s: %s (%s)\n", labels[res.Backend], res.Level, RestartNote, res.ServerRestart)
		}
		for _, o := range res.Outages {
			fmt.Fprintf(&b, "# backend=%s %s rep %d: outage: %s\n", labels[res.Backend], res.Level, res.Rep, o)
		}
	}
	for _, c := range r.Thresholds {
		fmt.Fprintf(&b, "# threshold %s\n", c)
	}

	goos, goarch, cpus := splitPlatform(r.Platform)
	config := [][2]string{{"goos", goos}, {"goarch", goarch}, {"pkg", BenchfmtPkg}, {"cpus", cpus}}
	for _, o := range r.Options {
		if !unconfigured[o.Name] {
			config = append(config, [2]string{o.Name, o.Value})
		}
	}
	for _, c := range config {
		if v := strings.TrimSpace(strings.ReplaceAll(c[1], "\n", " ")); v != "" && configKey(c[0]) {
			fmt.Fprintf(&b, "%s: %s\n", c[0], v)
		}
	}
	for _, u := range benchfmtUnits {
		fmt.Fprintf(&b, "Unit %s better=%s\n", u.unit, u.better)
	}
	b.WriteString("\n")

	for i := range r.Results {
		res := &r.Results[i]
		name := "Celery/backend=" + nameValue(labels[res.Backend]) + "/workload=" + nameValue(res.Workload)
		if res.Level != "" {
			name += "/level=" + nameValue(res.Level)
		}
		for j := range res.Ops {
			o := &res.Ops[j]
			n := o.Count()
			if o.Errors > 0 || o.Unfinished > 0 {
				// Comment lines: benchstat has no unit for a count that is
				// not per op, and ignores them.
				fmt.Fprintf(&b, "# %s/op=%s: %d errors, %d unfinished\n", name, nameValue(o.Name), o.Errors, o.Unfinished)
			}
			if n == 0 {
				continue
			}
			s := Summarize(o.Latency)
			fmt.Fprintf(&b, "Benchmark%s/op=%s\t%8d\t%12s ns/op\t%12d p50-ns/op\t%12d p99-ns/op\t%12d p99.9-ns/op\t%12s ops/s\n",
				name, nameValue(o.Name), n, strconv.FormatFloat(s.Mean, 'f', 0, 64), s.P50, s.P99, s.P999,
				strconv.FormatFloat(o.Rate(res.Elapsed()), 'f', 2, 64))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// splitPlatform splits "linux/amd64, 2 CPUs, GOMAXPROCS 2" into its parts.
func splitPlatform(p string) (goos, goarch, rest string) {
	first, rest, _ := strings.Cut(p, ",")
	goos, goarch, _ = strings.Cut(strings.TrimSpace(first), "/")
	return goos, goarch, strings.TrimSpace(rest)
}

// configKey reports whether k can be a benchfmt configuration key: it
// starts with a lower-case letter and holds no space, upper-case letter or
// colon.
func configKey(k string) bool {
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		return false
	}
	return !strings.ContainsAny(k, " \t:ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// nameValue makes s usable as a key or value in a benchmark name: no
// spaces (they end the name) and no slashes (they separate keys).
func nameValue(s string) string {
	s = strings.Join(strings.Fields(s), "_")
	return strings.ReplaceAll(s, "/", ":")
}
