package postgres

import (
	"context"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

var (
	_ backends.Worker        = (*worker)(nil)
	_ backends.ChordUnlocker = (*worker)(nil)
	_ backends.ChordUnlocker = (*sqla.Unlocker[*conn])(nil)
)

// worker is a prefork pool child: DatabaseBackend._store_result on its one
// pooled connection (package sqla's statements in psycopg2's words).
type worker = sqla.Worker[*conn]

// NewWorker opens the child's connection (with its new Engine's
// first-connect statements), after the create_all check when Celery
// creates tables at setup (5.5+).
func (b *backend) NewWorker(ctx context.Context, obs backends.Observer) (backends.Worker, error) {
	w, err := sqla.NewWorker(ctx, b.engine, obs)
	if err != nil {
		return nil, err
	}
	return w, nil
}
