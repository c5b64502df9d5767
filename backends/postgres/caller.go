package postgres

import (
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/pyjson"
	"github.com/celery-bench/bench/backends/sqla"
)

var _ backends.Caller = (*caller)(nil)

// caller is a process that sends tasks and waits for them outside a
// worker: a new NullPool Engine per operation, or with Options.CallerPool
// one pooled connection.
type caller struct {
	b            *backend
	obs          backends.Observer
	s            runner
	selectPrefix string
	state        backends.State
	timer        *time.Timer
}

// NewCaller sets up a caller process; with Celery 5.5+ the create_all check
// runs now, on a connection of its own.
func (b *backend) NewCaller(ctx context.Context, obs backends.Observer) (backends.Caller, error) {
	if obs == nil {
		obs = backends.Discard
	}
	c := &caller{b: b, obs: obs, selectPrefix: sqla.SelectTaskPrefix(b.opts.ResultExtended)}
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

func (c *caller) OnTaskCall(ctx context.Context, taskID string) error { return nil }
func (c *caller) Release(ctx context.Context, taskID string) error    { return nil }

func (c *caller) Close() error {
	c.s.Close()
	return nil
}

// WaitFor is wait_for: get_task_meta until ready, sleeping interval between
// reads.
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
		return errorf("waiting for a result: %w", ctx.Err())
	case <-c.timer.C:
		return nil
	}
}

// GetTaskMeta is _get_task_meta_for: BEGIN, SELECT, ROLLBACK.
func (c *caller) GetTaskMeta(ctx context.Context, taskID string) (*backends.TaskMeta, error) {
	m := &backends.TaskMeta{}
	if err := c.get(ctx, taskID, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *caller) get(ctx context.Context, taskID string, m *backends.TaskMeta) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		st, row, err := readTask(ctx, cn, c.selectPrefix, taskID)
		if err != nil {
			return err
		}
		c.state = st
		if m != nil {
			decodeRow(m, taskID, row, c.b.opts.ResultExtended)
		}
		return nil
	})
	c.obs.Observe(backends.OpGetTaskMeta, start, time.Since(start), err)
	return err
}

// readTask is one session of session.query(Task).filter(task_id == id):
// BEGIN, SELECT, ROLLBACK at session close. row is nil when there is none.
func readTask(ctx context.Context, cn *conn, prefix, taskID string) (backends.State, [][]byte, error) {
	cn.sql = appendString(append(cn.sql[:0], prefix...), taskID)
	r, err := cn.querySQL(ctx)
	if err != nil {
		return "", nil, err
	}
	st := backends.Pending
	var row [][]byte
	if len(r.Rows) > 0 {
		row = r.Rows[0]
		st = backends.State(row[sqla.ColStatus])
	}
	return st, row, cn.rollback(ctx)
}

// decodeRow fills m from a celery_taskmeta row (nil: no row).
func decodeRow(m *backends.TaskMeta, taskID string, row [][]byte, extended bool) {
	*m = backends.TaskMeta{TaskID: taskID, Status: backends.Pending}
	if row == nil {
		return
	}
	m.Status = backends.State(row[sqla.ColStatus])
	if b, ok := textBytes(row[sqla.ColResult]); ok {
		if v, err := pickle.Decode(b); err == nil {
			m.Result = v
		} else {
			m.Result = b
		}
	}
	if b := row[sqla.ColTraceback]; b != nil {
		m.Traceback = string(b)
	}
	if t, ok := textDate(row[sqla.ColDateDone]); ok {
		m.DateDone = t
	}
	if !extended || len(row) < sqla.NExtendedColumns {
		return
	}
	e := &backends.Extended{}
	has := false
	if b := row[sqla.ColName]; b != nil {
		e.Name, has = string(b), true
	}
	if b, ok := textBytes(row[sqla.ColArgs]); ok {
		has = true
		if v, err := pyjson.Decode(b); err == nil {
			e.Args, _ = v.([]any)
		}
	}
	if b, ok := textBytes(row[sqla.ColKwargs]); ok {
		has = true
		if v, err := pyjson.Decode(b); err == nil {
			e.Kwargs = v
		}
	}
	if b := row[sqla.ColWorker]; b != nil {
		e.Worker, has = string(b), true
	}
	if n, ok := textInt(row[sqla.ColRetries]); ok {
		e.Retries, has = int(n), true
	}
	if b := row[sqla.ColQueue]; b != nil {
		e.Queue, has = string(b), true
	}
	if has {
		m.Extended = e
	}
}

// Forget is _forget: BEGIN, DELETE by task id, COMMIT.
func (c *caller) Forget(ctx context.Context, taskID string) error {
	start := time.Now()
	err := c.s.Do(ctx, func(ctx context.Context, cn *conn) error {
		cn.sql = appendString(append(cn.sql[:0], sqla.DeleteTaskPrefix...), taskID)
		if _, err := cn.querySQL(ctx); err != nil {
			return err
		}
		return cn.commit(ctx)
	})
	c.obs.Observe(backends.OpForget, start, time.Since(start), err)
	return err
}
