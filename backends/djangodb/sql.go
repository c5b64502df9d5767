package djangodb

import (
	"strconv"
	"strings"
	"time"
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

// texts are the fixed parts of the ORM's statements in the dialect's
// quoting, built once at open.
type texts struct {
	// selectTask is TaskResult.objects.get(task_id=…) up to the id literal.
	selectTask string
	// insertTask is Model.save()'s INSERT of a new TaskResult up to VALUES (.
	insertTask string
	// updateTask is the full-row UPDATE of save() on an existing row;
	// setTask the "`col` = " of each column; whereTaskPK ends it.
	updateTask  string
	setTask     [nTaskColumns]string
	whereTaskPK string
	// returningTask ends the INSERT where the dialect returns ids.
	returningTask string
	deleteTaskPK  string

	selectGroup    string
	insertGroup    string
	updateGroup    [4]string // "UPDATE … SET group_id = ", ", date_created = ", ", date_done = ", ", content_type = …, result = "
	whereGroupPK   string
	returningGroup string
	deleteGroupPK  string

	insertChord    string
	returningChord string
	selectChord    string
	orderChord     string
	updateChord    [3]string // "UPDATE … SET group_id = ", ", sub_tasks = ", ", count = "
	whereChordPK   string
	deleteChordPK  string

	// deleteExpired are "DELETE FROM t WHERE t.date_done < " for the task
	// and the group table.
	deleteExpired [2]string
}

func newTexts(q func(string) string) texts {
	qualified := func(table string, cols []string) string {
		var b strings.Builder
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q(table) + "." + q(c))
		}
		return b.String()
	}
	list := func(cols []string) string {
		var b strings.Builder
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(q(c))
		}
		return b.String()
	}
	T, G, C := q(tableTask), q(tableGroup), q(tableChord)
	var t texts
	t.selectTask = "SELECT " + qualified(tableTask, taskColumns[:]) + " FROM " + T + " WHERE " + T + "." + q("task_id") + " = "
	t.insertTask = "INSERT INTO " + T + " (" + list(taskColumns[1:]) + ") VALUES ("
	t.updateTask = "UPDATE " + T + " SET "
	for i, c := range taskColumns {
		t.setTask[i] = q(c) + " = "
	}
	t.whereTaskPK = " WHERE " + T + "." + q("id") + " = "
	t.returningTask = " RETURNING " + T + "." + q("id")
	t.deleteTaskPK = "DELETE FROM " + T + " WHERE " + T + "." + q("id") + " IN ("

	t.selectGroup = "SELECT " + qualified(tableGroup, groupColumns[:]) + " FROM " + G + " WHERE " + G + "." + q("group_id") + " = "
	t.insertGroup = "INSERT INTO " + G + " (" + list(groupColumns[1:]) + ") VALUES ("
	t.updateGroup = [4]string{"UPDATE " + G + " SET " + q("group_id") + " = ", ", " + q("date_created") + " = ", ", " + q("date_done") + " = ",
		", " + q("content_type") + " = 'application/json', " + q("content_encoding") + " = 'utf-8', " + q("result") + " = "}
	t.whereGroupPK = " WHERE " + G + "." + q("id") + " = "
	t.returningGroup = " RETURNING " + G + "." + q("id")
	t.deleteGroupPK = "DELETE FROM " + G + " WHERE " + G + "." + q("id") + " IN ("

	t.insertChord = "INSERT INTO " + C + " (" + list([]string{"group_id", "sub_tasks", "count"}) + ") VALUES ("
	t.returningChord = " RETURNING " + C + "." + q("id")
	t.selectChord = "SELECT " + qualified(tableChord, []string{"id", "group_id", "sub_tasks", "count"}) + " FROM " + C + " WHERE " + C + "." + q("group_id") + " = "
	t.orderChord = " ORDER BY " + C + "." + q("id") + " ASC LIMIT 1 FOR UPDATE"
	t.updateChord = [3]string{"UPDATE " + C + " SET " + q("group_id") + " = ", ", " + q("sub_tasks") + " = ", ", " + q("count") + " = "}
	t.whereChordPK = " WHERE " + C + "." + q("id") + " = "
	t.deleteChordPK = "DELETE FROM " + C + " WHERE " + C + "." + q("id") + " IN ("

	for i, tb := range [2]string{tableTask, tableGroup} {
		t.deleteExpired[i] = "DELETE FROM " + q(tb) + " WHERE " + q(tb) + "." + q("date_done") + " < "
	}
	return t
}

// The dialect's literals, as the flavour's code writes them.

func (b *backend) appendString(dst []byte, s string) []byte { return b.d.appendString(dst, s) }

// appendNullString appends s, or NULL when null.
func (b *backend) appendNullString(dst []byte, s string, null bool) []byte {
	if null {
		return append(dst, "NULL"...)
	}
	return b.d.appendString(dst, s)
}

func (b *backend) appendDate(dst []byte, t time.Time) []byte { return b.d.appendDate(dst, t) }

func (b *backend) parseDate(v []byte) (time.Time, bool) { return b.d.parseDate(v) }

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
