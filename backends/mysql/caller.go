package mysql

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
// worker: Celery gives it a new NullPool Engine per operation, or, with
// Options.CallerPool, one pooled connection. Its statements are package
// sqla's, in PyMySQL's words.
type caller = sqla.Caller[*conn]

// NewCaller sets up a caller process. With Celery 5.5+ it runs the
// create_all check now, on a connection of its own, as the backend's setup
// does; otherwise that happens at its first operation.
func (b *backend) NewCaller(ctx context.Context, obs backends.Observer) (backends.Caller, error) {
	c, err := sqla.NewCaller(ctx, b.engine, obs, b.groupBackend)
	if err != nil {
		return nil, err
	}
	return c, nil
}
