package mysql

import (
	"bytes"
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/codec/pyjson"
	"github.com/celery-bench/bench/backends/sqla"
)

var _ backends.Worker = (*worker)(nil)

// worker is a prefork pool child: DatabaseBackend._store_result on its one
// pooled connection.
type worker struct {
	b            *backend
	obs          backends.Observer
	p            *pooled
	selectPrefix string
	insertPrefix string
	v            taskValues
	row          []driver.Value
	pbuf         []byte // the pickled result
	abuf, kbuf   []byte // args and kwargs as JSON
}

// NewWorker opens the child's connection (with its new Engine's probes),
// after the create_all check when Celery creates tables at setup (5.5+).
func (b *backend) NewWorker(ctx context.Context, obs backends.Observer) (backends.Worker, error) {
	if obs == nil {
		obs = backends.Discard
	}
	p, err := newPooled(ctx, b)
	if err != nil {
		return nil, err
	}
	ext := b.opts.ResultExtended
	return &worker{
		b: b, obs: obs, p: p,
		selectPrefix: selectTaskPrefix(ext),
		insertPrefix: insertTaskPrefix(b.dialect.sequences, ext),
		row:          make([]driver.Value, nExtendedColumns),
	}, nil
}

// StoreResult runs _store_result: in one transaction, SELECT the row; if
// there is none, INSERT a PENDING one (after nextval on MariaDB); UPDATE
// the columns whose values changed; COMMIT. It makes up to 3 attempts.
func (w *worker) StoreResult(ctx context.Context, m *backends.TaskMeta) error {
	start := time.Now()
	err := w.load(m)
	if err == nil {
		err = w.p.Do(ctx, w.store)
	}
	w.obs.Observe(backends.OpStoreResult, start, time.Since(start), err)
	return err
}

func (w *worker) Close() error {
	w.p.Close()
	return nil
}

// taskValues are the values _update_result sets on the row, kept as Python
// would compare them (to decide what the UPDATE lists) and as PyMySQL
// renders them.
type taskValues struct {
	taskID    string
	status    string
	result    any       // the value, for comparing with the stored one
	pickled   []byte    // pickle.dumps(result, 5); nil for None (NULL)
	dateDone  time.Time // to the microsecond; zero for None
	traceback string    // "" for None
	// extended: the session's model is TaskExtended (result_extended), so
	// its six columns are read and set. They are None without a request
	// (hasRequest false).
	extended, hasRequest bool
	name, worker, queue  string // "" for None
	args, kwargs         []byte // JSON; nil for None
	retries              int64
}

// load encodes m once for all attempts.
func (w *worker) load(m *backends.TaskMeta) error {
	v := &w.v
	*v = taskValues{taskID: m.TaskID, status: string(m.Status), result: m.Result,
		traceback: m.Traceback, extended: w.b.opts.ResultExtended}
	if m.Result != nil {
		var err error
		if w.pbuf, err = pickle.Append(w.pbuf[:0], m.Result, 5); err != nil {
			return fmt.Errorf("mysql: pickling the result of %s: %w", m.TaskID, err)
		}
		v.pickled = w.pbuf
	}
	// _get_result_meta: date_done is now for ready states, None otherwise.
	if m.Status.Ready() {
		v.dateDone = m.DateDone
		if v.dateDone.IsZero() {
			v.dateDone = w.b.now()
		}
		v.dateDone = v.dateDone.Truncate(time.Microsecond)
	}
	if e := m.Extended; v.extended && e != nil {
		v.hasRequest = true
		v.name, v.worker, v.queue, v.retries = e.Name, e.Worker, e.Queue, int64(e.Retries)
		var args, kwargs any = e.Args, e.Kwargs
		if e.Args == nil {
			args = []any{}
		}
		if e.Kwargs == nil {
			kwargs = py.Dict{}
		}
		var err error
		if w.abuf, err = pyjson.Append(w.abuf[:0], args); err != nil {
			return fmt.Errorf("mysql: encoding the args of %s: %w", m.TaskID, err)
		}
		if w.kbuf, err = pyjson.Append(w.kbuf[:0], kwargs); err != nil {
			return fmt.Errorf("mysql: encoding the kwargs of %s: %w", m.TaskID, err)
		}
		v.args, v.kwargs = w.abuf, w.kbuf
	}
	return nil
}

// store is one attempt of _store_result.
func (w *worker) store(ctx context.Context, c *conn) error {
	b, v := w.b, &w.v
	nb := b.dialect.noBackslash
	ncols := nBaseColumns
	if v.extended {
		ncols = nExtendedColumns
	}
	row := w.row[:ncols]
	c.sql = appendString(append(c.sql[:0], w.selectPrefix...), v.taskID, nb)
	found, err := c.query(ctx, string(c.sql), row)
	if err != nil {
		return err
	}
	var id int64
	var dirty uint16 // bit i: column taskColumns[i] goes in the UPDATE
	if found {
		if id, err = asInt(row[colID]); err != nil {
			return err
		}
		dirty = v.changed(row, b.awareDates())
	} else {
		if b.dialect.sequences {
			if id, err = c.queryInt(ctx, stmtNextval); err != nil {
				return err
			}
		}
		inserted := b.now().Truncate(time.Microsecond) // the column default
		s := append(c.sql[:0], w.insertPrefix...)
		if b.dialect.sequences {
			s = append(appendInt(s, id), ", "...)
		}
		s = appendString(s, v.taskID, nb)
		s = append(s, ", 'PENDING', NULL, "...)
		s = appendDate(s, inserted)
		s = append(s, ", NULL"...)
		if v.extended {
			s = append(s, ", NULL, NULL, NULL, NULL, NULL, NULL"...)
		}
		c.sql = append(s, ')')
		res, err := c.execSQL(ctx)
		if err != nil {
			return err
		}
		if !b.dialect.sequences {
			if id, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		dirty = v.changedNew(inserted, ncols)
	}
	if dirty != 0 {
		date := v.dateDone
		if dirty&(1<<colDateDone) == 0 {
			// date_done's onupdate fills it in whenever an UPDATE is sent
			// without it.
			dirty |= 1 << colDateDone
			date = b.now()
		}
		s := append(c.sql[:0], "UPDATE celery_taskmeta SET "...)
		sep := false
		for col := colStatus; col < ncols; col++ {
			if dirty&(1<<col) == 0 {
				continue
			}
			if sep {
				s = append(s, ", "...)
			}
			sep = true
			s = append(s, taskColumns[col]...)
			s = append(s, '=')
			s = v.appendValue(s, col, date, nb)
		}
		s = append(s, " WHERE celery_taskmeta.id = "...)
		c.sql = appendInt(s, id)
		if _, err := c.execSQL(ctx); err != nil {
			return err
		}
	}
	_, err = c.exec(ctx, stmtCommit)
	return err
}

// appendValue appends the new value of column col (date stands in for
// date_done's).
func (v *taskValues) appendValue(s []byte, col int, date time.Time, nb bool) []byte {
	switch col {
	case colStatus:
		return appendNullString(s, v.status, nb)
	case colResult:
		return appendNullBytes(s, v.pickled, nb)
	case colDateDone:
		return appendDate(s, date)
	case colTraceback:
		return appendNullString(s, v.traceback, nb)
	case colName:
		return appendNullString(s, v.name, nb)
	case colArgs:
		return appendNullBytes(s, v.args, nb)
	case colKwargs:
		return appendNullBytes(s, v.kwargs, nb)
	case colWorker:
		return appendNullString(s, v.worker, nb)
	case colRetries:
		if !v.hasRequest {
			return append(s, "NULL"...)
		}
		return appendInt(s, v.retries)
	default: // colQueue
		return appendNullString(s, v.queue, nb)
	}
}

// changed returns the columns whose new value differs, by Python's ==, from
// the row SQLAlchemy loaded: the ones its unit of work puts in the UPDATE.
func (v *taskValues) changed(row []driver.Value, aware bool) uint16 {
	var d uint16
	set := func(col int, differs bool) {
		if differs {
			d |= 1 << col
		}
	}
	set(colStatus, !textEqual(row[colStatus], v.status))
	set(colResult, !v.resultEqual(row[colResult]))
	set(colDateDone, !v.dateEqual(row[colDateDone], aware))
	set(colTraceback, !textEqual(row[colTraceback], v.traceback))
	if v.extended {
		set(colName, !textEqual(row[colName], v.name))
		set(colArgs, !bytesEqual(row[colArgs], v.args))
		set(colKwargs, !bytesEqual(row[colKwargs], v.kwargs))
		set(colWorker, !textEqual(row[colWorker], v.worker))
		set(colRetries, !v.retriesEqual(row[colRetries]))
		set(colQueue, !textEqual(row[colQueue], v.queue))
	}
	return d
}

// changedNew is changed for the row just flushed by the INSERT: SQLAlchemy
// holds only the defaults it computed (status PENDING, date_done
// inserted); every other column is unloaded and so counts as changed.
func (v *taskValues) changedNew(inserted time.Time, ncols int) uint16 {
	d := uint16(1<<ncols-1) &^ (1<<colID | 1<<colTaskID)
	if v.status == string(backends.Pending) {
		d &^= 1 << colStatus
	}
	if !v.dateDone.IsZero() && v.dateDone.Equal(inserted) {
		d &^= 1 << colDateDone
	}
	return d
}

// resultEqual is PickleType.compare_values: the unpickled stored value ==
// the new one. NULL loads as None.
func (v *taskValues) resultEqual(stored driver.Value) bool {
	if stored == nil {
		return v.result == nil
	}
	b, ok := stored.([]byte)
	if !ok {
		return false
	}
	old, err := pickle.Decode(b)
	if err != nil {
		return false // e.g. an exception object: compares by identity
	}
	return pyEqual(old, v.result)
}

// dateEqual compares the stored DATETIME (whole seconds, naive) with the
// new date_done. From Celery 5.4 the new value is timezone-aware, and an
// aware datetime never equals a naive one.
func (v *taskValues) dateEqual(stored driver.Value, aware bool) bool {
	if stored == nil || v.dateDone.IsZero() {
		return stored == nil && v.dateDone.IsZero()
	}
	b, ok := stored.([]byte)
	if !ok || aware || v.dateDone.Nanosecond() != 0 {
		return false
	}
	return string(b) == v.dateDone.UTC().Format(time.DateTime)
}

func (v *taskValues) retriesEqual(stored driver.Value) bool {
	if stored == nil || !v.hasRequest {
		return stored == nil && !v.hasRequest
	}
	n, err := asInt(stored)
	return err == nil && n == v.retries
}

// textEqual compares a stored string column with s ("" for None).
func textEqual(stored driver.Value, s string) bool {
	if stored == nil || s == "" {
		return stored == nil && s == ""
	}
	b, ok := stored.([]byte)
	return ok && string(b) == s
}

// bytesEqual compares a stored bytes column with b (nil for None).
func bytesEqual(stored driver.Value, b []byte) bool {
	if stored == nil || b == nil {
		return stored == nil && b == nil
	}
	s, ok := stored.([]byte)
	return ok && bytes.Equal(s, b)
}

// pyEqual is Python's ==, as PickleType.compare_values applies it.
func pyEqual(a, b any) bool { return sqla.PyEqual(a, b) }
