package results

import (
	"encoding/json"
	"fmt"
	"io"
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
	Format    string    `json:"format"`                // FormatVersion
	Bench     string    `json:"bench"`                 // bench version
	Go        string    `json:"go"`                    // Go toolchain version
	Platform  string    `json:"platform"`              // GOOS/GOARCH, CPUs, GOMAXPROCS
	Started   time.Time `json:"started"`               // wall clock at start
	Ended     time.Time `json:"ended"`                 // wall clock at end
	Seed      uint64    `json:"seed"`                  // replays the same ids and payloads
	Summary   string    `json:"summary"`               // the settings that shape the figures, in one line
	Options   []Option  `json:"options"`               // every setting, passwords redacted
	Results   []Result  `json:"results"`               // one per backend, in run order
	Interrupt string    `json:"interrupted,omitempty"` // why the run stopped early
	Findings  []string  `json:"findings,omitempty"`    // conclusions drawn over several results (SLO searches)
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
	// Notes are caveats that travel with the figures.
	Notes []string `json:"notes,omitempty"`
	// Stats are what the server spent during the window, from its own
	// counters (none for backends that expose none). Combine keeps the
	// first repetition's.
	Stats ServerStats `json:"server_stats,omitempty"`
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
// one Result (histograms and error counts summed, measured time summed, so
// rates are averages over the repetitions), in first-seen order. It does not
// change r.
func (r *Run) Combine() []Result {
	var out []Result
	idx := map[string]int{}
	for _, res := range r.Results {
		k := res.Key()
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			c := res
			c.Ops = nil
			for _, o := range res.Ops {
				h := NewHistogram()
				if o.Latency != nil {
					h.Merge(o.Latency)
				}
				c.Ops = append(c.Ops, Op{Name: o.Name, Errors: o.Errors, ErrorSamples: append([]string(nil), o.ErrorSamples...), Latency: h})
			}
			out = append(out, c)
			continue
		}
		c := &out[i]
		c.End = c.End.Add(res.Elapsed()) // total measured time over the repetitions
		c.Interrupted = c.Interrupted || res.Interrupted
		c.Rep++
		for _, o := range res.Ops {
			m, ok := c.Op(o.Name)
			if !ok {
				c.Ops = append(c.Ops, Op{Name: o.Name, Latency: NewHistogram()})
				m = &c.Ops[len(c.Ops)-1]
			}
			if o.Latency != nil {
				m.Latency.Merge(o.Latency)
			}
			m.Errors += o.Errors
			for _, s := range o.ErrorSamples {
				m.addSample(s)
			}
		}
	}
	return out
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
	Name         string                  `json:"name"`
	Errors       int64                   `json:"errors"`
	ErrorSamples []string                `json:"error_samples,omitempty"` // distinct messages, at most MaxErrorSamples
	Latency      *hdrhistogram.Histogram `json:"-"`                       // nanoseconds
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
	Name         string   `json:"name"`
	Count        int64    `json:"count"`
	Errors       int64    `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	MeanNanos    float64  `json:"mean_ns"`
	P50Nanos     int64    `json:"p50_ns"`
	P90Nanos     int64    `json:"p90_ns"`
	P99Nanos     int64    `json:"p99_ns"`
	P999Nanos    int64    `json:"p99_9_ns"`
	MaxNanos     int64    `json:"max_ns"`
	Histogram    string   `json:"histogram"` // HdrHistogram V2, base64; nanoseconds
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
		Name: o.Name, Count: h.TotalCount(), Errors: o.Errors, ErrorSamples: o.ErrorSamples,
		MeanNanos: s.Mean, P50Nanos: s.P50, P90Nanos: s.P90, P99Nanos: s.P99, P999Nanos: s.P999, MaxNanos: s.Max,
		Histogram: string(enc),
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
	*o = Op{Name: j.Name, Errors: j.Errors, ErrorSamples: j.ErrorSamples, Latency: h}
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
