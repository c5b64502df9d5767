package postgres

// Groups and chords: GroupResult.save/restore/delete (celery_tasksetmeta)
// and celery.chord_unlock. There is no native join; the helpers of
// package backends poll.

import (
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

var (
	_ backends.GroupSaver     = (*caller)(nil)
	_ backends.UnlockerOpener = (*caller)(nil)
	_ backends.ChordUnlocker  = (*unlocker)(nil)
)

const insertGroupPrefix = "INSERT INTO celery_tasksetmeta (id, taskset_id, result, date_done) VALUES (nextval('taskset_id_sequence'), "

// SaveGroup is _save_group: BEGIN, INSERT … RETURNING with the pickled
// GroupResult and date_done = now, COMMIT.
func (c *caller) SaveGroup(ctx context.Context, groupID string, taskIDs []string) error {
	result, err := sqla.GroupPickle(c.b.groupBackend, groupID, taskIDs)
	if err != nil {
		return errorf("save_group %s: pickling: %w", groupID, err)
	}
	start := time.Now()
	err = c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		s := append(cn.sql[:0], insertGroupPrefix...)
		s = append(appendString(s, groupID), ", "...)
		s = append(appendBytes(s, result), ", "...)
		s = appendDate(s, c.b.now().Truncate(time.Microsecond), c.b.awareDates())
		cn.sql = append(s, ") RETURNING celery_tasksetmeta.id"...)
		if _, err := cn.querySQL(ctx); err != nil {
			return err
		}
		return cn.commit(ctx)
	})
	c.obs.Observe(backends.OpSaveGroup, start, time.Since(start), err)
	return err
}

// RestoreGroup is _restore_group: BEGIN, SELECT … LIMIT 1, ROLLBACK.
func (c *caller) RestoreGroup(ctx context.Context, groupID string) ([]string, error) {
	var ids []string
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		ids = nil
		s := append(cn.sql[:0], sqla.SelectGroupPrefix...)
		s = appendString(s, groupID)
		cn.sql = append(s, sqla.SelectGroupSuffix...)
		r, err := cn.querySQL(ctx)
		if err != nil {
			return err
		}
		if len(r.Rows) > 0 {
			if b, ok := textBytes(r.Rows[0][2]); ok {
				ids = sqla.GroupIDsOf(b)
			}
		}
		return cn.rollback(ctx)
	})
	c.obs.Observe(backends.OpRestoreGroup, start, time.Since(start), err)
	return ids, err
}

// DeleteGroup is _delete_group: BEGIN, DELETE, COMMIT.
func (c *caller) DeleteGroup(ctx context.Context, groupID string) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		cn.sql = appendString(append(cn.sql[:0], sqla.DeleteGroupPrefix...), groupID)
		if _, err := cn.querySQL(ctx); err != nil {
			return err
		}
		return cn.commit(ctx)
	})
	c.obs.Observe(backends.OpDeleteGroup, start, time.Since(start), err)
	return err
}

// unlocker is the prefork child that runs celery.chord_unlock.
type unlocker struct {
	b            *backend
	obs          backends.Observer
	p            *pooled
	selectPrefix string
}

// OpenChordUnlocker opens a worker child's connection for chord_unlock.
func (c *caller) OpenChordUnlocker(ctx context.Context, obs backends.Observer) (backends.ChordUnlocker, error) {
	if obs == nil {
		obs = backends.Discard
	}
	p, err := newPooled(ctx, c.b)
	if err != nil {
		return nil, err
	}
	return &unlocker{b: c.b, obs: obs, p: p, selectPrefix: sqla.SelectTaskPrefix(c.b.opts.ResultExtended)}, nil
}

// ChordUnlock is one run of unlock_chord: each member in its own session
// (BEGIN, SELECT, ROLLBACK), stopping at the first that is not ready.
func (u *unlocker) ChordUnlock(ctx context.Context, memberIDs []string) (bool, error) {
	start := time.Now()
	ready := true
	var err error
	for _, id := range memberIDs {
		var st backends.State
		err = u.p.Do(ctx, func(ctx context.Context, cn *conn) error {
			var err error
			st, _, err = readTask(ctx, cn, u.selectPrefix, id)
			return err
		})
		if err != nil || !st.Ready() {
			ready = false
			break
		}
	}
	u.obs.Observe(backends.OpChordUnlock, start, time.Since(start), err)
	return ready && err == nil, err
}

func (u *unlocker) Close() error {
	u.p.Close()
	return nil
}
