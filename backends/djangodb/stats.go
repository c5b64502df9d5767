package djangodb

import (
	"context"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/mysqldialect"
)

// serverStats reads the server's counters and
// django_celery_results_taskresult's figures on an admin connection of its
// own (no database, no setup statements): mysqldialect.ServerStats,
// without Uptime. One snapshot adds one connection (Stat.Self) and about
// 2 KB of its own traffic to Bytes_received and Bytes_sent.
func (d *mysqlDialect) serverStats(ctx context.Context, b *backend) (backends.ServerStats, error) {
	c, err := b.dial(ctx, true)
	if err != nil {
		return nil, err
	}
	defer c.close()
	exec := func(ctx context.Context, stmt string) error {
		_, err := c.exec(ctx, stmt)
		return err
	}
	return mysqldialect.ServerStats(ctx, exec, c.rows, mysqldialect.StatsTarget{
		Addr:     d.cfg.Addr,
		Database: d.cfg.Database,
		Table:    tableTask,
		MySQL8:   !d.mariadb && len(d.version) > 0 && d.version[0] >= 8,
	})
}
