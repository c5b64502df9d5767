package postgres

import (
	"context"

	"github.com/celery-bench/bench/backends/sqla"
)

// The session life (retry, the pools, create_all before the first
// operation) is package sqla's; this file holds what psycopg2 sends for it.

// newEngine is the Engine every session of b shares.
func (b *backend) newEngine() *sqla.Engine[*conn] {
	return &sqla.Engine[*conn]{Opts: &b.opts, Prefix: "postgres", Connect: b.connect, CreateAll: b.createAll, D: b}
}

// abort ends a failed session (Conn.Abort). It reports whether the
// connection is still fit for use.
func abort(ctx context.Context, c *conn) bool { return sqla.Abort(ctx, c) }

// Reset is the pool's reset-on-return: a ROLLBACK only if the session left
// a transaction open.
func (c *conn) Reset(ctx context.Context) error { return c.rollback(ctx) }

// Abort is session.rollback(): ROLLBACK on the aborted transaction; the
// pool's reset then finds none open and sends nothing.
func (c *conn) Abort(ctx context.Context) error { return c.rollback(ctx) }

func (c *conn) Broken() bool                   { return c.broken() }
func (c *conn) Ping(ctx context.Context) error { return c.ping(ctx) }
func (c *conn) Close()                         { c.close() }
func (c *conn) Record() *sqla.Record           { return &c.rec }
