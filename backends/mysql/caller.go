package mysql

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/pyjson"
	"github.com/celery-bench/bench/backends/sqla"
)

var _ backends.Caller = (*caller)(nil)

// caller is a process that sends tasks and waits for them outside a
// worker: Celery gives it a new NullPool Engine per operation, or, with
// Options.CallerPool, one pooled connection.
type caller struct {
	b            *backend
	obs          backends.Observer
	s            runner
	selectPrefix string
	row          []driver.Value
	state        backends.State // WaitFor's last read
	timer        *time.Timer
}

// NewCaller sets up a caller process. With Celery 5.5+ it runs the
// create_all check now, on a connection of its own, as the backend's setup
// does; otherwise that happens at its first operation.
func (b *backend) NewCaller(ctx context.Context, obs backends.Observer) (backends.Caller, error) {
	if obs == nil {
		obs = backends.Discard
	}
	c := &caller{b: b, obs: obs, selectPrefix: selectTaskPrefix(b.opts.ResultExtended),
		row: make([]driver.Value, nExtendedColumns)}
	if b.opts.CallerPool {
		p, err := newPooled(ctx, b)
		if err != nil {
			return nil, err
		}
		c.s = p
		return c, nil
	}
	s, err := sqla.NewNullPool(ctx, b.engine)
	if err != nil {
		return nil, err
	}
	c.s = s
	return c, nil
}

// OnTaskCall does nothing: the database backend does no work when a task
// is sent.
func (c *caller) OnTaskCall(ctx context.Context, taskID string) error { return nil }

// Release does nothing: there is no subscription to end.
func (c *caller) Release(ctx context.Context, taskID string) error { return nil }

func (c *caller) Close() error {
	c.s.Close()
	return nil
}

// WaitFor is SyncBackendMixin.wait_for: get_task_meta, return if the state
// is ready, else sleep interval and read again. Each read is reported as
// OpGetTaskMeta. Only the status is decoded; the result is not needed.
func (c *caller) WaitFor(ctx context.Context, taskID string, interval time.Duration) (backends.State, error) {
	for {
		if err := c.get(ctx, taskID, nil); err != nil {
			return "", err
		}
		if c.state.Ready() {
			return c.state, nil
		}
		if err := c.sleep(ctx, interval); err != nil {
			return "", err
		}
	}
}

func (c *caller) sleep(ctx context.Context, d time.Duration) error {
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		c.timer.Stop()
		return fmt.Errorf("mysql: waiting for a result: %w", ctx.Err())
	case <-c.timer.C:
		return nil
	}
}

// GetTaskMeta is _get_task_meta_for: one SELECT in its own session. A task
// with no row is PENDING. A result that does not unpickle into package
// py's value model (a pickled exception object, say) is returned as its
// raw pickle bytes.
func (c *caller) GetTaskMeta(ctx context.Context, taskID string) (*backends.TaskMeta, error) {
	m := &backends.TaskMeta{}
	if err := c.get(ctx, taskID, m); err != nil {
		return nil, err
	}
	return m, nil
}

// get reads the task's row, setting c.state, and decodes it into m unless
// m is nil.
func (c *caller) get(ctx context.Context, taskID string, m *backends.TaskMeta) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		return c.read(ctx, cn, taskID, m)
	})
	c.obs.Observe(backends.OpGetTaskMeta, start, time.Since(start), err)
	return err
}

func (c *caller) read(ctx context.Context, cn *conn, taskID string, m *backends.TaskMeta) error {
	n := nBaseColumns
	if c.b.opts.ResultExtended {
		n = nExtendedColumns
	}
	row := c.row[:n]
	cn.sql = appendString(append(cn.sql[:0], c.selectPrefix...), taskID, c.b.dialect.noBackslash)
	found, err := cn.query(ctx, string(cn.sql), row)
	if err != nil {
		return err
	}
	c.state = backends.Pending
	if found {
		c.state = backends.State(asBytes(row[colStatus]))
	}
	if m != nil {
		decodeRow(m, taskID, found, row)
	}
	_, err = cn.exec(ctx, stmtRollback) // session close
	return err
}

// decodeRow fills m from a celery_taskmeta row (Task.to_dict and
// meta_from_decoded).
func decodeRow(m *backends.TaskMeta, taskID string, found bool, row []driver.Value) {
	*m = backends.TaskMeta{TaskID: taskID, Status: backends.Pending}
	if !found {
		return
	}
	m.Status = backends.State(asBytes(row[colStatus]))
	if b, ok := row[colResult].([]byte); ok {
		if v, err := pickle.Decode(b); err == nil { // v does not alias b
			m.Result = v
		} else {
			m.Result = bytes.Clone(b) // b lives in the connection's buffer
		}
	}
	if b, ok := row[colTraceback].([]byte); ok {
		m.Traceback = string(b)
	}
	if b, ok := row[colDateDone].([]byte); ok {
		if t, err := time.ParseInLocation(time.DateTime, string(b), time.UTC); err == nil {
			m.DateDone = t
		}
	}
	if len(row) < nExtendedColumns {
		return
	}
	e := &backends.Extended{}
	has := false
	if b, ok := row[colName].([]byte); ok {
		e.Name, has = string(b), true
	}
	if b, ok := row[colArgs].([]byte); ok {
		has = true
		if v, err := pyjson.Decode(b); err == nil {
			e.Args, _ = v.([]any)
		}
	}
	if b, ok := row[colKwargs].([]byte); ok {
		has = true
		if v, err := pyjson.Decode(b); err == nil {
			e.Kwargs = v
		}
	}
	if b, ok := row[colWorker].([]byte); ok {
		e.Worker, has = string(b), true
	}
	if row[colRetries] != nil {
		n, _ := asInt(row[colRetries])
		e.Retries, has = int(n), true
	}
	if b, ok := row[colQueue].([]byte); ok {
		e.Queue, has = string(b), true
	}
	if has {
		m.Extended = e
	}
}

// Forget is _forget: a DELETE by task id, committed.
func (c *caller) Forget(ctx context.Context, taskID string) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		s := append(cn.sql[:0], "DELETE FROM celery_taskmeta WHERE celery_taskmeta.task_id = "...)
		cn.sql = appendString(s, taskID, c.b.dialect.noBackslash)
		if _, err := cn.execSQL(ctx); err != nil {
			return err
		}
		_, err := cn.exec(ctx, stmtCommit)
		return err
	})
	c.obs.Observe(backends.OpForget, start, time.Since(start), err)
	return err
}
