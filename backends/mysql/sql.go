package mysql

import (
	"strconv"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/mysqldialect"
	"github.com/celery-bench/bench/backends/sqla"
)

// The statements below are the text SQLAlchemy 1.4 compiles for Celery's
// models (celery/backends/database/models.py) with PyMySQL's paramstyle, and
// the values are rendered as PyMySQL 1.0 renders parameters
// (pymysql.converters), so that the bytes on the wire are Celery's.

// Statements that take no parameters.
const (
	stmtAutocommit = "SET AUTOCOMMIT = 0" // PyMySQL connect: autocommit=False
	stmtCommit     = "COMMIT"
	stmtRollback   = "ROLLBACK"
	stmtNextval    = "select nextval(task_id_sequence)" // MariaDB dialect fire_sequence
)

// taskColumns are the columns of celery_taskmeta in table order; the first
// 6 belong to Task, the rest to TaskExtended (result_extended).
var taskColumns = [...]string{"id", "task_id", "status", "result", "date_done", "traceback",
	"name", "args", "kwargs", "worker", "retries", "queue"}

const (
	nBaseColumns     = 6
	nExtendedColumns = 12
)

// selectTaskPrefix returns the SELECT of session.query(Task) (or
// TaskExtended) up to the task id literal: "SELECT celery_taskmeta.id AS
// celery_taskmeta_id, … \nFROM celery_taskmeta \nWHERE
// celery_taskmeta.task_id = ".
func selectTaskPrefix(extended bool) string { return sqla.SelectTaskPrefix(extended) }

// insertTaskPrefix returns the INSERT of a new Task up to its first value:
// "INSERT INTO celery_taskmeta (id, task_id, …) VALUES (". The id column is
// there only when a sequence supplies it (MariaDB >= 10.3); on MySQL the ORM
// leaves it to AUTO_INCREMENT.
func insertTaskPrefix(withID, extended bool) string {
	n := nBaseColumns
	if extended {
		n = nExtendedColumns
	}
	cols := taskColumns[:n]
	if !withID {
		cols = cols[1:]
	}
	s := "INSERT INTO celery_taskmeta ("
	for i, c := range cols {
		if i > 0 {
			s += ", "
		}
		s += c
	}
	return s + ") VALUES ("
}

// appendString appends s as PyMySQL's Connection.escape writes a str:
// quoted, with the escapes of converters.escape_string, or with quotes
// doubled when the server runs with NO_BACKSLASH_ESCAPES
// (mysqldialect.AppendString).
func appendString(dst []byte, s string, noBackslash bool) []byte {
	return mysqldialect.AppendString(dst, s, noBackslash)
}

// appendBytes appends b as PyMySQL writes a bytes parameter
// (converters.escape_bytes): the raw bytes in a plain '…' literal, with no
// _binary prefix, escaped as strings are (mysqldialect.AppendBytes).
func appendBytes(dst, b []byte, noBackslash bool) []byte {
	return mysqldialect.AppendBytes(dst, b, noBackslash)
}

// appendNullString appends s as a string literal, or NULL when s is "" (the
// None of TaskMeta's string fields).
func appendNullString(dst []byte, s string, noBackslash bool) []byte {
	if s == "" {
		return append(dst, "NULL"...)
	}
	return appendString(dst, s, noBackslash)
}

// appendNullBytes appends b as a bytes literal, or NULL when b is nil.
func appendNullBytes(dst, b []byte, noBackslash bool) []byte {
	if b == nil {
		return append(dst, "NULL"...)
	}
	return appendBytes(dst, b, noBackslash)
}

// appendDate appends t as PyMySQL's escape_datetime writes it, or NULL for
// the zero time.
func appendDate(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, "NULL"...)
	}
	dst = append(dst, '\'')
	dst = backends.AppendSQLDate(dst, t)
	return append(dst, '\'')
}

// appendInt appends an integer parameter (converters.escape_int).
func appendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}

// appendLike appends a LIKE pattern literal matching every string that
// starts with prefix: the prefix with LIKE's wildcards and escape character
// escaped, then '%' (mysqldialect.AppendLike).
func appendLike(dst []byte, prefix string, noBackslash bool) []byte {
	return mysqldialect.AppendLike(dst, prefix, noBackslash)
}
