package results

import (
	"fmt"
	"slices"
	"time"
)

// An Outage is a stretch of a result's measured window in which an op had
// no success: one or more consecutive intervals of its timeline with errors
// only, or with nothing completing at all, while it otherwise completed
// steadily.
type Outage struct {
	Op     string        `json:"op"`
	From   time.Duration `json:"from_ns"` // from the window's start
	To     time.Duration `json:"to_ns"`   // the start of the next interval with a success, or the window's end
	Errors int64         `json:"errors"`  // failures that ended in it
	// Ongoing is set when the outage lasted to the end of the window.
	Ongoing bool `json:"ongoing,omitempty"`
}

// MinOutageRate is how many successes per interval an op must typically
// have (the median over its intervals with any) for an interval without
// one to count as an outage: below it, a quiet interval of a slow open
// loop is chance, not a fault.
const MinOutageRate = 3

// FindOutages returns the outages of op in res, in time order, from its
// timeline (Op.Intervals); none when the result has no timeline (a
// combined or an old run file) or the op completes too rarely to tell
// (MinOutageRate). Only whole intervals of the measured window count, at
// the timeline's resolution (--interval).
func FindOutages(res *Result, op string) []Outage {
	o, ok := res.Op(op)
	if !ok {
		return nil
	}
	var length time.Duration
	byIndex := map[int64]*Interval{}
	var counts []int64
	for i := range o.Intervals {
		iv := &o.Intervals[i]
		if iv.Warmup || iv.Length <= 0 || iv.Start < 0 {
			continue
		}
		if length == 0 {
			length = iv.Length
		}
		byIndex[int64(iv.Start/length)] = iv
		if iv.Count > 0 {
			counts = append(counts, iv.Count)
		}
	}
	if length == 0 || len(counts) == 0 {
		return nil
	}
	slices.Sort(counts)
	if counts[(len(counts)-1)/2] < MinOutageRate {
		return nil
	}
	n := int64(res.Elapsed() / length) // whole intervals
	var out []Outage
	var cur *Outage
	for k := int64(0); k < n; k++ {
		iv := byIndex[k]
		if iv != nil && iv.Count > 0 {
			if cur != nil {
				cur.To = time.Duration(k) * length
				out = append(out, *cur)
				cur = nil
			}
			continue
		}
		if cur == nil {
			cur = &Outage{Op: op, From: time.Duration(k) * length}
		}
		if iv != nil {
			cur.Errors += iv.Errors
		}
	}
	if cur != nil {
		cur.To, cur.Ongoing = time.Duration(n)*length, true
		out = append(out, *cur)
	}
	return out
}

// String says what the outage was: "no successful roundtrip from 3.0 s to
// 5.0 s (2.0 s), 37 errors".
func (o Outage) String() string {
	to := "to " + Seconds(o.To)
	if o.Ongoing {
		to = "until the end of the window at " + Seconds(o.To)
	}
	errs := "no errors"
	switch o.Errors {
	case 0:
	case 1:
		errs = "1 error"
	default:
		errs = Count(o.Errors) + " errors"
	}
	return fmt.Sprintf("no successful %s from %s %s (%s), %s", o.Op, Seconds(o.From), to, Seconds(o.To-o.From), errs)
}
