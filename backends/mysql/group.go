package mysql

// Groups and chords on the SQL backend (package sqla's): the statements
// that are MariaDB's own, and the pickles.

import (
	"database/sql/driver"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/sqla"
)

var _ backends.ChordUnlocker = (*sqla.Unlocker[*conn])(nil)

// Statements of celery_tasksetmeta (TaskSet).
const (
	stmtNextvalTaskset = "select nextval(taskset_id_sequence)"
	selectGroupPrefix  = sqla.SelectGroupPrefix
	selectGroupSuffix  = sqla.SelectGroupSuffix
	deleteGroupPrefix  = sqla.DeleteGroupPrefix
)

// celeryBackendObject is the pickled DatabaseBackend of a caller using
// rawURL with result_expires expires (0: None).
func celeryBackendObject(rawURL string, expires time.Duration) *pickle.Object {
	return sqla.CeleryBackendObject(rawURL, expires)
}

// groupPickle returns pickle.dumps(GroupResult(groupID, taskIDs), 5) as
// Celery writes it into celery_tasksetmeta.result.
func (b *backend) groupPickle(groupID string, taskIDs []string) ([]byte, error) {
	return sqla.GroupPickle(b.groupBackend, groupID, taskIDs)
}

// groupIDsOf reads the member ids back from a pickled GroupResult (as
// Celery and groupPickle write it), nil from anything else.
func groupIDsOf(v driver.Value) []string {
	b, ok := v.([]byte)
	if !ok {
		return nil
	}
	return sqla.GroupIDsOf(b)
}
