package mysql

// Groups and chords on the SQL backend: GroupResult.save/restore/delete
// (celery_tasksetmeta) and the celery.chord_unlock task. There is no
// native join: on_chord_part_return is a no-op and get_many does not exist,
// so the helpers of package backends fall back to polling.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/py"
)

var (
	_ backends.GroupSaver     = (*caller)(nil)
	_ backends.UnlockerOpener = (*caller)(nil)
	_ backends.ChordUnlocker  = (*unlocker)(nil)
)

// Statements of celery_tasksetmeta (TaskSet).
const (
	stmtNextvalTaskset = "select nextval(taskset_id_sequence)"
	selectGroupPrefix  = "SELECT celery_tasksetmeta.id AS celery_tasksetmeta_id, celery_tasksetmeta.taskset_id AS celery_tasksetmeta_taskset_id, celery_tasksetmeta.result AS celery_tasksetmeta_result, celery_tasksetmeta.date_done AS celery_tasksetmeta_date_done \nFROM celery_tasksetmeta \nWHERE celery_tasksetmeta.taskset_id = "
	selectGroupSuffix  = " \n LIMIT 1"
	deleteGroupPrefix  = "DELETE FROM celery_tasksetmeta WHERE celery_tasksetmeta.taskset_id = "
)

// Celery's pickle of a GroupResult (SQLAlchemy's PickleType: pickle.dumps
// with protocol 5) as a caller with the app's classes builds it:
//
//	_unpickle_appattr('GroupResult', (group_id, [
//	    _unpickle_appattr('AsyncResult', (task_id, backend, None, None, None)), ...]))
//
// where backend is unpickle_backend(DatabaseBackend, (), {'dburi': url,
// 'expires': timedelta or None, 'engine_options': {}}), one object that
// every member shares (a BINGET after the first). url is the result_backend
// URL without its "db+", expires Celery's result_expires.
var (
	unpickleAppattr = pickle.Global{Module: "celery.app.base", Name: "_unpickle_appattr"}
	unpickleBackend = pickle.Global{Module: "celery.backends.base", Name: "unpickle_backend"}
	databaseBackend = pickle.Global{Module: "celery.backends.database", Name: "DatabaseBackend"}
	timedelta       = pickle.Global{Module: "datetime", Name: "timedelta"}
)

// celeryBackendObject is the pickled DatabaseBackend of a caller using
// rawURL with result_expires expires (0: None).
func celeryBackendObject(rawURL string, expires time.Duration) *pickle.Object {
	var exp any // None
	if expires > 0 {
		us := expires.Microseconds()
		const day = 24 * 60 * 60 * 1e6
		exp = &pickle.Object{Func: timedelta, Args: py.Tuple{us / day, us % day / 1e6, us % 1e6}}
	}
	return &pickle.Object{Func: unpickleBackend, Args: py.Tuple{databaseBackend, py.Tuple{}, py.Dict{
		{Key: "dburi", Value: strings.TrimPrefix(rawURL, "db+")},
		{Key: "expires", Value: exp},
		{Key: "engine_options", Value: py.Dict{}},
	}}}
}

// groupPickle returns pickle.dumps(GroupResult(groupID, taskIDs), 5) as
// Celery writes it into celery_tasksetmeta.result.
func (b *backend) groupPickle(groupID string, taskIDs []string) ([]byte, error) {
	members := make([]any, len(taskIDs))
	for i, id := range taskIDs {
		members[i] = &pickle.Object{Func: unpickleAppattr, Args: py.Tuple{pickle.Interned("AsyncResult"),
			py.Tuple{id, b.groupBackend, nil, nil, nil}}}
	}
	g := &pickle.Object{Func: unpickleAppattr, Args: py.Tuple{pickle.Interned("GroupResult"), py.Tuple{groupID, members}}}
	return pickle.Append(nil, g, 5)
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
	err = c.s.do(ctx, func(ctx context.Context, cn *conn) error {
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
	err := c.s.do(ctx, func(ctx context.Context, cn *conn) error {
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
	d, err := pickle.DecodeObjects(b)
	if err != nil {
		return nil
	}
	// _unpickle_appattr('GroupResult', (group_id, [members]))
	g, ok := d.(*pickle.Object)
	if !ok || g.Func != unpickleAppattr || len(g.Args) != 2 {
		return nil
	}
	args, _ := g.Args[1].(py.Tuple)
	if len(args) != 2 {
		return nil
	}
	members, _ := args[1].([]any)
	var out []string
	for _, m := range members {
		// _unpickle_appattr('AsyncResult', (task_id, backend, ...))
		if o, ok := m.(*pickle.Object); ok && len(o.Args) == 2 {
			if t, ok := o.Args[1].(py.Tuple); ok && len(t) > 0 {
				if id, ok := t[0].(string); ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}

// DeleteGroup is _delete_group: DELETE, COMMIT, and the pool's ROLLBACK.
func (c *caller) DeleteGroup(ctx context.Context, groupID string) error {
	start := time.Now()
	err := c.s.do(ctx, func(ctx context.Context, cn *conn) error {
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
		err = u.p.do(ctx, func(ctx context.Context, cn *conn) error {
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
	u.p.close()
	return nil
}
