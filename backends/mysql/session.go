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

// maxAttempts is celery.backends.database.retry: 3 attempts in all.
const maxAttempts = sqla.MaxAttempts

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
	return &sqla.Engine[*conn]{Opts: &b.opts, Prefix: "mysql", Connect: b.connect, CreateAll: b.createAll, Mark: markServer,
		D: b, BlobsAlias: true}
}

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
