package workloads

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"slices"
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
	file         *WorkloadFile
	pollInterval time.Duration
	taskTimeout  time.Duration
	taskTime     *Dist // nil: the run's --task-time
	delay        *Dist // nil: the run's --dispatch-delay
}

type component struct {
	name     string
	w        Workload
	weight   int
	taskTime *Dist // the file's task_times entry; nil: the mix's
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
		comp := component{name: e.Name, w: w, weight: e.Weight}
		if file != nil {
			if d, ok := file.TaskTimes[e.Name]; ok {
				comp.taskTime = &d
			}
		}
		m.comps = append(m.comps, comp)
		m.total += e.Weight
	}
	m.file = file
	if file != nil {
		if err := file.checkUsed(entries); err != nil {
			return err
		}
		if file.ResultSizes != nil {
			m.payloads = MakePayloads(sizesSeed(file.ResultSizes.String()), *file.ResultSizes)
		}
		m.pollInterval, m.taskTimeout = file.PollInterval, file.TaskTimeout
		m.taskTime, m.delay = file.TaskTime, file.DispatchDelay
	}
	return nil
}

// Describe states the mix's weights, its components' settings and what
// its workload file set (Describer): "mix roundtrip 70 %, polling 30 % ·
// from mix.yaml: poll_interval 20ms".
func (m *mix) Describe() string {
	var b strings.Builder
	b.WriteString("mix ")
	for i, c := range m.comps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s %%", c.name, strconv.FormatFloat(100*float64(c.weight)/float64(m.total), 'g', 3, 64))
	}
	for _, c := range m.comps {
		if d := Describe(c.w); d != "" {
			fmt.Fprintf(&b, " · %s: %s", c.name, strings.ReplaceAll(d, " · ", ", "))
		}
	}
	f := m.file
	if f == nil {
		return b.String()
	}
	var set []string // result_size shows in the run's result sizes (SizesSource)
	if f.PollInterval > 0 {
		set = append(set, "poll_interval "+f.PollInterval.String())
	}
	if f.TaskTimeout > 0 {
		set = append(set, "task_timeout "+f.TaskTimeout.String())
	}
	if f.TaskTime != nil {
		set = append(set, "task_time "+f.TaskTime.String())
	}
	for _, c := range m.comps {
		if c.taskTime != nil {
			set = append(set, "task_time of "+c.name+" "+c.taskTime.String())
		}
	}
	if f.DispatchDelay != nil {
		set = append(set, "dispatch_delay "+f.DispatchDelay.String())
	}
	if len(set) > 0 {
		fmt.Fprintf(&b, " · from %s: %s", filepath.Base(f.Path), strings.Join(set, " · "))
	}
	return b.String()
}

// ResultSizes reports the workload file's result_size, which replaces the
// run's --result-size (SizesSource).
func (m *mix) ResultSizes() (Sizes, bool) {
	if m.file == nil || m.file.ResultSizes == nil {
		return Sizes{}, false
	}
	return *m.file.ResultSizes, true
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
	if fs, ok := w.(FileSetter); ok && file != nil {
		if err := fs.SetFromFile(file); err != nil {
			return nil, err
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
// would otherwise be silently ignored: every field a registered
// FileSetter reads must belong to a workload of the mix when it is set.
func (f *WorkloadFile) checkUsed(entries []MixEntry) error {
	inMix := map[string]bool{}
	for _, e := range entries {
		inMix[e.Name] = true
	}
	for name := range f.TaskTimes {
		if !inMix[name] {
			field := "task_times." + name
			return f.errf(f.lines[field], field, "the mix does not include the %s workload", name)
		}
	}
	for _, m := range Registered() {
		fs, ok := m.New().(FileSetter)
		if !ok || inMix[m.Name] {
			continue
		}
		for _, field := range fs.FileFields() {
			if line, set := f.lines[field]; set {
				return f.errf(line, field, "applies to the %s workload, which the mix does not include", m.Name)
			}
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

// Ops are the mix's count of tasks, then every component's operations in
// the order the mix lists them.
func (m *mix) Ops() []string {
	out := []string{OpTask}
	for _, comp := range m.comps {
		for _, op := range comp.w.Ops() {
			if !slices.Contains(out, op) {
				out = append(out, op)
			}
		}
	}
	return out
}

// Start starts every component's own run state.
func (m *mix) Start() Load {
	r := &mixRun{cfg: m, loads: make([]Load, len(m.comps))}
	for i, comp := range m.comps {
		r.loads[i] = comp.w.Start()
	}
	return r
}

// mixRun is one measurement of a mix: its components' loads.
type mixRun struct {
	cfg   *mix
	loads []Load // by component
}

func (r *mixRun) Call(ctx context.Context, c *Caller) error {
	m := r.cfg
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
	c.TaskTime, c.DispatchDelay = c.runTime, c.runDelay
	if m.taskTime != nil {
		c.TaskTime = *m.taskTime
	}
	if m.delay != nil {
		c.DispatchDelay = *m.delay
	}
	n := c.rng.IntN(m.total)
	for i, comp := range m.comps {
		if n < comp.weight {
			if comp.taskTime != nil {
				c.TaskTime = *comp.taskTime
			}
			return r.loads[i].Call(ctx, c)
		}
		n -= comp.weight
	}
	return nil // unreachable: the weights sum to total
}
