package mysql

import (
	"context"

	"github.com/celery-bench/bench/backends"
)

var _ backends.ChordUnlocker = (*worker)(nil)

// ChordUnlock runs one celery.chord_unlock on the worker child's own
// pooled connection, as Celery runs that task on a worker child: the same
// statements as the caller-side unlocker's, reported to the worker's
// observer.
func (w *worker) ChordUnlock(ctx context.Context, memberIDs []string) (bool, error) {
	u := unlocker{b: w.b, obs: w.obs, p: w.p, selectPrefix: w.selectPrefix, row: w.row}
	return u.ChordUnlock(ctx, memberIDs)
}
