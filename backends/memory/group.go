package memory

// Groups, chords and cleanup in memory: the same capabilities as the Redis
// backend (native chord join, saved groups), and the SQL backend's cleanup,
// with no I/O.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/celery-bench/bench/backends"
)

var (
	_ backends.GroupSaver     = (*session)(nil)
	_ backends.ChordSizer     = (*session)(nil)
	_ backends.ChordJoiner    = (*session)(nil)
	_ backends.ParentWaiter   = (*session)(nil)
	_ backends.ExpiredCleaner = (*session)(nil)
	_ backends.ExpiredCleaner = (*backend)(nil)
)

// groupState holds a backend's saved groups and open chords. It lives
// beside the backend (keyed by it) rather than in it, so that the core
// store stays as it is; a backend that is dropped leaves a small map
// behind until the process ends.
type groupState struct {
	mu     sync.Mutex
	groups map[string][]string
	chords map[string]*chordState
}

type chordState struct {
	size    int
	members int
	failed  bool
}

var groupStates sync.Map // *backend → *groupState

func (b *backend) groups() *groupState {
	if g, ok := groupStates.Load(b); ok {
		return g.(*groupState)
	}
	g, _ := groupStates.LoadOrStore(b, &groupState{groups: map[string][]string{}, chords: map[string]*chordState{}})
	return g.(*groupState)
}

func (c *session) observe(op string, start time.Time, err error) {
	c.obs.Observe(op, start, time.Since(start), err)
}

func (c *session) SaveGroup(ctx context.Context, groupID string, taskIDs []string) error {
	start := time.Now()
	g := c.b.groups()
	g.mu.Lock()
	g.groups[groupID] = append([]string(nil), taskIDs...)
	g.mu.Unlock()
	c.observe(backends.OpSaveGroup, start, ctx.Err())
	return ctx.Err()
}

func (c *session) RestoreGroup(ctx context.Context, groupID string) ([]string, error) {
	start := time.Now()
	g := c.b.groups()
	g.mu.Lock()
	ids := append([]string(nil), g.groups[groupID]...)
	g.mu.Unlock()
	c.observe(backends.OpRestoreGroup, start, ctx.Err())
	if len(ids) == 0 {
		return nil, ctx.Err()
	}
	return ids, ctx.Err()
}

func (c *session) DeleteGroup(ctx context.Context, groupID string) error {
	start := time.Now()
	g := c.b.groups()
	g.mu.Lock()
	delete(g.groups, groupID)
	g.mu.Unlock()
	c.observe(backends.OpDeleteGroup, start, ctx.Err())
	return ctx.Err()
}

func (c *session) SetChordSize(ctx context.Context, groupID string, size int) error {
	start := time.Now()
	g := c.b.groups()
	g.mu.Lock()
	ch := g.chords[groupID]
	if ch == nil {
		ch = &chordState{}
		g.chords[groupID] = ch
	}
	ch.size = size
	g.mu.Unlock()
	c.observe(backends.OpSetChordSize, start, ctx.Err())
	return ctx.Err()
}

// OnChordPartReturn counts the part; the part that brings the count to the
// size is the last, as with Redis's ZCOUNT. A failed member makes the last
// part report ErrChordError and keeps the chord's state, as Redis keeps its
// keys.
func (c *session) OnChordPartReturn(ctx context.Context, groupID string, _ int, m *backends.TaskMeta, _ bool, publish func()) (bool, error) {
	start := time.Now()
	g := c.b.groups()
	g.mu.Lock()
	ch := g.chords[groupID]
	if ch == nil {
		ch = &chordState{}
		g.chords[groupID] = ch
	}
	ch.members++
	if m.Status == backends.Failure || m.Status == backends.Revoked {
		ch.failed = true
	}
	last := ch.size > 0 && ch.members == ch.size
	failed := ch.failed
	if last && !failed {
		delete(g.chords, groupID)
	}
	g.mu.Unlock()
	var err error
	if last && failed {
		err = fmt.Errorf("memory: chord %s: %w", groupID, backends.ErrChordError)
	} else if last && publish != nil {
		publish()
	}
	c.observe(backends.OpOnChordPartReturn, start, err)
	return last, err
}

// WaitForWithParents waits for the task alone: memory has no parent
// polling to reproduce.
func (c *session) WaitForWithParents(ctx context.Context, taskID, _ string, _ []string, interval time.Duration) (backends.State, error) {
	return c.WaitFor(ctx, taskID, interval)
}

func (c *session) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	start := time.Now()
	n, err := c.b.CleanupExpired(ctx, before)
	c.observe(backends.OpBackendCleanup, start, err)
	return n, err
}

func (c *session) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return c.b.FillExpired(ctx, idPrefix, n, doneAt)
}

// CleanupExpired deletes the results whose date_done is before before.
// Results without one (unfinished) stay, as in Celery.
func (b *backend) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	for i := range b.shards {
		s := &b.shards[i]
		s.mu.Lock()
		for _, m := range []map[string]*entry{s.cur, s.prev} {
			for id, e := range m {
				if d := e.meta.DateDone; !d.IsZero() && d.Before(before) {
					delete(m, id)
					n++
				}
			}
		}
		s.mu.Unlock()
	}
	return n, ctx.Err()
}

// FillExpired stores n SUCCESS results done at doneAt.
func (b *backend) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	var sb strings.Builder
	for i := 0; i < n; i++ {
		if i%4096 == 0 && ctx.Err() != nil {
			return int64(i), ctx.Err()
		}
		sb.Reset()
		fmt.Fprintf(&sb, "%s%012x", idPrefix, i)
		id := sb.String()
		s := b.shard(id)
		s.mu.Lock()
		e := s.get(id, true)
		if !e.meta.Status.Ready() {
			close(e.ready)
		}
		e.meta = backends.TaskMeta{TaskID: id, Status: backends.Success, DateDone: doneAt}
		s.mu.Unlock()
	}
	return int64(n), nil
}
