package postgres

// celery.backend_cleanup (DatabaseBackend.cleanup) and the set-up that
// gives it something to delete: package sqla's, in psycopg2's words.

import (
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
)

var _ backends.ExpiredCleaner = (*backend)(nil)

// CleanupExpired is DatabaseBackend.cleanup as backend_cleanup runs it in a
// prefork child, on a connection of its own (no first-connect statements,
// the Engine being warm): BEGIN; DELETE FROM celery_taskmeta WHERE
// celery_taskmeta.date_done < '<before>+00:00'::timestamptz (app.now() is
// aware); the same for celery_tasksetmeta; COMMIT (sqla.Engine.CleanupExpired).
func (b *backend) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return b.engine.CleanupExpired(ctx, before, backends.Discard)
}

// FillExpired inserts n SUCCESS rows done at doneAt (ids from
// nextval('task_id_sequence')); see sqla.Engine.FillExpired.
func (b *backend) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return b.engine.FillExpired(ctx, idPrefix, n, doneAt)
}
