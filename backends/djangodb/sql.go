package djangodb

import (
	"strconv"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends"
)

// The tables of django-celery-results 2.4 (migrations 0001–0011).
const (
	tableTask  = "django_celery_results_taskresult"
	tableGroup = "django_celery_results_groupresult"
	tableChord = "django_celery_results_chordcounter"
)

// taskColumns are TaskResult's fields in model order, as Django's SQL
// compiler lists them.
var taskColumns = [...]string{"id", "task_id", "periodic_task_name", "task_name", "task_args", "task_kwargs",
	"status", "worker", "content_type", "content_encoding", "result", "date_created", "date_done", "traceback", "meta"}

const (
	colID = iota
	colTaskID
	colPeriodic
	colTaskName
	colTaskArgs
	colTaskKwargs
	colStatus
	colWorker
	colContentType
	colContentEncoding
	colResult
	colDateCreated
	colDateDone
	colTraceback
	colMeta
	nTaskColumns
)

var groupColumns = [...]string{"id", "group_id", "date_created", "date_done", "content_type", "content_encoding", "result"}

// qualified returns "`table`.`col`, …" of cols.
func qualified(table string, cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("`" + table + "`.`" + c + "`")
	}
	return b.String()
}

func quotedList(cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("`" + c + "`")
	}
	return b.String()
}

var (
	// selectTask is TaskResult.objects.get(task_id=…) up to the id literal.
	selectTask = "SELECT " + qualified(tableTask, taskColumns[:]) + " FROM `" + tableTask + "` WHERE `" + tableTask + "`.`task_id` = "
	// insertTask is Model.save()'s INSERT of a new TaskResult up to VALUES (.
	insertTask = "INSERT INTO `" + tableTask + "` (" + quotedList(taskColumns[1:]) + ") VALUES ("
	// updateTask is the full-row UPDATE of save() on an existing row.
	updateTask = "UPDATE `" + tableTask + "` SET "
	// whereTaskPK ends the UPDATE.
	whereTaskPK = " WHERE `" + tableTask + "`.`id` = "
	// returningTask ends the INSERT on MariaDB >= 10.5.
	returningTask = " RETURNING `" + tableTask + "`.`id`"
	deleteTaskPK  = "DELETE FROM `" + tableTask + "` WHERE `" + tableTask + "`.`id` IN ("

	selectGroup    = "SELECT " + qualified(tableGroup, groupColumns[:]) + " FROM `" + tableGroup + "` WHERE `" + tableGroup + "`.`group_id` = "
	insertGroup    = "INSERT INTO `" + tableGroup + "` (" + quotedList(groupColumns[1:]) + ") VALUES ("
	returningGroup = " RETURNING `" + tableGroup + "`.`id`"
	deleteGroupPK  = "DELETE FROM `" + tableGroup + "` WHERE `" + tableGroup + "`.`id` IN ("
)

// appendString appends s as mysqlclient's string_literal writes it
// (mysql_real_escape_string: NUL, \n, \r, \, ', " and ^Z escaped), or with
// quotes doubled under NO_BACKSLASH_ESCAPES. Copied from backends/mysql's
// PyMySQL escaping, which escapes the same seven bytes.
func appendString(dst []byte, s string, noBackslash bool) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if noBackslash {
			if c == '\'' {
				dst = append(dst, '\'', '\'')
			} else {
				dst = append(dst, c)
			}
			continue
		}
		switch c {
		case 0:
			dst = append(dst, '\\', '0')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case 0x1a:
			dst = append(dst, '\\', 'Z')
		case '"':
			dst = append(dst, '\\', '"')
		case '\'':
			dst = append(dst, '\\', '\'')
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '\'')
}

// appendNullString appends s, or NULL when null.
func appendNullString(dst []byte, s string, null, noBackslash bool) []byte {
	if null {
		return append(dst, "NULL"...)
	}
	return appendString(dst, s, noBackslash)
}

// appendDate appends t as Django's MySQL backend adapts an aware datetime
// under USE_TZ=True: made naive in UTC, str(datetime) (no fraction when
// the microseconds are 0).
func appendDate(dst []byte, t time.Time) []byte {
	dst = append(dst, '\'')
	dst = backends.AppendSQLDate(dst, t)
	return append(dst, '\'')
}

// parseDate reads a datetime(6) column value.
func parseDate(v []byte) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", string(v), time.UTC)
	return t, err == nil
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// appendLike appends a LIKE pattern matching every string starting with
// prefix.
func appendLike(dst []byte, prefix string, noBackslash bool) []byte {
	p := make([]byte, 0, len(prefix)+4)
	for i := 0; i < len(prefix); i++ {
		switch c := prefix[i]; c {
		case '%', '_', '\\':
			p = append(p, '\\', c)
		default:
			p = append(p, c)
		}
	}
	return appendString(dst, string(p)+"%", noBackslash)
}

// appendPrefixMatch appends a condition true when column starts with
// prefix, case-sensitively.
func (b *backend) appendPrefixMatch(s []byte, column, prefix string) []byte {
	s = append(s, "`"+column+"` LIKE "...)
	s = appendLike(s, prefix, b.noBackslash)
	s = append(s, " AND CAST(`"+column+"` AS BINARY) LIKE "...)
	return appendLike(s, prefix, b.noBackslash)
}
