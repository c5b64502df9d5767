package redis

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
)

// A fixture runs one scenario through a recording proxy, against miniredis
// or a real Redis, and checks each connection's command stream as the
// server received it (every byte, handshake included) and, on a real
// server, as MONITOR shows it.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	b      *backend
	v      backends.Version
	db     int
	p      *proxy
	mon    *monitor // nil without a real server
	server string   // the real server's version, for MONITOR's view
	prefix string
}

// newFixture opens a backend on upstream (a redis:// URL) through a proxy.
func newFixture(t *testing.T, upstream string, o backends.Options, withMonitor bool) *fixture {
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr()
	b := openBackend(t, u.String(), o)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	f := &fixture{t: t, ctx: ctx, b: b, v: o.Celery, db: b.cfg.db, p: p, prefix: o.IDPrefix, server: b.server.Version}
	if withMonitor {
		f.mon = startMonitor(t, b)
	}
	return f
}

// conn names one connection of a session and what it should have sent
// after its handshake.
type connWant struct {
	name  string
	laddr string
	cmds  []string
}

// expect checks the streams.
func (f *fixture) expect(want ...connWant) {
	f.t.Helper()
	wireWant := map[string][]string{}
	monWant := map[string][]string{}
	monAddr := map[string]string{}
	for _, w := range want {
		pc := f.p.find(w.laddr)
		if pc == nil {
			f.t.Errorf("%s: no connection from %s went through the proxy", w.name, w.laddr)
			continue
		}
		wireWant[w.name] = append(handshake(f.v, f.db, wire), w.cmds...)
		monWant[w.name] = append(handshake(f.v, f.db, f.server), w.cmds...)
		monAddr[w.name] = pc.server.LocalAddr().String()
	}
	byName := func(name string) *proxyConn {
		for _, w := range want {
			if w.name == name {
				return f.p.find(w.laddr)
			}
		}
		return nil
	}
	waitStreams(f.t, "on the wire", wireWant, func(name string) []string {
		return render(byName(name).commands(f.t))
	})
	if f.mon != nil {
		waitStreams(f.t, "in MONITOR", monWant, func(name string) []string {
			return f.mon.stream(monAddr[name])
		})
	}
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) key(id string) string { return taskKeyPrefix + id }

// json is the record as the backend writes it.
func (f *fixture) json(m *backends.TaskMeta) string {
	b, err := AppendMetaJSON(nil, m, f.v)
	if err != nil {
		f.t.Fatal(err)
	}
	return string(b)
}

// write is the five commands of one state write.
func (f *fixture) write(m *backends.TaskMeta) []string {
	k, j := f.key(m.TaskID), f.json(m)
	set := "SETEX " + k + " 86400 " + j
	if f.b.expires == nil {
		set = "SET " + k + " " + j
	}
	return cmds("GET "+k, "MULTI", set, "PUBLISH "+k+" "+j, "EXEC")
}

func success(id string, result any) *backends.TaskMeta {
	return &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: result,
		DateDone: time.Date(2026, 11, 25, 22, 47, 9, 912656000, time.UTC)}
}

func started(id string) *backends.TaskMeta {
	return &backends.TaskMeta{TaskID: id, Status: backends.Started,
		Result: py.Dict{{Key: "pid", Value: 30903}, {Key: "hostname", Value: "w1@lab"}}}
}

// gate signals when the caller reports an op, so that a store can be timed
// to land while WaitFor drains.
func gate(obs *observations, op string) chan struct{} {
	ch := make(chan struct{}, 16)
	obs.hook = func(got string) {
		if got == op {
			ch <- struct{}{}
		}
	}
	return ch
}

type waitResult struct {
	st  backends.State
	err error
}

// waitAsync runs WaitFor in a goroutine.
func (f *fixture) waitAsync(c *caller, id string) chan waitResult {
	ch := make(chan waitResult, 1)
	go func() {
		st, err := c.WaitFor(f.ctx, id, 500*time.Millisecond)
		ch <- waitResult{st, err}
	}()
	return ch
}

func (f *fixture) wantReady(ch chan waitResult, want backends.State) {
	f.t.Helper()
	select {
	case r := <-ch:
		if r.err != nil || r.st != want {
			f.t.Fatalf("WaitFor = %s, %v; want %s", r.st, r.err, want)
		}
	case <-time.After(10 * time.Second):
		f.t.Fatal("WaitFor did not return")
	}
}

// scenarios are the fidelity checks, each run for Celery 5.2 and 5.6.
var scenarios = []struct {
	name string
	opts func(*backends.Options)
	run  func(f *fixture)
}{
	// A/add: SUBSCRIBE at send; one GET; the worker's five commands; the
	// ready message ends the drain; UNSUBSCRIBE twice, then once at release.
	{"add", nil, func(f *fixture) {
		obs := &observations{}
		gotGet := gate(obs, backends.OpGetTaskMeta)
		c, w := newCaller(f.t, f.b, obs), newWorker(f.t, f.b, nil)
		id := taskID(f.prefix, 1)
		k := f.key(id)
		f.must(c.OnTaskCall(f.ctx, id))
		done := f.waitAsync(c, id)
		<-gotGet
		m := success(id, 5)
		f.must(w.StoreResult(f.ctx, m))
		f.wantReady(done, backends.Success)
		f.must(c.Release(f.ctx, id))
		f.expect(
			connWant{"caller pub/sub", c.ps.nc.LocalAddr().String(), cmds("SUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k)},
			connWant{"caller commands", c.laddr, cmds("GET " + k)},
			connWant{"worker", w.laddr, f.write(m)},
		)
		// The caller's two connections open inside its first SUBSCRIBE and
		// its first GET, and are reported before them.
		wantOps := []string{backends.OpConnect, backends.OpOnTaskCall, backends.OpConnect, backends.OpGetTaskMeta,
			backends.OpDrainEvents, backends.OpRemovePendingResult, backends.OpRemovePendingResult}
		if got := obs.list(); !equalStreams(got, wantOps) {
			f.t.Errorf("caller observed %v, want %v", got, wantOps)
		}
		// MULTI..EXEC went out as one write.
		j := []byte(f.json(m))
		pipe := appendCommand(nil, "MULTI")
		pipe = appendCommand(pipe, "SETEX", k, "86400", string(j))
		pipe = appendCommand(pipe, "PUBLISH", k, string(j))
		pipe = appendCommand(pipe, "EXEC")
		if !f.p.find(w.laddr).chunk(pipe) {
			f.t.Error("the worker's MULTI/SETEX/PUBLISH/EXEC did not arrive as one write")
		}
		if f.mon != nil {
			// The exact bytes once more, from the server's side.
			for _, args := range f.mon.raw(f.p.find(w.laddr).server.LocalAddr().String()) {
				if (args[0] == "SETEX" || args[0] == "PUBLISH") && args[len(args)-1] != string(j) {
					f.t.Errorf("%s value differs:\n got %q\nwant %q", args[0], args[len(args)-1], j)
				}
			}
		}
	}},
	// C/add: track_started adds a STARTED write, which get() ignores.
	{"track_started", nil, func(f *fixture) {
		obs := &observations{}
		gotGet := gate(obs, backends.OpGetTaskMeta)
		c, w := newCaller(f.t, f.b, obs), newWorker(f.t, f.b, nil)
		id := taskID(f.prefix, 2)
		k := f.key(id)
		f.must(c.OnTaskCall(f.ctx, id))
		done := f.waitAsync(c, id)
		<-gotGet
		m1, m2 := started(id), success(id, 5)
		f.must(w.StoreResult(f.ctx, m1))
		time.Sleep(20 * time.Millisecond) // the STARTED message reaches the drain first
		select {
		case r := <-done:
			f.t.Fatalf("WaitFor returned on STARTED: %v", r)
		default:
		}
		f.must(w.StoreResult(f.ctx, m2))
		f.wantReady(done, backends.Success)
		f.must(c.Release(f.ctx, id))
		f.expect(
			connWant{"caller pub/sub", c.ps.nc.LocalAddr().String(), cmds("SUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k)},
			connWant{"caller commands", c.laddr, cmds("GET " + k)},
			connWant{"worker", w.laddr, append(f.write(m1), f.write(m2)...)},
		)
	}},
	// G/add: result_expires=None writes SET.
	{"result_expires_none", func(o *backends.Options) { o.ResultExpires = 0 }, func(f *fixture) {
		c, w := newCaller(f.t, f.b, nil), newWorker(f.t, f.b, nil)
		id := taskID(f.prefix, 3)
		k := f.key(id)
		f.must(c.OnTaskCall(f.ctx, id))
		m := success(id, 5)
		f.must(w.StoreResult(f.ctx, m))
		if st, err := c.WaitFor(f.ctx, id, 0); err != nil || st != backends.Success {
			f.t.Fatalf("WaitFor = %s, %v", st, err)
		}
		f.must(c.Release(f.ctx, id))
		if !strings.HasPrefix(f.write(m)[2], "SET ") {
			f.t.Fatalf("expected a SET: %s", f.write(m)[2])
		}
		f.expect(
			connWant{"caller pub/sub", c.ps.nc.LocalAddr().String(), cmds("SUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k)},
			connWant{"caller commands", c.laddr, cmds("GET " + k)},
			connWant{"worker", w.laddr, f.write(m)},
		)
	}},
	// The GET-before-write guard: nothing is written over a SUCCESS.
	{"dedupe", nil, func(f *fixture) {
		obs := &observations{}
		w := newWorker(f.t, f.b, obs)
		id := taskID(f.prefix, 4)
		m := success(id, 1)
		f.must(w.StoreResult(f.ctx, m))
		f.must(w.StoreResult(f.ctx, started(id)))
		f.expect(connWant{"worker", w.laddr, append(f.write(m), "GET "+f.key(id))})
		if got := obs.list(); len(got) != 2 || got[1] != backends.OpStoreResult {
			f.t.Errorf("worker observed %v, want two store_result", got)
		}
	}},
	// K/lateget, then a second task: the first task's ready message was
	// never drained, so Celery reads it at the second drain and cancels
	// the first task once more.
	{"lateget_then_drain", nil, func(f *fixture) {
		obs := &observations{}
		gotGet := gate(obs, backends.OpGetTaskMeta)
		c, w := newCaller(f.t, f.b, obs), newWorker(f.t, f.b, nil)
		id1, id2 := taskID(f.prefix, 5), taskID(f.prefix, 6)
		k1, k2 := f.key(id1), f.key(id2)
		f.must(c.OnTaskCall(f.ctx, id1))
		m1 := success(id1, 1)
		f.must(w.StoreResult(f.ctx, m1))
		<-f.waitAsync(c, id1)
		<-gotGet
		f.must(c.Release(f.ctx, id1))
		f.must(c.OnTaskCall(f.ctx, id2))
		done := f.waitAsync(c, id2)
		<-gotGet
		m2 := success(id2, 2)
		f.must(w.StoreResult(f.ctx, m2))
		f.wantReady(done, backends.Success)
		f.must(c.Release(f.ctx, id2))
		f.expect(
			connWant{"caller pub/sub", c.ps.nc.LocalAddr().String(), cmds(
				"SUBSCRIBE "+k1, "UNSUBSCRIBE "+k1, "UNSUBSCRIBE "+k1, "UNSUBSCRIBE "+k1,
				"SUBSCRIBE "+k2, "UNSUBSCRIBE "+k1, "UNSUBSCRIBE "+k2, "UNSUBSCRIBE "+k2, "UNSUBSCRIBE "+k2)},
			connWant{"caller commands", c.laddr, cmds("GET "+k1, "GET "+k2)},
			connWant{"worker", w.laddr, append(f.write(m1), f.write(m2)...)},
		)
	}},
	// A/poll and J/poll: forget() is DEL + UNSUBSCRIBE, with one more
	// UNSUBSCRIBE before the DEL from 5.6 on.
	{"forget", nil, func(f *fixture) {
		obs := &observations{}
		c, w := newCaller(f.t, f.b, obs), newWorker(f.t, f.b, nil)
		id := taskID(f.prefix, 7)
		k := f.key(id)
		f.must(c.OnTaskCall(f.ctx, id))
		f.must(w.StoreResult(f.ctx, success(id, 3)))
		if st, err := c.WaitFor(f.ctx, id, 0); err != nil || st != backends.Success {
			f.t.Fatalf("WaitFor = %s, %v", st, err)
		}
		f.must(c.Forget(f.ctx, id))
		m, err := c.GetTaskMeta(f.ctx, id)
		f.must(err)
		if m.Status != backends.Pending {
			f.t.Errorf("after forget: %s", m.Status)
		}
		ps := cmds("SUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k)
		if f.v.AtLeast(5, 6) {
			ps = append(ps, "UNSUBSCRIBE "+k)
		}
		ps = append(ps, "UNSUBSCRIBE "+k)
		f.expect(
			connWant{"caller pub/sub", c.ps.nc.LocalAddr().String(), ps},
			connWant{"caller commands", c.laddr, cmds("GET "+k, "DEL "+k, "GET "+k)},
		)
	}},
	// H/pubsubkill: the pub/sub connection dies during the drain: MGET of
	// the subscribed keys on a new command connection, SUBSCRIBE on a new
	// pub/sub connection, and the wait goes on.
	{"pubsub_lost", nil, func(f *fixture) {
		obs := &observations{}
		gotGet := gate(obs, backends.OpGetTaskMeta)
		c, w := newCaller(f.t, f.b, obs), newWorker(f.t, f.b, nil)
		id := taskID(f.prefix, 8)
		k := f.key(id)
		f.must(c.OnTaskCall(f.ctx, id))
		oldPS := c.ps.nc.LocalAddr().String()
		done := f.waitAsync(c, id)
		<-gotGet
		oldCmd := c.laddr                 // get()'s GET opened the command connection
		time.Sleep(50 * time.Millisecond) // into the drain
		before := len(f.p.all())
		f.p.find(oldPS).kill()
		// Wait for the reconnection: two new connections, the second of
		// which has sent its SUBSCRIBE.
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			all := f.p.all()
			if len(all) >= before+2 && len(all[len(all)-1].commands(f.t)) > len(handshake(f.v, f.db, wire)) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // the SUBSCRIBE is in effect
		m := success(id, 1)
		f.must(w.StoreResult(f.ctx, m))
		f.wantReady(done, backends.Success)
		f.must(c.Release(f.ctx, id))
		all := f.p.all()
		if len(all) < before+2 {
			f.t.Fatalf("%d new connections after the kill, want 2", len(all)-before)
		}
		newCmd, newPS := all[before].client.RemoteAddr().String(), all[before+1].client.RemoteAddr().String()
		f.expect(
			connWant{"old caller pub/sub", oldPS, cmds("SUBSCRIBE " + k)},
			connWant{"old caller commands", oldCmd, cmds("GET " + k)},
			connWant{"new caller commands", newCmd, cmds("MGET " + k)},
			connWant{"new caller pub/sub", newPS, cmds("SUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k, "UNSUBSCRIBE "+k)},
			connWant{"worker", w.laddr, f.write(m)},
		)
	}},
}

func runScenarios(t *testing.T, upstream func(t *testing.T) string, withMonitor bool) {
	for _, v := range backends.Versions() {
		for _, sc := range scenarios {
			t.Run("celery"+v.String()+"/"+sc.name, func(t *testing.T) {
				o := testOptions(v)
				if sc.opts != nil {
					sc.opts(&o)
				}
				f := newFixture(t, upstream(t), o, withMonitor)
				if withMonitor && v.AtLeast(5, 6) && !atLeast72(f.server) {
					t.Logf("Redis %s rejects CLIENT SETINFO before MONITOR sees it; the handshake is checked on the wire only", f.server)
				}
				sc.run(f)
			})
		}
	}
}

// TestFidelityMiniredis checks every scenario's bytes on the wire against
// an in-process miniredis.
func TestFidelityMiniredis(t *testing.T) {
	runScenarios(t, func(t *testing.T) string { u, _ := miniURL(t); return u }, false)
}

// TestFidelityMonitor checks every scenario against the real Redis, on the
// wire and in MONITOR.
func TestFidelityMonitor(t *testing.T) {
	raw := realRedisURL(t)
	runScenarios(t, func(*testing.T) string { return raw }, true)
}
