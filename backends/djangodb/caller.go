package djangodb

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

var _ backends.Caller = (*caller)(nil)

// caller is a process outside a worker and outside Django's request
// cycle: nothing closes its connection, so it opens one at its first
// backend call and keeps it for its life.
type caller struct {
	b     *backend
	obs   backends.Observer
	c     *conn
	timer *time.Timer
	// lastID is TaskResultManager._last_id: the last id get_task missed.
	lastID      string
	lastGroupID string
	m           backends.TaskMeta
}

func (b *backend) NewCaller(ctx context.Context, obs backends.Observer) (backends.Caller, error) {
	if obs == nil {
		obs = backends.Discard
	}
	return &caller{b: b, obs: serverMarking{obs, b.d}}, nil
}

func (c *caller) ensure(ctx context.Context) (*conn, error) {
	if c.c != nil {
		if !c.c.broken() {
			return c.c, nil
		}
		c.c.close()
		c.c = nil
	}
	cn, err := c.b.connect(ctx, true)
	if err != nil {
		return nil, err
	}
	c.c = cn
	return cn, nil
}

func (c *caller) OnTaskCall(ctx context.Context, taskID string) error { return nil }
func (c *caller) Release(ctx context.Context, taskID string) error    { return nil }

func (c *caller) Close() error {
	if c.c != nil {
		c.c.close()
		c.c = nil
	}
	return nil
}

// WaitFor is SyncBackendMixin.wait_for: get_task_meta every interval until
// the state is ready.
func (c *caller) WaitFor(ctx context.Context, taskID string, interval time.Duration) (backends.State, error) {
	for {
		if err := c.get(ctx, taskID, &c.m); err != nil {
			return "", err
		}
		if c.m.Status.Ready() {
			return c.m.Status, nil
		}
		if c.timer == nil {
			c.timer = time.NewTimer(interval)
		} else {
			c.timer.Reset(interval)
		}
		select {
		case <-ctx.Done():
			c.timer.Stop()
			return "", fmt.Errorf("django-db: waiting for a result: %w", ctx.Err())
		case <-c.timer.C:
		}
	}
}

// GetTaskMeta is _get_task_meta_for through TaskResultManager.get_task.
func (c *caller) GetTaskMeta(ctx context.Context, taskID string) (*backends.TaskMeta, error) {
	m := &backends.TaskMeta{}
	if err := c.get(ctx, taskID, m); err != nil {
		return nil, err
	}
	return m, nil
}

func (c *caller) get(ctx context.Context, taskID string, m *backends.TaskMeta) error {
	start := time.Now()
	err := c.read(ctx, taskID, m)
	c.obs.Observe(backends.OpGetTaskMeta, start, time.Since(start), err)
	return err
}

func (c *caller) read(ctx context.Context, taskID string, m *backends.TaskMeta) error {
	cn, err := c.ensure(ctx)
	if err != nil {
		return err
	}
	row := cn.scratch(nTaskColumns)
	cn.sql = c.b.appendString(append(cn.sql[:0], c.b.t.selectTask...), taskID)
	cn.sql = append(cn.sql, " LIMIT 21"...)
	found, err := cn.querySQL(ctx, row)
	if err != nil {
		return err
	}
	if !found && c.b.d.checksRepeatableRead() {
		// get_task: warn_if_repeatable_read on a second miss in a row.
		if c.lastID == taskID {
			if _, err := cn.query(ctx, stmtShowIsolated, cn.scratch(2)); err != nil {
				return err
			}
		}
		c.lastID = taskID
	}
	c.b.decodeRow(m, taskID, found, row)
	return nil
}

// decodeRow fills m from a TaskResult row (as_dict, decode_content,
// meta_from_decoded).
func (b *backend) decodeRow(m *backends.TaskMeta, taskID string, found bool, row []driver.Value) {
	*m = backends.TaskMeta{TaskID: taskID, Status: backends.Pending}
	if !found {
		return
	}
	m.Status = backends.State(asBytes(row[colStatus]))
	if v, ok := row[colResult].([]byte); ok && len(v) > 0 {
		if r, err := pyjson.Decode(v); err == nil {
			m.Result = r
		} else {
			m.Result = bytes.Clone(v)
		}
	}
	if v, ok := row[colTraceback].([]byte); ok {
		m.Traceback = string(v)
	}
	// date_done is auto_now, so every row has one, and get_task_meta returns
	// it for every state (STARTED and PROGRESS too).
	if v, ok := row[colDateDone].([]byte); ok {
		if t, ok := b.parseDate(v); ok {
			m.DateDone = t
		}
	}
	if v, ok := row[colMeta].([]byte); ok {
		if meta, err := pyjson.Decode(v); err == nil {
			m.Children = childrenOf(meta)
		}
	}
}

// childrenOf reads the ids of meta's children ([[id, null], null] each).
func childrenOf(meta any) []string {
	type getter interface{ Get(string) (any, bool) }
	g, ok := meta.(getter)
	if !ok {
		return nil
	}
	v, _ := g.Get("children")
	list, _ := v.([]any)
	out := []string{}
	for _, ch := range list {
		t, _ := ch.([]any)
		if len(t) == 0 {
			continue
		}
		inner, _ := t[0].([]any)
		if len(inner) > 0 {
			if id, ok := inner[0].(string); ok {
				out = append(out, id)
			}
		}
	}
	return out
}

// Forget is _forget: get(task_id=…).delete(), both in autocommit.
func (c *caller) Forget(ctx context.Context, taskID string) error {
	start := time.Now()
	err := func() error {
		cn, err := c.ensure(ctx)
		if err != nil {
			return err
		}
		row := cn.scratch(nTaskColumns)
		cn.sql = c.b.appendString(append(cn.sql[:0], c.b.t.selectTask...), taskID)
		cn.sql = append(cn.sql, " LIMIT 21"...)
		found, err := cn.querySQL(ctx, row)
		if err != nil || !found {
			return err
		}
		pk, err := asInt(row[colID])
		if err != nil {
			return err
		}
		cn.sql = append(appendInt(append(cn.sql[:0], c.b.t.deleteTaskPK...), pk), ')')
		_, err = cn.execSQL(ctx)
		return err
	}()
	c.obs.Observe(backends.OpForget, start, time.Since(start), err)
	return err
}
