package redis

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
)

// groupRedisURL is the real Redis of the group and chord tests: db 15
// unless BENCH_REDIS_URL names another. It skips when the server does not
// answer, or fails with BENCH_REQUIRE_SERVERS=1.
func groupRedisURL(t testing.TB) string {
	t.Helper()
	return realRedisURLOr(t, "redis://127.0.0.1:6379/15")
}

// groupScenario runs fn against miniredis (wire only) and, when it
// answers, the real Redis (wire and MONITOR), for each Celery line.
func groupScenario(t *testing.T, opts func(*backends.Options), fn func(f *fixture)) {
	ups := []struct {
		name    string
		url     func(t *testing.T) string
		monitor bool
	}{
		{"miniredis", func(t *testing.T) string { u, _ := miniURL(t); return u }, false},
		{"redis", func(t *testing.T) string { return groupRedisURL(t) }, true},
	}
	for _, up := range ups {
		for _, v := range backends.Versions() {
			t.Run(up.name+"/celery"+v.String(), func(t *testing.T) {
				o := testOptions(v)
				if opts != nil {
					opts(&o)
				}
				fn(newFixture(t, up.url(t), o, up.monitor))
			})
		}
	}
}

func member(id, gid string, result any) *backends.TaskMeta {
	m := success(id, result)
	m.GroupID = gid
	return m
}

// TestGroupJoinStream checks group(...).apply_async().get() for a group of
// 5 against the A/group capture, command for command: per member
// SUBSCRIBE, UNSUBSCRIBE, SUBSCRIBE while sending; one MGET in set order;
// the member found ready UNSUBSCRIBEd twice; the 0.5 s sleep; the drain,
// in which the ready member's buffered message costs a third UNSUBSCRIBE,
// every other member two, and the last one brings UNSUBSCRIBE of the group
// id between its two; then one UNSUBSCRIBE per member at release. That is
// C MGET1 SUBSCRIBE10 UNSUBSCRIBE22 and W 5 × GET MULTI SETEX PUBLISH EXEC,
// the reference's row.
func TestGroupJoinStream(t *testing.T) {
	groupScenario(t, nil, func(f *fixture) {
		obs := &observations{}
		mget := gate(obs, backends.OpGetMany)
		w := newWorker(f.t, f.b, nil)
		c := newCaller(f.t, f.b, obs)
		gid := taskID(f.prefix, 100)
		var ids []string
		var ms []*backends.TaskMeta
		var pubsub []string
		for i := 0; i < 5; i++ {
			id := taskID(f.prefix, i)
			ids = append(ids, id)
			ms = append(ms, member(id, gid, 2*i))
			f.must(c.OnTaskCall(f.ctx, id))
			f.must(c.Release(f.ctx, id))
			f.must(c.OnTaskCall(f.ctx, id))
			pubsub = append(pubsub, "SUBSCRIBE "+f.key(id), "UNSUBSCRIBE "+f.key(id), "SUBSCRIBE "+f.key(id))
		}
		f.must(w.StoreResult(f.ctx, ms[0]))
		order := []string{ids[2], ids[3], ids[0], ids[4], ids[1]}
		type joined struct {
			st  []backends.State
			err error
		}
		ch := make(chan joined, 1)
		start := time.Now()
		go func() {
			st, err := c.JoinGroup(f.ctx, gid, order)
			ch <- joined{st, err}
		}()
		<-mget
		for _, m := range ms[1:] {
			f.must(w.StoreResult(f.ctx, m))
		}
		r := <-ch
		f.must(r.err)
		if d := time.Since(start); d < getManySleep {
			f.t.Errorf("joined in %v, before get_many's 0.5 s sleep", d)
		}
		for i, st := range r.st {
			if st != backends.Success {
				f.t.Errorf("member %s: %s", order[i], st)
			}
		}
		for _, id := range ids {
			f.must(c.Release(f.ctx, id))
		}
		k := func(i int) string { return "UNSUBSCRIBE " + f.key(ids[i]) }
		pubsub = append(pubsub, k(0), k(0), // found ready by the MGET
			k(0), // its message, read in the drain
			k(1), k(1), k(2), k(2), k(3), k(3),
			k(4), "UNSUBSCRIBE "+f.key(gid), k(4),
			k(0), k(1), k(2), k(3), k(4)) // released
		mgetCmd := "MGET"
		for _, id := range order {
			mgetCmd += " " + f.key(id)
		}
		var worker []string
		for _, m := range ms {
			worker = append(worker, f.write(m)...)
		}
		f.expect(
			connWant{"caller", c.laddr, cmds(mgetCmd)},
			connWant{"caller pub/sub", c.ps.nc.LocalAddr().String(), pubsub},
			connWant{"worker", w.laddr, worker},
		)
	})
}

// TestGroupSaveStream checks A/groupsave's save, restore and delete: the
// taskset value byte for byte, the GET, the SUBSCRIBEs of the restored
// members and the DEL.
func TestGroupSaveStream(t *testing.T) {
	groupScenario(t, nil, func(f *fixture) {
		c := newCaller(f.t, f.b, nil)
		gid, t0, t1 := taskID(f.prefix, 100), taskID(f.prefix, 0), taskID(f.prefix, 1)
		f.must(c.SaveGroup(f.ctx, gid, []string{t0, t1}))
		got, err := c.RestoreGroup(f.ctx, gid)
		f.must(err)
		if len(got) != 2 || got[0] != t0 || got[1] != t1 {
			f.t.Errorf("restored %v", got)
		}
		f.must(c.DeleteGroup(f.ctx, gid))
		if got, err := c.RestoreGroup(f.ctx, gid); err != nil || got != nil {
			f.t.Errorf("after delete: %v, %v", got, err)
		}
		value := `{"result": [["` + gid + `", null], [[["` + t0 + `", null], null], [["` + t1 + `", null], null]]]}`
		if v := string(appendGroupValue(nil, gid, []string{t0, t1})); v != value {
			f.t.Errorf("value %s\nwant  %s", v, value)
		}
		key := groupKeyPrefix + gid
		f.expect(
			connWant{"caller", c.laddr, cmds("MULTI", "SETEX "+key+" 86400 "+value, "PUBLISH "+key+" "+value, "EXEC",
				"GET "+key, "DEL "+key, "GET "+key)},
			connWant{"caller pub/sub", c.ps.nc.LocalAddr().String(), cmds("SUBSCRIBE "+f.key(t0), "SUBSCRIBE "+f.key(t1))},
		)
	})
}

// chordStreams runs a chord of n on one worker (header then body) after
// the caller's set_chord_size, and returns the expected worker stream.
func chordStreams(f *fixture, c *caller, w *worker, n int, ordered bool, fail int) (want []string, lastErr error) {
	gid := taskID(f.prefix, 100)
	base := groupKeyPrefix + gid
	f.must(c.SetChordSize(f.ctx, gid, n))
	published := 0
	for i := 0; i < n; i++ {
		id := taskID(f.prefix, i)
		m := member(id, gid, 2*i)
		enc := `[1, "` + id + `", "SUCCESS", ` + itoa(2*i) + `]`
		if i == fail {
			m.Status = backends.Failure
			m.Result = py.Exception("builtins", "ValueError", "boom", 42)
			m.Traceback = "Traceback (most recent call last):\nValueError: ('boom', 42)\n"
			enc = `[1, "` + id + `", "FAILURE", {"exc_type": "ValueError", "exc_message": ["boom", 42], "exc_module": "builtins"}]`
		}
		f.must(w.StoreResult(f.ctx, m))
		last, err := w.OnChordPartReturn(f.ctx, gid, i, m, ordered, func() { published++ })
		if last != (i == n-1) {
			f.t.Errorf("part %d: last = %v", i, last)
		}
		if i < n-1 {
			f.must(err)
		}
		lastErr = err
		want = append(want, f.write(m)...)
		want = append(want, "MULTI")
		if ordered {
			want = append(want, "ZADD "+base+".j "+itoa(i)+" "+enc, "ZCOUNT "+base+".j -inf +inf")
		} else {
			want = append(want, "RPUSH "+base+".j "+enc, "LLEN "+base+".j")
		}
		want = append(want, "GET "+base+".t", "GET "+base+".s")
		if f.b.expires != nil {
			want = append(want, "EXPIRE "+base+".j 86400", "EXPIRE "+base+".t 86400", "EXPIRE "+base+".s 86400")
		}
		want = append(want, "EXEC")
	}
	want = append(want, "GET "+base, "MULTI")
	if ordered {
		want = append(want, "ZRANGE "+base+".j 0 -1")
	} else {
		want = append(want, "LRANGE "+base+".j 0 "+itoa(n))
	}
	want = append(want, "EXEC")
	if fail < 0 {
		want = append(want, "MULTI", "DEL "+base+".j", "DEL "+base+".t", "DEL "+base+".s", "EXEC")
		if published != 1 {
			f.t.Errorf("body published %d times", published)
		}
		body := success(taskID(f.prefix, 200), 20)
		body.ParentID = taskID(f.prefix, n-1)
		f.must(w.StoreResult(f.ctx, body))
		want = append(want, f.write(body)...)
	} else if published != 0 {
		f.t.Errorf("body published after a failed member")
	}
	return want, lastErr
}

func itoa(i int) string { return strconv.Itoa(i) }

func sizeCmds(f *fixture, gid string, n int) []string {
	key := groupKeyPrefix + gid + ".s"
	set := "SETEX " + key + " 86400 " + itoa(n)
	if f.b.expires == nil {
		set = "SET " + key + " " + itoa(n)
	}
	return cmds("MULTI", set, "PUBLISH "+key+" "+itoa(n), "EXEC")
}

// countKinds counts commands by name.
func countKinds(stream []string) map[string]int {
	out := map[string]int{}
	for _, c := range stream {
		name := c
		for i := 0; i < len(c); i++ {
			if c[i] == ' ' {
				name = c[:i]
				break
			}
		}
		out[name]++
	}
	return out
}

func wantKinds(t *testing.T, what string, got map[string]int, want map[string]int) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %s %d, want %d (all: %v)", what, k, got[k], n, got)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected %s ×%d", what, k, n)
		}
	}
}

// TestChordStream checks the worker's on_chord_part_return for a chord of
// 5 against A/chord, command for command (the .j members' bytes
// included), and its mix against §4's row: W DEL3 EXEC13 EXPIRE15 GET17
// MULTI13 PUBLISH6 SETEX6 ZADD5 ZCOUNT5 ZRANGE1; and the caller's
// set_chord_size.
func TestChordStream(t *testing.T) {
	groupScenario(t, nil, func(f *fixture) {
		c := newCaller(f.t, f.b, nil)
		w := newWorker(f.t, f.b, nil)
		want, err := chordStreams(f, c, w, 5, true, -1)
		f.must(err)
		wantKinds(f.t, "worker", countKinds(want), map[string]int{"DEL": 3, "EXEC": 13, "EXPIRE": 15, "GET": 17,
			"MULTI": 13, "PUBLISH": 6, "SETEX": 6, "ZADD": 5, "ZCOUNT": 5, "ZRANGE": 1})
		f.expect(connWant{"worker", w.laddr, want},
			connWant{"caller", c.laddr, sizeCmds(f, taskID(f.prefix, 100), 5)})
	})
}

// TestChordListStream is D/chord: result_chord_ordered=False gives RPUSH,
// LLEN and LRANGE .j 0 N (W LLEN5 LRANGE1 RPUSH5).
func TestChordListStream(t *testing.T) {
	groupScenario(t, nil, func(f *fixture) {
		c := newCaller(f.t, f.b, nil)
		w := newWorker(f.t, f.b, nil)
		want, err := chordStreams(f, c, w, 5, false, -1)
		f.must(err)
		k := countKinds(want)
		if k["RPUSH"] != 5 || k["LLEN"] != 5 || k["LRANGE"] != 1 || k["ZADD"] != 0 {
			f.t.Errorf("list mode mix %v", k)
		}
		f.expect(connWant{"worker", w.laddr, want})
	})
}

// TestChordNoExpiresStream is G: result_expires=None drops the chord
// EXPIREs, and set_chord_size writes SET.
func TestChordNoExpiresStream(t *testing.T) {
	groupScenario(t, func(o *backends.Options) { o.ResultExpires = 0 }, func(f *fixture) {
		c := newCaller(f.t, f.b, nil)
		w := newWorker(f.t, f.b, nil)
		want, err := chordStreams(f, c, w, 3, true, -1)
		f.must(err)
		if k := countKinds(want); k["EXPIRE"] != 0 || k["SET"] != 4 {
			f.t.Errorf("no-expiry mix %v", k)
		}
		f.expect(connWant{"worker", w.laddr, want},
			connWant{"caller", c.laddr, sizeCmds(f, taskID(f.prefix, 100), 3)})
	})
}

// TestChordFailStream is H/chordfail: a FAILURE member's exception record
// goes into .j, the last part reads the members and stops with ChordError:
// no publish, no DEL, the keys are left to expire.
func TestChordFailStream(t *testing.T) {
	groupScenario(t, nil, func(f *fixture) {
		c := newCaller(f.t, f.b, nil)
		w := newWorker(f.t, f.b, nil)
		want, err := chordStreams(f, c, w, 2, true, 1)
		if !errors.Is(err, backends.ErrChordError) {
			f.t.Errorf("last part: %v, want ChordError", err)
		}
		f.expect(connWant{"worker", w.laddr, want})
		ctx := context.Background()
		n, err := w.cl.Exists(ctx, groupKeyPrefix+taskID(f.prefix, 100)+".j", groupKeyPrefix+taskID(f.prefix, 100)+".s").Result()
		if err != nil || n != 2 {
			f.t.Errorf("chord keys left: %d, %v; want 2", n, err)
		}
	})
}
