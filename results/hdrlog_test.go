package results

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// TestHDRLogRoundTrip writes a run as an interval log and reads it back
// with hdrhistogram-go's HistogramLogReader: every op of every result
// comes back once, tagged, with its window and its exact histogram.
func TestHDRLogRoundTrip(t *testing.T) {
	run := synthRun(2, 1, nil)
	run.Started = run.Started.Add(123e6) // a start off the second: timestamps stay absolute
	run.Results[1].Level = "workers=8"
	var b bytes.Buffer
	if err := WriteHDRLog(&b, run); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for i, want := range []string{"#[Histogram log format version 1.3]", "#[Logged by bench devel", "#[workload roundtrip",
		"#[StartTime: 1795654800 (seconds since epoch), 2026-11-26T01:00:00Z]", "#[BaseTime: 1795654800 (seconds since epoch)]",
		`"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"`, "Tag=backend=redis/workload=roundtrip/op=roundtrip/rep=0,1.000000,2.000000,"} {
		if !strings.HasPrefix(lines[i], want) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], want)
		}
	}

	want := map[string]*Op{}
	windows := map[string][2]int64{}
	for i := range run.Results {
		res := &run.Results[i]
		for j := range res.Ops {
			tag := fmt.Sprintf("backend=%s/workload=roundtrip/op=%s/rep=%d", res.Name, res.Ops[j].Name, res.Rep)
			if res.Level != "" {
				tag = strings.Replace(tag, "/op=", "/level="+res.Level+"/op=", 1)
			}
			want[tag] = &res.Ops[j]
			windows[tag] = [2]int64{res.Start.UnixMilli(), res.End.UnixMilli()}
		}
	}
	rd := hdrhistogram.NewHistogramLogReader(bytes.NewReader(b.Bytes()))
	var last int64
	for {
		h, err := rd.NextIntervalHistogram()
		if err != nil {
			t.Fatal(err)
		}
		if h == nil {
			break
		}
		o, ok := want[h.Tag()]
		if !ok {
			t.Errorf("unexpected or repeated interval %q", h.Tag())
			continue
		}
		delete(want, h.Tag())
		if !h.Equals(o.Latency) {
			t.Errorf("%s: histogram differs (count %d, p99 %d; want %d, %d)", h.Tag(), h.TotalCount(), h.ValueAtPercentile(99), o.Count(), o.Latency.ValueAtPercentile(99))
		}
		w := windows[h.Tag()]
		if d := h.StartTimeMs() - w[0]; d < -1 || d > 1 {
			t.Errorf("%s: start %d ms, want %d", h.Tag(), h.StartTimeMs(), w[0])
		}
		if d := h.EndTimeMs() - w[1]; d < -1 || d > 1 {
			t.Errorf("%s: end %d ms, want %d", h.Tag(), h.EndTimeMs(), w[1])
		}
		if h.StartTimeMs() < last {
			t.Errorf("%s starts before the interval above it", h.Tag())
		}
		last = h.StartTimeMs()
	}
	for tag := range want {
		t.Errorf("interval %s missing", tag)
	}
	if run.Results[0].Ops[0].Latency.Tag() != "" {
		t.Error("WriteHDRLog tagged the run's own histogram")
	}
}

// TestHDRLogJava reads the log with the reference implementation's own
// tool, Java HdrHistogram's HistogramLogProcessor (Debian package
// libhdrhistogram-java, or the jar named by BENCH_HDRHISTOGRAM_JAR), when
// it is installed: it must select one op's interval by its tag and report
// that op's count and median (in milliseconds).
func TestHDRLogJava(t *testing.T) {
	jar := os.Getenv("BENCH_HDRHISTOGRAM_JAR")
	if jar == "" {
		jar = "/usr/share/java/hdrhistogram.jar"
	}
	java, err := exec.LookPath("java")
	if _, serr := os.Stat(jar); err != nil || serr != nil {
		t.Skipf("needs java and %s (apt-get install libhdrhistogram-java)", jar)
	}
	run := synthRun(2, 1, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "run.hlog")
	var b bytes.Buffer
	if err := WriteHDRLog(&b, run); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res := &run.Results[2] // redis, rep 1
	op, _ := res.Op("store_result")
	tag := "backend=redis/workload=roundtrip/op=store_result/rep=1"
	out, err := exec.Command(java, "-cp", jar, "org.HdrHistogram.HistogramLogProcessor",
		"-i", path, "-tag", tag, "-csv", "-o", filepath.Join(dir, "out")).CombinedOutput()
	if err != nil {
		t.Fatalf("HistogramLogProcessor: %v\n%s", err, out)
	}
	csv, err := os.ReadFile(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	// "Timestamp","Int_Count","Int_50%",...: one interval, ending at the
	// result's end, relative to the log's start.
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(string(csv)), "\n") {
		if !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, `"`) {
			rows = append(rows, l)
		}
	}
	if len(rows) != 1 {
		t.Fatalf("HistogramLogProcessor printed %d intervals for %s, want 1:\n%s", len(rows), tag, csv)
	}
	f := strings.Split(rows[0], ",")
	end := res.End.Sub(run.Started.Truncate(time.Second)).Seconds()
	if f[0] != strconv.FormatFloat(end, 'f', 3, 64) || f[1] != strconv.FormatInt(op.Count(), 10) {
		t.Errorf("interval %q, want end %.3f s and count %d", rows[0], end, op.Count())
	}
	if got, _ := strconv.ParseFloat(f[2], 64); math.Abs(got-float64(op.Latency.ValueAtPercentile(50))/1e6) > 0.001 {
		t.Errorf("median %s ms, want %.3f", f[2], float64(op.Latency.ValueAtPercentile(50))/1e6)
	}
	t.Logf("HistogramLogProcessor -tag %s:\n%s", tag, csv)
}
