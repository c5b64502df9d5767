package sqla

import (
	"bytes"
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

// A Caller is a process that sends tasks and waits for them outside a
// worker: Celery gives it a new NullPool Engine per operation, or, with
// Options.CallerPool, one pooled connection.
type Caller[C Conn] struct {
	e            *Engine[C]
	Obs          backends.Observer
	s            Session[C]
	selectPrefix string
	row          Row
	vals         []byte         // an INSERT's values, rendered
	state        backends.State // WaitFor's last read
	timer        *time.Timer
	// groupBackend is the DatabaseBackend that pickled GroupResults hold.
	groupBackend *pickle.Object
}

// NewCaller sets up a caller process. With Celery 5.5+ it runs the
// create_all check now, on a connection of its own, as the backend's setup
// does; otherwise that happens at its first operation. groupBackend is the
// DatabaseBackend pickled GroupResults hold.
func NewCaller[C Conn](ctx context.Context, e *Engine[C], obs backends.Observer, groupBackend *pickle.Object) (*Caller[C], error) {
	if obs == nil {
		obs = backends.Discard
	}
	c := &Caller[C]{e: e, Obs: obs, selectPrefix: SelectTaskPrefix(e.Opts.ResultExtended), groupBackend: groupBackend}
	if e.Opts.CallerPool {
		p, err := NewPooled(ctx, e)
		if err != nil {
			return nil, err
		}
		c.s = p
		return c, nil
	}
	s, err := NewNullPool(ctx, e)
	if err != nil {
		return nil, err
	}
	c.s = s
	return c, nil
}

// OnTaskCall does nothing: the database backend does no work when a task
// is sent.
func (c *Caller[C]) OnTaskCall(ctx context.Context, taskID string) error { return nil }

// Release does nothing: there is no subscription to end.
func (c *Caller[C]) Release(ctx context.Context, taskID string) error { return nil }

// Close closes the caller's connection, if it keeps one.
func (c *Caller[C]) Close() error {
	c.s.Close()
	return nil
}

// WaitFor is SyncBackendMixin.wait_for: get_task_meta, return if the state
// is ready, else sleep interval and read again. Each read is reported as
// OpGetTaskMeta. Only the status is decoded; the result is not needed.
func (c *Caller[C]) WaitFor(ctx context.Context, taskID string, interval time.Duration) (backends.State, error) {
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

func (c *Caller[C]) sleep(ctx context.Context, d time.Duration) error {
	if c.timer == nil {
		c.timer = time.NewTimer(d)
	} else {
		c.timer.Reset(d)
	}
	select {
	case <-ctx.Done():
		c.timer.Stop()
		return c.e.errorf("waiting for a result: %w", ctx.Err())
	case <-c.timer.C:
		return nil
	}
}

// GetTaskMeta is _get_task_meta_for: one SELECT in its own session. A task
// with no row is PENDING. A result that does not unpickle into package
// py's value model (a pickled exception object, say) is returned as its
// raw pickle bytes.
func (c *Caller[C]) GetTaskMeta(ctx context.Context, taskID string) (*backends.TaskMeta, error) {
	m := &backends.TaskMeta{}
	if err := c.get(ctx, taskID, m); err != nil {
		return nil, err
	}
	return m, nil
}

// get reads the task's row, setting c.state, and decodes it into m unless
// m is nil.
func (c *Caller[C]) get(ctx context.Context, taskID string, m *backends.TaskMeta) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn C) error {
		found, err := c.e.readTask(ctx, cn, c.selectPrefix, taskID, &c.row)
		if err != nil {
			return err
		}
		c.state = c.e.state(found, &c.row)
		if m != nil {
			c.e.decodeRow(m, taskID, found, c.row.Cols)
		}
		return cn.EndRead(ctx) // session close
	})
	c.Obs.Observe(backends.OpGetTaskMeta, start, time.Since(start), err)
	return err
}

// readTask sends session.query(Task).filter(task_id == id)'s SELECT.
func (e *Engine[C]) readTask(ctx context.Context, cn C, prefix, taskID string, r *Row) (bool, error) {
	n := NBaseColumns
	if e.Opts.ResultExtended {
		n = NExtendedColumns
	}
	buf := cn.SQL()
	*buf = e.D.AppendString(append((*buf)[:0], prefix...), taskID)
	return cn.QueryRow(ctx, string(*buf), n, r)
}

// state is the status of a task row readTask read: PENDING without one.
func (e *Engine[C]) state(found bool, r *Row) backends.State {
	if !found {
		return backends.Pending
	}
	return backends.State(r.Cols[ColStatus])
}

// decodeRow fills m from a celery_taskmeta row (Task.to_dict and
// meta_from_decoded).
func (e *Engine[C]) decodeRow(m *backends.TaskMeta, taskID string, found bool, row [][]byte) {
	*m = backends.TaskMeta{TaskID: taskID, Status: backends.Pending}
	if !found {
		return
	}
	d := e.D
	m.Status = backends.State(row[ColStatus])
	if raw := row[ColResult]; raw != nil {
		if b, ok := d.Blob(raw); ok {
			if v, err := pickle.Decode(b); err == nil { // v does not alias b
				m.Result = v
			} else if e.BlobsAlias {
				m.Result = bytes.Clone(b) // b lives in the connection's buffer
			} else {
				m.Result = b
			}
		}
	}
	if b := row[ColTraceback]; b != nil {
		m.Traceback = string(b)
	}
	if b := row[ColDateDone]; b != nil {
		if t, ok := d.Date(b); ok {
			m.DateDone = t
		}
	}
	if !e.Opts.ResultExtended || len(row) < NExtendedColumns {
		return
	}
	x := &backends.Extended{}
	has := false
	if b := row[ColName]; b != nil {
		x.Name, has = string(b), true
	}
	if raw := row[ColArgs]; raw != nil {
		if b, ok := d.Blob(raw); ok {
			has = true
			if v, err := pyjson.Decode(b); err == nil {
				x.Args, _ = v.([]any)
			}
		}
	}
	if raw := row[ColKwargs]; raw != nil {
		if b, ok := d.Blob(raw); ok {
			has = true
			if v, err := pyjson.Decode(b); err == nil {
				x.Kwargs = v
			}
		}
	}
	if b := row[ColWorker]; b != nil {
		x.Worker, has = string(b), true
	}
	if b := row[ColRetries]; b != nil {
		if n, ok := d.Int(b); ok {
			x.Retries, has = int(n), true
		}
	}
	if b := row[ColQueue]; b != nil {
		x.Queue, has = string(b), true
	}
	if has {
		m.Extended = x
	}
}

// Forget is _forget: a DELETE by task id, committed.
func (c *Caller[C]) Forget(ctx context.Context, taskID string) error {
	return c.delete(ctx, backends.OpForget, DeleteTaskPrefix, taskID)
}

// delete runs one session of a committed DELETE whose text is prefix and
// the id literal, reporting it as op.
func (c *Caller[C]) delete(ctx context.Context, op, prefix, id string) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn C) error {
		buf := cn.SQL()
		*buf = c.e.D.AppendString(append((*buf)[:0], prefix...), id)
		if _, err := cn.Exec(ctx, string(*buf)); err != nil {
			return err
		}
		return cn.Commit(ctx)
	})
	c.Obs.Observe(op, start, time.Since(start), err)
	return err
}

// CleanupExpired runs the backend's DatabaseBackend.cleanup, reporting to
// the caller's observer.
func (c *Caller[C]) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return c.e.CleanupExpired(ctx, before, c.Obs)
}

// FillExpired runs the backend's.
func (c *Caller[C]) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return c.e.FillExpired(ctx, idPrefix, n, doneAt)
}
