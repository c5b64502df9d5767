package sqla

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"
)

// A Dialect is what one SQLAlchemy dialect and its DBAPI driver (MySQL
// through PyMySQL, PostgreSQL through psycopg2) do their own way inside the
// statement sequences of this package: the client-side literals, how a
// column's text reads back, and the INSERTs whose id comes from the
// server (AUTO_INCREMENT, MariaDB's fired sequence, PostgreSQL's nextval
// with RETURNING). It is read-only after open and safe for concurrent use.
type Dialect[C Conn] interface {
	Literals

	// NextTaskID is what the flush of a new Task sends before its INSERT
	// (MariaDB fires the id sequence); it returns the id, if it has one.
	NextTaskID(ctx context.Context, c C) (int64, error)
	// InsertTask flushes a new Task: id is NextTaskID's, values are its
	// column values after the id, rendered; extended says whether they
	// are TaskExtended's. It returns the new row's id.
	InsertTask(ctx context.Context, c C, id int64, values []byte, extended bool) (int64, error)
	// NextGroupID and InsertGroup are the same for a new TaskSet.
	NextGroupID(ctx context.Context, c C) (int64, error)
	InsertGroup(ctx context.Context, c C, id int64, values []byte) error
	// FillPrefix starts FillExpired's multi-row INSERT; FillID is a row's
	// id value with its ", ", or "" where the server fills it in.
	FillPrefix() string
	FillID() string

	// Now is the clock of the values SQLAlchemy fills in itself: the
	// INSERT's date_done default and its onupdate.
	Now() time.Time
}

// Literals are how a dialect's driver renders values in a statement and
// reads them back from a column's text.
type Literals interface {
	// AppendString appends s as the driver's string literal.
	AppendString(dst []byte, s string) []byte
	// AppendBytes appends b as the driver's bytes literal.
	AppendBytes(dst, b []byte) []byte
	// AppendDate appends t (aware: a timezone-aware datetime) as the driver
	// renders a datetime, or NULL for the zero time.
	AppendDate(dst []byte, t time.Time, aware bool) []byte
	// AppendInt appends an integer literal.
	AppendInt(dst []byte, n int64) []byte

	// Blob reads a bytes column's text (not NULL).
	Blob(b []byte) ([]byte, bool)
	// Int reads an integer column's text.
	Int(b []byte) (int64, bool)
	// Date reads a datetime column's text.
	Date(b []byte) (time.Time, bool)
	// NaiveDateEqual reports whether a datetime column's text (not NULL)
	// loads as a naive datetime equal to t.
	NaiveDateEqual(b []byte, t time.Time) bool
}

// A Row is the first row a SELECT returned: each column's text as the
// driver gives it, nil for NULL. Vals and Arena are a driver's scratch,
// kept across reads.
type Row struct {
	Cols  [][]byte
	Vals  []driver.Value
	Arena []byte
}

// AwareDates: date_done values are timezone-aware (5.4+), so they never
// compare equal to the naive datetimes SQLAlchemy loads from the table.
func (e *Engine[C]) AwareDates() bool { return e.Opts.Celery.AtLeast(5, 4) }

// errorf formats an error of the dialect's package.
func (e *Engine[C]) errorf(format string, args ...any) error {
	return fmt.Errorf(e.Prefix+": "+format, args...)
}
