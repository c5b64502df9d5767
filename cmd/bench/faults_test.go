package main

// Fault tests: whole "bench run"s against a redis-server of the test's own
// on a free port (never the shared one), killed and restarted, paused,
// stalled or cut through a TCP proxy the test controls. Each asserts that
// the run ends within warmup + duration + grace + a small slack, that the
// fault shows as errors or unfinished tasks, the exit code, and that bench
// deleted what it wrote and touched nothing else.

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends/conformance"
	"github.com/celery-bench/bench/results"
)

// startFaultRedis starts a private redis-server that syncs every write to
// its append-only file, so that a restart keeps what it held.
func startFaultRedis(t *testing.T, extra ...string) *conformance.RedisServer {
	t.Helper()
	return conformance.StartRedis(t, append([]string{"--appendonly", "yes", "--appendfsync", "always"}, extra...)...)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proxy forwards connections to a target; the test stalls (stops
// forwarding, holding the bytes) or cuts (closes) the connections it holds.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	stall  chan struct{} // closed while forwarding; replaced when stalled
}

func startProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target, stall: make(chan struct{})}
	close(p.stall)
	go p.accept()
	t.Cleanup(func() {
		l.Close()
		p.resume()
		p.cut()
	})
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			gate := p.stall
			p.mu.Unlock()
			<-gate
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			dst.Close()
			return
		}
	}
}

// stallFor stops forwarding on every connection, old and new, for d.
func (p *proxy) stallFor(d time.Duration) {
	p.mu.Lock()
	p.stall = make(chan struct{})
	p.mu.Unlock()
	time.AfterFunc(d, p.resume)
}

func (p *proxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.stall:
	default:
		close(p.stall)
	}
}

// cut closes every connection the proxy holds; new ones pass.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// faultRun runs bench against url with -d 3s --warmup 500ms --grace 2s
// --task-timeout 1s plus extra, with fault called 1.5 s after the start,
// and checks the run ended by its bound. It returns the exit code, the run
// file and stderr.
func faultRun(t *testing.T, url string, fault func(), extra ...string) (int, *results.Run, string) {
	t.Helper()
	const warmup, duration, grace, slack = 500 * time.Millisecond, 3 * time.Second, 2 * time.Second, 3 * time.Second
	args := append([]string{"--backend", url, "-d", duration.String(), "--warmup", warmup.String(), "--grace", grace.String(),
		"--task-timeout", "1s", "--connect-timeout", "1s", "-c", "4", "--workers", "4", "--format", "json", "--no-save", "--progress", "0"}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	timer := time.AfterFunc(1500*time.Millisecond, fault)
	defer timer.Stop()
	code := bench(ctx, args, &stdout, &stderr)
	took := time.Since(start)
	// Opening and preparing the backend, and the cleanup, come on top of
	// the run's own bound; the slack covers them on a loaded machine.
	bound := warmup + duration + grace + slack
	t.Logf("bench %s: exit %d in %v (bound %v)\n%s", strings.Join(args, " "), code, took.Round(time.Millisecond), bound, stderr.String())
	if took > bound {
		t.Errorf("the run took %v, more than warmup+duration+grace+slack = %v", took.Round(time.Millisecond), bound)
	}
	run, err := results.ReadJSON(&stdout)
	if err != nil {
		t.Fatalf("no run file on stdout: %v", err)
	}
	return code, run, stderr.String()
}

// errorKinds sums the first result's errors by kind over its ops, checking
// that every op's kinds sum to its errors.
func errorKinds(t *testing.T, run *results.Run) results.ErrorKinds {
	t.Helper()
	var k results.ErrorKinds
	if len(run.Results) == 0 {
		t.Fatal("no result")
	}
	for _, op := range run.Results[0].Ops {
		if n := op.ErrorKinds.Total(); n != op.Errors {
			t.Errorf("%s: %d errors, but error_kinds %v sum to %d", op.Name, op.Errors, op.ErrorKinds, n)
		}
		k.Add(&op.ErrorKinds)
	}
	t.Logf("errors by kind: %s", k.String())
	return k
}

// faultOp returns the op of the run's first result, failing without it.
func faultOp(t *testing.T, run *results.Run, name string) *results.Op {
	t.Helper()
	if len(run.Results) == 0 {
		t.Fatal("no result")
	}
	op, ok := run.Results[0].Op(name)
	if !ok {
		t.Fatalf("no %s op in %+v", name, run.Results[0])
	}
	return op
}

// seedForeign writes a key bench did not write, to be found intact.
func seedForeign(t *testing.T, addr string) {
	if r, err := conformance.RedisCmd(addr, "SET", "someone-elses:key", "precious"); err != nil || r != "+OK" {
		t.Fatalf("SET: %q %v", r, err)
	}
}

// checkClean asserts that the server holds nothing but the foreign key,
// unchanged: bench deleted every key it wrote.
func checkClean(t *testing.T, addr string) {
	t.Helper()
	if v, err := conformance.RedisCmd(addr, "GET", "someone-elses:key"); err != nil || v != "precious" {
		t.Errorf("the foreign key is %q (%v), want it untouched", v, err)
	}
	if n, err := conformance.RedisCmd(addr, "DBSIZE"); err != nil || n != ":1" {
		t.Errorf("DBSIZE %q (%v): bench left keys behind", n, err)
	}
}

// TestFaultKillRestart: Redis killed 1.5 s in and restarted 1 s later on
// the same port (keeping its data): errors reported, the run ends on time
// and exits 0 (operations succeeded before and after), and bench's keys
// are gone.
func TestFaultKillRestart(t *testing.T) {
	r := startFaultRedis(t)
	seedForeign(t, r.Addr())
	done := make(chan struct{})
	code, run, stderr := faultRun(t, "redis://"+r.Addr()+"/0", func() {
		defer close(done)
		r.Kill()
		time.Sleep(time.Second)
		r.Start()
	})
	<-done
	if code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
	if strings.Contains(stderr, "pool.go") {
		t.Errorf("go-redis logged raw to stderr: %s", stderr)
	}
	rt := faultOp(t, run, "roundtrip")
	if rt.Count() == 0 || rt.Errors+rt.Unfinished == 0 {
		t.Errorf("roundtrip: %d ok, %d errors, %d unfinished: want successes and the outage's errors", rt.Count(), rt.Errors, rt.Unfinished)
	}
	// A killed server refuses or drops connections: connection errors.
	if k := errorKinds(t, run); k[results.KindConnection] == 0 {
		t.Errorf("errors by kind %q: want connection errors from the killed server", k.String())
	}
	checkClean(t, r.Addr())
}

// TestFaultPause: Redis stopped (SIGSTOP) for 2.5 s: the callers' waits
// time out (--task-timeout 1s) as errors, the run ends on time.
func TestFaultPause(t *testing.T) {
	r := startFaultRedis(t)
	seedForeign(t, r.Addr())
	proc := r.Process()
	code, run, _ := faultRun(t, "redis://"+r.Addr()+"/0", func() {
		_ = proc.Signal(syscall.SIGSTOP)
		time.AfterFunc(2500*time.Millisecond, func() { _ = proc.Signal(syscall.SIGCONT) })
	}, "--task-time", "200ms") // callers spend most of their time waiting for the result
	if code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
	rt := faultOp(t, run, "roundtrip")
	if rt.Count() == 0 || rt.Errors == 0 {
		t.Errorf("roundtrip: %d ok, %d errors: want successes and the pause's timeouts", rt.Count(), rt.Errors)
	}
	// The waits in progress when the pause began ended at --task-timeout.
	if de, gm := faultOp(t, run, "drain_events"), faultOp(t, run, "get_task_meta"); de.Errors+gm.Errors == 0 {
		t.Errorf("drain_events: no error; the waits held by the pause should have timed out")
	}
	// A store is bounded by --task-timeout too: the ones the pause held
	// longer failed rather than counting as 2.5 s writes.
	if st := faultOp(t, run, "store_result"); st.Errors == 0 {
		t.Errorf("store_result: no error; the stores held by the pause should have timed out")
	}
	// The stall ran into --task-timeout: timeouts, by kind too.
	if k := errorKinds(t, run); k[results.KindTimeout] == 0 {
		t.Errorf("errors by kind %q: want timeouts from the stalled server", k.String())
	}
	if st := faultOp(t, run, "store_result"); st.ErrorKinds[results.KindTimeout] == 0 {
		t.Errorf("store_result errors by kind %q: want the held stores as timeouts", st.ErrorKinds.String())
	}
	checkClean(t, r.Addr())
}

// TestFaultStall: the proxy in front of Redis stops forwarding on every
// connection for 5 s, past the window and the grace, with --task-timeout
// 10s longer than both: the tasks in flight when the grace runs out are
// abandoned as unfinished, and the run ends on time regardless. The cleanup runs
// into the stall's end: it deletes bench's keys or says it could not, and
// either way no other key changed.
func TestFaultStall(t *testing.T) {
	r := startFaultRedis(t)
	seedForeign(t, r.Addr())
	p := startProxy(t, r.Addr())
	code, run, stderr := faultRun(t, "redis://"+p.addr()+"/0", func() { p.stallFor(5 * time.Second) }, "--task-timeout", "10s")
	p.resume()
	if code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
	rt := faultOp(t, run, "roundtrip")
	if rt.Count() == 0 || rt.Unfinished == 0 {
		t.Errorf("roundtrip: %d ok, %d unfinished: want successes and the stalled tasks unfinished", rt.Count(), rt.Unfinished)
	}
	var unfinished int64
	for _, op := range run.Results[0].Ops {
		unfinished += op.Unfinished
	}
	if unfinished == 0 {
		t.Errorf("no op unfinished: the stores stalled past the grace should be")
	}
	left := redisKeys(t, r.Addr())
	if len(left) > 1 && !strings.Contains(stderr, "could not delete this run's results") {
		t.Errorf("%d keys left and no notice: %q", len(left), left)
	}
	for _, k := range left {
		if k != "someone-elses:key" && !strings.Contains(k, "bec1e7e0-") {
			t.Errorf("a key bench did not write appeared: %q", k)
		}
	}
	if v, _ := conformance.RedisCmd(r.Addr(), "GET", "someone-elses:key"); v != "precious" {
		t.Errorf("the foreign key is %q", v)
	}
}

// TestFaultStallTimeout: the proxy stops forwarding for 2.5 s with
// --task-timeout 1s: the operations it holds fail as timeouts, counted by
// kind, and the run ends on time.
func TestFaultStallTimeout(t *testing.T) {
	r := startFaultRedis(t)
	p := startProxy(t, r.Addr())
	code, run, _ := faultRun(t, "redis://"+p.addr()+"/0", func() { p.stallFor(2500 * time.Millisecond) })
	p.resume()
	if code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
	if k := errorKinds(t, run); k[results.KindTimeout] == 0 {
		t.Errorf("errors by kind %q: want timeouts from the stall", k.String())
	}
}

// redisKeys lists the server's keys (a test server holds a few).
func redisKeys(t *testing.T, addr string) []string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(c, "KEYS *\r\n")
	br := bufio.NewReader(c)
	head, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "*") {
		t.Fatalf("KEYS: %q %v", head, err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(head[1:]))
	var keys []string
	for i := 0; i < n; i++ {
		br.ReadString('\n')
		k, _ := br.ReadString('\n')
		keys = append(keys, strings.TrimRight(k, "\r\n"))
	}
	return keys
}

// TestFaultCut: the proxy closes every connection 1.5 s in: the callers
// reconnect as Celery does, the run ends on time and exits 0.
func TestFaultCut(t *testing.T) {
	r := startFaultRedis(t)
	seedForeign(t, r.Addr())
	p := startProxy(t, r.Addr())
	code, run, _ := faultRun(t, "redis://"+p.addr()+"/0", p.cut)
	if code != exitOK {
		t.Errorf("exit %d, want %d", code, exitOK)
	}
	rt := faultOp(t, run, "roundtrip")
	if rt.Count() == 0 {
		t.Errorf("roundtrip: no success")
	}
	var errs int64
	for _, op := range run.Results[0].Ops {
		errs += op.Errors + op.Unfinished
	}
	if errs == 0 {
		t.Errorf("the cut shows in no op's errors")
	}
	errorKinds(t, run) // every op's kinds sum to its errors
	checkClean(t, r.Addr())
}

// TestFaultEveryStoreFails: a Redis at its maxmemory refuses every write
// (OOM, as MySQL refuses a 64 KiB result with Error 1406): the backend
// stops early with that error as its verdict, the next backend still
// runs, the partial results are printed, and the run exits 4.
func TestFaultEveryStoreFails(t *testing.T) {
	r := startFaultRedis(t, "--maxmemory", "1", "--maxmemory-policy", "noeviction")
	code, run, stderr := faultRun(t, "redis://"+r.Addr()+"/0", func() {}, "--backend", "memory://")
	if code != exitIncomplete {
		t.Errorf("exit %d, want %d", code, exitIncomplete)
	}
	if len(run.Results) != 2 {
		t.Fatalf("%d results, want the stopped Redis and memory://", len(run.Results))
	}
	res := run.Results[0]
	if !strings.Contains(res.Stopped, "store_result") || !strings.Contains(res.Stopped, "OOM") || !strings.Contains(res.Stopped, "the first (server error)") {
		t.Errorf("verdict %q, want every store_result failed with the OOM error", res.Stopped)
	}
	if !strings.Contains(stderr, "stopped early") {
		t.Errorf("stderr does not give the verdict: %s", stderr)
	}
	if st, ok := res.Op("store_result"); !ok || st.Errors < 4 || len(st.ErrorSamples) == 0 || !strings.Contains(st.ErrorSamples[0], "OOM") {
		t.Errorf("store_result errors not counted: %+v", st)
	} else if st.ErrorKinds[results.KindServer] != st.Errors {
		t.Errorf("store_result errors by kind %q, want all %d server errors (the OOM reply)", st.ErrorKinds.String(), st.Errors)
	}
	if rt, ok := run.Results[1].Op("roundtrip"); !ok || rt.Count() == 0 {
		t.Errorf("the next backend did not run")
	}
	if n, _ := conformance.RedisCmd(r.Addr(), "DBSIZE"); n != ":0" {
		t.Errorf("DBSIZE %s", n)
	}
}
