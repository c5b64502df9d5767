package results

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestErrorKindsRecorded records errors of every kind on two handles,
// warm-up included, and checks the merged op's counts by kind, Health's,
// the first error's kind, the run file's error_kinds and their sum over
// repetitions.
func TestErrorKindsRecorded(t *testing.T) {
	load := time.Now()
	ws := load.Add(time.Second)
	r := NewRecorder(load.Add(time.Hour))
	r.SetWindow(ws, ws.Add(10*time.Second))
	timeout := fmt.Errorf("redis: GET: %w", context.DeadlineExceeded)
	conn := fmt.Errorf("redis: GET: %w", syscall.ECONNREFUSED)
	a, b := r.Handle(), r.Handle()
	a.Observe("get", load.Add(100*time.Millisecond), time.Millisecond, conn) // warm-up: Health only
	for i := range 12 {
		h := []*Handle{a, b}[i%2]
		h.Observe("get", ws.Add(time.Duration(i)*time.Millisecond), time.Millisecond, timeout)
	}
	for range 3 {
		b.Observe("get", ws.Add(time.Second), time.Millisecond, conn)
	}
	a.Observe("get", ws.Add(time.Second), time.Millisecond, errors.New("odd"))
	a.Observe("get", ws.Add(time.Second), time.Millisecond, nil)

	hs := r.Health()
	if len(hs) != 1 || hs[0].Fails != 17 || hs[0].Kinds != (ErrorKinds{12, 4, 0, 1}) {
		t.Fatalf("health = %+v", hs)
	}
	if f := hs[0].First; f == nil || f.Kind != KindConnection {
		t.Errorf("first error = %+v, want a connection error", f)
	}
	ops := r.Merge()
	if len(ops) != 1 || ops[0].Errors != 16 || ops[0].ErrorKinds != (ErrorKinds{12, 3, 0, 1}) {
		t.Fatalf("ops = %+v", ops)
	}

	run := &Run{Format: FormatVersion, Results: []Result{
		{Backend: "redis://", Workload: "roundtrip", Ops: ops},
		{Backend: "redis://", Workload: "roundtrip", Rep: 1, Ops: ops},
	}}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte(`"error_kinds": {`)) || !bytes.Contains(buf.Bytes(), []byte(`"timeout": 12`)) {
		t.Fatalf("run file lacks error_kinds:\n%s", buf.String())
	}
	back, err := ReadJSON(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if k := back.Results[0].Ops[0].ErrorKinds; k != ops[0].ErrorKinds {
		t.Errorf("read back %v, want %v", k, ops[0].ErrorKinds)
	}
	c := back.Combine()
	if len(c) != 1 || c[0].Ops[0].ErrorKinds != (ErrorKinds{24, 6, 0, 2}) {
		t.Errorf("combined = %+v", c[0].Ops[0])
	}
	var text bytes.Buffer
	if err := WriteText(&text, back); err != nil {
		t.Fatal(err)
	}
	if want := "errors in get by kind: timeout 24, connection 6, other 2"; !bytes.Contains(text.Bytes(), []byte(want)) {
		t.Errorf("text lacks %q:\n%s", want, text.String())
	}
}

// TestErrorKindsRefused: a run file's error_kinds must not be negative nor
// sum to more than the errors.
func TestErrorKindsRefused(t *testing.T) {
	h := NewHistogram()
	ok := Op{Name: "get", Errors: 2, ErrorKinds: ErrorKinds{1, 1}, Latency: h}
	j, err := ok.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var back Op
	if err := back.UnmarshalJSON(j); err != nil || back.ErrorKinds != ok.ErrorKinds {
		t.Fatalf("round trip: %v, %+v", err, back)
	}
	for _, bad := range []string{
		`"error_kinds":{"timeout":3}`,
		`"error_kinds":{"timeout":-1}`,
	} {
		in := bytes.Replace(j, []byte(`"error_kinds":{"connection":1,"timeout":1}`), []byte(bad), 1)
		if bytes.Equal(in, j) {
			t.Fatalf("no error_kinds in %s", j)
		}
		if err := back.UnmarshalJSON(in); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	// A kind a later version counts is read as other.
	in := bytes.Replace(j, []byte(`"connection":1`), []byte(`"quota":1`), 1)
	if err := back.UnmarshalJSON(in); err != nil || back.ErrorKinds != (ErrorKinds{1, 0, 0, 1}) {
		t.Errorf("unknown kind: %v, %v", err, back.ErrorKinds)
	}
}

// TestObserveErrorNoAlloc: once an op has its error samples, counting a
// typed error by kind allocates nothing.
func TestObserveErrorNoAlloc(t *testing.T) {
	ws := time.Now()
	r := NewRecorder(ws)
	r.SetWindow(ws, ws.Add(time.Hour))
	h := r.Handle()
	for i := range MaxErrorSamples {
		h.Observe("get", ws, time.Millisecond, fmt.Errorf("sample %d", i))
	}
	err := fmt.Errorf("redis: GET: %w", context.DeadlineExceeded)
	conn := fmt.Errorf("redis: GET: %w", syscall.ECONNRESET)
	n := testing.AllocsPerRun(1000, func() {
		h.Observe("get", ws, time.Millisecond, err)
		h.Observe("get", ws, time.Millisecond, conn)
	})
	if n != 0 {
		t.Errorf("%v allocations per error", n)
	}
	ops := r.Merge()
	if k := ops[0].ErrorKinds; k[KindTimeout] != 1001 || k[KindConnection] != 1001 || k[KindOther] != MaxErrorSamples {
		t.Errorf("kinds = %v", k)
	}
}
