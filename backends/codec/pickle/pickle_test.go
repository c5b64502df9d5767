package pickle

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/celery-bench/bench/backends/codec/py"
)

// golden is one line of testdata/golden.jsonl, written by testdata/gen.py
// from CPython 3.11's pickle.dumps.
type golden struct {
	Kind   string
	Name   string
	Proto  int
	Value  any
	Hex    string
	Len    int
	SHA256 string
	Error  string
}

func loadGolden(t testing.TB) []golden {
	t.Helper()
	f, err := os.Open("testdata/golden.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []golden
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var g golden
		if err := dec.Decode(&g); err != nil {
			t.Fatalf("golden line %d: %v", len(out)+1, err)
		}
		out = append(out, g)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (g golden) data(t testing.TB) []byte {
	b, err := hex.DecodeString(g.Hex)
	if err != nil {
		t.Fatalf("%s: %v", g.Name, err)
	}
	return b
}

func num(v any) int {
	n, err := v.(json.Number).Int64()
	if err != nil {
		panic(err)
	}
	return int(n)
}

// fromDesc rebuilds a py value from gen.py's description of a Python value.
func fromDesc(d any) any {
	switch d := d.(type) {
	case nil, bool, string:
		return d
	case json.Number:
		if i, err := strconv.ParseInt(string(d), 10, 64); err == nil {
			return i
		}
		u, err := strconv.ParseUint(string(d), 10, 64)
		if err != nil {
			panic(err)
		}
		return u
	case []any:
		l := []any{}
		for _, e := range d {
			l = append(l, fromDesc(e))
		}
		return l
	case map[string]any:
		switch {
		case d["float"] != nil:
			u, err := strconv.ParseUint(d["float"].(string), 16, 64)
			if err != nil {
				panic(err)
			}
			return math.Float64frombits(u)
		case d["bytes"] != nil:
			b, err := hex.DecodeString(d["bytes"].(string))
			if err != nil {
				panic(err)
			}
			return b
		case d["repeat"] != nil:
			s, _ := d["suffix"].(string)
			return strings.Repeat(d["repeat"].(string), num(d["n"])) + s
		case d["brepeat"] != nil:
			c, err1 := hex.DecodeString(d["brepeat"].(string))
			s, _ := d["suffix"].(string)
			suffix, err2 := hex.DecodeString(s)
			if err := errors.Join(err1, err2); err != nil {
				panic(err)
			}
			return append(bytes.Repeat(c, num(d["n"])), suffix...)
		case d["range"] != nil:
			r := d["range"].([]any)
			l := []any{}
			for i := num(r[0]); i < num(r[1]); i += num(r[2]) {
				l = append(l, int64(i))
			}
			return l
		case d["dictrange"] != nil:
			return dictRange(num(d["dictrange"]))
		case d["tuple"] != nil:
			return py.Tuple(fromDesc(d["tuple"]).([]any))
		case d["dict"] != nil:
			dict := py.Dict{}
			for _, p := range d["dict"].([]any) {
				p := p.([]any)
				dict = append(dict, py.Item{Key: p[0].(string), Value: fromDesc(p[1])})
			}
			return dict
		}
	}
	panic(fmt.Sprintf("bad description %#v", d))
}

func dictRange(n int) py.Dict {
	d := py.Dict{}
	for i := range n {
		d = append(d, py.Item{Key: "k" + strconv.Itoa(i), Value: int64(i)})
	}
	return d
}

// decodable reports whether Decode can give v back: ints beyond int64 are
// out of its range.
func decodable(v any) bool {
	switch v := v.(type) {
	case uint64:
		return v <= math.MaxInt64
	case []any:
		for _, e := range v {
			if !decodable(e) {
				return false
			}
		}
	case py.Tuple:
		return decodable([]any(v))
	case py.Dict:
		for _, it := range v {
			if !decodable(it.Value) {
				return false
			}
		}
	}
	return true
}

// same reports whether a decoded value equals v, with Go ints compared as
// int64 and floats bit for bit.
func same(got, v any) bool {
	switch v := v.(type) {
	case int:
		return got == int64(v)
	case uint64:
		return v <= math.MaxInt64 && got == int64(v)
	case float64:
		g, ok := got.(float64)
		return ok && math.Float64bits(g) == math.Float64bits(v)
	case []byte:
		g, ok := got.([]byte)
		return ok && bytes.Equal(g, v) && g != nil
	case []any:
		g, ok := got.([]any)
		return ok && g != nil && sameList(g, v)
	case py.Tuple:
		g, ok := got.(py.Tuple)
		return ok && g != nil && sameList(g, v)
	case py.Dict:
		g, ok := got.(py.Dict)
		if !ok || g == nil || len(g) != len(v) {
			return false
		}
		for i := range v {
			if g[i].Key != v[i].Key || !same(g[i].Value, v[i].Value) {
				return false
			}
		}
		return true
	}
	return got == v
}

func sameList(g, v []any) bool {
	if len(g) != len(v) {
		return false
	}
	for i := range v {
		if !same(g[i], v[i]) {
			return false
		}
	}
	return true
}

// firstDiff describes where two pickles part.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-16)
	return fmt.Sprintf("lengths %d/%d, first difference at %d:\n got ...%x\nwant ...%x",
		len(got), len(want), i, got[lo:min(len(got), i+16)], want[lo:min(len(want), i+16)])
}

func TestAppendGolden(t *testing.T) {
	n := 0
	for _, g := range loadGolden(t) {
		if g.Kind != "encode" {
			continue
		}
		n++
		name := fmt.Sprintf("%s/proto%d", g.Name, g.Proto)
		v := fromDesc(g.Value)
		got, err := Append([]byte("prefix"), v, g.Proto)
		if err != nil {
			t.Errorf("%s: Append: %v", name, err)
			continue
		}
		if !bytes.HasPrefix(got, []byte("prefix")) {
			t.Fatalf("%s: Append lost dst", name)
		}
		got = got[len("prefix"):]
		if g.Hex != "" {
			if want := g.data(t); !bytes.Equal(got, want) {
				t.Errorf("%s: %s", name, firstDiff(got, want))
			}
		} else if sum := sha256.Sum256(got); len(got) != g.Len || hex.EncodeToString(sum[:]) != g.SHA256 {
			t.Errorf("%s: got %d bytes with sha256 %x, want %d bytes with sha256 %s",
				name, len(got), sum, g.Len, g.SHA256)
		}
	}
	if n < 400 {
		t.Fatalf("only %d encode goldens", n)
	}
}

func TestDecodeGolden(t *testing.T) {
	for _, g := range loadGolden(t) {
		name := g.Name
		if g.Kind == "encode" {
			name = fmt.Sprintf("%s/proto%d", g.Name, g.Proto)
		}
		data := g.data(t)
		if g.Kind == "encode" && g.Hex == "" { // large: decode our own output, which TestAppendGolden checks
			var err error
			if data, err = Append(nil, fromDesc(g.Value), g.Proto); err != nil {
				t.Fatal(err)
			}
		}
		got, err := Decode(data)
		switch {
		case g.Error != "":
			var pe *Error
			if err == nil {
				t.Errorf("%s: Decode = %#v, want an error with %q", name, got, g.Error)
			} else if !errors.As(err, &pe) || !strings.Contains(err.Error(), g.Error) {
				t.Errorf("%s: Decode error %q, want an *Error with %q", name, err, g.Error)
			}
		case !decodable(fromDesc(g.Value)):
			if err == nil || !strings.Contains(err.Error(), "int64") {
				t.Errorf("%s: Decode = %v, %v; want an int64 range error", name, got, err)
			}
		case err != nil:
			t.Errorf("%s: Decode: %v", name, err)
		case !same(got, fromDesc(g.Value)):
			t.Errorf("%s: Decode = %#v, want %#v", name, got, fromDesc(g.Value))
		}
	}
}

func TestDecodeUnsupportedOpcode(t *testing.T) {
	// pickle.dumps(ValueError('boom', 42), 4)
	data, _ := hex.DecodeString("80049528000000000000008c086275696c74696e73948c0a56616c75654572726f729493948c04626f6f6d944b2a869452942e")
	_, err := Decode(data)
	var pe *Error
	if !errors.Is(err, ErrUnsupportedOpcode) || !errors.As(err, &pe) || pe.Op != "STACK_GLOBAL" || pe.Offset != 35 {
		t.Fatalf("Decode(exception) = %v (%#v), want STACK_GLOBAL at offset 35", err, pe)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\x80\x04N.N", "data after STOP"},
		{"\x80\x04.", "underflow"},
		{"\x80\x04(.", "underflow"},
		{"\x80\x04(N(\x86.", "underflow"},
		{"\x80\x04t.", "MARK"},
		{"\x80\x04Na.", "underflow"},
		{"\x80\x04NNa.", "cannot append to None"},
		{"\x80\x04}NNs.", "dict key of type None"},
		{"\x80\x04}NNNs.", "cannot set items of None"},
		{"\x80\x04}(Nu.", "odd number"},
		{"\x80\x04h\x00.", "memo value not found"},
		{"\x80\x04\x94.", "underflow"},
		{"\x80\x04Nr\xff\xff\xff\xff.", "memo index too large"},
		{"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N.", "frame"},
		{"\x80\x04\x8c\x02\xff\xfe\x94.", "UTF-8"},
		{"\x80\x04X\xff\xff\xff\xff", "truncated"},
		{"\x80\x04\x8b\xff\xff\xff\xff", "negative byte count"},
		{"\x80\x04\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x80\x00.", "int64"},
		{"\x80\x04\xff", "invalid opcode 0xff"},
	} {
		_, err := Decode([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Decode(%q) = %v, want an error with %q", c.in, err, c.want)
		}
	}
}

func TestAppendErrors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for _, c := range []struct {
		v     any
		proto int
		want  error
	}{
		{map[string]any{}, 5, ErrUnsupportedType},
		{[]string{"a"}, 4, ErrUnsupportedType},
		{py.Dict{{Key: "k", Value: py.Tuple{1, struct{}{}}}}, 5, ErrUnsupportedType},
		{[]byte("x"), 2, ErrUnsupportedType},
		{cyclic, 5, ErrTooDeep},
	} {
		got, err := Append([]byte("keep"), c.v, c.proto)
		if !errors.Is(err, c.want) {
			t.Errorf("Append(%T, %d) error = %v, want %v", c.v, c.proto, err, c.want)
		}
		if string(got) != "keep" {
			t.Errorf("Append(%T) on error returned %q, want the original dst", c.v, got)
		}
	}
	for _, p := range []int{-1, 0, 1, 6} {
		if _, err := Append(nil, 1, p); err == nil {
			t.Errorf("Append with protocol %d: no error", p)
		}
	}
}

func TestAppendTypes(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string // hex, protocol 4
	}{
		// The wanted bytes are pickle.dumps of the same Python value.
		{int8(-1), "80049506000000000000004affffffff2e"},
		{uint8(200), "80044bc82e"},
		{int16(-300), "80049506000000000000004ad4feffff2e"},
		{uint16(300), "80049504000000000000004d2c012e"},
		{int32(math.MinInt32), "80049506000000000000004a000000802e"},
		{uint32(math.MaxUint32), "80049508000000000000008a05ffffffff002e"},
		{uint(1), "80044b012e"},
		{uint64(math.MaxUint64), "8004950c000000000000008a09ffffffffffffffff002e"},
		{float32(0.5), "8004950a00000000000000473fe00000000000002e"},
		{"\xff", "80049507000000000000008c03efbfbd942e"}, // as '\ufffd'
		{[]any(nil), "80045d942e"},
		{py.Dict(nil), "80047d942e"},
	} {
		got, err := Append(nil, c.v, 4)
		if err != nil || hex.EncodeToString(got) != c.want {
			t.Errorf("Append(%#v) = %x, %v; want %s", c.v, got, err, c.want)
		}
	}
}

// benchMeta is a typical result record: a FAILURE with an exception and a
// traceback, as Celery stores it.
var benchMeta = py.Dict{
	{Key: "status", Value: "FAILURE"},
	{Key: "result", Value: py.Exception("builtins", "ValueError", "boom", 42)},
	{Key: "traceback", Value: "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/celery/app/trace.py\", line 451, in trace_task\n    R = retval = fun(*args, **kwargs)\nValueError: ('boom', 42)\n"},
	{Key: "children", Value: []any{}},
	{Key: "date_done", Value: "2026-11-25T22:47:15.896279"},
	{Key: "group_id", Value: "5cc18df3-b9d0-46f6-9edf-a36c65135289"},
	{Key: "retries", Value: 0},
	{Key: "progress", Value: 0.75},
	{Key: "task_id", Value: "87b9acbc-0428-4b4c-b91a-54f9cf1c50d2"},
}

// benchValue holds benchMeta in an interface: converting a py.Dict (a slice)
// to any allocates 24 bytes at the call site, which is not Append's doing.
var benchValue any = benchMeta

func TestRoundTrip(t *testing.T) {
	vals := []any{
		nil, true, false, 0, -1, int64(math.MinInt64), int64(math.MaxInt64), 0.5, -0.0,
		math.Inf(-1), "", "é€😀", []byte{}, []byte("raw"), []any{}, py.Dict{}, py.Tuple{},
		py.Tuple{py.Tuple{}, []any{py.Dict{}}}, benchMeta,
		strings.Repeat("big", 30000), bytes.Repeat([]byte{7}, 70000), dictRange(3000),
	}
	for _, g := range loadGolden(t) {
		if g.Kind == "encode" {
			vals = append(vals, fromDesc(g.Value))
		}
	}
	for _, v := range vals {
		if !decodable(v) {
			continue
		}
		for p := 3; p <= HighestProtocol; p++ {
			b, err := Append(nil, v, p)
			if err != nil {
				t.Fatalf("Append(%#v, %d): %v", v, p, err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(Append(%#v, %d)): %v", v, p, err)
			}
			if !same(got, v) {
				t.Errorf("Decode(Append(%#v, %d)) = %#v", v, p, got)
			}
		}
	}
}

func TestDecodeShared(t *testing.T) {
	// pickle.dumps([l, l], 4) with l = [1, 2]: the second is BINGET 1.
	data, _ := hex.DecodeString("8004950f000000000000005d94285d94284b014b02656801652e")
	v, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	l := v.([]any)
	if !same(l, []any{[]any{1, 2}, []any{1, 2}}) {
		t.Fatalf("Decode = %#v", v)
	}
	if &l[0].([]any)[0] != &l[1].([]any)[0] {
		t.Errorf("the shared list decoded twice; want one Go slice")
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = Append(buf[:0], benchValue, 4); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Append allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, p := range []int{4, 5} {
		b.Run(fmt.Sprintf("proto%d", p), func(b *testing.B) {
			buf, _ := Append(nil, benchValue, p)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = Append(buf[:0], benchValue, p)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	data, _ := Append(nil, benchValue, 4)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, g := range loadGolden(f) {
		if g.Hex != "" {
			f.Add(g.data(f))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode(%q) error %v is not an *Error", data, err)
			}
			return
		}
		// Whatever Decode accepts is in the py model: Append must write it,
		// and reading that back must give the same value.
		b, err := Append(nil, v, HighestProtocol)
		if err != nil {
			t.Fatalf("Append(Decode(%q)): %v", data, err)
		}
		v2, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%x) (re-encoded from %q): %v", b, data, err)
		}
		if !same(v2, v) {
			t.Fatalf("%q: decoded %#v, re-decoded %#v", data, v, v2)
		}
	})
}

// TestObjects checks globals and reduced objects: an object held twice is
// written once and referenced (BINGET) after, as Python memoizes by
// identity; DecodeObjects reads the structure back with the sharing, Decode
// refuses it, and protocols below 4 refuse globals.
func TestObjects(t *testing.T) {
	td := Global{Module: "datetime", Name: "timedelta"}
	shared := &Object{Func: td, Args: py.Tuple{1, 0, 0}}
	v := py.Tuple{shared, shared, Interned("x"), Interned("x"), &Object{Func: td, Args: py.Tuple{2, 0, 0}}}
	b, err := Append(nil, v, 5)
	if err != nil {
		t.Fatal(err)
	}
	// pickle.dumps((d, d, 'x', 'x', timedelta(2)), 5) with d = timedelta(1)
	const want = "\x80\x05\x95;\x00\x00\x00\x00\x00\x00\x00(\x8c\bdatetime\x94\x8c\ttimedelta\x94\x93\x94K\x01K\x00K\x00\x87\x94R\x94h\x04\x8c\x01x\x94h\x05h\x02K\x02K\x00K\x00\x87\x94R\x94t\x94."
	if string(b) != want {
		t.Errorf("Append = %q\nwant      %q", b, want)
	}
	d, err := DecodeObjects(b)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := d.(py.Tuple)
	if !ok || len(got) != 5 || got[0] != got[1] || got[0] == got[4] || got[2] != "x" {
		t.Fatalf("DecodeObjects = %#v", d)
	}
	if o := got[4].(*Object); o.Func != td || fmt.Sprint(o.Args[0]) != "2" {
		t.Errorf("DecodeObjects [4] = %#v", o)
	}
	if _, err := Decode(b); !errors.Is(err, ErrUnsupportedOpcode) {
		t.Errorf("Decode of a global: %v, want ErrUnsupportedOpcode", err)
	}
	if _, err := Append(nil, td, 2); !errors.Is(err, ErrUnsupportedType) {
		t.Errorf("a global with protocol 2: %v, want ErrUnsupportedType", err)
	}
}
