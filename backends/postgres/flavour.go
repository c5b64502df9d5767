package postgres

import (
	"context"
	"time"

	"github.com/celery-bench/bench/backends/sqla"
)

// psycopg2's words for package sqla's statement sequences: backend is the
// sqla.Dialect (literals, column text, the INSERTs with RETURNING), conn
// sends a session's statements, BEGIN first as psycopg2 does.

func (b *backend) AppendString(dst []byte, s string) []byte { return appendString(dst, s) }
func (b *backend) AppendBytes(dst, p []byte) []byte         { return appendBytes(dst, p) }

// AppendDate: psycopg2 renders an aware datetime as '…+00:00'::timestamptz.
func (b *backend) AppendDate(dst []byte, t time.Time, aware bool) []byte {
	return appendDate(dst, t, aware)
}
func (b *backend) AppendInt(dst []byte, n int64) []byte { return appendInt(dst, n) }

// Blob decodes a bytea column's hex output.
func (b *backend) Blob(p []byte) ([]byte, bool)    { return textBytes(p) }
func (b *backend) Int(p []byte) (int64, bool)      { return textInt(p) }
func (b *backend) Date(p []byte) (time.Time, bool) { return textDate(p) }

// NaiveDateEqual: a timestamp keeps microseconds.
func (b *backend) NaiveDateEqual(p []byte, t time.Time) bool {
	d, ok := textDate(p)
	return ok && d.Equal(t.UTC())
}

// NextTaskID: the id comes from nextval inside the INSERT.
func (b *backend) NextTaskID(ctx context.Context, c *conn) (int64, error) { return 0, nil }

// InsertTask sends the INSERT … RETURNING of the new id.
func (b *backend) InsertTask(ctx context.Context, c *conn, _ int64, values []byte, extended bool) (int64, error) {
	s := c.sql[:0]
	if extended {
		s = append(s, b.insertTask[1]...)
	} else {
		s = append(s, b.insertTask[0]...)
	}
	s = append(s, values...)
	c.sql = append(s, insertTaskSuffix...)
	r, err := c.querySQL(ctx)
	if err != nil {
		return 0, err
	}
	if len(r.Rows) != 1 {
		return 0, errorf("INSERT … RETURNING returned %d rows", len(r.Rows))
	}
	id, _ := textInt(r.Rows[0][0])
	return id, nil
}

func (b *backend) NextGroupID(ctx context.Context, c *conn) (int64, error) { return 0, nil }

func (b *backend) InsertGroup(ctx context.Context, c *conn, _ int64, values []byte) error {
	s := append(c.sql[:0], insertGroupPrefix...)
	s = append(s, values...)
	c.sql = append(s, ") RETURNING celery_tasksetmeta.id"...)
	_, err := c.querySQL(ctx)
	return err
}

const insertGroupPrefix = "INSERT INTO celery_tasksetmeta (id, taskset_id, result, date_done) VALUES (nextval('taskset_id_sequence'), "

func (b *backend) FillPrefix() string {
	return "INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback) VALUES "
}
func (b *backend) FillID() string { return "nextval('task_id_sequence'), " }

func (b *backend) Now() time.Time { return b.now() }

func (c *conn) SQL() *[]byte { return &c.sql }

// QueryRow runs stmt in the transaction (BEGIN first) and keeps the first
// row: pgconn's text values, nil for NULL.
func (c *conn) QueryRow(ctx context.Context, stmt string, n int, r *sqla.Row) (bool, error) {
	res, err := c.query(ctx, stmt)
	if err != nil || len(res.Rows) == 0 {
		return false, err
	}
	r.Cols = res.Rows[0]
	return true, nil
}

// Exec runs stmt in the transaction and returns the rows it affected.
func (c *conn) Exec(ctx context.Context, stmt string) (int64, error) {
	res, err := c.query(ctx, stmt)
	if err != nil {
		return 0, err
	}
	return res.CommandTag.RowsAffected(), nil
}

// Commit sends COMMIT; EndRead the ROLLBACK of the session's close. Each
// is sent only inside a transaction.
func (c *conn) Commit(ctx context.Context) error  { return c.commit(ctx) }
func (c *conn) EndRead(ctx context.Context) error { return c.rollback(ctx) }
