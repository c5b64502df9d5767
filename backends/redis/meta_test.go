package redis

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
)

// date parses a date_done as the captures show it (naive UTC).
func date(t *testing.T, s string) time.Time {
	t.Helper()
	d, err := time.Parse("2006-01-02T15:04:05.999999", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The tracebacks of the captures, with their paths redacted as in the
// reference.
const (
	tbTrace = "Traceback (most recent call last):\n" +
		"  File \"<dist-packages>/celery/app/trace.py\", line 451, in trace_task\n" +
		"    R = retval = fun(*args, **kwargs)\n" +
		"                 ^^^^^^^^^^^^^^^^^^^^\n" +
		"  File \"<dist-packages>/celery/app/trace.py\", line 734, in __protected_call__\n" +
		"    return self.run(*args, **kwargs)\n" +
		"           ^^^^^^^^^^^^^^^^^^^^^^^^^\n"
	tbBoom26 = tbTrace + "  File \"<lab>/tasks.py\", line 26, in boom\n    raise ValueError('boom', 42)\nValueError: ('boom', 42)\n"
	tbBoom28 = tbTrace + "  File \"<lab>/tasks.py\", line 28, in boom\n    raise ValueError('boom', 42)\nValueError: ('boom', 42)\n"
	tbChord  = tbBoom28 + "\nDuring handling of the above exception, another exception occurred:\n\n" +
		"Traceback (most recent call last):\n" +
		"  File \"<dist-packages>/celery/backends/redis.py\", line 520, in on_chord_part_return\n" +
		"    resl = [unpack(tup, decode) for tup in resl]\n" +
		"           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n" +
		"  File \"<dist-packages>/celery/backends/redis.py\", line 520, in <listcomp>\n" +
		"    resl = [unpack(tup, decode) for tup in resl]\n" +
		"            ^^^^^^^^^^^^^^^^^^^\n" +
		"  File \"<dist-packages>/celery/backends/redis.py\", line 426, in _unpack_chord_result\n" +
		"    raise ChordError(f'Dependency {tid} raised {retval!r}')\n" +
		"celery.exceptions.ChordError: Dependency 73391918-eb51-4f1d-a5e4-a401a9746de8 raised ValueError('boom', 42)\n"
)

// capturedMetas are the records behind the stored values of §1.3, built
// from the same ids, results and dates, keyed by Redis key.
func capturedMetas(t *testing.T) map[string]*backends.TaskMeta {
	const (
		spawnParent = "d143acad-84ea-424d-be7a-459d549d377d"
		spawnChild  = "fcc679ae-beeb-4fd5-b409-d93320ae7d06"
		chordGroup  = "5cc18df3-b9d0-46f6-9edf-a36c65135289"
		failGroup   = "27e1da1f-7566-4eb9-a587-062753cc1a88"
	)
	boom := py.Exception("builtins", "ValueError", "boom", 42)
	metas := []*backends.TaskMeta{
		{TaskID: "5fea23cf-4557-4b85-b5d8-50aa181cb090", Status: backends.Success, Result: 5,
			Children: []string{}, DateDone: date(t, "2026-11-25T22:47:09.912656")},
		{TaskID: "100981c0-07a3-4bbe-a84b-509ff6f6c177", Status: backends.Success, Result: strings.Repeat("x", 1024),
			DateDone: date(t, "2026-11-25T22:47:13.049032")},
		{TaskID: "87b9acbc-0428-4b4c-b91a-54f9cf1c50d2", Status: backends.Failure, Result: boom,
			Traceback: tbBoom26, DateDone: date(t, "2026-11-25T22:47:15.896279")},
		{TaskID: "43bdbe30-8631-4068-a03d-681642368c13", Status: backends.Success, Result: "done",
			DateDone: date(t, "2026-11-25T22:47:18.947656")},
		{TaskID: "91781cb4-3fdc-45fe-8284-e7851af8558f", Status: backends.Success, Result: py.Dict{
			// kombu 5.2 turned the datetimes, the Decimal and the UUID into
			// strings before json.dumps saw them.
			{Key: "naive_dt", Value: "2024-01-02T03:04:05.678901"},
			{Key: "utc_dt", Value: "2024-01-02T03:04:05Z"},
			{Key: "dec", Value: "1.5"},
			{Key: "uuid", Value: "00000000-0000-0000-0000-000000000001"},
			{Key: "uni", Value: "é€"},
			{Key: "tuple", Value: py.Tuple{1, 2}},
			{Key: "none", Value: nil},
		}, DateDone: date(t, "2026-11-25T22:47:33.663394")},
		{TaskID: spawnParent, Status: backends.Success, Result: spawnChild, Children: []string{spawnChild},
			DateDone: date(t, "2026-11-25T22:47:27.306374")},
		{TaskID: spawnChild, Status: backends.Success, Result: 2, ParentID: spawnParent,
			DateDone: date(t, "2026-11-25T22:47:27.309051")},
		{TaskID: "55a6471e-556e-4361-8781-e33dc7c9b53d", Status: backends.Success, Result: 5,
			DateDone: date(t, "2026-11-25T22:49:01.794240"),
			Extended: &backends.Extended{Name: "tasks.add", Args: []any{2, 3}, Kwargs: py.Dict{},
				Worker: "w1@lab", Retries: 0, Queue: "celery"}},
		{TaskID: "58777bbd-abbc-44d3-a04a-1897956a89de", Status: backends.Started,
			Result: py.Dict{{Key: "pid", Value: 30903}, {Key: "hostname", Value: "w1@lab"}}},
		{TaskID: "74e22451-f242-4f3e-8e69-aef20daa6be9", Status: backends.Success, Result: 5,
			DateDone: date(t, "2026-11-25T22:50:21.467584")},
		{TaskID: "7ee41524-7588-4f3c-a81c-d34974b93436", Status: backends.Success, Result: 2, GroupID: chordGroup,
			DateDone: date(t, "2026-11-25T22:52:04.900547")},
		{TaskID: "c2c44bc7-789b-4506-bca3-064933976af9", Status: backends.Success, Result: 4, GroupID: chordGroup,
			DateDone: date(t, "2026-11-25T22:52:04.923706")},
		{TaskID: "0efcbd14-7521-42a8-ae2a-f98b84778464", Status: backends.Success, Result: 2, GroupID: failGroup,
			DateDone: date(t, "2026-11-25T22:52:12.187758")},
		{TaskID: "73391918-eb51-4f1d-a5e4-a401a9746de8", Status: backends.Failure, Result: boom, Traceback: tbBoom28,
			GroupID: failGroup, DateDone: date(t, "2026-11-25T22:52:12.198073")},
		{TaskID: "98ba8ad3-0f12-4a9e-992b-b5a1f329445d", Status: backends.Failure,
			Result: py.Exception("celery.exceptions", "ChordError",
				"Dependency 73391918-eb51-4f1d-a5e4-a401a9746de8 raised ValueError('boom', 42)"),
			Traceback: tbChord, DateDone: date(t, "2026-11-25T22:52:12.203551")},
	}
	out := map[string]*backends.TaskMeta{}
	for _, m := range metas {
		out[taskKeyPrefix+m.TaskID] = m
	}
	return out
}

// capture is one stored value of §1.3.
type capture struct {
	scenario, key string
	length        int // LEN: the live length, before paths were redacted
	value         []byte
}

// readCaptures reads testdata/celery52-stored.txt.
func readCaptures(t *testing.T) []capture {
	t.Helper()
	f, err := os.Open("testdata/celery52-stored.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []capture
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		fields := strings.SplitN(line, " ", 4)
		n, err := strconv.Atoi(fields[2])
		if err != nil || len(fields) != 4 {
			t.Fatalf("bad line %q", line)
		}
		lit := strings.ReplaceAll(fields[3], "<1024 x 'x'>", strings.Repeat("x", 1024))
		out = append(out, capture{scenario: fields[0], key: fields[1], length: n, value: pyBytes(t, lit)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// pyBytes decodes a Python bytes literal b'...' as repr() writes it.
func pyBytes(t *testing.T, lit string) []byte {
	t.Helper()
	if !strings.HasPrefix(lit, "b'") || !strings.HasSuffix(lit, "'") {
		t.Fatalf("not a bytes literal: %.40s", lit)
	}
	s := lit[2 : len(lit)-1]
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		i++
		switch s[i] {
		case '\\', '\'', '"':
			out = append(out, s[i])
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'x':
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, byte(v))
			i += 2
		default:
			t.Fatalf("unknown escape \\%c", s[i])
		}
	}
	return out
}

// with56 turns a 5.2 value into its 5.5+ form: date_done gains "+00:00".
func with56(v []byte) []byte {
	const k = `"date_done": "`
	i := bytes.Index(v, []byte(k))
	if i < 0 {
		return v
	}
	j := i + len(k) + bytes.IndexByte(v[i+len(k):], '"')
	return append(append(append([]byte(nil), v[:j]...), "+00:00"...), v[j:]...)
}

// TestAppendMetaJSONCaptured reproduces every JSON value Celery 5.2.6
// stored in the live captures, and its 5.6 form.
func TestAppendMetaJSONCaptured(t *testing.T) {
	metas := capturedMetas(t)
	seen := 0
	for _, c := range readCaptures(t) {
		if bytes.HasPrefix(c.value, []byte("\x80\x04")) {
			continue // pickle (config E)
		}
		m, ok := metas[c.key]
		if !ok {
			t.Errorf("%s %s: no TaskMeta for this capture", c.scenario, c.key)
			continue
		}
		seen++
		if !strings.Contains(string(c.value), "<dist-packages>") && len(c.value) != c.length {
			t.Errorf("%s: the testdata value is %d bytes, the capture says LEN %d", c.key, len(c.value), c.length)
		}
		for _, v := range []backends.Version{backends.Celery52, backends.Celery56} {
			want := c.value
			if v.AtLeast(5, 5) {
				want = with56(want)
			}
			got, err := AppendMetaJSON(nil, m, v)
			if err != nil {
				t.Fatalf("%s %s celery %s: %v", c.scenario, c.key, v, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %s celery %s:\n got %s\nwant %s", c.scenario, c.key, v, got, want)
			}
		}
	}
	if seen != len(metas) {
		t.Errorf("checked %d captures, want %d", seen, len(metas))
	}
}

// TestAppendMetaJSON56Probe reproduces the value a Celery 5.6.3 backend
// stored in the §3.9 probe.
func TestAppendMetaJSON56Probe(t *testing.T) {
	d, _ := time.Parse(time.RFC3339Nano, "2026-11-25T22:53:14.891238Z")
	m := &backends.TaskMeta{TaskID: "probe-0", Status: backends.Success, Result: 5, DateDone: d}
	got, err := AppendMetaJSON(nil, m, backends.Celery56)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-11-25T22:53:14.891238+00:00", "task_id": "probe-0"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestAppendMetaJSONShapes(t *testing.T) {
	whole, _ := time.Parse(time.RFC3339, "2026-01-01T00:00:00Z")
	tests := []struct {
		name string
		m    *backends.TaskMeta
		v    backends.Version
		want string
	}{
		{"microseconds 0 drop the fraction", &backends.TaskMeta{TaskID: "t", Status: backends.Success, Result: nil, DateDone: whole},
			backends.Celery52, `{"status": "SUCCESS", "result": null, "traceback": null, "children": [], "date_done": "2026-01-01T00:00:00", "task_id": "t"}`},
		{"5.6 offset without fraction", &backends.TaskMeta{TaskID: "t", Status: backends.Success, Result: 1.0, DateDone: whole},
			backends.Celery56, `{"status": "SUCCESS", "result": 1.0, "traceback": null, "children": [], "date_done": "2026-01-01T00:00:00+00:00", "task_id": "t"}`},
		{"progress", &backends.TaskMeta{TaskID: "t", Status: backends.Progress,
			Result: py.Dict{{Key: "current", Value: 1}, {Key: "total", Value: 2}}},
			backends.Celery56, `{"status": "PROGRESS", "result": {"current": 1, "total": 2}, "traceback": null, "children": [], "date_done": null, "task_id": "t"}`},
		{"retry lists itself, two children", &backends.TaskMeta{TaskID: "t", Status: backends.Retry, Result: nil,
			Traceback: "tb\n", Children: []string{"t", "u"}},
			backends.Celery52, `{"status": "RETRY", "result": null, "traceback": "tb\n", "children": [[["t", null], null], [["u", null], null]], "date_done": null, "task_id": "t"}`},
		{"extended with nil args and kwargs", &backends.TaskMeta{TaskID: "t", Status: backends.Started, Result: nil,
			GroupID: "g", ParentID: "p", Extended: &backends.Extended{Name: "n", Worker: "w", Retries: 3, Queue: "q"}},
			backends.Celery52, `{"status": "STARTED", "result": null, "traceback": null, "children": [], "date_done": null, "group_id": "g", "parent_id": "p", "name": "n", "args": [], "kwargs": {}, "worker": "w", "retries": 3, "queue": "q", "task_id": "t"}`},
		{"non-ASCII ids are escaped", &backends.TaskMeta{TaskID: "é", Status: backends.Success, Result: "\U0001F600"},
			backends.Celery52, `{"status": "SUCCESS", "result": "\ud83d\ude00", "traceback": null, "children": [], "date_done": null, "task_id": "\u00e9"}`},
	}
	for _, tt := range tests {
		got, err := AppendMetaJSON(nil, tt.m, tt.v)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
	if _, err := AppendMetaJSON(nil, &backends.TaskMeta{TaskID: "t", Status: backends.Success, Result: struct{}{}}, backends.Celery52); err == nil {
		t.Error("a Go struct as result encoded without error")
	}
}

// TestParseMetaJSONRoundTrip decodes each captured value and encodes it
// back to the same bytes.
func TestParseMetaJSONRoundTrip(t *testing.T) {
	for _, c := range readCaptures(t) {
		if bytes.HasPrefix(c.value, []byte("\x80\x04")) {
			if _, err := ParseMetaJSON(c.value); err == nil {
				t.Errorf("%s: a pickle decoded as JSON", c.key)
			}
			if _, err := stateOf(c.value); err == nil {
				t.Errorf("%s: stateOf read a pickle", c.key)
			}
			continue
		}
		for _, v := range []backends.Version{backends.Celery52, backends.Celery56} {
			value := c.value
			if v.AtLeast(5, 5) {
				value = with56(value)
			}
			m, err := ParseMetaJSON(value)
			if err != nil {
				t.Fatalf("%s: %v", c.key, err)
			}
			if taskKeyPrefix+m.TaskID != c.key {
				t.Errorf("%s: task id %q", c.key, m.TaskID)
			}
			got, err := AppendMetaJSON(nil, m, v)
			if err != nil {
				t.Fatalf("%s: %v", c.key, err)
			}
			if !bytes.Equal(got, value) {
				t.Errorf("%s celery %s round trip:\n got %s\nwant %s", c.key, v, got, value)
			}
		}
	}
	m, err := ParseMetaJSON([]byte(`{"status": "SUCCESS", "result": 1, "traceback": null, "children": null, "date_done": "2026-01-02T03:04:05.5+01:00", "task_id": "t"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m.Children != nil || !m.DateDone.Equal(time.Date(2026, 1, 2, 2, 4, 5, 5e8, time.UTC)) || m.Extended != nil {
		t.Errorf("ParseMetaJSON = %+v", m)
	}
	for _, bad := range []string{`[]`, `{"result": 1}`, `{"status": 1}`, `{"status": "SUCCESS", "children": [1]}`, `{"status": "SUCCESS", "date_done": "yesterday"}`} {
		if _, err := ParseMetaJSON([]byte(bad)); err == nil {
			t.Errorf("ParseMetaJSON(%s) did not fail", bad)
		}
	}
}

func TestStateOf(t *testing.T) {
	tests := []struct {
		in   string
		want backends.State
		ok   bool
	}{
		{`{"status": "SUCCESS", "result": 1}`, backends.Success, true},    // fast path
		{`{"status": "PROGRESS", "result": {}}`, backends.Progress, true}, // fast path
		{`{"status": "CUSTOM", "result": 1}`, "CUSTOM", true},             // fast path, custom state
		{`{"result": 1, "status": "SUCCESS"}`, backends.Success, true},    // other key order: full decode
		{`{"status":"FAILURE"}`, backends.Failure, true},                  // compact: full decode
		{`{"status": "A\"B"}`, `A"B`, true},                               // escape: full decode
		{`{"status": "SUCC`, "", false},                                   // truncated
		{"\x80\x04\x95", "", false},                                       // pickle
	}
	for _, tt := range tests {
		got, err := stateOf(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("stateOf(%s) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		gotb, errb := stateOf([]byte(tt.in))
		if gotb != got || (errb == nil) != (err == nil) {
			t.Errorf("stateOf([]byte(%s)) = %q, %v; differs from the string form", tt.in, gotb, errb)
		}
	}
	if n := testing.AllocsPerRun(100, func() { stateOf(`{"status": "SUCCESS", "result": 1}`) }); n != 0 {
		t.Errorf("the fast path allocates %v times", n)
	}
}

func BenchmarkAppendMetaJSON(b *testing.B) {
	m := &backends.TaskMeta{TaskID: "5fea23cf-4557-4b85-b5d8-50aa181cb090", Status: backends.Success, Result: 5,
		DateDone: time.Date(2026, 11, 25, 22, 47, 9, 912656000, time.UTC)}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendMetaJSON(buf[:0], m, backends.Celery56)
	}
}
