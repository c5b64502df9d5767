package mysql

// celery.backend_cleanup (DatabaseBackend.cleanup) and the set-up that
// gives it something to delete: package sqla's, in PyMySQL's words.

import (
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
)

var _ backends.ExpiredCleaner = (*backend)(nil)

// CleanupExpired is DatabaseBackend.cleanup as the backend_cleanup task
// runs it in a prefork child, on a connection of its own with the child's
// setup (SET AUTOCOMMIT = 0, SET NAMES; no probes, the Engine being warm):
// one transaction, DELETE FROM celery_taskmeta WHERE
// celery_taskmeta.date_done < '<before>', the same for celery_tasksetmeta,
// COMMIT, then the pool's ROLLBACK. before is rendered as PyMySQL renders
// a datetime, without an offset (sqla.Engine.CleanupExpired).
func (b *backend) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return b.engine.CleanupExpired(ctx, before, backends.Discard)
}

// FillExpired inserts n SUCCESS rows done at doneAt (ids from
// NEXTVAL(task_id_sequence) on MariaDB, AUTO_INCREMENT on MySQL); see
// sqla.Engine.FillExpired.
func (b *backend) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return b.engine.FillExpired(ctx, idPrefix, n, doneAt)
}
