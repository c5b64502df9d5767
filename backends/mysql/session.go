package mysql

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/go-sql-driver/mysql"
)

// An op is the body of one Celery backend method inside its SQLAlchemy
// session: its statements up to and including the session's own COMMIT
// (writes) or ROLLBACK (reads, at session close). The pool's reset-on-return
// ROLLBACK that follows is the session runner's.
type op func(ctx context.Context, c *conn) error

// maxAttempts is celery.backends.database.retry: 3 attempts in all, with no
// pause, for any database error.
const maxAttempts = 3

// cleanupTimeout bounds the ROLLBACKs sent after a failed operation. They
// are sent even when the operation failed because ctx was cancelled, so
// that a connection kept for later is never left inside a transaction.
const cleanupTimeout = 5 * time.Second

// A runner is the SessionManager of one simulated Celery process: it runs
// ops the way that process's Engine and pool would.
type runner interface {
	do(ctx context.Context, fn op) error
	close()
}

// retry runs attempt up to maxAttempts times, until it succeeds or ctx is
// done.
func retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := 0; i < maxAttempts; i++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				err = fmt.Errorf("mysql: %w", cerr)
			}
			return err
		}
		if err = attempt(); err == nil || ctx.Err() != nil {
			return markServer(err)
		}
	}
	return markServer(err)
}

// markServer marks an error the server returned (a *mysql.MySQLError in
// err's chain) as such (backends.MarkServer), so that it counts as a server
// error by kind.
func markServer(err error) error {
	if _, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return backends.MarkServer(err)
	}
	return err
}

// rollback ends a failed session as session_cleanup and the pool do:
// session.rollback() then the pool's reset, ROLLBACK twice. It reports
// whether the connection is still fit for use.
func rollback(ctx context.Context, c *conn) bool {
	if c.broken() {
		return false
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	for i := 0; i < 2; i++ {
		if _, err := c.exec(cctx, stmtRollback); err != nil {
			return false
		}
	}
	return true
}

// pooled is a forked (prefork child) process: one Engine with a QueuePool,
// of which a process that runs one operation at a time only ever uses one
// connection.
type pooled struct {
	b *backend
	c *conn // nil until (re)connected
	// engineReady: the Engine's first connection ran the dialect
	// initialisation, so new connections send only the two SETs.
	engineReady bool
	// prepared is SessionManager.prepared: create_all has run.
	prepared bool
}

// newPooled opens the process's connection, with the dialect probes of its
// new Engine. From Celery 5.5 the tables are created at backend setup, in a
// process of its own (the worker's MainProcess) before the child uses its
// own Engine.
func newPooled(ctx context.Context, b *backend) (*pooled, error) {
	p := &pooled{b: b}
	if b.createAtSetup() {
		if err := nullOnce(ctx, b, true, b.createAll); err != nil {
			return nil, err
		}
		p.prepared = true
	}
	c, err := b.connect(ctx, true)
	if err != nil {
		return nil, err
	}
	p.c, p.engineReady = c, true
	return p, nil
}

func (p *pooled) do(ctx context.Context, fn op) error {
	return retry(ctx, func() error {
		if !p.prepared { // session_factory → prepare_models, its own checkout
			if err := p.step(ctx, p.b.createAll); err != nil {
				return err
			}
			p.prepared = true
		}
		return p.step(ctx, fn)
	})
}

// step checks a connection out, runs fn and returns the connection.
func (p *pooled) step(ctx context.Context, fn op) error {
	c, err := p.checkout(ctx)
	if err != nil {
		p.invalidate(ctx)
		return err
	}
	if err := fn(ctx, c); err != nil {
		if !rollback(ctx, c) {
			p.discard()
		}
		p.invalidate(ctx)
		return err
	}
	// Reset on return. SQLAlchemy logs a failure here and invalidates the
	// connection; the operation itself has succeeded.
	if _, err := c.exec(ctx, stmtRollback); err != nil {
		p.discard()
	}
	return nil
}

// checkout hands out the process's connection as QueuePool does:
// reconnecting (the two SETs only, the Engine being initialised) when it
// was lost or is older than pool_recycle, and pinging it first when
// pool_pre_ping is on and it has been checked out before.
func (p *pooled) checkout(ctx context.Context) (*conn, error) {
	if p.c != nil && p.b.prePing() && time.Since(p.c.opened) > poolRecycle {
		p.discard()
	}
	if p.c != nil && p.b.prePing() && !p.c.fresh {
		if err := p.c.ping(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			p.discard() // a failed ping invalidates the connection and reconnects
		}
	}
	if p.c == nil {
		c, err := p.b.connect(ctx, !p.engineReady)
		if err != nil {
			return nil, err
		}
		p.c, p.engineReady = c, true
	}
	p.c.fresh = false
	return p.c, nil
}

// invalidate is Celery 5.6.3's on_backend_retryable_error: the Engine is
// disposed, so the next attempt connects anew, dialect probes included.
func (p *pooled) invalidate(ctx context.Context) {
	if p.b.prePing() && ctx.Err() == nil {
		p.discard()
		p.engineReady = false
	}
}

func (p *pooled) discard() {
	if p.c != nil {
		p.c.close()
		p.c = nil
	}
}

func (p *pooled) close() { p.discard() }

// nullpool is a process that is not a forked child (a caller, a worker's
// MainProcess, a threads/solo worker): every operation creates a new Engine
// with NullPool, so it opens a connection, initialises the dialect, runs,
// and quits.
type nullpool struct {
	b        *backend
	prepared bool
}

func (s *nullpool) do(ctx context.Context, fn op) error {
	return retry(ctx, func() error {
		probes := true
		if !s.prepared {
			// create_all runs on the operation's new Engine, on a
			// connection of its own; the operation's connection then
			// finds the Engine initialised.
			if err := nullOnce(ctx, s.b, true, s.b.createAll); err != nil {
				return err
			}
			s.prepared = true
			probes = false
		}
		return nullOnce(ctx, s.b, probes, fn)
	})
}

func (s *nullpool) close() {}

// nullOnce runs fn on a connection of its own, then the pool's reset
// ROLLBACK, then COM_QUIT.
func nullOnce(ctx context.Context, b *backend, probes bool, fn op) error {
	c, err := b.connect(ctx, probes)
	if err != nil {
		return err
	}
	defer c.close()
	if err := fn(ctx, c); err != nil {
		rollback(ctx, c)
		return err
	}
	c.exec(ctx, stmtRollback) // a failed reset is logged, not raised
	return nil
}
