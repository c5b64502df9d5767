package results

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// WriteHDRLog writes every latency histogram of r as an HdrHistogram V2
// interval log ("Histogram log format version 1.3"), readable by
// HdrHistogram's own tools (HistogramLogProcessor, HistogramLogAnalyzer,
// hdrhistogram-go's HistogramLogReader).
//
// Each interval is one op of one result: its measurement window, and a tag
// naming it in the style of a benchfmt name,
//
//	Tag=backend=redis/workload=roundtrip/op=store_result/rep=0,2.013,8.000,1.532,HISTFAAA...
//
// (with /level=workers=8 in a sweep). Tags cannot hold commas or spaces in
// this format, hence the slashes. Intervals are in order of their start;
// timestamps are seconds since the BaseTime line, the run's start
// truncated to the second. Values are nanoseconds, so the Interval_Max
// column is in milliseconds, as the format's tools assume.
func WriteHDRLog(w io.Writer, r *Run) error {
	type interval struct {
		start, end time.Time
		tag        string
		h          *hdrhistogram.Histogram
	}
	var ivs []interval
	labels := BackendLabels(r)
	for i := range r.Results {
		res := &r.Results[i]
		tag := "backend=" + tagValue(labels[res.Backend]) + "/workload=" + tagValue(res.Workload)
		if res.Level != "" {
			tag += "/level=" + tagValue(res.Level)
		}
		for _, o := range res.Ops {
			if o.Latency == nil {
				continue
			}
			ivs = append(ivs, interval{res.Start, res.End,
				tag + "/op=" + tagValue(o.Name) + "/rep=" + strconv.Itoa(res.Rep), o.Latency})
		}
	}
	sort.SliceStable(ivs, func(i, j int) bool { return ivs[i].start.Before(ivs[j].start) })

	start := r.Started
	if start.IsZero() && len(ivs) > 0 {
		start = ivs[0].start
	}
	baseMs := start.Truncate(time.Second).UnixMilli()
	lw := hdrhistogram.NewHistogramLogWriter(w)
	lw.SetBaseTime(baseMs)
	for _, f := range []func() error{
		lw.OutputLogFormatVersion,
		func() error { return lw.OutputComment("[Logged by bench " + r.Bench + "; values in nanoseconds]") },
		func() error { return lw.OutputComment("[" + strings.ReplaceAll(r.Summary, "\n", " ") + "]") },
		func() error { return lw.OutputStartTime(baseMs) },
		func() error { return lw.OutputBaseTime(baseMs) },
		lw.OutputLegend,
	} {
		if err := f(); err != nil {
			return err
		}
	}
	for _, iv := range ivs {
		// The writer takes the tag and window from the histogram; set them
		// on a copy so r's histograms are left as they are.
		h := iv.h.Clone()
		h.SetTag(iv.tag)
		h.SetStartTimeMs(iv.start.UnixMilli())
		h.SetEndTimeMs(iv.end.UnixMilli())
		if err := lw.OutputIntervalHistogram(h); err != nil {
			return fmt.Errorf("hdr log: %s: %w", iv.tag, err)
		}
	}
	return nil
}

// tagValue makes s usable in an interval log tag: no commas or white space.
func tagValue(s string) string {
	return strings.NewReplacer(",", ";", " ", "_", "\t", "_", "\r", "_", "\n", "_").Replace(s)
}
