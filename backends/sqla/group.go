package sqla

// Groups and chords on the SQL backend: GroupResult.save/restore/delete
// (celery_tasksetmeta) and the celery.chord_unlock task. There is no
// native join: on_chord_part_return is a no-op and get_many does not exist,
// so the helpers of package backends fall back to polling.

import (
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
)

// SaveGroup is _save_group: INSERT a TaskSet row with the pickled
// GroupResult and date_done = now, COMMIT; the pool's reset follows.
// Reported as OpSaveGroup.
func (c *Caller[C]) SaveGroup(ctx context.Context, groupID string, taskIDs []string) error {
	result, err := GroupPickle(c.groupBackend, groupID, taskIDs)
	if err != nil {
		return c.e.errorf("save_group %s: pickling: %w", groupID, err)
	}
	start := time.Now()
	err = c.s.Do(ctx, func(ctx context.Context, cn C) error {
		d := c.e.D
		id, err := d.NextGroupID(ctx, cn)
		if err != nil {
			return err
		}
		s := append(d.AppendString(c.vals[:0], groupID), ", "...)
		s = append(d.AppendBytes(s, result), ", "...)
		c.vals = d.AppendDate(s, d.Now().Truncate(time.Microsecond), c.e.AwareDates())
		if err := d.InsertGroup(ctx, cn, id, c.vals); err != nil {
			return err
		}
		return cn.Commit(ctx)
	})
	c.Obs.Observe(backends.OpSaveGroup, start, time.Since(start), err)
	return err
}

// RestoreGroup is _restore_group: SELECT … LIMIT 1, then the session's
// ROLLBACK. The member ids are read from the pickled GroupResult without
// Python, so they come back from groups Celery saved too.
func (c *Caller[C]) RestoreGroup(ctx context.Context, groupID string) ([]string, error) {
	var ids []string
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn C) error {
		ids = nil
		buf := cn.SQL()
		s := append((*buf)[:0], SelectGroupPrefix...)
		s = c.e.D.AppendString(s, groupID)
		*buf = append(s, SelectGroupSuffix...)
		found, err := cn.QueryRow(ctx, string(*buf), 4, &c.row)
		if err != nil {
			return err
		}
		if raw := c.row.Cols[2]; found && raw != nil {
			if b, ok := c.e.D.Blob(raw); ok {
				ids = GroupIDsOf(b)
			}
		}
		return cn.EndRead(ctx) // session close
	})
	c.Obs.Observe(backends.OpRestoreGroup, start, time.Since(start), err)
	return ids, err
}

// DeleteGroup is _delete_group: DELETE, COMMIT.
func (c *Caller[C]) DeleteGroup(ctx context.Context, groupID string) error {
	return c.delete(ctx, backends.OpDeleteGroup, DeleteGroupPrefix, groupID)
}

// An Unlocker is the prefork child that runs celery.chord_unlock: one
// pooled connection, opened as a worker child's is.
type Unlocker[C Conn] struct {
	e            *Engine[C]
	obs          backends.Observer
	p            *Pooled[C]
	selectPrefix string
	row          *Row
}

// OpenChordUnlocker opens the connection chord_unlock runs on, with a
// worker child's setup (its new Engine's probes). It is the caller's
// stand-in for a worker child: see workloads' chord for why.
func (c *Caller[C]) OpenChordUnlocker(ctx context.Context, obs backends.Observer) (backends.ChordUnlocker, error) {
	if obs == nil {
		obs = backends.Discard
	}
	p, err := NewPooled(ctx, c.e)
	if err != nil {
		return nil, err
	}
	return &Unlocker[C]{e: c.e, obs: obs, p: p, selectPrefix: SelectTaskPrefix(c.e.Opts.ResultExtended), row: &Row{}}, nil
}

// ChordUnlock is one run of unlock_chord: deps.ready() reads the members in
// order, each in its own session (SELECT, ROLLBACK, and the pool's reset),
// and stops at the first that is not ready. It stores nothing
// (ignore_result=True); the retry's countdown is the broker's and the
// body's publish is the caller's. Reported as one OpChordUnlock.
func (u *Unlocker[C]) ChordUnlock(ctx context.Context, memberIDs []string) (bool, error) {
	start := time.Now()
	ready := true
	var err error
	for _, id := range memberIDs {
		var st backends.State
		err = u.p.Do(ctx, func(ctx context.Context, cn C) error {
			found, err := u.e.readTask(ctx, cn, u.selectPrefix, id, u.row)
			if err != nil {
				return err
			}
			st = u.e.state(found, u.row)
			return cn.EndRead(ctx)
		})
		if err != nil || !st.Ready() {
			ready = false
			break
		}
	}
	u.obs.Observe(backends.OpChordUnlock, start, time.Since(start), err)
	return ready && err == nil, err
}

// Close closes the unlocker's connection.
func (u *Unlocker[C]) Close() error {
	u.p.Close()
	return nil
}
