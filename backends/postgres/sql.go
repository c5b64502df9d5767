package postgres

import (
	"github.com/celery-bench/bench/backends/pgdialect"
	"github.com/celery-bench/bench/backends/sqla"
)

// Values are rendered as psycopg2 renders them (package pgdialect).
var (
	appendString = pgdialect.AppendString
	appendBytes  = pgdialect.AppendBytes
	appendDate   = pgdialect.AppendDate
	appendInt    = pgdialect.AppendInt
	textDate     = pgdialect.TextDate
	textBytes    = pgdialect.TextBytes
	textInt      = pgdialect.TextInt
)

// insertTaskPrefix is the INSERT of a new Task up to its first value after
// the id: the id comes from the sequence, written inline.
func insertTaskPrefix(extended bool) string {
	n := sqla.NBaseColumns
	if extended {
		n = sqla.NExtendedColumns
	}
	s := "INSERT INTO celery_taskmeta ("
	for i, c := range sqla.TaskColumns[:n] {
		if i > 0 {
			s += ", "
		}
		s += c
	}
	return s + ") VALUES (nextval('task_id_sequence'), "
}

const insertTaskSuffix = ") RETURNING celery_taskmeta.id"
