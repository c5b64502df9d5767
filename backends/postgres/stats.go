package postgres

import (
	"context"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/pgdialect"
)

var _ backends.StatsReader = (*backend)(nil)

// ServerStats reads the server's counters for celery_taskmeta on a
// connection of its own to bench's database (pgdialect.ServerStats says
// which).
func (b *backend) ServerStats(ctx context.Context) (backends.ServerStats, error) {
	c, err := b.dial(ctx, false)
	if err != nil {
		return nil, err
	}
	defer c.close()
	return pgdialect.ServerStats(ctx, c.send, b.cfg.Host, "celery_taskmeta")
}
