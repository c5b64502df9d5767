package workloads

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// A WorkloadFile describes a mixed workload in YAML:
//
//	# 70 % roundtrip, 20 % fire-and-forget, 10 % polling callers
//	mix:
//	  roundtrip: 70
//	  store-only: 20
//	  polling: 10
//	result_size: "64:70,4096:30"  # or 64, or 16-1024
//	progress_updates: 2           # tasks of the progress workload
//	failure_rate: 0.1             # tasks of the failure workload
//	retry_rate: 0.05
//	traceback_size: 2048
//	poll_interval: 500ms          # AsyncResult.get(interval=...) and polling
//	task_timeout: 60s
//	task_time: lognormal:p50=40ms,p99=900ms  # every task body (Dist syntax)
//	task_times:                   # per workload of the mix, over task_time
//	  store-only: 2s-5s
//	dispatch_delay: 1ms-3ms       # the broker's hand-off
//	celery:                       # Celery settings bench applies per run
//	  task_track_started: true    # (only with the matching bench run flag)
//
// Every field is optional except mix (unless --mix gives it). An unknown
// field, a value of the wrong type or out of range is an error naming the
// file, the line and the field.
type WorkloadFile struct {
	Path string
	// Mix maps registered workload names to positive weights, in file
	// order; MixLine is the line of the mix field (0 when absent).
	Mix     []MixEntry
	MixLine int

	ResultSizes *Sizes // nil: the run's --result-size

	ProgressUpdates *int     // nil: the progress workload's own
	FailureRate     *float64 // nil: the failure workload's own
	RetryRate       *float64
	TracebackSize   *int

	PollInterval time.Duration // 0: the run's --poll-interval
	TaskTimeout  time.Duration // 0: the run's --task-timeout

	TaskTime      *Dist           // nil: the run's --task-time
	TaskTimes     map[string]Dist // per mix workload, over TaskTime
	DispatchDelay *Dist           // nil: the run's --dispatch-delay

	// lines remembers where each set field is, for errors found later
	// (a setting for a workload the mix lacks).
	lines map[string]int
}

// MixEntry is one workload of a mix and its weight.
type MixEntry struct {
	Name   string
	Weight int
}

// celerySettings are the Celery settings a workload file may name, and the
// bench run flag that applies each: they configure backend and worker
// sessions for the whole run, which a workload cannot change.
var celerySettings = map[string]string{
	"task_track_started": "--track-started",
	"result_extended":    "--result-extended",
	"result_expires":     "--result-expires",
	"result_backend":     "--backend",
	"worker_concurrency": "--workers",

	"worker_prefetch_multiplier": "--prefetch-multiplier",
}

// ErrWorkloadFile is wrapped by every error about a workload file's content.
var ErrWorkloadFile = errors.New("invalid workload file")

// fileError is an error at a line of a workload file.
type fileError struct {
	path  string
	line  int
	field string
	msg   string
}

func (e *fileError) Error() string {
	loc := e.path
	if e.line > 0 {
		loc += ":" + strconv.Itoa(e.line)
	}
	if e.field != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.field, e.msg)
	}
	return loc + ": " + e.msg
}

func (e *fileError) Unwrap() error { return ErrWorkloadFile }

// ReadWorkloadFile reads and checks a workload file.
func ReadWorkloadFile(path string) (*WorkloadFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--workload-file: %w", err)
	}
	return ParseWorkloadFile(path, data)
}

// ParseWorkloadFile parses data, the content of the file at path (used in
// errors only).
func ParseWorkloadFile(path string, data []byte) (*WorkloadFile, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml's messages read "yaml: line 3: mapping values are not allowed…".
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if rest, ok := strings.CutPrefix(msg, "line "); ok {
			if n, tail, ok := strings.Cut(rest, ":"); ok {
				if l, err := strconv.Atoi(n); err == nil {
					line, msg = l, strings.TrimSpace(tail)
				}
			}
		}
		return nil, &fileError{path: path, line: line, msg: "not valid YAML: " + msg}
	}
	f := &WorkloadFile{Path: path, lines: map[string]int{}}
	if len(doc.Content) == 0 {
		return nil, &fileError{path: path, msg: "empty; it needs at least a mix"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &fileError{path: path, line: root.Line, msg: "must be a mapping of fields (mix:, result_size:, ...)"}
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if prev, dup := seen[k.Value]; dup {
			return nil, f.errf(k.Line, k.Value, "set twice (first on line %d)", prev)
		}
		seen[k.Value] = k.Line
		f.lines[k.Value] = k.Line
		if err := f.field(k, v); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *WorkloadFile) errf(line int, field, format string, args ...any) error {
	return &fileError{path: f.Path, line: line, field: field, msg: fmt.Sprintf(format, args...)}
}

// field decodes one top-level field.
func (f *WorkloadFile) field(k, v *yaml.Node) error {
	name := k.Value
	switch name {
	case "mix":
		f.MixLine = k.Line
		return f.mix(v)
	case "result_size":
		s, err := scalar(v)
		if err == nil {
			var sz Sizes
			if sz, err = ParseSizes(s); err == nil {
				f.ResultSizes = &sz
				return nil
			}
		}
		return f.errf(v.Line, name, "%v", err)
	case "progress_updates":
		n, err := f.intField(v, name, 0, MaxMembers)
		f.ProgressUpdates = &n
		return err
	case "traceback_size":
		n, err := f.intField(v, name, DefaultTracebackSize, 16<<20)
		f.TracebackSize = &n
		return err
	case "failure_rate", "retry_rate":
		var x float64
		if err := v.Decode(&x); err != nil || v.Kind != yaml.ScalarNode {
			return f.errf(v.Line, name, "must be a number between 0 and 1, got %s", show(v))
		}
		if !(x >= 0 && x <= 1) {
			return f.errf(v.Line, name, "must be between 0 and 1, got %v", x)
		}
		if name == "failure_rate" {
			f.FailureRate = &x
		} else {
			f.RetryRate = &x
		}
		return nil
	case "poll_interval", "task_timeout":
		s, err := scalar(v)
		var d time.Duration
		if err == nil {
			d, err = time.ParseDuration(s)
		}
		if err != nil || d <= 0 || d > 24*time.Hour {
			return f.errf(v.Line, name, "must be a positive duration up to 24h like 500ms or 2s, got %s", show(v))
		}
		if name == "poll_interval" {
			f.PollInterval = d
		} else {
			f.TaskTimeout = d
		}
		return nil
	case "task_time", "dispatch_delay":
		s, err := scalar(v)
		var d Dist
		if err == nil {
			d, err = ParseDist(s)
		}
		if err != nil {
			return f.errf(v.Line, name, "%v", err)
		}
		if name == "task_time" {
			f.TaskTime = &d
		} else {
			f.DispatchDelay = &d
		}
		return nil
	case "task_times":
		if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
			return f.errf(v.Line, name, "must map workload names of the mix to task times (store-only: 2s), got %s", show(v))
		}
		f.TaskTimes = map[string]Dist{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			k, dv := v.Content[i], v.Content[i+1]
			field := name + "." + k.Value
			if _, dup := f.TaskTimes[k.Value]; dup {
				return f.errf(k.Line, field, "set twice")
			}
			if err := checkComponent(k.Value); err != nil {
				return f.errf(k.Line, field, "%v", err)
			}
			s, err := scalar(dv)
			var d Dist
			if err == nil {
				d, err = ParseDist(s)
			}
			if err != nil {
				return f.errf(dv.Line, field, "%v", err)
			}
			f.TaskTimes[k.Value] = d
			f.lines[field] = k.Line
		}
		return nil
	case "celery":
		if v.Kind != yaml.MappingNode {
			return f.errf(v.Line, name, "must be a mapping of Celery settings, got %s", show(v))
		}
		for i := 0; i+1 < len(v.Content); i += 2 {
			sk := v.Content[i]
			field := "celery." + sk.Value
			if flag, ok := celerySettings[sk.Value]; ok {
				return f.errf(sk.Line, field, "is not supported in a workload file: it applies to every backend and worker session of the run; use bench run %s", flag)
			}
			return f.errf(sk.Line, field, "unknown Celery setting (bench reproduces task_track_started, result_extended and result_expires, each by its bench run flag)")
		}
		return nil
	}
	return f.errf(k.Line, name, "unknown field; use mix, result_size, progress_updates, failure_rate, retry_rate, traceback_size, poll_interval, task_timeout, task_time, task_times, dispatch_delay or celery")
}

// mix decodes the mix mapping: workload name → weight.
func (f *WorkloadFile) mix(v *yaml.Node) error {
	if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
		return f.errf(v.Line, "mix", "must map workload names to weights (roundtrip: 70), got %s", show(v))
	}
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, w := v.Content[i], v.Content[i+1]
		field := "mix." + k.Value
		for _, e := range f.Mix {
			if e.Name == k.Value {
				return f.errf(k.Line, field, "set twice")
			}
		}
		if err := checkComponent(k.Value); err != nil {
			return f.errf(k.Line, field, "%v", err)
		}
		var n int
		if err := w.Decode(&n); err != nil || w.Kind != yaml.ScalarNode || n <= 0 {
			return f.errf(w.Line, field, "the weight must be a positive integer, got %s", show(w))
		}
		f.Mix = append(f.Mix, MixEntry{Name: k.Value, Weight: n})
	}
	return nil
}

// intField decodes an integer between min and max.
func (f *WorkloadFile) intField(v *yaml.Node, name string, min, max int) (int, error) {
	var n int
	if err := v.Decode(&n); err != nil || v.Kind != yaml.ScalarNode {
		return 0, f.errf(v.Line, name, "must be an integer, got %s", show(v))
	}
	if n < min || n > max {
		return 0, f.errf(v.Line, name, "must be between %d and %d, got %d", min, max, n)
	}
	return n, nil
}

// scalar returns a scalar node's text.
func scalar(v *yaml.Node) (string, error) {
	if v.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("must be a single value, got %s", show(v))
	}
	return v.Value, nil
}

// show describes a node for an error message.
func show(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(v.Value)
	}
	return "nothing"
}
