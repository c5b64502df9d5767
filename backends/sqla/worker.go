package sqla

import (
	"bytes"
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

// A Worker is a prefork pool child: DatabaseBackend._store_result on its
// one pooled connection.
type Worker[C Conn] struct {
	e            *Engine[C]
	obs          backends.Observer
	p            *Pooled[C]
	selectPrefix string
	v            taskValues
	row          Row
	vals         []byte // the INSERT's values, rendered
	pbuf         []byte // the pickled result
	abuf, kbuf   []byte // args and kwargs as JSON
}

// NewWorker opens the child's connection (with its new Engine's probes),
// after the create_all check when Celery creates tables at setup (5.5+).
func NewWorker[C Conn](ctx context.Context, e *Engine[C], obs backends.Observer) (*Worker[C], error) {
	if obs == nil {
		obs = backends.Discard
	}
	p, err := NewPooled(ctx, e)
	if err != nil {
		return nil, err
	}
	return &Worker[C]{e: e, obs: obs, p: p, selectPrefix: SelectTaskPrefix(e.Opts.ResultExtended)}, nil
}

// StoreResult runs _store_result: in one transaction, SELECT the row; if
// there is none, INSERT a PENDING one; UPDATE the columns whose values
// changed; COMMIT. It makes up to 3 attempts.
func (w *Worker[C]) StoreResult(ctx context.Context, m *backends.TaskMeta) error {
	start := time.Now()
	err := w.load(m)
	if err == nil {
		err = w.p.Do(ctx, w.store)
	}
	w.obs.Observe(backends.OpStoreResult, start, time.Since(start), err)
	return err
}

// Close closes the child's connection.
func (w *Worker[C]) Close() error {
	w.p.Close()
	return nil
}

// ChordUnlock runs one celery.chord_unlock on the worker child's own
// pooled connection, as Celery runs that task on a worker child: the same
// statements as the caller-side unlocker's, reported to the worker's
// observer.
func (w *Worker[C]) ChordUnlock(ctx context.Context, memberIDs []string) (bool, error) {
	u := Unlocker[C]{e: w.e, obs: w.obs, p: w.p, selectPrefix: w.selectPrefix, row: &w.row}
	return u.ChordUnlock(ctx, memberIDs)
}

// taskValues are the values _update_result sets on the row, kept as Python
// would compare them (to decide what the UPDATE lists) and as the driver
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
func (w *Worker[C]) load(m *backends.TaskMeta) error {
	v := &w.v
	*v = taskValues{taskID: m.TaskID, status: string(m.Status), result: m.Result,
		traceback: m.Traceback, extended: w.e.Opts.ResultExtended}
	if m.Result != nil {
		var err error
		if w.pbuf, err = pickle.Append(w.pbuf[:0], m.Result, 5); err != nil {
			return w.e.errorf("pickling the result of %s: %w", m.TaskID, err)
		}
		v.pickled = w.pbuf
	}
	// _get_result_meta: date_done is now for ready states, None otherwise.
	if m.Status.Ready() {
		v.dateDone = m.DateDone
		if v.dateDone.IsZero() {
			v.dateDone = w.e.D.Now()
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
			return w.e.errorf("encoding the args of %s: %w", m.TaskID, err)
		}
		if w.kbuf, err = pyjson.Append(w.kbuf[:0], kwargs); err != nil {
			return w.e.errorf("encoding the kwargs of %s: %w", m.TaskID, err)
		}
		v.args, v.kwargs = w.abuf, w.kbuf
	}
	return nil
}

// store is one attempt of _store_result.
func (w *Worker[C]) store(ctx context.Context, c C) error {
	e, d, v := w.e, w.e.D, &w.v
	aware := e.AwareDates()
	ncols := NBaseColumns
	if v.extended {
		ncols = NExtendedColumns
	}
	buf := c.SQL()
	*buf = d.AppendString(append((*buf)[:0], w.selectPrefix...), v.taskID)
	found, err := c.QueryRow(ctx, string(*buf), ncols, &w.row)
	if err != nil {
		return err
	}
	var id int64
	var dirty uint16 // bit i: column TaskColumns[i] goes in the UPDATE
	if found {
		row := w.row.Cols
		var ok bool
		if id, ok = d.Int(row[ColID]); !ok {
			return e.errorf("celery_taskmeta.id %q is not an integer", row[ColID])
		}
		dirty = v.changed(d, row, aware)
	} else {
		if id, err = d.NextTaskID(ctx, c); err != nil {
			return err
		}
		inserted := d.Now().Truncate(time.Microsecond) // the column default
		s := d.AppendString(w.vals[:0], v.taskID)
		s = append(s, ", 'PENDING', NULL, "...)
		s = d.AppendDate(s, inserted, aware)
		s = append(s, ", NULL"...)
		if v.extended {
			s = append(s, ", NULL, NULL, NULL, NULL, NULL, NULL"...)
		}
		w.vals = s
		if id, err = d.InsertTask(ctx, c, id, s, v.extended); err != nil {
			return err
		}
		dirty = v.changedNew(inserted, ncols)
	}
	if dirty != 0 {
		date := v.dateDone
		if dirty&(1<<ColDateDone) == 0 {
			// date_done's onupdate fills it in whenever an UPDATE is sent
			// without it.
			dirty |= 1 << ColDateDone
			date = d.Now()
		}
		s := append((*buf)[:0], "UPDATE celery_taskmeta SET "...)
		sep := false
		for col := ColStatus; col < ncols; col++ {
			if dirty&(1<<col) == 0 {
				continue
			}
			if sep {
				s = append(s, ", "...)
			}
			sep = true
			s = append(s, TaskColumns[col]...)
			s = append(s, '=')
			s = v.appendValue(d, s, col, date, aware)
		}
		s = append(s, " WHERE celery_taskmeta.id = "...)
		*buf = d.AppendInt(s, id)
		if _, err := c.Exec(ctx, string(*buf)); err != nil {
			return err
		}
	}
	return c.Commit(ctx)
}

// appendValue appends the new value of column col (date stands in for
// date_done's).
func (v *taskValues) appendValue(d Literals, s []byte, col int, date time.Time, aware bool) []byte {
	switch col {
	case ColStatus:
		return appendNullString(d, s, v.status)
	case ColResult:
		return appendNullBytes(d, s, v.pickled)
	case ColDateDone:
		return d.AppendDate(s, date, aware)
	case ColTraceback:
		return appendNullString(d, s, v.traceback)
	case ColName:
		return appendNullString(d, s, v.name)
	case ColArgs:
		return appendNullBytes(d, s, v.args)
	case ColKwargs:
		return appendNullBytes(d, s, v.kwargs)
	case ColWorker:
		return appendNullString(d, s, v.worker)
	case ColRetries:
		if !v.hasRequest {
			return append(s, "NULL"...)
		}
		return d.AppendInt(s, v.retries)
	default: // ColQueue
		return appendNullString(d, s, v.queue)
	}
}

// appendNullString appends s as a string literal, or NULL when s is ""
// (the None of TaskMeta's string fields).
func appendNullString(d Literals, dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "NULL"...)
	}
	return d.AppendString(dst, s)
}

// appendNullBytes appends b as a bytes literal, or NULL when b is nil.
func appendNullBytes(d Literals, dst, b []byte) []byte {
	if b == nil {
		return append(dst, "NULL"...)
	}
	return d.AppendBytes(dst, b)
}

// changed returns the columns whose new value differs, by Python's ==, from
// the row SQLAlchemy loaded: the ones its unit of work puts in the UPDATE.
func (v *taskValues) changed(d Literals, row [][]byte, aware bool) uint16 {
	var m uint16
	set := func(col int, differs bool) {
		if differs {
			m |= 1 << col
		}
	}
	set(ColStatus, !textEqual(row[ColStatus], v.status))
	set(ColResult, !v.resultEqual(d, row[ColResult]))
	set(ColDateDone, !v.dateEqual(d, row[ColDateDone], aware))
	set(ColTraceback, !textEqual(row[ColTraceback], v.traceback))
	if v.extended {
		set(ColName, !textEqual(row[ColName], v.name))
		set(ColArgs, !blobEqual(d, row[ColArgs], v.args))
		set(ColKwargs, !blobEqual(d, row[ColKwargs], v.kwargs))
		set(ColWorker, !textEqual(row[ColWorker], v.worker))
		set(ColRetries, !v.retriesEqual(d, row[ColRetries]))
		set(ColQueue, !textEqual(row[ColQueue], v.queue))
	}
	return m
}

// changedNew is changed for the row just flushed by the INSERT: SQLAlchemy
// holds only the defaults it computed (status PENDING, date_done
// inserted); every other column is unloaded and so counts as changed.
func (v *taskValues) changedNew(inserted time.Time, ncols int) uint16 {
	m := uint16(1<<ncols-1) &^ (1<<ColID | 1<<ColTaskID)
	if v.status == string(backends.Pending) {
		m &^= 1 << ColStatus
	}
	if !v.dateDone.IsZero() && v.dateDone.Equal(inserted) {
		m &^= 1 << ColDateDone
	}
	return m
}

// resultEqual is PickleType.compare_values: the unpickled stored value ==
// the new one. NULL loads as None.
func (v *taskValues) resultEqual(d Literals, stored []byte) bool {
	if stored == nil {
		return v.result == nil
	}
	b, ok := d.Blob(stored)
	if !ok {
		return false
	}
	old, err := pickle.Decode(b)
	if err != nil {
		return false // e.g. an exception object: compares by identity
	}
	return PyEqual(old, v.result)
}

// dateEqual compares the stored datetime (naive) with the new date_done.
// From Celery 5.4 the new value is timezone-aware, and an aware datetime
// never equals a naive one.
func (v *taskValues) dateEqual(d Literals, stored []byte, aware bool) bool {
	if stored == nil || v.dateDone.IsZero() {
		return stored == nil && v.dateDone.IsZero()
	}
	if aware {
		return false
	}
	return d.NaiveDateEqual(stored, v.dateDone)
}

func (v *taskValues) retriesEqual(d Literals, stored []byte) bool {
	if stored == nil || !v.hasRequest {
		return stored == nil && !v.hasRequest
	}
	n, ok := d.Int(stored)
	return ok && n == v.retries
}

// textEqual compares a stored string column with s ("" for None).
func textEqual(stored []byte, s string) bool {
	if stored == nil || s == "" {
		return stored == nil && s == ""
	}
	return string(stored) == s
}

// blobEqual compares a stored bytes column with b (nil for None).
func blobEqual(d Literals, stored, b []byte) bool {
	if stored == nil || b == nil {
		return stored == nil && b == nil
	}
	s, ok := d.Blob(stored)
	return ok && bytes.Equal(s, b)
}
