package workloads

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
)

func init() {
	Register(Meta{
		Name:        "group",
		Description: "group(...).apply_async().get(): callers send groups of --group-size tasks and join them (MGET + pub/sub on Redis, a poll per member on SQL)",
		New:         func() Workload { return &group{size: DefaultGroupSize} },
	})
}

// OpGroupJoin is the caller's group(...).apply_async().get(): from creating
// the group to having every member's result.
const OpGroupJoin = "group_join"

// MaxMembers bounds --group-size and --chord-size: Celery stores a
// group's member ids in one GroupResult record and a chord counts its
// header in one key, so a 10,000-task group is already a record of several
// hundred KB that every join reads whole, and the caller holds that many
// AsyncResults; past it a run measures the caller's memory, not the
// backend (a million-task chord never finished).
const MaxMembers = 10000

const maxMembersWhy = "a GroupResult holds every member id in one record; larger groups measure the caller, not the backend"

// DefaultGroupSize is --group-size.
const DefaultGroupSize = 5

// group is Celery's group(add.s(i, i) for i in range(N)).apply_async().get()
// from a process outside the worker, optionally followed by
// GroupResult.save(), GroupResult.restore(id) and delete().
type group struct {
	size int
	save bool
}

func (g *group) Flags() *pflag.FlagSet {
	fs := pflag.NewFlagSet("group", pflag.ContinueOnError)
	fs.IntVar(&g.size, "group-size", DefaultGroupSize, "tasks per group (workload group)")
	fs.BoolVar(&g.save, "group-save", false, "save, restore and delete each GroupResult after joining it (workload group)")
	return fs
}

func (g *group) Validate() error {
	if g.size < 1 || g.size > MaxMembers {
		return fmt.Errorf("--group-size must be between 1 and %d, not %d (%s)", MaxMembers, g.size, maxMembersWhy)
	}
	return nil
}

func (g *group) Ops() []string { return []string{OpGroupJoin} }
func (g *group) Start() Load   { return g }

// Describe states the group size and whether groups are saved (Describer).
func (g *group) Describe() string {
	s := fmt.Sprintf("group of %d", g.size)
	if g.save {
		s += " · GroupResult.save"
	}
	return s
}

// sendMember is what group._apply_tasks does per member on a caller:
// send_task runs on_task_call (Redis: SUBSCRIBE) and publishes the task;
// the AsyncResult it returned is dropped at once (__del__: UNSUBSCRIBE),
// and the group's own result subscribes again (res.then →
// add_pending_result: SUBSCRIBE).
func sendMember(ctx context.Context, c *Caller, t *Task) error {
	s := c.Session
	if err := s.OnTaskCall(ctx, t.ID); err != nil {
		return err
	}
	if err := c.Dispatch(ctx, t); err != nil {
		return err
	}
	if err := s.Release(ctx, t.ID); err != nil {
		return err
	}
	return s.OnTaskCall(ctx, t.ID)
}

// newMembers creates n tasks of a new group.
func newMembers(c *Caller, n int) (string, []*Task, []string) {
	gid := c.ids.next()
	tasks := make([]*Task, n)
	ids := make([]string, n)
	for i := range tasks {
		t := c.NewTask()
		t.GroupID, t.GroupIndex = gid, i
		tasks[i], ids[i] = t, t.ID
	}
	return gid, tasks, ids
}

func (g *group) Call(ctx context.Context, c *Caller) error {
	s := c.Session
	start := time.Now()
	gid, tasks, ids := newMembers(c, g.size)
	var err error
	sent := 0
	for _, t := range tasks {
		if err = sendMember(ctx, c, t); err != nil {
			break
		}
		sent++
	}
	if err == nil {
		// ResultSet iterates a set: Celery's order is the hash order of
		// the AsyncResults, which bench draws at random.
		order := append([]string(nil), ids...)
		c.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		wctx, cancel := withTaskTimeout(ctx, c)
		var states []backends.State
		states, err = backends.JoinGroup(wctx, s, gid, order, c.PollInterval)
		cancel()
		if err == nil {
			for i, st := range states {
				if st != backends.Success {
					err = fmt.Errorf("group member %s ended in %s, want SUCCESS", order[i], st)
					break
				}
			}
		}
	}
	now := time.Now()
	c.Handle.Observe(OpGroupJoin, start, now.Sub(start), err)
	if err == nil {
		for _, t := range tasks {
			c.Observed(t, now)
		}
	}
	restored := 0
	if g.save && err == nil {
		// Errors are recorded by the session under their ops.
		if backends.SaveGroup(ctx, s, gid, ids) == nil {
			if got, err := backends.RestoreGroup(ctx, s, gid); err == nil {
				restored = len(got)
			}
			backends.DeleteGroup(ctx, s, gid)
		}
	}
	// The AsyncResults are released: the restored ones, then the group's.
	for i := 0; i < restored && i < sent; i++ {
		s.Release(ctx, tasks[i].ID)
	}
	for _, t := range tasks[:sent] {
		s.Release(ctx, t.ID)
	}
	return nil
}

// withTaskTimeout bounds a wait by the run's --task-timeout.
func withTaskTimeout(ctx context.Context, c *Caller) (context.Context, context.CancelFunc) {
	if c.TaskTimeout > 0 {
		return context.WithTimeout(ctx, c.TaskTimeout)
	}
	return ctx, func() {}
}

// bufObserver collects observations made on goroutines other than the
// caller's, whose Handle is not safe for concurrent use, until the caller
// replays them with flush.
type bufObserver struct {
	mu  sync.Mutex
	obs []observation
}

type observation struct {
	op    string
	start time.Time
	d     time.Duration
	err   error
}

var _ backends.Observer = (*bufObserver)(nil)

func (b *bufObserver) Observe(op string, start time.Time, d time.Duration, err error) {
	b.mu.Lock()
	b.obs = append(b.obs, observation{op, start, d, err})
	b.mu.Unlock()
}

// flush records the collected observations in h and forgets them.
func (b *bufObserver) flush(h *results.Handle) {
	b.mu.Lock()
	obs := b.obs
	b.obs = nil
	b.mu.Unlock()
	for _, o := range obs {
		if o.err != nil && errors.Is(o.err, context.Canceled) {
			continue
		}
		h.Observe(o.op, o.start, o.d, o.err)
	}
}
