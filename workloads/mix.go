package workloads

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

func init() {
	Register(Meta{
		Name:        "mix",
		Description: "a weighted mix of other workloads per task (--mix roundtrip=70,store-only=20,polling=10, or --workload-file)",
		New:         func() Workload { return &mix{} },
	})
}

// A Composer is a workload built from other workloads. The runner calls
// UseWorkloads after parsing flags and before Validate, with the
// flag-bound instance of every registered workload, so that a component
// runs with the flags given for it (--progress-updates, --failure-rate).
// Without that call a composer makes fresh instances with their defaults.
type Composer interface {
	UseWorkloads(lookup func(name string) Workload)
}

// mix runs, on each call, one component workload drawn by weight from the
// caller's seeded generator, so a seed replays the same sequence per
// caller. Every component's tasks run on the same workers; the mix counts
// tasks by OpTask, which every executed task records.
type mix struct {
	spec     string // --mix
	filePath string // --workload-file
	lookup   func(name string) Workload

	// Built by Validate; read-only afterwards.
	comps        []component
	total        int
	payloads     []string // nil: the run's
	pollInterval time.Duration
	taskTimeout  time.Duration
}

type component struct {
	name   string
	w      Workload
	weight int
}

var _ Composer = (*mix)(nil)

func (m *mix) UseWorkloads(lookup func(name string) Workload) { m.lookup = lookup }

func (m *mix) Flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("mix", pflag.ContinueOnError)
	fs.StringVar(&m.spec, "mix", "", "mix workload: weights of the workloads to mix, name=weight,... (roundtrip=70,store-only=20,polling=10)")
	fs.StringVar(&m.filePath, "workload-file", "", "mix workload: YAML file with the mix, result sizes and lifecycle settings (see workloads.WorkloadFile)")
	return fs
}

// ParseMix parses "roundtrip=70,store-only=20,polling=10".
func ParseMix(s string) ([]MixEntry, error) {
	var out []MixEntry
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		name, weight, ok := strings.Cut(e, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("parsing --mix: %q is not name=weight", e)
		}
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("parsing --mix: the weight of %s must be a positive integer, got %q", name, weight)
		}
		if err := checkComponent(name); err != nil {
			return nil, fmt.Errorf("parsing --mix: %w", err)
		}
		for _, p := range out {
			if p.Name == name {
				return nil, fmt.Errorf("parsing --mix: %s is listed twice", name)
			}
		}
		out = append(out, MixEntry{Name: name, Weight: w})
	}
	return out, nil
}

// checkComponent reports whether name can be mixed.
func checkComponent(name string) error {
	if name == "mix" {
		return errors.New("a mix cannot contain mix")
	}
	if _, err := Lookup(name); err != nil {
		return err
	}
	return nil
}

func (m *mix) Validate() error {
	var entries []MixEntry
	var file *WorkloadFile
	if m.filePath != "" {
		var err error
		if file, err = ReadWorkloadFile(m.filePath); err != nil {
			return err
		}
		entries = file.Mix
	}
	switch {
	case m.spec != "" && file != nil && file.Mix != nil:
		return fmt.Errorf("--mix and the mix in %s:%d both give the mix; use one", file.Path, file.MixLine)
	case m.spec != "":
		var err error
		if entries, err = ParseMix(m.spec); err != nil {
			return err
		}
	case file != nil && file.Mix == nil:
		return fmt.Errorf("%s: mix: missing; list the workloads to mix (roundtrip: 70), or give --mix", file.Path)
	case file == nil:
		return errors.New("the mix workload needs --mix (roundtrip=70,store-only=20,polling=10) or --workload-file")
	}
	m.comps, m.total = nil, 0
	for _, e := range entries {
		w, err := m.component(e.Name, file)
		if err != nil {
			return err
		}
		m.comps = append(m.comps, component{name: e.Name, w: w, weight: e.Weight})
		m.total += e.Weight
	}
	if file != nil {
		if err := file.checkUsed(entries); err != nil {
			return err
		}
		if file.ResultSizes != nil {
			m.payloads = MakePayloads(sizesSeed(file.ResultSizes.String()), *file.ResultSizes)
		}
		m.pollInterval, m.taskTimeout = file.PollInterval, file.TaskTimeout
	}
	return nil
}

// component returns the named workload configured for the mix: the file's
// settings when a file is given, else the flag-bound instance the runner
// passed (UseWorkloads), else a fresh one with its defaults.
func (m *mix) component(name string, file *WorkloadFile) (Workload, error) {
	var w Workload
	if file == nil && m.lookup != nil {
		w = m.lookup(name)
	}
	if w == nil {
		meta, err := Lookup(name)
		if err != nil {
			return nil, err
		}
		w = meta.New()
	}
	if file != nil {
		switch c := w.(type) {
		case *progress:
			if file.ProgressUpdates != nil {
				c.updates = *file.ProgressUpdates
			}
		case *failure:
			if file.FailureRate != nil {
				c.failureRate = *file.FailureRate
			}
			if file.RetryRate != nil {
				c.retryRate = *file.RetryRate
			}
			if file.TracebackSize != nil {
				c.tracebackSize = *file.TracebackSize
			}
		}
	}
	if v, ok := w.(Validator); ok {
		if err := v.Validate(); err != nil {
			return nil, fmt.Errorf("mix component %s: %w", name, err)
		}
	}
	return w, nil
}

// checkUsed rejects lifecycle settings for workloads the mix lacks, which
// would otherwise be silently ignored.
func (f *WorkloadFile) checkUsed(entries []MixEntry) error {
	has := func(name string) bool {
		for _, e := range entries {
			if e.Name == name {
				return true
			}
		}
		return false
	}
	for _, s := range []struct {
		field, workload string
		set             bool
	}{
		{"progress_updates", "progress", f.ProgressUpdates != nil},
		{"failure_rate", "failure", f.FailureRate != nil},
		{"retry_rate", "failure", f.RetryRate != nil},
		{"traceback_size", "failure", f.TracebackSize != nil},
	} {
		if s.set && !has(s.workload) {
			return f.errf(f.lines[s.field], s.field, "applies to the %s workload, which the mix does not include", s.workload)
		}
	}
	return nil
}

// sizesSeed derives the payload seed of a workload file's result sizes
// from their text, so a file replays the same payloads.
func sizesSeed(text string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(text))
	return h.Sum64()
}

func (m *mix) PrimaryOp() string { return OpTask }

func (m *mix) Call(ctx context.Context, c *Caller) error {
	if m.total == 0 {
		return errors.New("mix: not configured (Validate was not called)")
	}
	if m.payloads != nil {
		c.payloads = m.payloads
	}
	if m.pollInterval > 0 {
		c.PollInterval = m.pollInterval
	}
	if m.taskTimeout > 0 {
		c.TaskTimeout = m.taskTimeout
	}
	r := c.rng.IntN(m.total)
	for _, comp := range m.comps {
		if r < comp.weight {
			return comp.w.Call(ctx, c)
		}
		r -= comp.weight
	}
	return nil // unreachable: the weights sum to total
}
