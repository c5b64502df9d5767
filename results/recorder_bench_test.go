package results

import (
	"testing"
	"time"
)

// BenchmarkHandleObserve measures one successful observation on a warm
// handle, the recording hot path every backend call takes; its start times
// advance 1 µs per call, so a timeline crosses an interval every million.
func BenchmarkHandleObserve(b *testing.B) {
	t0 := time.Now()
	r := NewRecorder(t0)
	h := r.Handle()
	h.Observe("store_result", t0, time.Millisecond, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Observe("store_result", t0.Add(time.Duration(i)*time.Microsecond), 450*time.Microsecond, nil)
	}
}
