// Package results records operation latencies from many goroutines without a
// shared lock, merges them into a Run, and writes Runs in every output format.
//
// Each goroutine that measures owns a Handle from a Recorder. A Handle keeps
// one HdrHistogram per operation name (1 µs to 60 s in nanoseconds, 3
// significant digits, about 140 KB each, allocated on first use), so
// recording never contends; Merge combines the handles once the goroutines
// have stopped.
//
// Every handle also keeps a timeline: per op and per interval (SetInterval,
// 1 s by default) the count, the errors and an interval histogram (1 µs to
// 60 s, 2 significant digits, about 19 KB while open). An observation
// belongs to the interval in which it ended; a handle rotates its interval
// when it records the first observation of a later one and hands the closed
// interval over through a lock-free list, which a collector goroutine (from
// the first SetWindow until Merge) and LastInterval drain and merge across
// handles. Recording therefore still takes no shared lock.
package results

import (
	"context"
	"errors"
	"math"
	"slices"
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

	// abandoned is set once the run gives up on the operations still in
	// flight (its grace after the window ran out, or it stopped early):
	// what fails from then on is unfinished, not an error.
	abandoned atomic.Bool

	mu      sync.Mutex // guards handles; never taken on the recording path
	handles []*Handle

	// Timeline: from is the first instant whose observations the timeline
	// keeps (unix ns; MaxInt64 until the load starts), interval the length
	// of an interval (ns).
	from     atomic.Int64
	interval atomic.Int64

	tl       timeline      // merged closed intervals, guarded by tlMu
	tlMu     sync.Mutex    // guards tl; taken by the collector and readers only
	stopOnce sync.Once     // stops the collector
	stop     chan struct{} // closed by Merge
	started  atomic.Bool   // the collector runs
}

// NewRecorder returns a Recorder whose window is open from start on.
func NewRecorder(start time.Time) *Recorder {
	r := &Recorder{stop: make(chan struct{})}
	r.start.Store(start.UnixNano())
	r.end.Store(math.MaxInt64)
	r.interval.Store(int64(DefaultInterval))
	if s := start.UnixNano(); s <= time.Now().UnixNano() {
		r.from.Store(s)
	} else {
		r.from.Store(math.MaxInt64) // the load has not started yet
	}
	return r
}

// DefaultInterval is the timeline's interval unless SetInterval changes it.
const DefaultInterval = time.Second

// SetWindow sets the measurement window. It is safe to call while handles
// record; observations already kept stay. The first call also starts the
// timeline, if NewRecorder's start was still in the future: what starts
// from now on until the window's start is the warm-up. It starts the
// collector goroutine that Merge stops.
func (r *Recorder) SetWindow(start, end time.Time) {
	r.start.Store(start.UnixNano())
	r.end.Store(end.UnixNano())
	if r.from.Load() == math.MaxInt64 {
		r.from.CompareAndSwap(math.MaxInt64, min(time.Now().UnixNano(), start.UnixNano()))
	}
	if r.started.CompareAndSwap(false, true) {
		go r.collect()
	}
}

// SetInterval sets the timeline's interval length (d > 0; default
// DefaultInterval). Intervals are aligned to the window's start: interval i
// covers [start+i·d, start+(i+1)·d), and the warm-up's are negative. Call it
// before recording starts; intervals closed before the call keep the old
// length.
func (r *Recorder) SetInterval(d time.Duration) {
	if d > 0 {
		r.interval.Store(int64(d))
	}
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

// ErrUnfinished marks an operation the run gave up on before it finished;
// Observe counts an error wrapping it as unfinished.
var ErrUnfinished = errors.New("unfinished when the run ended")

// Abandon makes every failure observed from now on count as unfinished:
// the run cut the operations still in flight.
func (r *Recorder) Abandon() { r.abandoned.Store(true) }

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

	closed atomic.Pointer[ivNode] // intervals this handle closed, newest first; drained by the collector
	spare  atomic.Pointer[ivNode] // drained nodes handed back for reuse
	free   *ivNode                // spare nodes owned by the recording goroutine
}

type opHist struct {
	name   string
	hist   *hdrhistogram.Histogram
	count  atomic.Int64 // successes kept, readable during the run
	errors atomic.Int64
	kinds  ErrorKinds // errors by kind; read by Merge only
	// unfinished counts what started in the window and had not finished
	// when it closed, or was cut when the run gave up on it.
	unfinished atomic.Int64
	samples    []string
	// seenOK and seenErr count every success and failure since the load
	// started, the warm-up's too, and firstErr is the earliest failure:
	// what Health reports while the run goes on.
	seenOK, seenErr atomic.Int64
	seenKinds       [NumErrorKinds]atomic.Int64
	firstErr        atomic.Pointer[FirstError]
	over            int64 // latencies above HighestNanos, recorded as it; read by Merge only

	cur    *ivNode // the open interval, nil before the first observation
	lo, hi int64   // unix ns bounds of cur
}

// ivNode is one op's interval on one handle: open while the handle records
// into it, then immutable once pushed onto the handle's closed list.
type ivNode struct {
	next   *ivNode
	op     string
	index  int64 // interval number; negative in the warm-up
	iv     int64 // interval length, ns
	errors int64
	hist   *hdrhistogram.Histogram // successes, ns; 2 significant digits
}

// NewIntervalHistogram returns an empty interval histogram: the package's
// bounds with 2 significant digits (about 19 KB), since a handle keeps one
// open per op and a timeline reads medians and tails to 1%.
func NewIntervalHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestNanos, HighestNanos, 2)
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
	ws := h.rec.start.Load()
	if s >= h.rec.end.Load() || (s < ws && s < h.rec.from.Load()) {
		return
	}
	if s < ws { // warm-up: the timeline only
		if err == nil || !errors.Is(err, context.Canceled) {
			h.seen(h.op(op), s+int64(d), err, classify(err))
			h.timeline(h.op(op), s, int64(d), clamp(int64(d)), err != nil)
		}
		return
	}
	o := h.op(op)
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, ErrUnfinished) || h.rec.abandoned.Load()) {
		o.unfinished.Add(1) // a stopped run is not a failed operation
		return
	}
	kind := classify(err)
	h.seen(o, s+int64(d), err, kind)
	v := int64(d)
	if v < LowestNanos {
		v = LowestNanos
	} else if v > HighestNanos {
		v = HighestNanos
	}
	h.timeline(o, s, int64(d), v, err != nil)
	if err != nil {
		o.errors.Add(1)
		o.kinds[kind]++
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
	if int64(d) > HighestNanos {
		o.over++ // recorded at the ceiling above
	}
	_ = o.hist.RecordValue(v) // in range by construction
	o.count.Add(1)
}

// A FirstError is the earliest failure of an op that Health saw, At when
// it ended.
type FirstError struct {
	At   time.Time
	Msg  string
	Kind ErrorKind
}

// classify is ClassifyError for an observation's error, nil for a success.
func classify(err error) ErrorKind {
	if err == nil {
		return KindOther // not counted
	}
	return ClassifyError(err)
}

// seen counts an observation that ended at e (unix ns) for Health; kind is
// err's.
func (h *Handle) seen(o *opHist, e int64, err error, kind ErrorKind) {
	if err == nil {
		o.seenOK.Add(1)
		return
	}
	o.seenErr.Add(1)
	o.seenKinds[kind].Add(1)
	if o.firstErr.Load() == nil {
		o.firstErr.Store(&FirstError{At: time.Unix(0, e), Msg: err.Error(), Kind: kind})
	}
}

// OpHealth is what every handle saw of one op since the load started,
// warm-up included: successes, failures (in all and by kind) and the
// earliest failure.
type OpHealth struct {
	Op        string
	OK, Fails int64
	Kinds     ErrorKinds  // Fails by kind
	First     *FirstError // nil without a failure
}

// Health returns, per op, every success and failure seen so far (warm-up
// included), with the earliest failure. It is safe during the run.
func (r *Recorder) Health() []OpHealth {
	r.mu.Lock()
	hs := append([]*Handle(nil), r.handles...)
	r.mu.Unlock()
	var out []OpHealth
	idx := map[string]int{}
	for _, h := range hs {
		ops := h.pub.Load()
		if ops == nil {
			continue
		}
		for _, o := range *ops {
			i, ok := idx[o.name]
			if !ok {
				i = len(out)
				idx[o.name] = i
				out = append(out, OpHealth{Op: o.name})
			}
			out[i].OK += o.seenOK.Load()
			out[i].Fails += o.seenErr.Load()
			for k := range o.seenKinds {
				out[i].Kinds[k] += o.seenKinds[k].Load()
			}
			if f := o.firstErr.Load(); f != nil && (out[i].First == nil || f.At.Before(out[i].First.At)) {
				out[i].First = f
			}
		}
	}
	return out
}

func clamp(v int64) int64 {
	return min(max(v, LowestNanos), HighestNanos)
}

// timeline counts an observation that started at s (unix ns) and took d ns
// (v clamped) in the interval in which it ended, rotating o's open interval
// when it ended in a later one. An observation that started in the warm-up
// counts in a warm-up interval (at the latest the last one), so that the
// measured intervals hold exactly the run's observations; one that ends
// before its handle's open interval counts in the open one (or, for the
// warm-up's, is left out once the measured intervals began).
func (h *Handle) timeline(o *opHist, s, d, v int64, failed bool) {
	e := s + d
	if o.cur == nil || e < o.lo || e >= o.hi {
		ws := h.rec.start.Load()
		iv := h.rec.interval.Load()
		k := floorDiv(e-ws, iv)
		if s < ws && k > -1 {
			k = -1
		}
		switch {
		case o.cur == nil || k > o.cur.index:
			h.rotate(o, k, iv, ws)
		case s < ws && o.cur.index >= 0:
			return // a warm-up straggler after the measured intervals began
		}
	}
	if failed {
		o.cur.errors++
		return
	}
	_ = o.cur.hist.RecordValue(v)
}

// rotate closes o's open interval, if any, and opens interval k.
func (h *Handle) rotate(o *opHist, k, iv, ws int64) {
	if o.cur != nil {
		h.push(o.cur)
	}
	n := h.free
	if n == nil {
		h.free = h.spare.Swap(nil)
		n = h.free
	}
	if n != nil {
		h.free = n.next
		n.hist.Reset()
	} else {
		n = &ivNode{hist: NewIntervalHistogram()}
	}
	n.next, n.op, n.index, n.iv, n.errors = nil, o.name, k, iv, 0
	o.cur = n
	o.lo, o.hi = ws+k*iv, ws+(k+1)*iv
}

// push hands a closed interval to the collector (lock-free).
func (h *Handle) push(n *ivNode) {
	for {
		old := h.closed.Load()
		n.next = old
		if h.closed.CompareAndSwap(old, n) {
			return
		}
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
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

// Merge combines every handle's observations by op name, each op with its
// timeline (Op.Intervals). Call it once, after the recording goroutines have
// stopped; it stops the collector.
func (r *Recorder) Merge() []Op {
	r.stopOnce.Do(func() { close(r.stop) })
	r.drain(false)
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
			m.ErrorKinds.Add(&o.kinds)
			m.Unfinished += o.unfinished.Load()
			m.OverRange += o.over
			for _, s := range o.samples {
				m.addSample(s)
			}
			if o.cur != nil { // the goroutines have stopped: the open intervals are final
				r.tlMu.Lock()
				r.tl.add(o.cur)
				r.tlMu.Unlock()
				o.cur = nil
			}
		}
	}
	r.tlMu.Lock()
	defer r.tlMu.Unlock()
	out := make([]Op, 0, len(order))
	for _, n := range order {
		op := *byName[n]
		op.Intervals = r.tl.intervals(n, r.start.Load(), r.from.Load())
		out = append(out, op)
	}
	return out
}

// IntervalStat is one op's figures over one closed interval of the
// timeline, merged across handles: what a progress line shows.
type IntervalStat struct {
	Op     string
	Index  int64         // interval number; negative in the warm-up
	Start  time.Duration // relative to the measurement window's start
	Length time.Duration
	Count  int64   // successes
	Errors int64   // failures
	Rate   float64 // successes per second
	P50    int64   // ns; 0 without successes
	P99    int64   // ns
}

// LastInterval returns, per op in first-seen order, the figures of the last
// interval that ended at least a quarter of an interval ago (as handles have closed it: a handle closes
// an interval at its first observation in a later one, so a handle blocked
// since is missing until it records again). It is safe during the run, from
// any goroutine; it takes no lock that recording takes, and costs one
// histogram merge per interval, op and handle closed since the last call.
func (r *Recorder) LastInterval() []IntervalStat {
	r.drain(true)
	iv := r.interval.Load()
	// An interval that ended a moment ago is still open in the handles
	// that have not recorded since (a caller ticking on the interval's
	// boundary would see a fraction of it; on a loaded machine 70 ms after
	// the boundary three quarters were seen missing): take the last one
	// that ended at least a quarter of an interval (at most 250 ms) ago.
	slack := min(iv/4, int64(250*time.Millisecond))
	k := floorDiv(time.Now().UnixNano()-r.start.Load()-slack, iv) - 1
	return r.Interval(k)
}

// Interval returns, per op in first-seen order, the figures of interval k as
// merged so far (see LastInterval), for the ops that have it. It is safe
// during the run.
func (r *Recorder) Interval(k int64) []IntervalStat {
	r.tlMu.Lock()
	defer r.tlMu.Unlock()
	var out []IntervalStat
	for _, name := range r.tl.ops {
		m := r.tl.byOp[name][k]
		if m == nil {
			continue
		}
		st := IntervalStat{Op: name, Index: k, Start: time.Duration(k * m.iv), Length: time.Duration(m.iv), Errors: m.errors, Count: m.count}
		st.Rate = float64(m.count) / st.Length.Seconds()
		if h := m.histogram(); h != nil && h.TotalCount() > 0 {
			p := h.ValueAtPercentilesSlice([]float64{50, 99})
			st.P50, st.P99 = p[0], p[1]
		}
		out = append(out, st)
	}
	return out
}

// collect drains the handles' closed intervals every interval until Merge,
// so that they are merged (and old ones encoded) while the run goes on.
func (r *Recorder) collect() {
	for {
		t := time.NewTimer(time.Duration(r.interval.Load()))
		select {
		case <-r.stop:
			t.Stop()
			return
		case <-t.C:
			r.drain(true)
		}
	}
}

// drain merges every handle's closed intervals into the timeline and hands
// the nodes back for reuse; with compact, it encodes the intervals that
// ended two intervals ago or earlier.
func (r *Recorder) drain(compact bool) {
	r.mu.Lock()
	hs := append([]*Handle(nil), r.handles...)
	r.mu.Unlock()
	r.tlMu.Lock()
	defer r.tlMu.Unlock()
	for _, h := range hs {
		n := h.closed.Swap(nil)
		for n != nil {
			next := n.next
			r.tl.add(n)
			for { // give the node back to its handle
				old := h.spare.Load()
				n.next = old
				if h.spare.CompareAndSwap(old, n) {
					break
				}
			}
			n = next
		}
	}
	if compact {
		iv := r.interval.Load()
		r.tl.compact(floorDiv(time.Now().UnixNano()-r.start.Load(), iv) - 2)
	}
}

// timeline holds the merged intervals of every op. Intervals that ended a
// while ago are kept encoded (V2 compressed, a few hundred bytes) instead of
// as a 19 KB histogram.
type timeline struct {
	ops  []string
	byOp map[string]map[int64]*mergedIv
}

type mergedIv struct {
	iv, errors, count int64
	hist              *hdrhistogram.Histogram // nil once encoded
	enc               []byte
}

func (m *mergedIv) histogram() *hdrhistogram.Histogram {
	if m.hist != nil {
		return m.hist
	}
	if m.enc == nil {
		return nil
	}
	h, err := hdrhistogram.Decode(m.enc)
	if err != nil {
		return nil // encoded by this package: cannot fail
	}
	return h
}

func (t *timeline) add(n *ivNode) {
	if t.byOp == nil {
		t.byOp = map[string]map[int64]*mergedIv{}
	}
	byIdx, ok := t.byOp[n.op]
	if !ok {
		byIdx = map[int64]*mergedIv{}
		t.byOp[n.op] = byIdx
		t.ops = append(t.ops, n.op)
	}
	m, ok := byIdx[n.index]
	if !ok {
		m = &mergedIv{iv: n.iv}
		byIdx[n.index] = m
	}
	if m.hist == nil {
		m.hist = m.histogram() // a late handle: decode to merge
		if m.hist == nil {
			m.hist = NewIntervalHistogram()
		}
		m.enc = nil
	}
	m.hist.Merge(n.hist)
	m.errors += n.errors
	m.count += n.hist.TotalCount()
}

// compact encodes the histograms of intervals up to index last.
func (t *timeline) compact(last int64) {
	for _, byIdx := range t.byOp {
		for k, m := range byIdx {
			if k <= last && m.hist != nil {
				if enc, err := m.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err == nil {
					m.enc, m.hist = enc, nil
				}
			}
		}
	}
}

// intervals returns op's intervals in time order, relative to the window's
// start ws; the first warm-up interval starts at from at the earliest.
func (t *timeline) intervals(op string, ws, from int64) []Interval {
	byIdx := t.byOp[op]
	keys := make([]int64, 0, len(byIdx))
	for k := range byIdx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]Interval, 0, len(keys))
	for _, k := range keys {
		m := byIdx[k]
		lo, hi := k*m.iv, (k+1)*m.iv
		if f := from - ws; lo < f && f < hi {
			lo = f
		}
		enc := m.enc
		if m.hist != nil {
			var err error
			if enc, err = m.hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase); err != nil {
				continue // cannot fail: the histogram is the package's own
			}
		}
		out = append(out, Interval{Start: time.Duration(lo), Length: time.Duration(hi - lo), Warmup: k < 0,
			Count: m.count, Errors: m.errors, Histogram: string(enc)})
	}
	return out
}
