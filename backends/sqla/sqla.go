// Package sqla holds what Celery's SQLAlchemy DatabaseBackend
// (celery/backends/database) does the same way on every dialect: the
// models' columns and the SELECT text SQLAlchemy compiles for them, the
// pickles of PickleType columns (a GroupResult with its DatabaseBackend),
// Python's == as PickleType.compare_values applies it, and the statement
// sequences of its sessions: the session and transaction life (retry, the
// prefork child's QueuePool, NullPool Engines, create_all before the first
// operation), store_result, get_task_meta, forget, the group statements,
// chord_unlock's reads and backend_cleanup (Engine, Worker, Caller,
// Unlocker, Flavour). The dialects (backends/mysql, backends/postgres)
// own the driver link (Conn), quoting and literals and how columns read
// back (Dialect), the INSERTs whose id the server gives, DDL, error
// mapping and the server's counters.
package sqla

import (
	"strings"
	"time"

	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/codec/py"
)

// TaskColumns are the columns of celery_taskmeta in table order; the first
// NBaseColumns belong to Task, all NExtendedColumns to TaskExtended
// (result_extended).
var TaskColumns = [...]string{"id", "task_id", "status", "result", "date_done", "traceback",
	"name", "args", "kwargs", "worker", "retries", "queue"}

const (
	NBaseColumns     = 6
	NExtendedColumns = 12
)

// Positions in a celery_taskmeta row as the task SELECT returns it.
const (
	ColID = iota
	ColTaskID
	ColStatus
	ColResult
	ColDateDone
	ColTraceback
	ColName
	ColArgs
	ColKwargs
	ColWorker
	ColRetries
	ColQueue
)

// TableNames are Celery's two tables in metadata order; SequenceNames the
// sequences of their ids (on dialects with sequences).
var (
	TableNames    = [2]string{"celery_taskmeta", "celery_tasksetmeta"}
	SequenceNames = [2]string{"task_id_sequence", "taskset_id_sequence"}
)

// SelectTaskPrefix returns the SELECT of session.query(Task) (or
// TaskExtended) up to the task id literal: "SELECT celery_taskmeta.id AS
// celery_taskmeta_id, … \nFROM celery_taskmeta \nWHERE
// celery_taskmeta.task_id = ". The text is the same on every dialect.
func SelectTaskPrefix(extended bool) string {
	n := NBaseColumns
	if extended {
		n = NExtendedColumns
	}
	var s strings.Builder
	s.WriteString("SELECT ")
	for i, c := range TaskColumns[:n] {
		if i > 0 {
			s.WriteString(", ")
		}
		s.WriteString("celery_taskmeta." + c + " AS celery_taskmeta_" + c)
	}
	s.WriteString(" \nFROM celery_taskmeta \nWHERE celery_taskmeta.task_id = ")
	return s.String()
}

// Statements of celery_tasksetmeta (TaskSet) that are the same on every
// dialect, up to the group id literal.
const (
	SelectGroupPrefix = "SELECT celery_tasksetmeta.id AS celery_tasksetmeta_id, celery_tasksetmeta.taskset_id AS celery_tasksetmeta_taskset_id, celery_tasksetmeta.result AS celery_tasksetmeta_result, celery_tasksetmeta.date_done AS celery_tasksetmeta_date_done \nFROM celery_tasksetmeta \nWHERE celery_tasksetmeta.taskset_id = "
	SelectGroupSuffix = " \n LIMIT 1"
	DeleteGroupPrefix = "DELETE FROM celery_tasksetmeta WHERE celery_tasksetmeta.taskset_id = "
	DeleteTaskPrefix  = "DELETE FROM celery_taskmeta WHERE celery_taskmeta.task_id = "
)

// Celery's pickle of a GroupResult (SQLAlchemy's PickleType: pickle.dumps
// with protocol 5) as a caller with the app's classes builds it:
//
//	_unpickle_appattr('GroupResult', (group_id, [
//	    _unpickle_appattr('AsyncResult', (task_id, backend, None, None, None)), ...]))
//
// where backend is unpickle_backend(DatabaseBackend, (), {'dburi': url,
// 'expires': timedelta or None, 'engine_options': {}}), one object that
// every member shares (a BINGET after the first). url is the result_backend
// URL without its "db+", expires Celery's result_expires.
var (
	unpickleAppattr = pickle.Global{Module: "celery.app.base", Name: "_unpickle_appattr"}
	unpickleBackend = pickle.Global{Module: "celery.backends.base", Name: "unpickle_backend"}
	databaseBackend = pickle.Global{Module: "celery.backends.database", Name: "DatabaseBackend"}
	timedelta       = pickle.Global{Module: "datetime", Name: "timedelta"}
)

// CeleryBackendObject is the pickled DatabaseBackend of a caller using
// rawURL with result_expires expires (0: None).
func CeleryBackendObject(rawURL string, expires time.Duration) *pickle.Object {
	var exp any // None
	if expires > 0 {
		us := expires.Microseconds()
		const day = 24 * 60 * 60 * 1e6
		exp = &pickle.Object{Func: timedelta, Args: py.Tuple{us / day, us % day / 1e6, us % 1e6}}
	}
	return &pickle.Object{Func: unpickleBackend, Args: py.Tuple{databaseBackend, py.Tuple{}, py.Dict{
		{Key: "dburi", Value: strings.TrimPrefix(rawURL, "db+")},
		{Key: "expires", Value: exp},
		{Key: "engine_options", Value: py.Dict{}},
	}}}
}

// GroupPickle returns pickle.dumps(GroupResult(groupID, taskIDs), 5) as
// Celery writes it into celery_tasksetmeta.result, backend being
// CeleryBackendObject's.
func GroupPickle(backend *pickle.Object, groupID string, taskIDs []string) ([]byte, error) {
	members := make([]any, len(taskIDs))
	for i, id := range taskIDs {
		members[i] = &pickle.Object{Func: unpickleAppattr, Args: py.Tuple{pickle.Interned("AsyncResult"),
			py.Tuple{id, backend, nil, nil, nil}}}
	}
	g := &pickle.Object{Func: unpickleAppattr, Args: py.Tuple{pickle.Interned("GroupResult"), py.Tuple{groupID, members}}}
	return pickle.Append(nil, g, 5)
}

// GroupIDsOf reads the member ids back from a pickled GroupResult (as
// Celery and GroupPickle write it), nil from anything else.
func GroupIDsOf(b []byte) []string {
	d, err := pickle.DecodeObjects(b)
	if err != nil {
		return nil
	}
	// _unpickle_appattr('GroupResult', (group_id, [members]))
	g, ok := d.(*pickle.Object)
	if !ok || g.Func != unpickleAppattr || len(g.Args) != 2 {
		return nil
	}
	args, _ := g.Args[1].(py.Tuple)
	if len(args) != 2 {
		return nil
	}
	members, _ := args[1].([]any)
	var out []string
	for _, m := range members {
		// _unpickle_appattr('AsyncResult', (task_id, backend, ...))
		if o, ok := m.(*pickle.Object); ok && len(o.Args) == 2 {
			if t, ok := o.Args[1].(py.Tuple); ok && len(t) > 0 {
				if id, ok := t[0].(string); ok {
					out = append(out, id)
				}
			}
		}
	}
	return out
}
