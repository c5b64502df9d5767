package mysql

import (
	"context"
	"database/sql/driver"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/mysqldialect"
)

var _ backends.StatsReader = (*backend)(nil)

// ServerStats reads the server's counters and celery_taskmeta's figures
// on an admin connection of its own (no database, no setup statements):
// mysqldialect.ServerStats, with Uptime as backends.StatServerStarted
// (Identity), which backends.Restarted compares. One snapshot adds one
// connection (Stat.Self) and about 2 KB of its own traffic to
// Bytes_received and Bytes_sent.
func (b *backend) ServerStats(ctx context.Context) (backends.ServerStats, error) {
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
		Addr:     b.cfg.Addr,
		Database: b.cfg.Database,
		Table:    tableNames[0],
		MySQL8:   !b.dialect.mariadb && len(b.dialect.version) > 0 && b.dialect.version[0] >= 8,
		Uptime:   true,
	})
}

// rows sends a statement and calls fn with the column names and each row.
// The row's byte values are valid only during the call.
func (c *conn) rows(ctx context.Context, stmt string, fn func(cols []string, row []driver.Value)) error {
	c.event("Query", stmt)
	rs, err := c.qu.QueryContext(ctx, stmt, nil)
	if err != nil {
		return c.fail(ctx, stmt, err)
	}
	if err := mysqldialect.EachRow(rs, fn); err != nil {
		return c.fail(ctx, stmt, err)
	}
	return nil
}
