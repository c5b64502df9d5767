package pyjson

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/celery-bench/bench/backends/codec/py"
)

// golden is one line of testdata/golden.jsonl, written by testdata/gen.py
// from CPython 3.11's json module.
type golden struct {
	Kind        string
	Name        string
	Value       any
	JSON        string
	Input       *string
	InputHex    string `json:"input_hex"`
	Error       string
	Unsupported bool
	Pairs       [][2]string
}

func (g golden) input(t testing.TB) []byte {
	if g.Input != nil {
		return []byte(*g.Input)
	}
	b, err := hex.DecodeString(g.InputHex)
	if err != nil {
		t.Fatalf("%s: %v", g.Name, err)
	}
	return b
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

// fromDesc rebuilds a py value from gen.py's description of a Python value.
func fromDesc(d any) (any, error) {
	switch d := d.(type) {
	case nil, bool, string:
		return d, nil
	case json.Number:
		if i, err := strconv.ParseInt(string(d), 10, 64); err == nil {
			return i, nil
		}
		if u, err := strconv.ParseUint(string(d), 10, 64); err == nil {
			return u, nil
		}
		return nil, fmt.Errorf("integer %s out of range", d)
	case []any:
		l := []any{}
		for _, e := range d {
			v, err := fromDesc(e)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case map[string]any:
		switch {
		case d["float"] != nil:
			u, err := strconv.ParseUint(d["float"].(string), 16, 64)
			return math.Float64frombits(u), err
		case d["bytes"] != nil:
			return hex.DecodeString(d["bytes"].(string))
		case d["repeat"] != nil:
			n, err := d["n"].(json.Number).Int64()
			return strings.Repeat(d["repeat"].(string), int(n)), err
		case d["tuple"] != nil:
			l, err := fromDesc(d["tuple"])
			if err != nil {
				return nil, err
			}
			return py.Tuple(l.([]any)), nil
		case d["dict"] != nil:
			dict := py.Dict{}
			for _, p := range d["dict"].([]any) {
				p := p.([]any)
				v, err := fromDesc(p[1])
				if err != nil {
					return nil, err
				}
				dict = append(dict, py.Item{Key: p[0].(string), Value: v})
			}
			return dict, nil
		}
	}
	return nil, fmt.Errorf("bad description %#v", d)
}

// asJSON is what Decode gives back for v: tuples become lists and all
// integers int64.
func asJSON(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case py.Tuple:
		return asJSON([]any(v))
	case []any:
		l := make([]any, len(v))
		for i, e := range v {
			l[i] = asJSON(e)
		}
		return l
	case py.Dict:
		d := make(py.Dict, len(v))
		for i, it := range v {
			d[i] = py.Item{Key: it.Key, Value: asJSON(it.Value)}
		}
		return d
	}
	return v
}

// same reports whether two decoded values are identical, floats bit for bit.
func same(a, b any) bool {
	switch a := a.(type) {
	case float64:
		b, ok := b.(float64)
		return ok && math.Float64bits(a) == math.Float64bits(b)
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if !same(a[i], b[i]) {
				return false
			}
		}
		return true
	case py.Dict:
		b, ok := b.(py.Dict)
		if !ok || len(a) != len(b) || (a == nil) != (b == nil) {
			return false
		}
		for i := range a {
			if a[i].Key != b[i].Key || !same(a[i].Value, b[i].Value) {
				return false
			}
		}
		return true
	}
	return a == b
}

func TestAppendGolden(t *testing.T) {
	n := 0
	for _, g := range loadGolden(t) {
		if g.Kind != "encode" {
			continue
		}
		n++
		v, err := fromDesc(g.Value)
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		got, err := Append([]byte("prefix"), v)
		if err != nil {
			t.Errorf("%s: Append: %v", g.Name, err)
			continue
		}
		if string(got) != "prefix"+g.JSON {
			t.Errorf("%s:\n got %s\nwant prefix%s", g.Name, got, g.JSON)
		}
	}
	if n < 90 {
		t.Fatalf("only %d encode goldens", n)
	}
}

func TestDecodeGolden(t *testing.T) {
	for _, g := range loadGolden(t) {
		switch g.Kind {
		case "encode": // Decode must read Python's output back.
			want, err := fromDesc(g.Value)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode([]byte(g.JSON))
			if err != nil {
				t.Errorf("%s: Decode(%q): %v", g.Name, g.JSON, err)
			} else if !same(got, asJSON(want)) {
				t.Errorf("%s: Decode(%q) = %#v, want %#v", g.Name, g.JSON, got, asJSON(want))
			}
		case "decode":
			in := g.input(t)
			got, err := Decode(in)
			switch {
			case g.Error != "" || g.Unsupported:
				var se *SyntaxError
				if err == nil {
					t.Errorf("%s: Decode(%q) = %#v, want error (Python: %q)", g.Name, in, got, g.Error)
				} else if !errors.As(err, &se) {
					t.Errorf("%s: Decode(%q) error %v is not a *SyntaxError", g.Name, in, err)
				}
			case err != nil:
				t.Errorf("%s: Decode(%q): %v", g.Name, in, err)
			default:
				want, err := fromDesc(g.Value)
				if err != nil {
					t.Fatal(err)
				}
				if !same(got, asJSON(want)) {
					t.Errorf("%s: Decode(%q) = %#v, want %#v", g.Name, in, got, want)
				}
			}
		}
	}
}

func TestFloatRepr(t *testing.T) {
	n := 0
	for _, g := range loadGolden(t) {
		for _, p := range g.Pairs {
			n++
			u, err := strconv.ParseUint(p[0], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			f := math.Float64frombits(u)
			if got := string(appendFloat(nil, f)); got != p[1] {
				t.Errorf("repr(%v) (bits %s) = %s, want %s", f, p[0], got, p[1])
			}
		}
	}
	if n < 2000 {
		t.Fatalf("only %d float goldens", n)
	}
}

func TestAppendString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{"a\xffb", `"a\ufffdb"`},                 // an invalid byte
		{"\xe2\x82", `"\ufffd\ufffd"`},           // a truncated sequence: one per byte
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // a UTF-8 encoded surrogate is invalid
		{"\U0001F600", `"\ud83d\ude00"`},
		{"<script>&</script>", `"<script>&</script>"`},
	} {
		if got := string(AppendString(nil, c.in)); got != c.want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestAppendTypes(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{int8(-8), "-8"}, {int16(-16), "-16"}, {int32(-32), "-32"},
		{uint8(8), "8"}, {uint16(16), "16"}, {uint32(32), "32"}, {uint(7), "7"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{float32(0.1), "0.10000000149011612"},
		{[]any(nil), "[]"}, {py.Dict(nil), "{}"}, {py.Tuple(nil), "[]"},
		{py.Exception("builtins", "ValueError", "boom", 42),
			`{"exc_type": "ValueError", "exc_message": ["boom", 42], "exc_module": "builtins"}`},
	} {
		got, err := Append(nil, c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("Append(%#v) = %s, %v; want %s", c.v, got, err, c.want)
		}
	}
}

func TestAppendErrors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for _, c := range []struct {
		v    any
		want error
	}{
		{[]byte("bytes"), ErrUnsupportedType},
		{map[string]any{}, ErrUnsupportedType},
		{[]string{"a"}, ErrUnsupportedType},
		{struct{}{}, ErrUnsupportedType},
		{py.Dict{{Key: "k", Value: []any{1, make(chan int)}}}, ErrUnsupportedType},
		{cyclic, ErrTooDeep},
	} {
		dst := []byte("keep")
		got, err := Append(dst, c.v)
		if !errors.Is(err, c.want) {
			t.Errorf("Append(%T) error = %v, want %v", c.v, err, c.want)
		}
		if string(got) != "keep" {
			t.Errorf("Append(%T) on error returned %q, want the original dst", c.v, got)
		}
	}
}

func TestDecodeDepth(t *testing.T) {
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if _, err := Decode([]byte(ok)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	deep := "[" + ok + "]"
	if _, err := Decode([]byte(deep)); !errors.Is(err, ErrTooDeep) {
		t.Errorf("depth %d: err = %v, want ErrTooDeep", MaxDepth+1, err)
	}
}

// roundTripValues are Go values Decode(Append(v)) must give back (after
// asJSON).
func roundTripValues(t testing.TB) []any {
	vals := []any{
		nil, true, false, 0, -1, int64(math.MinInt64), int64(math.MaxInt64), 0.5, -0.0,
		math.Inf(-1), pyNaN, "", "é€😀\x00\x1f\"\\/", []any{}, py.Dict{}, py.Tuple{},
		py.Dict{{Key: "status", Value: "SUCCESS"}, {Key: "result", Value: []any{1, py.Tuple{2.5, "x"}}}},
		benchMeta,
	}
	for _, g := range loadGolden(t) {
		if g.Kind == "encode" {
			v, err := fromDesc(g.Value)
			if err != nil {
				t.Fatal(err)
			}
			vals = append(vals, v)
		}
	}
	return vals
}

func TestRoundTrip(t *testing.T) {
	for _, v := range roundTripValues(t) {
		b, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(%#v): %v", v, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s): %v", b, err)
		}
		if !same(got, asJSON(v)) {
			t.Errorf("Decode(Append(%#v)) = %#v", v, got)
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

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = Append(buf[:0], benchValue); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Append allocates %v times per call, want 0", allocs)
	}
}

func BenchmarkAppend(b *testing.B) {
	buf, _ := Append(nil, benchValue)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = Append(buf[:0], benchValue)
	}
}

func BenchmarkDecode(b *testing.B) {
	data, _ := Append(nil, benchMeta)
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
		switch g.Kind {
		case "encode":
			f.Add([]byte(g.JSON))
		case "decode":
			f.Add(g.input(f))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever Decode accepts, Append must write, and reading that back
		// must give the same value.
		b, err := Append(nil, v)
		if err != nil {
			t.Fatalf("Append(Decode(%q)): %v", data, err)
		}
		v2, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%q) (re-encoded from %q): %v", b, data, err)
		}
		if !same(v, v2) {
			t.Fatalf("%q: decoded %#v, re-decoded %#v", data, v, v2)
		}
	})
}

// appendStringRef is AppendString written the plain way, one rune at a time.
func appendStringRef(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i, w := 0, 0; i < len(s); i += w {
		var r rune
		r, w = utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, `\n`...)
		case r == '\r':
			dst = append(dst, `\r`...)
		case r == '\t':
			dst = append(dst, `\t`...)
		case r == '\b':
			dst = append(dst, `\b`...)
		case r == '\f':
			dst = append(dst, `\f`...)
		case r >= ' ' && r <= '~':
			dst = append(dst, byte(r))
		case r >= 0x10000:
			r1, r2 := utf16.EncodeRune(r)
			dst = fmt.Appendf(dst, `\u%04x\u%04x`, r1, r2)
		default:
			dst = fmt.Appendf(dst, `\u%04x`, r)
		}
	}
	return append(dst, '"')
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain ascii text!", "0123456789abcdef\"", "\x7f\x1f~ ", "é€😀\xff", "\"\\\n\r\t\b\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := AppendString(nil, s), appendStringRef(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	})
}
