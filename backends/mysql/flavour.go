package mysql

import (
	"context"
	"database/sql/driver"
	"math"
	"strconv"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

// The SQLAlchemy flavour's statement sequences are package sqla's; this
// file is the MySQL dialect and PyMySQL's part of them (sqla.Dialect on
// backend, the statements of a session on conn).

var (
	_ sqla.Dialect[*conn]     = (*backend)(nil)
	_ backends.ExpiredCleaner = (*backend)(nil)
	_ backends.Caller         = (*caller)(nil)
	_ backends.GroupSaver     = (*caller)(nil)
	_ backends.UnlockerOpener = (*caller)(nil)
	_ backends.ExpiredCleaner = (*caller)(nil)
	_ backends.Worker         = (*worker)(nil)
	_ backends.ChordUnlocker  = (*worker)(nil)
	_ backends.ChordUnlocker  = (*sqla.Unlocker[*conn])(nil)
)

// caller is a process that sends tasks and waits for them outside a
// worker (Celery gives it a new NullPool Engine per operation, or, with
// Options.CallerPool, one pooled connection); worker is a prefork pool
// child, DatabaseBackend._store_result on its one pooled connection.
type (
	caller = sqla.Caller[*conn]
	worker = sqla.Worker[*conn]
)

// pyEqual is Python's ==, as PickleType.compare_values applies it.
func pyEqual(a, b any) bool { return sqla.PyEqual(a, b) }

func (b *backend) AppendString(dst []byte, s string) []byte {
	return appendString(dst, s, b.dialect.noBackslash)
}

func (b *backend) AppendBytes(dst, p []byte) []byte {
	return appendBytes(dst, p, b.dialect.noBackslash)
}

// AppendDate writes PyMySQL's datetime literal, which has no offset even
// for an aware datetime.
func (b *backend) AppendDate(dst []byte, t time.Time, aware bool) []byte { return appendDate(dst, t) }

func (b *backend) AppendInt(dst []byte, n int64) []byte { return appendInt(dst, n) }

// Blob: PyMySQL returns a BLOB's bytes as they are.
func (b *backend) Blob(p []byte) ([]byte, bool) { return p, true }

// Int reads the decimal text QueryRow leaves for an integer column (an
// int64, as asInt read go-sql-driver's value), without allocating.
func (b *backend) Int(p []byte) (int64, bool) {
	neg := len(p) > 0 && p[0] == '-'
	if neg {
		p = p[1:]
	}
	if len(p) == 0 {
		return 0, false
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var n uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (limit-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// Date reads a DATETIME column's text.
func (b *backend) Date(p []byte) (time.Time, bool) {
	t, err := time.ParseInLocation(time.DateTime, string(p), time.UTC)
	return t, err == nil
}

// NaiveDateEqual: a DATETIME holds whole seconds.
func (b *backend) NaiveDateEqual(p []byte, t time.Time) bool {
	return t.Nanosecond() == 0 && string(p) == t.UTC().Format(time.DateTime)
}

// NextTaskID: the MariaDB dialect fires the sequence (MySQL leaves the id
// to AUTO_INCREMENT).
func (b *backend) NextTaskID(ctx context.Context, c *conn) (int64, error) {
	if !b.dialect.sequences {
		return 0, nil
	}
	return c.queryInt(ctx, stmtNextval)
}

// InsertTask writes the id the sequence gave, or reads AUTO_INCREMENT's
// (cursor.lastrowid).
func (b *backend) InsertTask(ctx context.Context, c *conn, id int64, values []byte, extended bool) (int64, error) {
	s := c.sql[:0]
	if extended {
		s = append(s, b.insertTask[1]...)
	} else {
		s = append(s, b.insertTask[0]...)
	}
	if b.dialect.sequences {
		s = append(appendInt(s, id), ", "...)
	}
	s = append(s, values...)
	c.sql = append(s, ')')
	res, err := c.execSQL(ctx)
	if err != nil {
		return 0, err
	}
	if !b.dialect.sequences {
		return res.LastInsertId()
	}
	return id, nil
}

func (b *backend) NextGroupID(ctx context.Context, c *conn) (int64, error) {
	if !b.dialect.sequences {
		return 0, nil
	}
	return c.queryInt(ctx, stmtNextvalTaskset)
}

func (b *backend) InsertGroup(ctx context.Context, c *conn, id int64, values []byte) error {
	s := c.sql[:0]
	if b.dialect.sequences {
		s = append(s, "INSERT INTO celery_tasksetmeta (id, taskset_id, result, date_done) VALUES ("...)
		s = append(appendInt(s, id), ", "...)
	} else {
		s = append(s, "INSERT INTO celery_tasksetmeta (taskset_id, result, date_done) VALUES ("...)
	}
	s = append(s, values...)
	c.sql = append(s, ')')
	_, err := c.execSQL(ctx)
	return err
}

func (b *backend) FillPrefix() string {
	if b.dialect.sequences {
		return "INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback) VALUES "
	}
	return "INSERT INTO celery_taskmeta (task_id, status, result, date_done, traceback) VALUES "
}

func (b *backend) FillID() string {
	if b.dialect.sequences {
		return "NEXTVAL(task_id_sequence), "
	}
	return ""
}

func (b *backend) Now() time.Time { return b.now() }

func (c *conn) SQL() *[]byte { return &c.sql }

// notNull is the text of a non-NULL empty value.
var notNull = []byte{}

// QueryRow reads the first row into r as text: go-sql-driver returns
// integer columns as int64, which are written back as decimals.
func (c *conn) QueryRow(ctx context.Context, stmt string, n int, r *sqla.Row) (bool, error) {
	if cap(r.Vals) < n {
		r.Vals = make([]driver.Value, n)
	}
	vals := r.Vals[:n]
	found, err := c.query(ctx, stmt, vals)
	if err != nil || !found {
		return found, err
	}
	if cap(r.Cols) < n {
		r.Cols = make([][]byte, n)
	}
	r.Cols = r.Cols[:n]
	a := r.Arena[:0]
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			r.Cols[i] = nil
		case []byte:
			if v == nil {
				v = notNull
			}
			r.Cols[i] = v
		default:
			start := len(a)
			switch v := v.(type) {
			case int64:
				a = strconv.AppendInt(a, v, 10)
			default:
				a = append(a, asBytes(v)...)
			}
			r.Cols[i] = a[start:len(a):len(a)]
			if len(a) == start {
				r.Cols[i] = notNull
			}
		}
	}
	r.Arena = a
	return true, nil
}

// Exec sends stmt and returns the rows it affected.
func (c *conn) Exec(ctx context.Context, stmt string) (int64, error) {
	res, err := c.exec(ctx, stmt)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, nil
	}
	return n, nil
}

// Commit sends COMMIT; EndRead the ROLLBACK of the session's close.
func (c *conn) Commit(ctx context.Context) error {
	_, err := c.exec(ctx, stmtCommit)
	return err
}

func (c *conn) EndRead(ctx context.Context) error {
	_, err := c.exec(ctx, stmtRollback)
	return err
}
