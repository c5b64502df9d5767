package postgres

import (
	"context"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

var (
	_ backends.Caller         = (*caller)(nil)
	_ backends.GroupSaver     = (*caller)(nil)
	_ backends.UnlockerOpener = (*caller)(nil)
	_ backends.ExpiredCleaner = (*caller)(nil)
)

// caller is a process that sends tasks and waits for them outside a
// worker: a new NullPool Engine per operation, or with Options.CallerPool
// one pooled connection. Its statements are package sqla's, in psycopg2's
// words.
type caller = sqla.Caller[*conn]

// NewCaller sets up a caller process; with Celery 5.5+ the create_all check
// runs now, on a connection of its own.
func (b *backend) NewCaller(ctx context.Context, obs backends.Observer) (backends.Caller, error) {
	c, err := sqla.NewCaller(ctx, b.engine, obs, b.groupBackend)
	if err != nil {
		return nil, err
	}
	return c, nil
}
