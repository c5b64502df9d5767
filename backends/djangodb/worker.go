package djangodb

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
)

var (
	_ backends.Worker    = (*worker)(nil)
	_ backends.TaskEnder = (*worker)(nil)
)

// worker is a prefork child with Celery's DjangoWorkerFixup: its Django
// connection opens at the task's first database access and is closed at
// task_postrun (close_if_unusable_or_obsolete) once CONN_MAX_AGE has
// passed, which under CONN_MAX_AGE=0 is every task.
type worker struct {
	b   *backend
	obs backends.Observer
	c   *conn
	// warm: the child's DatabaseWrapper has cached mysql_server_data, so
	// later connections skip the server-data query.
	warm    bool
	scratch []byte
	row     []byte
}

func (b *backend) NewWorker(ctx context.Context, obs backends.Observer) (backends.Worker, error) {
	if obs == nil {
		obs = backends.Discard
	}
	return &worker{b: b, obs: serverMarking{obs, b.d}}, nil
}

// ensure is Django's ensure_connection.
func (w *worker) ensure(ctx context.Context) (*conn, error) {
	if w.c != nil {
		return w.c, nil
	}
	c, err := w.b.connect(ctx, !w.warm)
	if err != nil {
		return nil, err
	}
	w.warm = true
	w.c = c
	return c, nil
}

// drop closes the connection after an error, as Django does when the
// connection is unusable; the next operation reconnects.
func (w *worker) drop() {
	if w.c != nil {
		w.c.close()
		w.c = nil
	}
}

// StoreResult is DatabaseBackend._store_result through
// TaskResultManager.store_result (3 attempts, no sleep).
func (w *worker) StoreResult(ctx context.Context, m *backends.TaskMeta) error {
	start := time.Now()
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if err = w.store(ctx, m); err == nil || ctx.Err() != nil {
			break
		}
		if w.c != nil && w.c.broken() {
			w.drop()
		}
	}
	w.obs.Observe(backends.OpStoreResult, start, time.Since(start), err)
	return err
}

func (w *worker) store(ctx context.Context, m *backends.TaskMeta) error {
	r, scratch, err := w.b.encodeTask(m, w.scratch)
	w.scratch = scratch
	if err != nil {
		return err
	}
	c, err := w.ensure(ctx)
	if err != nil {
		return err
	}
	return w.b.storeTask(ctx, c, &r)
}

// storeTask is get_or_create(task_id=…, defaults=fields) and, for an
// existing row, the full-row save().
func (b *backend) storeTask(ctx context.Context, c *conn, r *taskRow) error {
	row := c.scratch(nTaskColumns)
	c.sql = b.appendString(append(c.sql[:0], b.t.selectTask...), r.taskID)
	c.sql = append(c.sql, " LIMIT 21"...)
	found, err := c.querySQL(ctx, row)
	if err != nil {
		return err
	}
	if found {
		pk, err := asInt(row[colID])
		if err != nil {
			return err
		}
		created := "NULL"
		if v, ok := row[colDateCreated].([]byte); ok {
			if t, ok := b.parseDate(v); ok {
				created = string(b.appendDate(nil, t))
			}
		}
		done := string(b.appendDate(nil, b.now()))
		s := append(c.sql[:0], b.t.updateTask...)
		s = b.appendTaskValues(s, r, created, done, true)
		s = append(s, b.t.whereTaskPK...)
		c.sql = appendInt(s, pk)
		_, err = c.execSQL(ctx)
		return err
	}
	// auto_now_add and auto_now: two timezone.now() calls.
	created := string(b.appendDate(nil, b.now()))
	done := string(b.appendDate(nil, b.now()))
	if err := c.begin(ctx); err != nil {
		return err
	}
	s := append(c.sql[:0], b.t.insertTask...)
	s = b.appendTaskValues(s, r, created, done, false)
	s = append(s, ')')
	if b.d.returning() {
		s = append(s, b.t.returningTask...)
	}
	c.sql = s
	if b.d.returning() {
		_, err = c.querySQL(ctx, c.scratch(1))
	} else {
		_, err = c.execSQL(ctx)
	}
	if err != nil {
		c.rollback(ctx) // atomic()'s exit on an error
		return err
	}
	return c.commit(ctx)
}

// EndTask is the fixup's close_database at task_postrun: Celery >= 5.6
// closes the connection; before, close_if_unusable_or_obsolete first
// checks a connection that saw a database error with is_usable() (SELECT 1
// on PostgreSQL, COM_PING on MySQL) and closes it if that fails, then
// closes it once CONN_MAX_AGE has passed.
func (w *worker) EndTask(ctx context.Context) error {
	if w.c == nil {
		return nil
	}
	if w.c.broken() || w.b.opts.Celery.AtLeast(5, 6) {
		w.drop()
		return nil
	}
	if w.c.errorsOccurred {
		if err := w.b.d.isUsable(ctx, w.c); err != nil {
			w.drop()
			return nil
		}
		w.c.errorsOccurred = false
	}
	if w.b.connMaxAge == 0 || w.b.connMaxAge > 0 && time.Since(w.c.opened) >= w.b.connMaxAge {
		w.drop()
	}
	return nil
}

func (w *worker) Close() error {
	w.drop()
	return nil
}

func (w *worker) String() string { return fmt.Sprintf("django-db worker on %s", w.b.d.addr()) }
