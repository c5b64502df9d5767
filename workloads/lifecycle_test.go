package workloads

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	_ "github.com/celery-bench/bench/backends/memory"
	_ "github.com/celery-bench/bench/backends/mysql"
	_ "github.com/celery-bench/bench/backends/redis"
	"github.com/celery-bench/bench/results"
)

// The real servers the op-mix tests use when they answer: a private Redis
// db and a database of bench's own.
const (
	testRedisURL = "redis://127.0.0.1:6379/14"
	testMySQLURL = "db+mysql://root@127.0.0.1:3306/celery_bench_wl"
)

// openTest opens and prepares rawURL, skipping the test when a real server
// does not answer (failing it when BENCH_REQUIRE_SERVERS=1), and deletes
// every result bench wrote there at the end.
func openTest(t *testing.T, rawURL string, o backends.Options) backends.Backend {
	return openTestUnder(t, rawURL, o, IDMarker)
}

// openTestUnder is openTest deleting only the results under prefix.
func openTestUnder(t *testing.T, rawURL string, o backends.Options, prefix string) backends.Backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o.IDPrefix, o.Force = IDMarker, true
	o.ConnectTimeout = 2 * time.Second
	b, err := backends.Open(ctx, rawURL, o)
	if err == nil {
		err = b.Prepare(ctx)
	}
	if err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s is required (BENCH_REQUIRE_SERVERS=1): %v", backends.Redact(rawURL), err)
		}
		t.Skipf("%s does not answer (%v); BENCH_REQUIRE_SERVERS=1 makes this a failure", backends.Redact(rawURL), err)
	}
	t.Cleanup(func() {
		b.Cleanup(context.Background(), prefix)
		b.Close()
	})
	return b
}

// runTasks runs n tasks of w with one caller and one worker and returns the
// count of every op, and fails the test on any error.
func runTasks(t *testing.T, w Workload, b backends.Backend, n int64, o RunOptions) map[string]int64 {
	t.Helper()
	if v, ok := w.(Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	o.Callers, o.Workers, o.Tasks, o.Warmup = 1, 1, n, 0
	if o.PollInterval == 0 {
		o.PollInterval = 5 * time.Millisecond
	}
	if o.TaskTimeout == 0 {
		o.TaskTimeout = 20 * time.Second
	}
	if o.ResultSizes.Max() == 0 {
		o.ResultSizes = FixedSize(64)
	}
	if o.Seed == 0 {
		o.Seed = uint64(time.Now().UnixNano())
	}
	oc, err := Run(context.Background(), w, b, o)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	for _, op := range oc.Ops {
		if op.Errors > 0 {
			t.Errorf("op %s: %d errors: %v", op.Name, op.Errors, op.ErrorSamples)
		}
		counts[op.Name] = op.Count()
	}
	return counts
}

func wantCount(t *testing.T, counts map[string]int64, op string, want int64) {
	t.Helper()
	if got := counts[op]; got != want {
		t.Errorf("%s: %d, want %d (all: %v)", op, got, want, counts)
	}
}

// TestLifecyclesMemory checks each workload's per-task backend operations
// on the memory backend, as counted by the sessions' observers.
func TestLifecyclesMemory(t *testing.T) {
	b := openTest(t, "memory://", backends.DefaultOptions)
	const n = 20
	t.Run("polling", func(t *testing.T) {
		c := runTasks(t, polling{}, b, n, RunOptions{})
		wantCount(t, c, OpRoundtrip, n)
		wantCount(t, c, backends.OpStoreResult, n)
		wantCount(t, c, backends.OpOnTaskCall, n)
		// Every poll is a get_task_meta; all but the last of each task are wasted.
		wantCount(t, c, backends.OpGetTaskMeta, n+c[OpWastedPoll])
		wantCount(t, c, backends.OpDrainEvents, 0)
	})
	t.Run("polling, slow worker", func(t *testing.T) {
		slow := openTest(t, "memory://?delay=30ms", backends.DefaultOptions)
		c := runTasks(t, polling{}, slow, 5, RunOptions{PollInterval: 5 * time.Millisecond})
		if c[OpWastedPoll] < 5 || c[backends.OpGetTaskMeta] != 5+c[OpWastedPoll] {
			t.Errorf("a 30 ms task polled every 5 ms: %v", c)
		}
	})
	t.Run("progress", func(t *testing.T) {
		c := runTasks(t, &progress{updates: 2}, b, n, RunOptions{})
		wantCount(t, c, OpRoundtrip, n)
		wantCount(t, c, backends.OpStoreResult, 3*n) // 2 PROGRESS + SUCCESS
		c = runTasks(t, &progress{updates: 2}, b, n, RunOptions{TrackStarted: true})
		wantCount(t, c, backends.OpStoreResult, 4*n) // + STARTED
	})
	t.Run("failure", func(t *testing.T) {
		c := runTasks(t, &failure{failureRate: 1, tracebackSize: DefaultTracebackSize}, b, n, RunOptions{})
		wantCount(t, c, OpRoundtrip, n) // FAILURE is the expected outcome, not an error
		wantCount(t, c, backends.OpStoreResult, n)
		w := &failure{failureRate: 1, retryRate: 1, tracebackSize: 4096}
		c = runTasks(t, w, b, n, RunOptions{TrackStarted: true})
		wantCount(t, c, OpRoundtrip, n)
		wantCount(t, c, backends.OpStoreResult, 4*n) // STARTED, RETRY, STARTED, FAILURE
	})
	t.Run("mix", func(t *testing.T) {
		m := &mix{spec: "roundtrip=50,store-only=25,polling=25"}
		c := runTasks(t, m, b, 200, RunOptions{})
		wantCount(t, c, OpTask, 200)
		wantCount(t, c, backends.OpStoreResult, 200)
		wantCount(t, c, backends.OpOnTaskCall, 200)
		if c[OpRoundtrip] < 50 || c[OpRoundtrip] > 190 {
			t.Errorf("roundtrip+polling tasks %d of 200, want about 150", c[OpRoundtrip])
		}
		f := &mix{filePath: "testdata/mix.yaml"}
		c = runTasks(t, f, b, 200, RunOptions{})
		wantCount(t, c, OpTask, 200)
	})
}

// TestWorkerRecords checks the records the worker stores for the failure
// and progress lifecycles: exception records, tracebacks, the RETRY
// record's children and the re-run's parent_id and retries.
func TestWorkerRecords(t *testing.T) {
	var mu sync.Mutex
	var got []backends.TaskMeta
	rec := recordingWorker{store: func(m *backends.TaskMeta) {
		mu.Lock()
		c := *m
		if m.Extended != nil {
			e := *m.Extended
			c.Extended = &e
		}
		got = append(got, c)
		mu.Unlock()
	}}
	f := &failure{failureRate: 1, retryRate: 1, tracebackSize: 1000}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	wk := &worker{session: rec, handle: nil, trackStarted: true, pid: 7, hostname: "celery@h",
		extended: &backends.Extended{Name: TaskName, Args: []any{3}, Worker: "celery@h", Queue: "celery"}}
	wk.handle = newTestHandle()
	wk.started = nil
	task := &Task{ID: "bec1e7e0-0000-4000-8000-000000000001", Result: "abc", Progress: 1, Retry: f.retry, Fail: f.fail, Sent: time.Now()}
	wk.execute(context.Background(), task)
	want := []backends.State{backends.Started, backends.Retry, backends.Started, backends.Progress, backends.Failure}
	if len(got) != len(want) {
		t.Fatalf("%d writes, want %d: %+v", len(got), len(want), got)
	}
	for i, m := range got {
		if m.Status != want[i] {
			t.Errorf("write %d: %s, want %s", i, m.Status, want[i])
		}
		if wantParent := i >= 2; (m.ParentID == task.ID) != wantParent {
			t.Errorf("write %d (%s): parent_id %q", i, m.Status, m.ParentID)
		}
		if wantRetries := map[bool]int{false: 0, true: 1}[i >= 2]; m.Extended.Retries != wantRetries {
			t.Errorf("write %d (%s): retries %d", i, m.Status, m.Extended.Retries)
		}
	}
	r := got[1]
	if len(r.Children) != 1 || r.Children[0] != task.ID || !r.DateDone.IsZero() || len(r.Traceback) != 1000 ||
		!strings.HasSuffix(r.Traceback, "\n    raise ret\ncelery.exceptions.Retry: Retry in 0.2s: KeyError('once')\n") {
		t.Errorf("RETRY record %+v", r)
	}
	if typ, _ := r.Result.(interface{ Get(string) (any, bool) }).Get("exc_type"); typ != "KeyError" {
		t.Errorf("RETRY exc_type %v", typ)
	}
	fl := got[4]
	if typ, _ := fl.Result.(interface{ Get(string) (any, bool) }).Get("exc_type"); typ != "ValueError" ||
		len(fl.Traceback) != 1000 || fl.DateDone.IsZero() || fl.Children != nil {
		t.Errorf("FAILURE record %+v", fl)
	}
	if p, _ := got[3].Result.(interface{ Get(string) (any, bool) }).Get("total"); p != 1 {
		t.Errorf("PROGRESS meta %v", got[3].Result)
	}
}

type recordingWorker struct{ store func(*backends.TaskMeta) }

func (r recordingWorker) StoreResult(_ context.Context, m *backends.TaskMeta) error {
	r.store(m)
	return nil
}
func (recordingWorker) Close() error { return nil }

// --- Redis: count the commands of each client with MONITOR on a private db.

// monitor runs MONITOR on the Redis of rawURL and returns a stop function
// giving the commands sent to the URL's db, as "CMD" names.
func monitor(t *testing.T, rawURL string) func() []string {
	t.Helper()
	u, _ := url.Parse(rawURL)
	db := strings.TrimPrefix(u.Path, "/")
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Skip(err)
	}
	io.WriteString(c, "MONITOR\r\n")
	r := bufio.NewReader(c)
	if l, err := r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "+OK") {
		t.Fatalf("MONITOR: %q %v", l, err)
	}
	var mu sync.Mutex
	var cmds []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return
			}
			// +1700000000.123456 [14 127.0.0.1:5000] "GET" "key"
			open := strings.IndexByte(l, '[')
			if open < 0 || !strings.HasPrefix(l[open+1:], db+" ") {
				continue
			}
			rest := l[strings.IndexByte(l, ']')+2:]
			name := strings.Trim(strings.SplitN(rest, " ", 2)[0], "\"\r\n")
			mu.Lock()
			cmds = append(cmds, strings.ToUpper(name))
			mu.Unlock()
		}
	}()
	return func() []string {
		time.Sleep(200 * time.Millisecond) // let MONITOR catch up
		c.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return cmds
	}
}

func tally(cmds []string) map[string]int64 {
	m := map[string]int64{}
	for _, c := range cmds {
		m[c]++
	}
	return m
}

// TestOpMixRedis checks, command by command, that each workload sends per
// task what §4 of the Redis reference lists for its lifecycle.
func TestOpMixRedis(t *testing.T) {
	b := openTest(t, testRedisURL, backends.DefaultOptions)
	const n = 10
	check := func(t *testing.T, w Workload, o RunOptions, want map[string]int64) {
		t.Helper()
		stop := monitor(t, testRedisURL)
		runTasks(t, w, b, n, o)
		got := tally(stop())
		delete(got, "CLIENT") // CLIENT SETINFO of each new connection (5.6)
		delete(got, "SELECT") // SELECT 14 of each new connection
		for k, v := range want {
			// A result already ready at get()'s first GET leaves its pub/sub
			// message unread; Celery (and bench) read it at the next drain
			// and UNSUBSCRIBE once more, so that count depends on timing.
			if k == "UNSUBSCRIBE" && got[k] >= v*n && got[k] <= (v+1)*n {
				continue
			}
			if got[k] != v*n {
				t.Errorf("%s: %d for %d tasks, want %d per task (all: %v)", k, got[k], n, v, got)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s ×%d", k, got[k])
			}
		}
	}
	W := func(k int64) map[string]int64 { // k state writes
		return map[string]int64{"GET": k, "MULTI": k, "SETEX": k, "PUBLISH": k, "EXEC": k}
	}
	t.Run("roundtrip", func(t *testing.T) {
		// A/add: the worker's 1 W; the caller's SUBSCRIBE, GET, 3 UNSUBSCRIBEs.
		want := W(1)
		want["GET"]++
		want["SUBSCRIBE"], want["UNSUBSCRIBE"] = 1, 3
		check(t, roundtrip{}, RunOptions{}, want)
	})
	t.Run("store-only", func(t *testing.T) {
		// Fire-and-forget with a result: 1 W; the caller SUBSCRIBEs at send
		// and UNSUBSCRIBEs when the AsyncResult is dropped.
		want := W(1)
		want["SUBSCRIBE"], want["UNSUBSCRIBE"] = 1, 1
		check(t, storeOnly{}, RunOptions{}, want)
	})
	t.Run("mix", func(t *testing.T) {
		// A blend is its components' sum: every task is one W and one
		// SUBSCRIBE; each roundtrip adds its GET and 3 (or 4) UNSUBSCRIBEs,
		// each store-only task its one UNSUBSCRIBE at release.
		stop := monitor(t, testRedisURL)
		c := runTasks(t, &mix{spec: "roundtrip=1,store-only=1"}, b, 2*n, RunOptions{Seed: 42}) // a seed that draws both kinds
		got := tally(stop())
		rt, so := c[OpRoundtrip], 2*n-c[OpRoundtrip]
		if rt == 0 || so == 0 {
			t.Fatalf("the mix ran %d roundtrips of %d tasks, want both kinds", rt, 2*n)
		}
		for k, v := range W(2 * n) {
			if got[k] != v+map[string]int64{"GET": rt}[k] {
				t.Errorf("%s: %d, want %d for %d tasks (%d roundtrips): %v", k, got[k], v, 2*n, rt, got)
			}
		}
		if got["SUBSCRIBE"] != 2*n || got["UNSUBSCRIBE"] < 3*rt+so || got["UNSUBSCRIBE"] > 4*rt+so {
			t.Errorf("SUBSCRIBE %d, UNSUBSCRIBE %d; want %d and %d..%d (%d roundtrips, %d store-only)",
				got["SUBSCRIBE"], got["UNSUBSCRIBE"], 2*n, 3*rt+so, 4*rt+so, rt, so)
		}
	})
	t.Run("progress k=2", func(t *testing.T) {
		// A/progress, C/progress: k+1 writes; the caller as A/add.
		want := W(3)
		want["GET"]++ // the caller's get()
		want["SUBSCRIBE"], want["UNSUBSCRIBE"] = 1, 3
		check(t, &progress{updates: 2}, RunOptions{}, want)
	})
	t.Run("failure+retry, track_started", func(t *testing.T) {
		// A/flaky with tracking: STARTED, RETRY, STARTED, FAILURE.
		want := W(4)
		want["GET"]++
		want["SUBSCRIBE"], want["UNSUBSCRIBE"] = 1, 3
		check(t, &failure{failureRate: 1, retryRate: 1, tracebackSize: 2048}, RunOptions{TrackStarted: true}, want)
	})
	t.Run("polling", func(t *testing.T) {
		// I/readypoll: 1 W, SUBSCRIBE 1, UNSUBSCRIBE 2 and one GET per check.
		stop := monitor(t, testRedisURL)
		c := runTasks(t, polling{}, b, n, RunOptions{PollInterval: 2 * time.Millisecond})
		got := tally(stop())
		polls := c[backends.OpGetTaskMeta]
		if got["GET"] != n+polls || got["SETEX"] != n || got["SUBSCRIBE"] != n || got["UNSUBSCRIBE"] != 2*n ||
			c[OpWastedPoll] != polls-n {
			t.Errorf("polling: %v for %d tasks and %d polls", got, n, polls)
		}
		t.Logf("polling on Redis: %.2f polls per result", float64(polls)/n)
	})
}

// --- MySQL: count the statements through a recording proxy.

// sqlProxy forwards connections to addr and records the text of every
// COM_QUERY the clients send.
type sqlProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	queries []string
	conns   int
}

func startSQLProxy(t *testing.T, addr string) *sqlProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &sqlProxy{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", addr)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
			go func() { io.Copy(c, s); c.Close() }()
			go func() { p.read(io.TeeReader(c, s)); s.Close() }()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

// read parses the client's packets: 3-byte length, sequence, payload.
func (p *sqlProxy) read(r io.Reader) {
	var h [4]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := int(binary.LittleEndian.Uint32(append(h[:3:3], 0)))
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if h[3] == 0 && n > 0 && body[0] == 0x03 {
			p.mu.Lock()
			p.queries = append(p.queries, string(body[1:]))
			p.mu.Unlock()
		}
	}
}

func (p *sqlProxy) take() (qs []string, conns int) {
	time.Sleep(100 * time.Millisecond)
	p.mu.Lock()
	defer p.mu.Unlock()
	qs, conns = p.queries, p.conns
	p.queries, p.conns = nil, 0
	return qs, conns
}

// TestOpMixMySQL checks, statement by statement, that each workload sends
// per task what §2 and §5 of the SQL reference list.
func TestOpMixMySQL(t *testing.T) {
	openTest(t, testMySQLURL, backends.DefaultOptions) // creates the database and tables
	u, _ := url.Parse(testMySQLURL)
	p := startSQLProxy(t, u.Host)
	pu := *u
	pu.Host = p.ln.Addr().String()
	b := openTest(t, pu.String(), backends.DefaultOptions)
	const n = 5
	classify := func(qs []string) map[string]int64 {
		m := map[string]int64{}
		for _, q := range qs {
			switch {
			case strings.HasPrefix(q, "UPDATE celery_taskmeta SET status='FAILURE'"):
				m["UPDATE FAILURE"]++
				if strings.Contains(q, "traceback='Traceback (most recent call last):") {
					m["FAILURE traceback"]++
				}
			case strings.HasPrefix(q, "UPDATE celery_taskmeta SET status='"):
				st := q[len("UPDATE celery_taskmeta SET status='"):]
				m["UPDATE "+st[:strings.IndexByte(st, '\'')]]++
			case strings.HasPrefix(q, "SELECT celery_taskmeta.id"):
				m["SELECT task"]++
			default:
				m[strings.Fields(q)[0]]++
			}
		}
		return m
	}
	t.Run("store-only", func(t *testing.T) {
		p.take()
		runTasks(t, storeOnly{}, b, n, RunOptions{PollInterval: 20 * time.Millisecond})
		qs, _ := p.take()
		m := classify(qs)
		// §2.1 per task on the worker's connection (SELECT, nextval, INSERT,
		// UPDATE, COMMIT, ROLLBACK) and no read from the caller: exactly n
		// task SELECTs. The other statements are the sessions' set-up.
		if m["SELECT task"] != n || m["INSERT"] != n || m["UPDATE SUCCESS"] != n || m["COMMIT"] < n || m["ROLLBACK"] < n {
			t.Errorf("store-only: %v for %d tasks", m, n)
		}
		t.Logf("store-only on MySQL, %d tasks: %v", n, m)
	})
	t.Run("mix", func(t *testing.T) {
		p.take()
		c := runTasks(t, &mix{spec: "roundtrip=1,store-only=1"}, b, 2*n, RunOptions{PollInterval: 20 * time.Millisecond, Seed: 42})
		qs, _ := p.take()
		m := classify(qs)
		// Every task is one §2.1 store; only the roundtrips read, one
		// SELECT per poll.
		polls := c[backends.OpGetTaskMeta]
		if c[OpRoundtrip] == 0 || c[OpRoundtrip] == 2*n {
			t.Fatalf("the mix ran %d roundtrips of %d tasks, want both kinds", c[OpRoundtrip], 2*n)
		}
		if m["INSERT"] != 2*n || m["UPDATE SUCCESS"] != 2*n || m["SELECT task"] != 2*n+polls || polls < c[OpRoundtrip] {
			t.Errorf("mix: %v for %d tasks, %d roundtrips, %d polls", m, 2*n, c[OpRoundtrip], polls)
		}
		t.Logf("mix on MySQL, %d tasks (%d roundtrips, %d polls): %v", 2*n, c[OpRoundtrip], polls, m)
	})
	t.Run("failure", func(t *testing.T) {
		p.take()
		runTasks(t, &failure{failureRate: 1, tracebackSize: DefaultTracebackSize}, b, n, RunOptions{PollInterval: 20 * time.Millisecond})
		qs, _ := p.take()
		m := classify(qs)
		// Worker: SELECT, (nextval,) INSERT, UPDATE status='FAILURE' with a traceback, COMMIT, ROLLBACK.
		if m["UPDATE FAILURE"] != n || m["FAILURE traceback"] != n || m["INSERT"] != n {
			t.Errorf("failure: %v for %d tasks", m, n)
		}
		t.Logf("failure on MySQL, %d tasks: %v", n, m)
	})
	t.Run("progress k=2", func(t *testing.T) {
		p.take()
		runTasks(t, &progress{updates: 2}, b, n, RunOptions{PollInterval: 20 * time.Millisecond})
		qs, _ := p.take()
		m := classify(qs)
		// 1 insert-path write (PROGRESS) + 2 update-path writes (PROGRESS, SUCCESS).
		// The second PROGRESS UPDATE lists only the changed result column
		// ("UPDATE celery_taskmeta SET result=..."), as SQLAlchemy does.
		if m["UPDATE PROGRESS"] != n || m["UPDATE"] != n || m["UPDATE SUCCESS"] != n || m["INSERT"] != n || m["SELECT task"] < 4*n {
			t.Errorf("progress: %v for %d tasks", m, n)
		}
		t.Logf("progress k=2 on MySQL, %d tasks: %v", n, m)
	})
	t.Run("polling", func(t *testing.T) {
		p.take()
		c := runTasks(t, polling{}, b, n, RunOptions{PollInterval: 20 * time.Millisecond})
		qs, conns := p.take()
		m := classify(qs)
		polls := c[backends.OpGetTaskMeta]
		// Each poll: a new connection and SET×2, 5 probes, ROLLBACK, SELECT, ROLLBACK×2 (§2.5).
		if m["SELECT task"] != polls+n || int64(conns) < polls || m["UPDATE SUCCESS"] != n {
			t.Errorf("polling: %v, %d connections, for %d tasks and %d polls", m, conns, n, polls)
		}
		t.Logf("polling on MySQL, %d tasks, %d polls, %d connections: %v", n, polls, conns, m)
	})
}

func newTestHandle() *results.Handle { return results.NewRecorder(time.Now().Add(-time.Hour)).Handle() }
