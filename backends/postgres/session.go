package postgres

import (
	"context"
	"time"
)

// An op is the body of one Celery backend method inside its SQLAlchemy
// session: its statements up to and including the session's COMMIT
// (writes) or ROLLBACK (reads). psycopg2 sends nothing for the pool's
// reset-on-return once the transaction has ended.
type op func(ctx context.Context, c *conn) error

// maxAttempts is celery.backends.database.retry: 3 attempts, no pause.
const maxAttempts = 3

// cleanupTimeout bounds the ROLLBACK after a failed operation.
const cleanupTimeout = 5 * time.Second

type runner interface {
	do(ctx context.Context, fn op) error
	close()
}

func retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := 0; i < maxAttempts; i++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				err = errorf("%w", cerr)
			}
			return err
		}
		if err = attempt(); err == nil || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// abort ends a failed session: session.rollback() sends ROLLBACK on the
// aborted transaction; the pool's reset then finds none open and sends
// nothing. It reports whether the connection is still fit for use.
func abort(ctx context.Context, c *conn) bool {
	if c.broken() {
		return false
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	return c.rollback(cctx) == nil
}

// finish is the pool's reset-on-return: a ROLLBACK only if fn left a
// transaction open.
func finish(ctx context.Context, c *conn) error { return c.rollback(ctx) }

// pooled is a prefork child: one Engine with a QueuePool, one connection.
type pooled struct {
	b           *backend
	c           *conn
	engineReady bool
	prepared    bool
}

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
		if !p.prepared {
			if err := p.step(ctx, p.b.createAll); err != nil {
				return err
			}
			p.prepared = true
		}
		return p.step(ctx, fn)
	})
}

func (p *pooled) step(ctx context.Context, fn op) error {
	c, err := p.checkout(ctx)
	if err != nil {
		p.invalidate(ctx)
		return err
	}
	if err := fn(ctx, c); err != nil {
		if !abort(ctx, c) {
			p.discard()
		}
		p.invalidate(ctx)
		return err
	}
	if err := finish(ctx, c); err != nil {
		p.discard()
	}
	return nil
}

// checkout hands out the process's connection as QueuePool does:
// reconnecting when it was lost or is older than pool_recycle, pinging it
// first when pool_pre_ping is on and it has been checked out before.
func (p *pooled) checkout(ctx context.Context) (*conn, error) {
	if p.c != nil && p.b.prePing() && time.Since(p.c.opened) > poolRecycle {
		p.discard()
	}
	if p.c != nil && p.b.prePing() && !p.c.fresh {
		if err := p.c.ping(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			p.discard()
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
// disposed, so the next attempt connects anew.
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

// nullpool is a process that is not a forked child: a new NullPool Engine
// per operation.
type nullpool struct {
	b        *backend
	prepared bool
}

func (s *nullpool) do(ctx context.Context, fn op) error {
	return retry(ctx, func() error {
		probes := true
		if !s.prepared {
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

// nullOnce runs fn on a connection of its own and terminates it.
func nullOnce(ctx context.Context, b *backend, probes bool, fn op) error {
	c, err := b.connect(ctx, probes)
	if err != nil {
		return err
	}
	defer c.close()
	if err := fn(ctx, c); err != nil {
		abort(ctx, c)
		return err
	}
	finish(ctx, c)
	return nil
}
