package results

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchfmt"
)

// TestBenchfmtReads checks that golang.org/x/perf's own reader parses the
// benchfmt output without a syntax error, with the names, values, units
// and configuration bench means.
func TestBenchfmtReads(t *testing.T) {
	run := synthRun(3, 1, nil)
	run.Results[0].Level = "workers=8"
	run.Results[0].Ops = append(run.Results[0].Ops, Op{Name: "forget", Latency: NewHistogram(), Errors: 3}) // never succeeded: left out
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, run); err != nil {
		t.Fatal(err)
	}
	rd := benchfmt.NewReader(bytes.NewReader(b.Bytes()), "run.txt")
	n := 0
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		case *benchfmt.Result:
			res := &run.Results[n/len(synthOps)]
			op, _ := res.Op(synthOps[n%len(synthOps)].name)
			want := "Celery/backend=" + res.Name + "/workload=roundtrip"
			if res.Level != "" {
				want += "/level=" + res.Level
			}
			want += "/op=" + op.Name
			if got := rec.Name.String(); got != want {
				t.Errorf("name %s, want %s", got, want)
			}
			base, parts := rec.Name.Parts()
			if string(base) != "Celery" || len(parts) < 3 {
				t.Errorf("name %s: base %s, parts %q", rec.Name, base, parts)
			}
			s := Summarize(op.Latency)
			for unit, want := range map[string]float64{
				"sec/op": s.Mean / 1e9, "p50-sec/op": float64(s.P50) / 1e9, "p99-sec/op": float64(s.P99) / 1e9,
				"p99.9-sec/op": float64(s.P999) / 1e9, "ops/s": op.Rate(res.Elapsed()),
			} {
				if got, ok := rec.Value(unit); !ok || got < want*0.999 || got > want*1.001 {
					t.Errorf("%s: %s = %v, want %v", rec.Name, unit, got, want)
				}
			}
			if rec.Iters != int(op.Count()) {
				t.Errorf("%s: iterations %d, want the count %d", rec.Name, rec.Iters, op.Count())
			}
			for k, want := range map[string]string{"goos": "linux", "goarch": "amd64", "pkg": BenchfmtPkg, "concurrency": "8", "celery": "5.6", "seed": "", "backend": "", "count": ""} {
				if got := rec.GetConfig(k); got != want {
					t.Errorf("config %s = %q, want %q", k, got, want)
				}
			}
			n++
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	if want := len(run.Results) * len(synthOps); n != want {
		t.Errorf("read %d results, want %d", n, want)
	}
	units := rd.Units()
	for unit, want := range map[string]int{"ops/s": 1, "p99-ns/op": -1, "ns/op": -1} {
		if got := units.GetBetter(unit); got != want {
			t.Errorf("unit %s: better %d, want %d", unit, got, want)
		}
	}
	for _, want := range []string{"# bench devel · go1.26.8 · seed 1 ·", "# backend=redis: redis://127.0.0.1:6379/0, Redis 1.0"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	if lookup, err := Lookup("benchfmt"); err != nil || lookup.Run == nil {
		t.Errorf("benchfmt is not a registered format: %v", err)
	}
}

// TestBenchstat runs the real benchstat on bench's benchfmt output of a
// run and of the same run with a 20% slowdown injected, and checks that it
// prints a comparison table that finds the slowdown. It needs the Go
// module proxy (go run golang.org/x/perf/cmd/benchstat@latest) and skips
// when benchstat cannot be built.
func TestBenchstat(t *testing.T) {
	if testing.Short() {
		t.Skip("builds benchstat")
	}
	dir := t.TempDir()
	write := func(name string, r *Run) {
		var b bytes.Buffer
		if err := WriteBenchfmt(&b, r); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Different seeds, as two separate bench runs have: the seed must not
	// split benchstat's table.
	write("base.txt", synthRun(8, 1, nil))
	write("head.txt", synthRun(8, 2, slower20))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	benchstat := func(args ...string) string {
		cmd := exec.CommandContext(ctx, "go", append([]string{"run", "golang.org/x/perf/cmd/benchstat@latest"}, args...)...)
		cmd.Dir = dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			if stdout.Len() == 0 {
				t.Skipf("benchstat could not be built or run: %v\n%s", err, stderr.String())
			}
			t.Fatalf("benchstat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return stdout.String()
	}
	out := benchstat("base.txt", "head.txt")
	t.Logf("benchstat base.txt head.txt:\n%s", out)
	for _, want := range []string{
		"pkg: github.com/celery-bench/bench", "concurrency: 8",
		"vs base", "sec/op", "p50-sec/op", "p99-sec/op", "p99.9-sec/op", "ops/s",
		"Celery/backend=redis/workload=roundtrip/op=store_result",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("benchstat output lacks %q", want)
		}
	}
	if strings.Count(out, "vs base") != len(benchfmtUnits) {
		t.Errorf("benchstat printed %d comparison tables, want one per unit (%d): the configuration split them", strings.Count(out, "vs base"), len(benchfmtUnits))
	}
	// benchstat finds the injected slowdown in every unit, and nothing
	// in the op that was not changed on the other backend.
	rows := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		for _, op := range []string{"backend=redis/workload=roundtrip/op=store_result", "backend=mysql/workload=roundtrip/op=store_result"} {
			if strings.HasPrefix(line, "Celery/"+op+" ") {
				rows[op]++
				if changed := !strings.Contains(line, " ~ "); changed != strings.Contains(op, "redis") {
					t.Errorf("benchstat: %q", line)
				}
			}
		}
	}
	if len(rows) != 2 || rows["backend=redis/workload=roundtrip/op=store_result"] != len(benchfmtUnits) {
		t.Errorf("benchstat rows: %v", rows)
	}
	t.Logf("benchstat -col /backend head.txt:\n%s", benchstat("-col", "/backend", "head.txt"))
}
