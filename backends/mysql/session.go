package mysql

import (
	"context"
	"errors"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
	"github.com/go-sql-driver/mysql"
)

// The session life (retry, the pools, create_all before the first
// operation) is package sqla's; this file holds what PyMySQL sends for it.

// An op is the body of one Celery backend method inside its SQLAlchemy
// session: its statements up to and including the session's own COMMIT
// (writes) or ROLLBACK (reads, at session close). The pool's reset-on-return
// ROLLBACK that follows is the session runner's.
type op = sqla.Op[*conn]

// maxAttempts is celery.backends.database.retry: 3 attempts in all.
const maxAttempts = sqla.MaxAttempts

// A runner is the SessionManager of one simulated Celery process.
type runner = sqla.Session[*conn]

// pooled is a prefork child's QueuePool, nullpool another process's
// NullPool Engine per operation.
type (
	pooled   = sqla.Pooled[*conn]
	nullpool = sqla.NullPool[*conn]
)

// markServer marks an error the server returned (a *mysql.MySQLError in
// err's chain) as such (backends.MarkServer), so that it counts as a server
// error by kind.
func markServer(err error) error {
	if _, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return backends.MarkServer(err)
	}
	return err
}

// newEngine is the Engine every session of b shares.
func (b *backend) newEngine() *sqla.Engine[*conn] {
	return &sqla.Engine[*conn]{Opts: &b.opts, Prefix: "mysql", Connect: b.connect, CreateAll: b.createAll, Mark: markServer}
}

func newPooled(ctx context.Context, b *backend) (*pooled, error) {
	return sqla.NewPooled(ctx, b.engine)
}

// rollback ends a failed session as session_cleanup and the pool do
// (Conn.Abort). It reports whether the connection is still fit for use.
func rollback(ctx context.Context, c *conn) bool { return sqla.Abort(ctx, c) }

// Reset is the pool's reset-on-return: ROLLBACK.
func (c *conn) Reset(ctx context.Context) error {
	_, err := c.exec(ctx, stmtRollback)
	return err
}

// Abort is session.rollback() then the pool's reset: ROLLBACK twice.
func (c *conn) Abort(ctx context.Context) error {
	for i := 0; i < 2; i++ {
		if _, err := c.exec(ctx, stmtRollback); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) Broken() bool                   { return c.broken() }
func (c *conn) Ping(ctx context.Context) error { return c.ping(ctx) }
func (c *conn) Close()                         { c.close() }
func (c *conn) Record() *sqla.Record           { return &c.rec }
