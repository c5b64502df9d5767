// Package results records operation latencies from many goroutines without a
// shared lock, merges them into a Run, and writes Runs in every output format.
//
// Each goroutine that measures owns a Handle from a Recorder. A Handle keeps
// one HdrHistogram per operation name (1 µs to 60 s in nanoseconds, 3
// significant digits, about 140 KB each, allocated on first use), so
// recording never contends; Merge combines the handles once the goroutines
// have stopped.
package results

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: every latency is recorded in nanoseconds and clamped to
// [LowestNanos, HighestNanos].
const (
	LowestNanos  = int64(time.Microsecond)
	HighestNanos = int64(60 * time.Second)
	SigFigs      = 3
	// MaxErrorSamples is how many distinct error messages are kept per op.
	MaxErrorSamples = 5
)

// NewHistogram returns an empty histogram with the package's bounds.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestNanos, HighestNanos, SigFigs)
}

// A Recorder hands out Handles and merges what they recorded. Observations
// are kept only when they start inside the measurement window: at or after
// the window's start (so warm-up is excluded) and before its end.
type Recorder struct {
	start atomic.Int64 // unix ns; observations starting earlier are dropped
	end   atomic.Int64 // unix ns; observations starting at or after are dropped

	mu      sync.Mutex // guards handles; never taken on the recording path
	handles []*Handle
}

// NewRecorder returns a Recorder whose window is open from start on.
func NewRecorder(start time.Time) *Recorder {
	r := &Recorder{}
	r.start.Store(start.UnixNano())
	r.end.Store(math.MaxInt64)
	return r
}

// SetWindow sets the measurement window. It is safe to call while handles
// record; observations already kept stay.
func (r *Recorder) SetWindow(start, end time.Time) {
	r.start.Store(start.UnixNano())
	r.end.Store(end.UnixNano())
}

// Close ends the window at t, if it ends later: observations that start at
// or after t are dropped (a cancelled run keeps what it measured until then).
func (r *Recorder) Close(t time.Time) {
	n := t.UnixNano()
	for {
		e := r.end.Load()
		if e <= n || r.end.CompareAndSwap(e, n) {
			return
		}
	}
}

// Window returns the measurement window.
func (r *Recorder) Window() (start, end time.Time) {
	return time.Unix(0, r.start.Load()), time.Unix(0, r.end.Load())
}

// Handle returns a new Handle. Each goroutine that records uses its own.
func (r *Recorder) Handle() *Handle {
	h := &Handle{rec: r}
	r.mu.Lock()
	r.handles = append(r.handles, h)
	r.mu.Unlock()
	return h
}

// A Handle records observations for one goroutine. It is not safe for
// concurrent use, except Counts, which may be read from any goroutine.
type Handle struct {
	rec *Recorder
	ops []*opHist                 // owned by the recording goroutine
	pub atomic.Pointer[[]*opHist] // ops as last published, for Counts
}

type opHist struct {
	name    string
	hist    *hdrhistogram.Histogram
	count   atomic.Int64 // successes kept, readable during the run
	errors  atomic.Int64
	samples []string
}

func (h *Handle) op(name string) *opHist {
	for _, o := range h.ops {
		if o.name == name {
			return o
		}
	}
	o := &opHist{name: name}
	h.ops = append(h.ops, o)
	ops := h.ops
	h.pub.Store(&ops) // rare: once per op name per handle
	return o
}

// Observe records one operation that started at start and took d; a
// non-nil err counts an error instead of a latency. It implements
// backends.Observer.
func (h *Handle) Observe(op string, start time.Time, d time.Duration, err error) {
	s := start.UnixNano()
	if s < h.rec.start.Load() || s >= h.rec.end.Load() {
		return
	}
	if err != nil && errors.Is(err, context.Canceled) {
		return // a stopped run is not a failed operation
	}
	o := h.op(op)
	if err != nil {
		o.errors.Add(1)
		if len(o.samples) < MaxErrorSamples {
			msg := err.Error()
			for _, m := range o.samples {
				if m == msg {
					return
				}
			}
			o.samples = append(o.samples, msg)
		}
		return
	}
	if o.hist == nil {
		o.hist = NewHistogram()
	}
	v := int64(d)
	if v < LowestNanos {
		v = LowestNanos
	} else if v > HighestNanos {
		v = HighestNanos
	}
	_ = o.hist.RecordValue(v) // in range by construction
	o.count.Add(1)
}

// Counts calls fn with the number of successes and errors recorded so far
// for each op of every handle. It is safe during the run and takes no lock
// that recording takes except the handle list's.
func (r *Recorder) Counts(fn func(op string, count, errors int64)) {
	r.mu.Lock()
	hs := append([]*Handle(nil), r.handles...)
	r.mu.Unlock()
	for _, h := range hs {
		if ops := h.pub.Load(); ops != nil {
			for _, o := range *ops {
				fn(o.name, o.count.Load(), o.errors.Load())
			}
		}
	}
}

// Merge combines every handle's observations by op name. Call it after the
// recording goroutines have stopped.
func (r *Recorder) Merge() []Op {
	r.mu.Lock()
	defer r.mu.Unlock()
	byName := map[string]*Op{}
	var order []string
	for _, h := range r.handles {
		for _, o := range h.ops {
			m, ok := byName[o.name]
			if !ok {
				m = &Op{Name: o.name, Latency: NewHistogram()}
				byName[o.name] = m
				order = append(order, o.name)
			}
			if o.hist != nil {
				m.Latency.Merge(o.hist)
			}
			m.Errors += o.errors.Load()
			for _, s := range o.samples {
				m.addSample(s)
			}
		}
	}
	out := make([]Op, 0, len(order))
	for _, n := range order {
		out = append(out, *byName[n])
	}
	return out
}
