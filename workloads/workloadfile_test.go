package workloads

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadWorkloadFile(t *testing.T) {
	f, err := ReadWorkloadFile("testdata/mix.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []MixEntry{{"roundtrip", 70}, {"polling", 10}, {"progress", 10}, {"failure", 10}}
	if len(f.Mix) != len(want) {
		t.Fatalf("mix %v, want %v", f.Mix, want)
	}
	for i := range want {
		if f.Mix[i] != want[i] {
			t.Errorf("mix[%d] = %v, want %v", i, f.Mix[i], want[i])
		}
	}
	if f.ResultSizes.String() != "64:70,4096:30" || *f.ProgressUpdates != 3 || *f.FailureRate != 0.5 ||
		*f.RetryRate != 0.2 || *f.TracebackSize != 2048 || f.PollInterval != 20*time.Millisecond || f.TaskTimeout != 30*time.Second {
		t.Errorf("decoded %+v", f)
	}
}

// TestWorkloadFileErrors checks that every invalid file is refused with
// the line and the field at fault.
func TestWorkloadFileErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"mix:\n  roundtrip: 70\nresult_sise: 64\n", "w.yaml:3: result_sise: unknown field"},
		{"mix:\n  roundtrip: 70\n  nosuch: 5\n", "w.yaml:3: mix.nosuch: unknown workload"},
		{"mix:\n  mix: 1\n", "w.yaml:2: mix.mix: a mix cannot contain mix"},
		{"mix:\n  roundtrip: -1\n", "w.yaml:2: mix.roundtrip: the weight must be a positive integer"},
		{"mix:\n  roundtrip: 1\nfailure_rate: 1.5\n", "w.yaml:3: failure_rate: must be between 0 and 1"},
		{"mix:\n  roundtrip: 1\nresult_size: 10-5\n", "w.yaml:3: result_size: size \"10-5\""},
		{"mix:\n  roundtrip: 1\npoll_interval: soon\n", "w.yaml:3: poll_interval: must be a positive duration"},
		{"mix:\n  roundtrip: 1\ncelery:\n  task_track_started: true\n", "w.yaml:4: celery.task_track_started: is not supported in a workload file"},
		{"mix:\n  roundtrip: 1\ncelery:\n  broker_url: x\n", "w.yaml:4: celery.broker_url: unknown Celery setting"},
		{"mix:\n  roundtrip: 1\nmix:\n  polling: 1\n", "w.yaml:3: mix: set twice (first on line 1)"},
		{"mix: [roundtrip]\n", "w.yaml:1: mix: must map workload names to weights"},
		{"mix:\n  roundtrip: 1\n bad indent\n", "w.yaml:2: not valid YAML"},
		{"traceback_size: 10\n", "w.yaml:1: traceback_size: must be between 591 and"},
		{"mix:\n  roundtrip: 1\ntask_time: -5ms\n", "w.yaml:3: task_time:"},
		{"mix:\n  roundtrip: 1\ntask_times:\n  nosuch: 5ms\n", "w.yaml:4: task_times.nosuch: unknown workload"},
		{"mix:\n  roundtrip: 1\ndispatch_delay: lognormal:p50=1ms\n", "w.yaml:3: dispatch_delay:"},
		{"mix:\n  roundtrip: 1\ncelery:\n  worker_prefetch_multiplier: 1\n", "w.yaml:4: celery.worker_prefetch_multiplier: is not supported in a workload file"},
	} {
		_, err := ParseWorkloadFile("w.yaml", []byte(tc.text))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !errors.Is(err, ErrWorkloadFile) {
			t.Errorf("file %q:\n got %v\nwant %s…", tc.text, err, tc.want)
		}
	}
}

// TestMixTaskTimes: a workload file's task_time applies to every
// component, task_times overrides it per component, and a component the
// mix lacks is refused.
func TestMixTaskTimes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.yaml")
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mix:\n  roundtrip: 1\n  store-only: 1\ntask_time: 50ms\ntask_times:\n  store-only: 2s\ndispatch_delay: 1ms-3ms\n")
	m := &mix{filePath: path}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.taskTime.String() != "50ms" || m.delay.String() != "1ms-3ms" {
		t.Errorf("mix task time %v, delay %v", m.taskTime, m.delay)
	}
	for _, c := range m.comps {
		got := "none"
		if c.taskTime != nil {
			got = c.taskTime.String()
		}
		if want := map[string]string{"roundtrip": "none", "store-only": "2s"}[c.name]; got != want {
			t.Errorf("component %s task time %s, want %s", c.name, got, want)
		}
	}
	write("mix:\n  roundtrip: 1\ntask_times:\n  polling: 2s\n")
	if err := (&mix{filePath: path}).Validate(); err == nil || !strings.Contains(err.Error(), "w.yaml:4: task_times.polling: the mix does not include the polling workload") {
		t.Errorf("a task time for a workload outside the mix: %v", err)
	}
}

func TestMixValidate(t *testing.T) {
	for _, tc := range []struct{ spec, file, want string }{
		{"roundtrip=70,store-only=20,polling=10", "", ""},
		{"", "testdata/mix.yaml", ""},
		{"", "", "the mix workload needs --mix"},
		{"roundtrip", "", `parsing --mix: "roundtrip" is not name=weight`},
		{"roundtrip=0", "", "parsing --mix: the weight of roundtrip must be a positive integer"},
		{"mix=1", "", "parsing --mix: a mix cannot contain mix"},
		{"roundtrip=1,roundtrip=2", "", "parsing --mix: roundtrip is listed twice"},
		{"roundtrip=1", "testdata/mix.yaml", "--mix and the mix in testdata/mix.yaml:2 both give the mix"},
		{"", "testdata/nosuch.yaml", "--workload-file: open testdata/nosuch.yaml"},
	} {
		m := &mix{spec: tc.spec, filePath: tc.file}
		err := m.Validate()
		if (err == nil) != (tc.want == "") || err != nil && !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("--mix %q --workload-file %q: got %v, want %q", tc.spec, tc.file, err, tc.want)
		}
	}
	// A lifecycle setting for a workload the mix lacks is refused, not ignored.
	f, err := ParseWorkloadFile("w.yaml", []byte("mix:\n  roundtrip: 1\nprogress_updates: 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.checkUsed(f.Mix); err == nil || !strings.HasPrefix(err.Error(), "w.yaml:3: progress_updates: applies to the progress workload") {
		t.Errorf("checkUsed: %v", err)
	}
}

func TestTraceback(t *testing.T) {
	base := traceback(failureExc, 0)
	if !strings.HasPrefix(base, "Traceback (most recent call last):\n  File \"") ||
		!strings.Contains(base, "/celery/app/trace.py\", line 451, in trace_task\n") ||
		!strings.HasSuffix(base, "\nValueError: ('boom', 42)\n") || len(base) != DefaultTracebackSize {
		t.Errorf("base traceback (%d bytes):\n%s", len(base), base)
	}
	for _, n := range []int{DefaultTracebackSize, DefaultTracebackSize + 1, DefaultTracebackSize + 3, 1000, 2048, 65536} {
		if got := len(traceback(failureExc, n)); got != n {
			t.Errorf("traceback(%d) is %d bytes", n, got)
		}
	}
	// B/flaky: the Retry exception's traceback, through Celery's retry frame.
	r := traceback(retryExc, 0)
	if !strings.Contains(r, "    raise self.retry(exc=KeyError('once'), countdown=0.2)\n          ^^^^") ||
		!strings.HasSuffix(r, "/celery/app/task.py\", line 738, in retry\n    raise ret\ncelery.exceptions.Retry: Retry in 0.2s: KeyError('once')\n") {
		t.Errorf("retry traceback:\n%s", r)
	}
	for _, n := range []int{len(r), 1000, 4096} {
		if got := len(traceback(retryExc, n)); got != n {
			t.Errorf("retry traceback(%d) is %d bytes", n, got)
		}
	}
}
