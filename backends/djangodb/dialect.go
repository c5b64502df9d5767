package djangodb

import (
	"context"
	"database/sql/driver"
	"time"

	"github.com/celery-bench/bench/backends"
)

// A dialect is what one of Django's database backends (MySQL through
// mysqlclient, PostgreSQL through psycopg2) does its own way, apart from
// the ORM's statement sequences: the driver and its connection set-up,
// quoting and literals, the atomic block's statements, the DDL of the
// migrated tables, and the server's counters. The flavour (this
// package's worker, caller, groups, chords and cleanup) builds every
// statement from these parts.
//
// A dialect is made at open and read-only after; its methods are safe for
// concurrent use.
type dialect interface {
	// quote quotes an identifier.
	quote(name string) string
	// appendString appends s as the driver's client-side string literal.
	appendString(dst []byte, s string) []byte
	// appendDate appends an aware UTC datetime as Django adapts it under
	// USE_TZ=True.
	appendDate(dst []byte, t time.Time) []byte
	// parseDate reads a date column's text.
	parseDate(v []byte) (time.Time, bool)
	// appendPrefixMatch appends a condition true when column starts with
	// prefix, case-sensitively.
	appendPrefixMatch(dst []byte, column, prefix string) []byte
	// returning: the INSERT of a new row ends with RETURNING its id.
	returning() bool
	// checksRepeatableRead: get_task and get_group send
	// warn_if_repeatable_read's SHOW VARIABLES on a second miss in a row
	// (MySQL only).
	checksRepeatableRead() bool
	// atomic blocks: the statements that open, commit and roll back
	// transaction.atomic().
	beginAtomic() []string
	commitAtomic() []string
	rollbackAtomic() []string

	// dial opens a driver connection to bench's database (or, for admin,
	// to none / the maintenance database), sending no statement.
	dial(ctx context.Context, admin bool) (link, error)
	// setUp sends Django's connection set-up on a new connection: first
	// is the process's first connection (MySQL caches its server data).
	setUp(ctx context.Context, c *conn, first bool) error
	// probe reads what the server is, on an admin connection, at open.
	probe(ctx context.Context, c *conn) (backends.ServerInfo, error)
	// goodbye is the message a polite close sends ("Quit", "Terminate").
	goodbye() string
	// isUsable is DatabaseWrapper.is_usable: a round trip that fails on a
	// dead connection.
	isUsable(ctx context.Context, c *conn) error

	// The DDL side (Prepare).
	createDatabase(ctx context.Context, admin *conn) error
	// schemaFilter is the information_schema condition naming bench's
	// database ("table_schema = …").
	schemaFilter() string
	tables() []tableDDL
	createMigrations() string
	// fromDual ends an INSERT … SELECT without a table.
	fromDual() string
	// dateDoneIndexCount counts the indexes of table covering date_done
	// (any) or named name.
	dateDoneIndexCount(table, name string, any bool) string
	createIndex(table, name string) string
	dropIndex(table, name string) string

	serverStats(ctx context.Context, b *backend) (backends.ServerStats, error)
	// markServer marks errors the server returned with backends.MarkServer
	// when the driver's error types do not say so themselves.
	markServer(err error) error

	// addr is host:port, database the database's name (for messages).
	addr() string
	database() string
}

// tableDDL is one table of the migrated schema with its indexes.
type tableDDL struct {
	table, create string
	indexes       []string
}

// A link is one driver connection; every statement is sent as text.
// It is used by one goroutine at a time.
type link interface {
	// exec sends stmt and returns the number of rows it affected.
	exec(ctx context.Context, stmt string) (int64, error)
	// query sends stmt, reads every row and copies the first into dest
	// ([]byte, int64 or nil values, valid until the next call). It
	// reports whether there was a row.
	query(ctx context.Context, stmt string, dest []driver.Value) (bool, error)
	// rows sends stmt and calls fn with the column names and each row,
	// whose values are valid only during the call.
	rows(ctx context.Context, stmt string, fn func(cols []string, row []driver.Value)) error
	usable() bool
	// close sends the goodbye when polite and releases the connection.
	close(polite bool)
}

// keepRow copies the byte values of row into *arena so that they outlive
// the driver's buffers.
func keepRow(arena *[]byte, row []driver.Value) {
	n := 0
	for _, v := range row {
		if b, ok := v.([]byte); ok {
			n += len(b)
		}
	}
	if cap(*arena) < n {
		*arena = make([]byte, 0, n)
	}
	a := (*arena)[:0]
	for i, v := range row {
		if b, ok := v.([]byte); ok {
			start := len(a)
			a = append(a, b...)
			row[i] = a[start:len(a):len(a)]
		}
	}
	*arena = a
}
