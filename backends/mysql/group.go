package mysql

// Groups and chords on the SQL backend: GroupResult.save/restore/delete
// (celery_tasksetmeta) and the celery.chord_unlock task. There is no
// native join: on_chord_part_return is a no-op and get_many does not exist,
// so the helpers of package backends fall back to polling.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/sqla"
)

var (
	_ backends.GroupSaver     = (*caller)(nil)
	_ backends.UnlockerOpener = (*caller)(nil)
	_ backends.ChordUnlocker  = (*unlocker)(nil)
)

// Statements of celery_tasksetmeta (TaskSet).
const (
	stmtNextvalTaskset = "select nextval(taskset_id_sequence)"
	selectGroupPrefix  = sqla.SelectGroupPrefix
	selectGroupSuffix  = sqla.SelectGroupSuffix
	deleteGroupPrefix  = sqla.DeleteGroupPrefix
)

// celeryBackendObject is the pickled DatabaseBackend of a caller using
// rawURL with result_expires expires (0: None).
func celeryBackendObject(rawURL string, expires time.Duration) *pickle.Object {
	return sqla.CeleryBackendObject(rawURL, expires)
}

// groupPickle returns pickle.dumps(GroupResult(groupID, taskIDs), 5) as
// Celery writes it into celery_tasksetmeta.result.
func (b *backend) groupPickle(groupID string, taskIDs []string) ([]byte, error) {
	return sqla.GroupPickle(b.groupBackend, groupID, taskIDs)
}

// SaveGroup is _save_group: INSERT a TaskSet row (after nextval on
// MariaDB) with the pickled GroupResult and date_done = utcnow, COMMIT; the
// pool's ROLLBACK follows. Reported as OpSaveGroup.
func (c *caller) SaveGroup(ctx context.Context, groupID string, taskIDs []string) error {
	result, err := c.b.groupPickle(groupID, taskIDs)
	if err != nil {
		return fmt.Errorf("mysql: save_group %s: pickling: %w", groupID, err)
	}
	start := time.Now()
	err = c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		b := c.b
		nb := b.dialect.noBackslash
		var id int64
		s := cn.sql[:0]
		if b.dialect.sequences {
			var err error
			if id, err = cn.queryInt(ctx, stmtNextvalTaskset); err != nil {
				return err
			}
			s = append(s, "INSERT INTO celery_tasksetmeta (id, taskset_id, result, date_done) VALUES ("...)
			s = append(appendInt(s, id), ", "...)
		} else {
			s = append(s, "INSERT INTO celery_tasksetmeta (taskset_id, result, date_done) VALUES ("...)
		}
		s = append(appendString(s, groupID, nb), ", "...)
		s = append(appendBytes(s, result, nb), ", "...)
		s = appendDate(s, b.now().Truncate(time.Microsecond))
		cn.sql = append(s, ')')
		if _, err := cn.execSQL(ctx); err != nil {
			return err
		}
		_, err := cn.exec(ctx, stmtCommit)
		return err
	})
	c.obs.Observe(backends.OpSaveGroup, start, time.Since(start), err)
	return err
}

// RestoreGroup is _restore_group: SELECT … LIMIT 1, then the session's and
// the pool's ROLLBACKs. The member ids are read from the pickled
// GroupResult without Python, so they come back from groups Celery saved
// too.
func (c *caller) RestoreGroup(ctx context.Context, groupID string) ([]string, error) {
	var ids []string
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		ids = nil
		s := append(cn.sql[:0], selectGroupPrefix...)
		s = appendString(s, groupID, c.b.dialect.noBackslash)
		cn.sql = append(s, selectGroupSuffix...)
		row := cn.scratch(4)
		found, err := cn.query(ctx, string(cn.sql), row)
		if err != nil {
			return err
		}
		if found {
			ids = groupIDsOf(row[2])
		}
		_, err = cn.exec(ctx, stmtRollback) // session close
		return err
	})
	c.obs.Observe(backends.OpRestoreGroup, start, time.Since(start), err)
	return ids, err
}

// groupIDsOf reads the member ids back from a pickled GroupResult (as
// Celery and groupPickle write it), nil from anything else.
func groupIDsOf(v driver.Value) []string {
	b, ok := v.([]byte)
	if !ok {
		return nil
	}
	return sqla.GroupIDsOf(b)
}

// DeleteGroup is _delete_group: DELETE, COMMIT, and the pool's ROLLBACK.
func (c *caller) DeleteGroup(ctx context.Context, groupID string) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		s := append(cn.sql[:0], deleteGroupPrefix...)
		cn.sql = appendString(s, groupID, c.b.dialect.noBackslash)
		if _, err := cn.execSQL(ctx); err != nil {
			return err
		}
		_, err := cn.exec(ctx, stmtCommit)
		return err
	})
	c.obs.Observe(backends.OpDeleteGroup, start, time.Since(start), err)
	return err
}

// unlocker is the prefork child that runs celery.chord_unlock: one pooled
// connection, opened as a worker child's is.
type unlocker struct {
	b            *backend
	obs          backends.Observer
	p            *pooled
	selectPrefix string
	row          []driver.Value
}

// OpenChordUnlocker opens the connection chord_unlock runs on, with a
// worker child's setup (its new Engine's probes). It is the caller's
// stand-in for a worker child: see workloads' chord for why.
func (c *caller) OpenChordUnlocker(ctx context.Context, obs backends.Observer) (backends.ChordUnlocker, error) {
	if obs == nil {
		obs = backends.Discard
	}
	p, err := newPooled(ctx, c.b)
	if err != nil {
		return nil, err
	}
	return &unlocker{b: c.b, obs: obs, p: p, selectPrefix: selectTaskPrefix(c.b.opts.ResultExtended),
		row: make([]driver.Value, nExtendedColumns)}, nil
}

// ChordUnlock is one run of unlock_chord: deps.ready() reads the members in
// order, each in its own session (SELECT, ROLLBACK, and the pool's
// ROLLBACK), and stops at the first that is not ready. It stores nothing
// (ignore_result=True); the retry's countdown is the broker's and the
// body's publish is the caller's. Reported as one OpChordUnlock.
func (u *unlocker) ChordUnlock(ctx context.Context, memberIDs []string) (bool, error) {
	start := time.Now()
	ready := true
	var err error
	for _, id := range memberIDs {
		var st backends.State
		err = u.p.Do(ctx, func(ctx context.Context, cn *conn) error {
			n := nBaseColumns
			if u.b.opts.ResultExtended {
				n = nExtendedColumns
			}
			row := u.row[:n]
			cn.sql = appendString(append(cn.sql[:0], u.selectPrefix...), id, u.b.dialect.noBackslash)
			found, err := cn.query(ctx, string(cn.sql), row)
			if err != nil {
				return err
			}
			st = backends.Pending
			if found {
				st = backends.State(asBytes(row[colStatus]))
			}
			_, err = cn.exec(ctx, stmtRollback)
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
