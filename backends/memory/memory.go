// Package memory is an in-process result backend with no I/O. It measures
// the harness itself: a workload run against memory:// shows the most the
// harness can drive on this machine, so a real backend's figures can be read
// against it. It also serves tests that need a backend but no server.
package memory

import (
	"context"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/celery-bench/bench/backends"
)

func init() {
	backends.Register(backends.Meta{
		Name:        "memory",
		Schemes:     []string{"memory"},
		Description: "in-process store with no I/O: the harness's own ceiling, and the backend for tests",
		DefaultURL:  "memory://",
		Open:        open,
	})
}

const (
	nShards = 64
	// shardGeneration is how many results a shard holds before its older
	// generation is dropped; the store keeps between 1 and 2 times
	// nShards*shardGeneration results, like a result_expires that counts.
	shardGeneration = 32 << 10
)

type backend struct {
	seed   maphash.Seed
	delay  time.Duration // added to every store_result (memory://?delay=100us)
	shards [nShards]shard
}

type shard struct {
	mu        sync.Mutex
	cur, prev map[string]*entry
}

// entry is one task's record plus the channel its waiters block on.
type entry struct {
	meta  backends.TaskMeta
	ready chan struct{} // closed when meta reaches a ready state
}

// open accepts memory:// with one optional query parameter, delay: a
// duration every store_result sleeps, to inject a known slowdown (tests of
// comparisons and of open-loop measurement use it).
func open(_ context.Context, u *url.URL, _ backends.Options) (backends.Backend, error) {
	b := &backend{seed: maphash.MakeSeed()}
	for k, v := range u.Query() {
		if k != "delay" || len(v) != 1 {
			return nil, fmt.Errorf("memory: unknown URL parameter %q (only delay=DURATION)", k)
		}
		d, err := time.ParseDuration(v[0])
		if err != nil || d < 0 {
			return nil, fmt.Errorf("memory: delay=%q is not a duration like 100us", v[0])
		}
		b.delay = d
	}
	for i := range b.shards {
		b.shards[i].cur = map[string]*entry{}
	}
	return b, nil
}

func (b *backend) shard(id string) *shard {
	return &b.shards[maphash.String(b.seed, id)%nShards]
}

// get returns the entry for id, creating it when create is set.
func (s *shard) get(id string, create bool) *entry {
	if e, ok := s.cur[id]; ok {
		return e
	}
	if e, ok := s.prev[id]; ok {
		return e
	}
	if !create {
		return nil
	}
	if len(s.cur) >= shardGeneration {
		s.prev, s.cur = s.cur, make(map[string]*entry, shardGeneration)
	}
	e := &entry{meta: backends.TaskMeta{TaskID: id, Status: backends.Pending}, ready: make(chan struct{})}
	s.cur[id] = e
	return e
}

func (b *backend) Prepare(context.Context) error { return nil }

func (b *backend) NewWorker(_ context.Context, obs backends.Observer) (backends.Worker, error) {
	return &session{b: b, obs: obs}, nil
}

func (b *backend) NewCaller(_ context.Context, obs backends.Observer) (backends.Caller, error) {
	return &session{b: b, obs: obs}, nil
}

func (b *backend) Cleanup(_ context.Context, prefix string) (int64, error) {
	var n int64
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		for _, m := range []map[string]*entry{s.cur, s.prev} {
			for id := range m {
				if len(id) >= len(prefix) && id[:len(prefix)] == prefix {
					delete(m, id)
					n++
				}
			}
		}
		s.mu.Unlock()
	}
	return n, nil
}

func (b *backend) Server() backends.ServerInfo {
	return backends.ServerInfo{Product: "in-process, no I/O"}
}

func (b *backend) Close() error { return nil }

// session serves both as a worker and as a caller; it holds no connection.
type session struct {
	b   *backend
	obs backends.Observer
}

var (
	_ backends.Worker = (*session)(nil)
	_ backends.Caller = (*session)(nil)
)

func (c *session) StoreResult(ctx context.Context, m *backends.TaskMeta) error {
	start := time.Now()
	err := ctx.Err()
	if err == nil && c.b.delay > 0 {
		t := time.NewTimer(c.b.delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			err = ctx.Err()
		}
	}
	if err == nil {
		s := c.b.shard(m.TaskID)
		s.mu.Lock()
		e := s.get(m.TaskID, true)
		if e.meta.Status != backends.Success { // Celery's KV dedupe: never overwrite SUCCESS
			wasReady := e.meta.Status.Ready()
			e.meta = *m
			if m.Status.Ready() && !wasReady {
				close(e.ready)
			}
		}
		s.mu.Unlock()
	}
	c.obs.Observe(backends.OpStoreResult, start, time.Since(start), err)
	return err
}

func (c *session) OnTaskCall(ctx context.Context, id string) error {
	start := time.Now()
	s := c.b.shard(id)
	s.mu.Lock()
	s.get(id, true)
	s.mu.Unlock()
	c.obs.Observe(backends.OpOnTaskCall, start, time.Since(start), nil)
	return nil
}

func (c *session) WaitFor(ctx context.Context, id string, _ time.Duration) (backends.State, error) {
	start := time.Now()
	s := c.b.shard(id)
	s.mu.Lock()
	e := s.get(id, true)
	st := e.meta.Status
	s.mu.Unlock()
	c.obs.Observe(backends.OpGetTaskMeta, start, time.Since(start), nil)
	if st.Ready() {
		return st, nil
	}
	start = time.Now()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return backends.Pending, ctx.Err()
	}
	s.mu.Lock()
	st = e.meta.Status
	s.mu.Unlock()
	c.obs.Observe(backends.OpDrainEvents, start, time.Since(start), nil)
	return st, nil
}

func (c *session) Release(context.Context, string) error { return nil }

func (c *session) GetTaskMeta(ctx context.Context, id string) (*backends.TaskMeta, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := c.b.shard(id)
	s.mu.Lock()
	var m backends.TaskMeta
	if e := s.get(id, false); e != nil {
		m = e.meta
	} else {
		m = backends.TaskMeta{TaskID: id, Status: backends.Pending}
	}
	s.mu.Unlock()
	c.obs.Observe(backends.OpGetTaskMeta, start, time.Since(start), nil)
	return &m, nil
}

func (c *session) Forget(ctx context.Context, id string) error {
	start := time.Now()
	s := c.b.shard(id)
	s.mu.Lock()
	delete(s.cur, id)
	delete(s.prev, id)
	s.mu.Unlock()
	c.obs.Observe(backends.OpForget, start, time.Since(start), nil)
	return nil
}

func (c *session) Close() error { return nil }

// Fingerprint summarises the records of b (a memory:// backend) whose ids
// start with prefix: how many there are and a hash of every one's id,
// status and result, independent of the order they were written in. Two
// runs that wrote the same records have the same fingerprint. ok is false
// when b is not a memory:// backend.
func Fingerprint(b backends.Backend, prefix string) (n int, sum uint64, ok bool) {
	mb, ok := b.(*backend)
	if !ok {
		return 0, 0, false
	}
	for i := range mb.shards {
		s := &mb.shards[i]
		s.mu.Lock()
		for _, m := range []map[string]*entry{s.cur, s.prev} {
			for id, e := range m {
				if !strings.HasPrefix(id, prefix) {
					continue
				}
				n++
				h := fnv.New64a()
				fmt.Fprintf(h, "%s\x00%s\x00%#v", id, e.meta.Status, e.meta.Result)
				sum += h.Sum64() // a sum does not depend on the order
			}
		}
		s.mu.Unlock()
	}
	return n, sum, true
}
