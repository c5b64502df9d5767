package redis

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/workloads"
)

// runWorkloadMix runs one lifecycle of the named workload (one caller, one
// worker) against the real Redis through a recording proxy and returns the
// command mix of the worker's connection, the caller's command connection
// and its pub/sub connection, without the connections' handshakes.
func runWorkloadMix(t *testing.T, name string) (worker, caller, pubsub map[string]int) {
	t.Helper()
	raw := groupRedisURL(t)
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, u.Host)
	u.Host = p.addr()
	seed := uint64(time.Now().UnixNano())
	o := testOptions(backends.Celery56)
	o.IDPrefix = workloads.RunPrefix(seed)
	b := openBackend(t, u.String(), o)
	before := len(p.all())
	m, err := workloads.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	oc, err := workloads.Run(context.Background(), m.New(), b, workloads.RunOptions{
		Callers: 1, Workers: 1, Tasks: 1, Seed: seed, PollInterval: 500 * time.Millisecond,
		TaskTimeout: 10 * time.Second, ResultSizes: workloads.FixedSize(8),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range oc.Ops {
		if op.Errors > 0 {
			t.Errorf("op %s: %d errors: %v", op.Name, op.Errors, op.ErrorSamples)
		}
	}
	conns := p.all()[before:]
	settle(t, conns)
	if len(conns) != 3 {
		t.Fatalf("%d connections, want 3 (worker, caller, caller pub/sub)", len(conns))
	}
	mix := func(pc *proxyConn) map[string]int {
		var s []string
		for _, c := range render(pc.commands(t)) {
			if n := countKinds([]string{c}); n["CLIENT"] == 0 && n["SELECT"] == 0 {
				s = append(s, c)
			}
		}
		return countKinds(s)
	}
	// The worker connects when its session opens; the caller's pub/sub
	// connection at its first SUBSCRIBE and its command connection at its
	// first command, in either order.
	caller, pubsub = mix(conns[1]), mix(conns[2])
	if caller["SUBSCRIBE"] > 0 {
		caller, pubsub = pubsub, caller
	}
	return mix(conns[0]), caller, pubsub
}

// TestWorkloadGroupMix runs the group workload (N=5) and checks §4's row:
// W 5 × GET MULTI SETEX PUBLISH EXEC; C MGET1 SUBSCRIBE10 and 2 to 3
// UNSUBSCRIBEs per member at completion + 1 for the group + N at release
// (22 in the capture; the exact number depends on which messages the MGET
// overtook).
func TestWorkloadGroupMix(t *testing.T) {
	w, c, ps := runWorkloadMix(t, "group")
	wantKinds(t, "worker", w, map[string]int{"GET": 5, "MULTI": 5, "SETEX": 5, "PUBLISH": 5, "EXEC": 5})
	wantKinds(t, "caller", c, map[string]int{"MGET": 1})
	if ps["SUBSCRIBE"] != 10 || ps["UNSUBSCRIBE"] < 21 || ps["UNSUBSCRIBE"] > 26 || len(ps) != 2 {
		t.Errorf("caller pub/sub: %v, want SUBSCRIBE10 UNSUBSCRIBE21..26", ps)
	}
	t.Logf("group N=5: W %v; C %v; C pub/sub %v", w, c, ps)
}

// TestWorkloadChordMix runs the chord workload (N=5) and checks §4's row:
// W DEL3 EXEC13 EXPIRE15 GET17 MULTI13 PUBLISH6 SETEX6 ZADD5 ZCOUNT5
// ZRANGE1 exactly; C one set_chord_size pipeline, SUBSCRIBE 2N+1, and
// parent-polling GETs (timing-dependent: at least one per header member and
// the body's). UNSUBSCRIBEs: N while sending (group apply), N when the
// header's AsyncResults are dropped, N as parents are polled ready, 1 for
// the group, 2 for the body, N+1 at release: 4N+4; plus one for each
// header member's ready message that reached the caller before its
// UNSUBSCRIBE did (0..N, timing).
func TestWorkloadChordMix(t *testing.T) {
	w, c, ps := runWorkloadMix(t, "chord")
	wantKinds(t, "worker", w, map[string]int{"DEL": 3, "EXEC": 13, "EXPIRE": 15, "GET": 17, "MULTI": 13,
		"PUBLISH": 6, "SETEX": 6, "ZADD": 5, "ZCOUNT": 5, "ZRANGE": 1})
	if c["MULTI"] != 1 || c["SETEX"] != 1 || c["PUBLISH"] != 1 || c["EXEC"] != 1 || c["GET"] < 6 || len(c) != 5 {
		t.Errorf("caller: %v, want MULTI1 SETEX1 PUBLISH1 EXEC1 GET>=6", c)
	}
	if ps["SUBSCRIBE"] != 11 || ps["UNSUBSCRIBE"] < 24 || ps["UNSUBSCRIBE"] > 29 || len(ps) != 2 {
		t.Errorf("caller pub/sub: %v, want SUBSCRIBE11 UNSUBSCRIBE24..29", ps)
	}
	t.Logf("chord N=5: W %v; C %v; C pub/sub %v", w, c, ps)
}

// settle waits until the client side of every connection has closed (the
// run closed its sessions), so the proxy has recorded everything they sent,
// the release UNSUBSCRIBEs written without waiting for a reply included.
func settle(t *testing.T, conns []*proxyConn) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for i, c := range conns {
		select {
		case <-c.clientDone:
		case <-timeout:
			t.Fatalf("connection %d of %d still open 10 s after the run", i+1, len(conns))
		}
	}
}
