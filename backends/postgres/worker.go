package postgres

import (
	"bytes"
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/codec/pyjson"
	"github.com/celery-bench/bench/backends/sqla"
)

var (
	_ backends.Worker        = (*worker)(nil)
	_ backends.ChordUnlocker = (*worker)(nil)
)

// worker is a prefork pool child: DatabaseBackend._store_result on its one
// pooled connection.
type worker struct {
	b            *backend
	obs          backends.Observer
	p            *pooled
	selectPrefix string
	insertPrefix string
	v            taskValues
	pbuf         []byte
	abuf, kbuf   []byte
}

// NewWorker opens the child's connection (with its new Engine's
// first-connect statements), after the create_all check when Celery
// creates tables at setup (5.5+).
func (b *backend) NewWorker(ctx context.Context, obs backends.Observer) (backends.Worker, error) {
	if obs == nil {
		obs = backends.Discard
	}
	p, err := newPooled(ctx, b)
	if err != nil {
		return nil, err
	}
	ext := b.opts.ResultExtended
	return &worker{b: b, obs: obs, p: p, selectPrefix: sqla.SelectTaskPrefix(ext), insertPrefix: insertTaskPrefix(ext)}, nil
}

// StoreResult runs _store_result: BEGIN; SELECT the row; if there is none,
// INSERT a PENDING one (id from nextval, RETURNING it); UPDATE the columns
// that changed; COMMIT. Up to 3 attempts.
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

// ChordUnlock runs one celery.chord_unlock on the child's own connection.
func (w *worker) ChordUnlock(ctx context.Context, memberIDs []string) (bool, error) {
	u := unlocker{b: w.b, obs: w.obs, p: w.p, selectPrefix: w.selectPrefix}
	return u.ChordUnlock(ctx, memberIDs)
}

// taskValues are the values _update_result sets on the row.
type taskValues struct {
	taskID               string
	status               string
	result               any
	pickled              []byte
	dateDone             time.Time
	traceback            string
	extended, hasRequest bool
	name, worker, queue  string
	args, kwargs         []byte
	retries              int64
}

func (w *worker) load(m *backends.TaskMeta) error {
	v := &w.v
	*v = taskValues{taskID: m.TaskID, status: string(m.Status), result: m.Result,
		traceback: m.Traceback, extended: w.b.opts.ResultExtended}
	if m.Result != nil {
		var err error
		if w.pbuf, err = pickle.Append(w.pbuf[:0], m.Result, 5); err != nil {
			return errorf("pickling the result of %s: %w", m.TaskID, err)
		}
		v.pickled = w.pbuf
	}
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
			return errorf("encoding the args of %s: %w", m.TaskID, err)
		}
		if w.kbuf, err = pyjson.Append(w.kbuf[:0], kwargs); err != nil {
			return errorf("encoding the kwargs of %s: %w", m.TaskID, err)
		}
		v.args, v.kwargs = w.abuf, w.kbuf
	}
	return nil
}

// store is one attempt of _store_result.
func (w *worker) store(ctx context.Context, c *conn) error {
	b, v := w.b, &w.v
	aware := b.awareDates()
	ncols := sqla.NBaseColumns
	if v.extended {
		ncols = sqla.NExtendedColumns
	}
	c.sql = appendString(append(c.sql[:0], w.selectPrefix...), v.taskID)
	r, err := c.querySQL(ctx)
	if err != nil {
		return err
	}
	var id int64
	var dirty uint16
	if len(r.Rows) > 0 {
		row := r.Rows[0]
		var ok bool
		if id, ok = textInt(row[sqla.ColID]); !ok {
			return errorf("celery_taskmeta.id %q is not an integer", row[sqla.ColID])
		}
		dirty = v.changed(row, aware)
	} else {
		inserted := b.now().Truncate(time.Microsecond)
		s := append(c.sql[:0], w.insertPrefix...)
		s = appendString(s, v.taskID)
		s = append(s, ", 'PENDING', NULL, "...)
		s = appendDate(s, inserted, aware)
		s = append(s, ", NULL"...)
		if v.extended {
			s = append(s, ", NULL, NULL, NULL, NULL, NULL, NULL"...)
		}
		c.sql = append(s, insertTaskSuffix...)
		r, err := c.querySQL(ctx)
		if err != nil {
			return err
		}
		if len(r.Rows) != 1 {
			return errorf("INSERT … RETURNING returned %d rows", len(r.Rows))
		}
		id, _ = textInt(r.Rows[0][0])
		dirty = v.changedNew(inserted, ncols)
	}
	if dirty != 0 {
		date := v.dateDone
		if dirty&(1<<sqla.ColDateDone) == 0 {
			dirty |= 1 << sqla.ColDateDone // onupdate
			date = b.now()
		}
		s := append(c.sql[:0], "UPDATE celery_taskmeta SET "...)
		sep := false
		for col := sqla.ColStatus; col < ncols; col++ {
			if dirty&(1<<col) == 0 {
				continue
			}
			if sep {
				s = append(s, ", "...)
			}
			sep = true
			s = append(s, sqla.TaskColumns[col]...)
			s = append(s, '=')
			s = v.appendValue(s, col, date, aware)
		}
		s = append(s, " WHERE celery_taskmeta.id = "...)
		c.sql = appendInt(s, id)
		if _, err := c.querySQL(ctx); err != nil {
			return err
		}
	}
	return c.commit(ctx)
}

func (v *taskValues) appendValue(s []byte, col int, date time.Time, aware bool) []byte {
	switch col {
	case sqla.ColStatus:
		return appendNullString(s, v.status)
	case sqla.ColResult:
		return appendNullBytes(s, v.pickled)
	case sqla.ColDateDone:
		return appendDate(s, date, aware)
	case sqla.ColTraceback:
		return appendNullString(s, v.traceback)
	case sqla.ColName:
		return appendNullString(s, v.name)
	case sqla.ColArgs:
		return appendNullBytes(s, v.args)
	case sqla.ColKwargs:
		return appendNullBytes(s, v.kwargs)
	case sqla.ColWorker:
		return appendNullString(s, v.worker)
	case sqla.ColRetries:
		if !v.hasRequest {
			return append(s, "NULL"...)
		}
		return appendInt(s, v.retries)
	default:
		return appendNullString(s, v.queue)
	}
}

// changed returns the columns whose new value differs, by Python's ==,
// from the loaded row.
func (v *taskValues) changed(row [][]byte, aware bool) uint16 {
	var d uint16
	set := func(col int, differs bool) {
		if differs {
			d |= 1 << col
		}
	}
	set(sqla.ColStatus, !textEqual(row[sqla.ColStatus], v.status))
	set(sqla.ColResult, !v.resultEqual(row[sqla.ColResult]))
	set(sqla.ColDateDone, !v.dateEqual(row[sqla.ColDateDone], aware))
	set(sqla.ColTraceback, !textEqual(row[sqla.ColTraceback], v.traceback))
	if v.extended {
		set(sqla.ColName, !textEqual(row[sqla.ColName], v.name))
		set(sqla.ColArgs, !byteaEqual(row[sqla.ColArgs], v.args))
		set(sqla.ColKwargs, !byteaEqual(row[sqla.ColKwargs], v.kwargs))
		set(sqla.ColWorker, !textEqual(row[sqla.ColWorker], v.worker))
		set(sqla.ColRetries, !v.retriesEqual(row[sqla.ColRetries]))
		set(sqla.ColQueue, !textEqual(row[sqla.ColQueue], v.queue))
	}
	return d
}

// changedNew is changed for the row just inserted: only the defaults
// (status PENDING, date_done inserted) are known.
func (v *taskValues) changedNew(inserted time.Time, ncols int) uint16 {
	d := uint16(1<<ncols-1) &^ (1<<sqla.ColID | 1<<sqla.ColTaskID)
	if v.status == string(backends.Pending) {
		d &^= 1 << sqla.ColStatus
	}
	if !v.dateDone.IsZero() && v.dateDone.Equal(inserted) {
		d &^= 1 << sqla.ColDateDone
	}
	return d
}

func (v *taskValues) resultEqual(stored []byte) bool {
	if stored == nil {
		return v.result == nil
	}
	b, ok := textBytes(stored)
	if !ok {
		return false
	}
	old, err := pickle.Decode(b)
	if err != nil {
		return false
	}
	return sqla.PyEqual(old, v.result)
}

// dateEqual compares the stored timestamp (µs kept, naive) with the new
// date_done; an aware value (5.4+) never equals a naive one.
func (v *taskValues) dateEqual(stored []byte, aware bool) bool {
	if stored == nil || v.dateDone.IsZero() {
		return stored == nil && v.dateDone.IsZero()
	}
	if aware {
		return false
	}
	t, ok := textDate(stored)
	return ok && t.Equal(v.dateDone.UTC())
}

func (v *taskValues) retriesEqual(stored []byte) bool {
	if stored == nil || !v.hasRequest {
		return stored == nil && !v.hasRequest
	}
	n, ok := textInt(stored)
	return ok && n == v.retries
}

func textEqual(stored []byte, s string) bool {
	if stored == nil || s == "" {
		return stored == nil && s == ""
	}
	return string(stored) == s
}

func byteaEqual(stored, b []byte) bool {
	if stored == nil || b == nil {
		return stored == nil && b == nil
	}
	s, ok := textBytes(stored)
	return ok && bytes.Equal(s, b)
}
