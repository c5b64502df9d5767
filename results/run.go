package results

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// FormatVersion names the layout of the JSON run file.
const FormatVersion = "bench-run/1"

// A Run is the complete, self-describing result of one "bench run": what
// was run, with which settings, against which servers, and every latency
// histogram. Every output format is rendered from a Run, so a saved run file
// can be rendered again later ("bench report").
type Run struct {
	Format string `json:"format"` // FormatVersion
	// ID is drawn at random (NewRunID) when the run starts, so that no two
	// runs share one; "" in files written before it existed (see Identity).
	ID string `json:"id,omitempty"`
	// MergedFrom are the identities of the runs Merge combined into this
	// one, so that merging it again with one of them is refused.
	MergedFrom []string  `json:"merged_from,omitempty"`
	Bench      string    `json:"bench"`                 // bench version
	Go         string    `json:"go"`                    // Go toolchain version
	Platform   string    `json:"platform"`              // GOOS/GOARCH, CPUs, GOMAXPROCS
	Started    time.Time `json:"started"`               // wall clock at start
	Ended      time.Time `json:"ended"`                 // wall clock at end
	Seed       uint64    `json:"seed"`                  // replays the same ids and payloads
	Summary    string    `json:"summary"`               // the settings that shape the figures, in one line
	Options    []Option  `json:"options"`               // every setting, passwords redacted
	Results    []Result  `json:"results"`               // one per backend, in run order
	Interrupt  string    `json:"interrupted,omitempty"` // why the run stopped early
	Findings   []string  `json:"findings,omitempty"`    // conclusions drawn over several results (SLO searches)
	// Thresholds are the --threshold checks, per threshold and backend,
	// evaluated on the measured window (EvaluateThresholds).
	Thresholds []ThresholdCheck `json:"thresholds,omitempty"`
}

// NewRunID returns a random run id: 128 bits from crypto/rand, as 32
// hexadecimal digits.
func NewRunID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return hex.EncodeToString(b[:])
}

// Identity is what tells this run from every other: its ID, or, in a file
// written before runs had one, "derived-" and a hash of its start time,
// seed and the start of every result's measurement window, which two
// different runs cannot all share.
func (r *Run) Identity() string {
	if r.ID != "" {
		return r.ID
	}
	h := sha256.New()
	fmt.Fprintf(h, "started=%d seed=%d", r.Started.UnixNano(), r.Seed)
	for i := range r.Results {
		fmt.Fprintf(h, " %d", r.Results[i].Start.UnixNano())
	}
	return "derived-" + hex.EncodeToString(h.Sum(nil)[:16])
}

// Parts are the identities of the runs this run is made of: those Merge
// combined, or its own.
func (r *Run) Parts() []string {
	if len(r.MergedFrom) > 0 {
		return r.MergedFrom
	}
	return []string{r.Identity()}
}

// Option is one setting of the run, as NAME=VALUE.
type Option struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Option returns the value of the named option and whether it is present.
func (r *Run) Option(name string) (string, bool) {
	for _, o := range r.Options {
		if o.Name == name {
			return o.Value, true
		}
	}
	return "", false
}

// Embedded reports whether any result came from an embedded server.
func (r *Run) Embedded() bool {
	for _, res := range r.Results {
		if res.Server.Embedded {
			return true
		}
	}
	return false
}

// Result is what one backend measured under one workload.
type Result struct {
	Backend  string `json:"backend"`  // the URL, password redacted
	Name     string `json:"name"`     // backend implementation, "redis"
	Server   Server `json:"server"`   // what answered
	Workload string `json:"workload"` // "roundtrip"
	// Level names the sweep level this result measured ("workers=32",
	// "rate=500"); "" outside a sweep.
	Level string `json:"level,omitempty"`
	// Rep is the repetition (0-based) of --count repeated runs.
	Rep   int       `json:"rep"`
	Start time.Time `json:"start"` // measurement window, after warm-up
	End   time.Time `json:"end"`
	Ops   []Op      `json:"ops"` // task-level timings first, then backend operations
	// Interrupted is set when the run was stopped before its planned end.
	Interrupted bool `json:"interrupted,omitempty"`
	// Stopped is the verdict of a measurement that stopped early because
	// an operation failed every time; "" otherwise.
	Stopped string `json:"stopped,omitempty"`
	// Notes are caveats that travel with the figures.
	Notes []string `json:"notes,omitempty"`
	// Stats are what the server spent during the window, from its own
	// counters (none for backends that expose none). Combine keeps the
	// first repetition's.
	Stats ServerStats `json:"server_stats,omitempty"`
	// ServerRestart says how the server was seen to restart between the
	// window's two snapshots ("run_id changed"); Stats then holds no
	// figure derived from them (RestartNote). "" when it did not.
	ServerRestart string `json:"server_restart,omitempty"`
	// Outages are the stretches of the window in which the primary op
	// had no success (FindOutages).
	Outages []Outage `json:"outages,omitempty"`
	// Pipeline is the simulated pipeline's load (nil in run files from
	// before it was recorded). Combine keeps the first repetition's.
	Pipeline *Pipeline `json:"pipeline,omitempty"`
}

// RestartNote replaces the server-cost figures of a result whose server
// restarted during the measured window: differences of its counters mean
// nothing.
const RestartNote = "server restarted during the run: server cost not measured"

// Caveats are the result's notes, its server restart (RestartNote) and
// its outages, one line each: what formats with one notes column print.
func (r *Result) Caveats() []string {
	out := slices.Clone(r.Notes)
	if r.ServerRestart != "" {
		out = append(out, RestartNote+" ("+r.ServerRestart+")")
	}
	for _, o := range r.Outages {
		out = append(out, "outage: "+o.String())
	}
	return out
}

// Server describes the server behind a backend.
type Server struct {
	Product  string `json:"product"`
	Version  string `json:"version"`
	Embedded bool   `json:"embedded"` // an in-process stand-in: figures are not representative
}

func (s Server) String() string {
	out := s.Product
	if s.Version != "" {
		out += " " + s.Version
	}
	if s.Embedded {
		out += " (embedded)"
	}
	return out
}

// Key identifies what a result measured, across repetitions.
func (r *Result) Key() string { return r.Backend + "\x00" + r.Workload + "\x00" + r.Level }

// Combine merges the repetitions of each backend, workload and level into
// one Result (histograms, error and over-range counts summed, measured time
// summed, so rates are averages over the repetitions; server figures as
// statsAcc says), in first-seen order,
// with a note for every op that had latencies above the histogram's
// ceiling. It does not change r.
func (r *Run) Combine() []Result {
	var out []Result
	var stats []statsAcc
	idx := map[string]int{}
	for _, res := range r.Results {
		k := res.Key()
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			c := res
			c.Ops = nil
			c.mergeOps(res.Ops)
			c.Notes = slices.Clone(c.Notes)
			c.Outages = slices.Clone(c.Outages)
			out = append(out, c)
			stats = append(stats, statsAcc{})
			stats[len(stats)-1].add(&res)
			continue
		}
		c := &out[i]
		c.End = c.End.Add(res.Elapsed()) // total measured time over the repetitions
		c.Interrupted = c.Interrupted || res.Interrupted
		c.Rep++
		c.mergeOps(res.Ops)
		if c.ServerRestart == "" {
			c.ServerRestart = res.ServerRestart
		}
		c.Outages = append(c.Outages, res.Outages...)
		stats[i].add(&res)
	}
	for i := range out {
		if stats[i].reps > 1 && len(out[i].Stats) > 0 {
			out[i].Stats = stats[i].combined()
			out[i].Notes = append(out[i].Notes, fmt.Sprintf("server cost over %d repetitions: per-task figures over all their tasks, the others the median of one repetition", stats[i].reps))
		}
		for j := range out[i].Ops {
			if n := out[i].Ops[j].OverRangeNote(); n != "" {
				out[i].Notes = append(out[i].Notes, n)
			}
			if n := out[i].Ops[j].UnfinishedNote(); n != "" {
				out[i].Notes = append(out[i].Notes, n)
			}
		}
	}
	return out
}

// statsAcc combines the server figures of a result's repetitions: a
// per-task figure is the mean weighted by each repetition's tasks (the
// first op's count), so that it is the server's spending over the tasks as
// the pooled histograms are; the others (counter growths and levels at the
// end, which a sum would mix up) are the median over the repetitions.
type statsAcc struct {
	reps  int
	order []string
	acc   map[string]*statAcc
}

type statAcc struct {
	st         ServerStat
	sum, total float64   // Σ value·weight and Σ weight (per task)
	values     []float64 // each repetition's (the others)
}

func (a *statsAcc) add(res *Result) {
	a.reps++
	if a.acc == nil {
		a.acc = map[string]*statAcc{}
	}
	w := 1.0
	if len(res.Ops) > 0 {
		w = float64(res.Ops[0].Count())
	}
	for _, st := range res.Stats {
		s, ok := a.acc[st.Name]
		if !ok {
			s = &statAcc{st: st}
			a.acc[st.Name] = s
			a.order = append(a.order, st.Name)
		}
		if st.PerTask {
			s.sum += st.Value * w
			s.total += w
		} else {
			s.values = append(s.values, st.Value)
		}
	}
}

func (a *statsAcc) combined() ServerStats {
	out := make(ServerStats, 0, len(a.order))
	for _, name := range a.order {
		s := a.acc[name]
		st := s.st
		if !st.PerTask {
			slices.Sort(s.values)
			n := len(s.values)
			st.Value = (s.values[(n-1)/2] + s.values[n/2]) / 2
		} else {
			if s.total == 0 {
				continue // no repetition had a task to divide by
			}
			st.Value = s.sum / s.total
		}
		out = append(out, st)
	}
	return out
}

// mergeOps adds ops' latencies, error (in all and by kind) and over-range
// counts and error samples to r's ops of the same names, appending the ops r lacks. It
// returns the first op with latencies outside the histogram's range and
// how many were dropped ("", 0 when none).
func (r *Result) mergeOps(ops []Op) (badOp string, dropped int64) {
	for _, o := range ops {
		m, ok := r.Op(o.Name)
		if !ok {
			r.Ops = append(r.Ops, Op{Name: o.Name, Latency: NewHistogram()})
			m = &r.Ops[len(r.Ops)-1]
		}
		if o.Latency != nil {
			if n := m.Latency.Merge(o.Latency); n != 0 && dropped == 0 {
				badOp, dropped = o.Name, n
			}
		}
		m.Errors += o.Errors
		m.ErrorKinds.Add(&o.ErrorKinds)
		m.Unfinished += o.Unfinished
		m.OverRange += o.OverRange
		for _, s := range o.ErrorSamples {
			m.addSample(s)
		}
	}
	return badOp, dropped
}

// Elapsed is the length of the measurement window.
func (r *Result) Elapsed() time.Duration { return r.End.Sub(r.Start) }

// Op finds the named operation.
func (r *Result) Op(name string) (*Op, bool) {
	for i := range r.Ops {
		if r.Ops[i].Name == name {
			return &r.Ops[i], true
		}
	}
	return nil, false
}

// Op is the merged record of one operation (a backend call such as
// store_result, or a task-level timing such as roundtrip).
type Op struct {
	Name         string   `json:"name"`
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"` // distinct messages, at most MaxErrorSamples
	// ErrorKinds counts Errors by kind (ClassifyError); all zero in run
	// files written before kinds were counted.
	ErrorKinds ErrorKinds `json:"-"`
	// Unfinished counts the operations that started in the window and had
	// not finished when the run's grace after it ran out (or the run was
	// interrupted or stopped early), so that it abandoned them: neither
	// successes (nor latencies) nor errors.
	Unfinished int64                   `json:"unfinished,omitempty"`
	Latency    *hdrhistogram.Histogram `json:"-"` // nanoseconds
	// OverRange is how many of Latency's values were above HighestNanos
	// and recorded as HighestNanos (the histogram's ceiling).
	OverRange int64 `json:"-"`
	// Intervals is the op's timeline in time order (see Interval); empty
	// for runs recorded before timelines, and for combined repetitions.
	Intervals []Interval `json:"-"`
}

// UnfinishedNote says how many of the op's operations were unfinished
// when the window closed; "" when none.
func (o *Op) UnfinishedNote() string {
	if o.Unfinished == 0 {
		return ""
	}
	return o.Name + ": " + Count(o.Unfinished) + " unfinished when the run ended (abandoned after the grace or cut by a stop; not counted as successes, errors or latency)"
}

// OverRangeNote says how many of the op's latencies were recorded at the
// histogram's ceiling; "" when none.
func (o *Op) OverRangeNote() string {
	if o.OverRange == 0 {
		return ""
	}
	what := "values above the %s histogram ceiling were recorded as %s"
	if o.OverRange == 1 {
		what = "value above the %s histogram ceiling was recorded as %s"
	}
	return o.Name + ": " + Count(o.OverRange) + " " + fmt.Sprintf(what, Nanos(HighestNanos), Nanos(HighestNanos))
}

// An Interval is one op's figures over one interval of a result's timeline:
// the observations that ended in it. The measured intervals (not Warmup)
// hold exactly the observations of Op.Latency; intervals without any
// observation of the op are left out.
//
// The histogram is kept encoded, HdrHistogram's V2 compressed encoding in
// base64 as in the run file (2 significant digits, nanoseconds), rather than
// a fixed set of percentiles: histograms merge (across handles, machines and
// repetitions) and give any percentile, percentiles do not.
type Interval struct {
	Start     time.Duration `json:"start_ns"`  // from the measurement window's start (Result.Start); negative in the warm-up
	Length    time.Duration `json:"length_ns"` // nominal length; the first warm-up interval may be shorter
	Warmup    bool          `json:"warmup,omitempty"`
	Count     int64         `json:"count"`  // successes
	Errors    int64         `json:"errors"` // failures
	Histogram string        `json:"histogram"`
}

// Latency decodes the interval's histogram (nanoseconds).
func (iv *Interval) Latency() (*hdrhistogram.Histogram, error) {
	if iv.Histogram == "" {
		return NewIntervalHistogram(), nil
	}
	h, err := hdrhistogram.Decode([]byte(iv.Histogram))
	if err != nil {
		return nil, fmt.Errorf("decoding interval histogram at %v: %w", iv.Start, err)
	}
	return h, nil
}

// Rate is the interval's successes per second.
func (iv *Interval) Rate() float64 {
	if iv.Length <= 0 {
		return 0
	}
	return float64(iv.Count) / iv.Length.Seconds()
}

// Count is the number of successful operations.
func (o *Op) Count() int64 {
	if o.Latency == nil {
		return 0
	}
	return o.Latency.TotalCount()
}

// Rate is successful operations per second over d.
func (o *Op) Rate(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(o.Count()) / d.Seconds()
}

func (o *Op) addSample(s string) {
	if len(o.ErrorSamples) >= MaxErrorSamples {
		return
	}
	for _, m := range o.ErrorSamples {
		if m == s {
			return
		}
	}
	o.ErrorSamples = append(o.ErrorSamples, s)
}

// opJSON is Op's file form: the histogram as HdrHistogram's V2 compressed
// encoding (base64), readable by HdrHistogram's own tools, plus the summary
// figures so a reader needs no HdrHistogram library.
type opJSON struct {
	Name         string           `json:"name"`
	Count        int64            `json:"count"`
	Errors       int64            `json:"errors"`
	ErrorSamples []string         `json:"error_samples,omitempty"`
	ErrorKinds   map[string]int64 `json:"error_kinds,omitempty"` // kind → count
	Unfinished   int64            `json:"unfinished,omitempty"`
	MeanNanos    float64          `json:"mean_ns"`
	P50Nanos     int64            `json:"p50_ns"`
	P90Nanos     int64            `json:"p90_ns"`
	P99Nanos     int64            `json:"p99_ns"`
	P999Nanos    int64            `json:"p99_9_ns"`
	MaxNanos     int64            `json:"max_ns"`
	OverRange    int64            `json:"over_range,omitempty"` // values above the ceiling, recorded as max_ns
	Histogram    string           `json:"histogram"`            // HdrHistogram V2, base64; nanoseconds
	// Intervals is the op's timeline (absent in files written before it).
	Intervals []Interval `json:"intervals,omitempty"`
}

// MarshalJSON writes the op with its encoded histogram.
func (o Op) MarshalJSON() ([]byte, error) {
	h := o.Latency
	if h == nil {
		h = NewHistogram()
	}
	enc, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return nil, fmt.Errorf("encoding histogram of %s: %w", o.Name, err)
	}
	s := Summarize(h)
	return json.Marshal(opJSON{
		Name: o.Name, Count: h.TotalCount(), Errors: o.Errors, ErrorSamples: o.ErrorSamples, ErrorKinds: o.ErrorKinds.asMap(), Unfinished: o.Unfinished,
		MeanNanos: s.Mean, P50Nanos: s.P50, P90Nanos: s.P90, P99Nanos: s.P99, P999Nanos: s.P999, MaxNanos: s.Max,
		OverRange: o.OverRange, Histogram: string(enc), Intervals: o.Intervals,
	})
}

// UnmarshalJSON reads an op written by MarshalJSON.
func (o *Op) UnmarshalJSON(data []byte) error {
	var j opJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return err
	}
	h, err := hdrhistogram.Decode([]byte(j.Histogram))
	if err != nil {
		return fmt.Errorf("decoding histogram of %s: %w", j.Name, err)
	}
	if j.OverRange < 0 || j.OverRange > h.TotalCount() {
		return fmt.Errorf("%s: over_range %d is not between 0 and the count %d", j.Name, j.OverRange, h.TotalCount())
	}
	if j.Errors < 0 || j.Unfinished < 0 {
		return fmt.Errorf("%s: errors %d and unfinished %d must not be negative", j.Name, j.Errors, j.Unfinished)
	}
	kinds, err := kindsFromMap(j.ErrorKinds)
	if err != nil {
		return fmt.Errorf("%s: %w", j.Name, err)
	}
	if t := kinds.Total(); t > j.Errors {
		return fmt.Errorf("%s: error_kinds sum to %d, more than the errors %d", j.Name, t, j.Errors)
	}
	*o = Op{Name: j.Name, Errors: j.Errors, ErrorSamples: j.ErrorSamples, ErrorKinds: kinds, Unfinished: j.Unfinished, Latency: h, OverRange: j.OverRange, Intervals: j.Intervals}
	return nil
}

// Summary holds the figures every format prints, in nanoseconds.
type Summary struct {
	Mean                          float64
	P50, P90, P99, P999, Max, Min int64
}

// Summarize computes the report figures of h.
func Summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	p := h.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
	return Summary{Mean: h.Mean(), P50: p[0], P90: p[1], P99: p[2], P999: p[3], Max: h.Max(), Min: h.Min()}
}

// WriteJSON writes r as an indented JSON run file.
func WriteJSON(w io.Writer, r *Run) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadJSON reads a run file written by WriteJSON.
func ReadJSON(rd io.Reader) (*Run, error) {
	var r Run
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not a bench run file: %w", err)
	}
	if r.Format != FormatVersion {
		return nil, fmt.Errorf("not a bench run file (format %q, want %q)", r.Format, FormatVersion)
	}
	return &r, nil
}
