package sqla

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
)

// The session and transaction life of Celery's DatabaseBackend, the same on
// every dialect: celery.backends.database.retry around each operation,
// SessionManager's prepare_models (create_all) before the first, and the
// Engine's pool (QueuePool in a prefork child, NullPool elsewhere) handing
// out the connections. A dialect supplies the connection (Conn) and an
// Engine's parts; what a connection sends for the pool's reset and for a
// failed session's rollback is the dialect's (Conn.Reset, Conn.Abort).

// A Conn is one driver connection as SQLAlchemy's pool handles it. It is
// used by one goroutine at a time.
type Conn interface {
	comparable
	// Broken reports whether the connection can no longer be used.
	Broken() bool
	// Ping is pool_pre_ping's ping on checkout.
	Ping(ctx context.Context) error
	// Reset is the pool's reset-on-return after a session that succeeded.
	Reset(ctx context.Context) error
	// Abort ends a failed session: session.rollback() and the pool's
	// reset. It returns an error when the connection is no longer fit.
	Abort(ctx context.Context) error
	// Close sends the goodbye if the connection is still usable, and
	// releases it.
	Close()
	// Record is the pool's bookkeeping of the connection.
	Record() *Record

	// The statements of a session, each sent as text.

	// SQL is the buffer statements are built in.
	SQL() *[]byte
	// QueryRow sends stmt, which returns rows of n columns, reads them all
	// and keeps the first in r (valid until the next statement on the
	// connection). It reports whether there was a row.
	QueryRow(ctx context.Context, stmt string, n int, r *Row) (bool, error)
	// Exec sends a statement that returns no rows and returns how many
	// rows it affected.
	Exec(ctx context.Context, stmt string) (int64, error)
	// Commit is session.commit(); EndRead the ROLLBACK of a session that
	// only read, at its close.
	Commit(ctx context.Context) error
	EndRead(ctx context.Context) error
}

// Record is what SQLAlchemy's _ConnectionRecord knows of a connection.
type Record struct {
	Opened time.Time // for pool_recycle
	// Fresh: the connection has not been checked out yet, so
	// pool_pre_ping does not ping it.
	Fresh bool
}

// An Op is the body of one Celery backend method inside its SQLAlchemy
// session: its statements up to and including the session's own COMMIT
// (writes) or ROLLBACK (reads, at session close). The pool's
// reset-on-return that follows is the session runner's.
type Op[C Conn] func(ctx context.Context, c C) error

// An Engine is what one backend's sessions share: the dialect's way of
// opening a connection and of running create_all, and the options that
// pick the Celery version's behaviour. It is read-only once made.
type Engine[C Conn] struct {
	Opts *backends.Options
	// Prefix starts the messages of errors made here ("mysql").
	Prefix string
	// Connect opens a connection set up as the driver and SQLAlchemy set
	// it up; probes: a new Engine's first connection, with the dialect
	// initialisation.
	Connect func(ctx context.Context, probes bool) (C, error)
	// CreateAll is ResultModelBase.metadata.create_all on c, committed.
	CreateAll Op[C]
	// Mark, if set, maps the error an operation finally returns (MySQL
	// marks the server's errors as such).
	Mark func(error) error
	// D is the dialect's literals and the statements it words its own way.
	D Dialect[C]
	// BlobsAlias: the bytes Dialect.Blob returns point into the
	// connection's buffers, so what outlives the statement is copied.
	BlobsAlias bool
}

// MaxAttempts is celery.backends.database.retry: 3 attempts in all, with no
// pause, for any database error.
const MaxAttempts = 3

// CleanupTimeout bounds what is sent after a failed operation. It is sent
// even when the operation failed because ctx was cancelled, so that a
// connection kept for later is never left inside a transaction.
const CleanupTimeout = 5 * time.Second

// PoolRecycle is Celery 5.6.3's default pool_recycle.
const PoolRecycle = time.Hour

// CreateAtSetup: database_create_tables_at_setup (5.5+) runs create_all
// when the backend is set up, not at the first operation.
func (e *Engine[C]) CreateAtSetup() bool { return e.Opts.Celery.AtLeast(5, 5) }

// PrePing: pool_pre_ping=True and pool_recycle=3600 by default (5.6.3);
// dispose the engine on a retryable error (5.6.3).
func (e *Engine[C]) PrePing() bool { return e.Opts.Celery.AtLeast(5, 6) }

func (e *Engine[C]) mark(err error) error {
	if e.Mark == nil {
		return err
	}
	return e.Mark(err)
}

// A Session is the SessionManager of one simulated Celery process: it runs
// ops the way that process's Engine and pool would.
type Session[C Conn] interface {
	Do(ctx context.Context, fn Op[C]) error
	Close()
}

// retry runs attempt up to MaxAttempts times, until it succeeds or ctx is
// done.
func (e *Engine[C]) retry(ctx context.Context, attempt func() error) error {
	var err error
	for i := 0; i < MaxAttempts; i++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				err = fmt.Errorf(e.Prefix+": %w", cerr)
			}
			return err
		}
		if err = attempt(); err == nil || ctx.Err() != nil {
			return e.mark(err)
		}
	}
	return e.mark(err)
}

// Abort ends a failed session on c (Conn.Abort), bounded by
// CleanupTimeout and sent even when ctx is done. It reports whether the
// connection is still fit for use.
func Abort[C Conn](ctx context.Context, c C) bool {
	if c.Broken() {
		return false
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
	defer cancel()
	return c.Abort(cctx) == nil
}

// Pooled is a forked (prefork child) process: one Engine with a QueuePool,
// of which a process that runs one operation at a time only ever uses one
// connection.
type Pooled[C Conn] struct {
	e  *Engine[C]
	c  C // the zero C until (re)connected
	ok bool
	// engineReady: the Engine's first connection ran the dialect
	// initialisation, so new connections skip it.
	engineReady bool
	// prepared is SessionManager.prepared: create_all has run.
	prepared bool
}

// NewPooled opens the process's connection, with the dialect probes of its
// new Engine. From Celery 5.5 the tables are created at backend setup, in a
// process of its own (the worker's MainProcess) before the child uses its
// own Engine.
func NewPooled[C Conn](ctx context.Context, e *Engine[C]) (*Pooled[C], error) {
	p := &Pooled[C]{e: e}
	if e.CreateAtSetup() {
		if err := e.Once(ctx, true, e.CreateAll); err != nil {
			return nil, err
		}
		p.prepared = true
	}
	c, err := e.Connect(ctx, true)
	if err != nil {
		return nil, err
	}
	p.c, p.ok, p.engineReady = c, true, true
	return p, nil
}

// Do runs fn in a session of its own, with retry.
func (p *Pooled[C]) Do(ctx context.Context, fn Op[C]) error {
	return p.e.retry(ctx, func() error {
		if !p.prepared { // session_factory → prepare_models, its own checkout
			if err := p.step(ctx, p.e.CreateAll); err != nil {
				return err
			}
			p.prepared = true
		}
		return p.step(ctx, fn)
	})
}

// step checks a connection out, runs fn and returns the connection.
func (p *Pooled[C]) step(ctx context.Context, fn Op[C]) error {
	c, err := p.checkout(ctx)
	if err != nil {
		p.invalidate(ctx)
		return err
	}
	if err := fn(ctx, c); err != nil {
		if !Abort(ctx, c) {
			p.discard()
		}
		p.invalidate(ctx)
		return err
	}
	// Reset on return. SQLAlchemy logs a failure here and invalidates the
	// connection; the operation itself has succeeded.
	if err := c.Reset(ctx); err != nil {
		p.discard()
	}
	return nil
}

// checkout hands out the process's connection as QueuePool does:
// reconnecting (without the dialect initialisation, the Engine being
// initialised) when it was lost or is older than pool_recycle, and pinging
// it first when pool_pre_ping is on and it has been checked out before.
func (p *Pooled[C]) checkout(ctx context.Context) (C, error) {
	if p.ok && p.e.PrePing() && time.Since(p.c.Record().Opened) > PoolRecycle {
		p.discard()
	}
	if p.ok && p.e.PrePing() && !p.c.Record().Fresh {
		if err := p.c.Ping(ctx); err != nil {
			if ctx.Err() != nil {
				var zero C
				return zero, err
			}
			p.discard() // a failed ping invalidates the connection and reconnects
		}
	}
	if !p.ok {
		c, err := p.e.Connect(ctx, !p.engineReady)
		if err != nil {
			var zero C
			return zero, err
		}
		p.c, p.ok, p.engineReady = c, true, true
	}
	p.c.Record().Fresh = false
	return p.c, nil
}

// invalidate is Celery 5.6.3's on_backend_retryable_error: the Engine is
// disposed, so the next attempt connects anew, dialect probes included.
func (p *Pooled[C]) invalidate(ctx context.Context) {
	if p.e.PrePing() && ctx.Err() == nil {
		p.discard()
		p.engineReady = false
	}
}

func (p *Pooled[C]) discard() {
	if p.ok {
		p.c.Close()
		var zero C
		p.c, p.ok = zero, false
	}
}

// Close closes the process's connection.
func (p *Pooled[C]) Close() { p.discard() }

// NullPool is a process that is not a forked child (a caller, a worker's
// MainProcess, a threads/solo worker): every operation creates a new Engine
// with NullPool, so it opens a connection, initialises the dialect, runs,
// and closes it.
type NullPool[C Conn] struct {
	e        *Engine[C]
	prepared bool
}

// NewNullPool sets up such a process. With Celery 5.5+ it runs create_all
// now, on a connection of its own, as the backend's setup does; otherwise
// that happens at its first operation.
func NewNullPool[C Conn](ctx context.Context, e *Engine[C]) (*NullPool[C], error) {
	s := &NullPool[C]{e: e}
	if e.CreateAtSetup() {
		if err := e.Once(ctx, true, e.CreateAll); err != nil {
			return nil, err
		}
		s.prepared = true
	}
	return s, nil
}

// Do runs fn on a new Engine's connection, with retry.
func (s *NullPool[C]) Do(ctx context.Context, fn Op[C]) error {
	return s.e.retry(ctx, func() error {
		probes := true
		if !s.prepared {
			// create_all runs on the operation's new Engine, on a
			// connection of its own; the operation's connection then
			// finds the Engine initialised.
			if err := s.e.Once(ctx, true, s.e.CreateAll); err != nil {
				return err
			}
			s.prepared = true
			probes = false
		}
		return s.e.Once(ctx, probes, fn)
	})
}

// Close does nothing: no connection outlives an operation.
func (s *NullPool[C]) Close() {}

// Once runs fn on a connection of its own, then the pool's reset, then
// closes the connection.
func (e *Engine[C]) Once(ctx context.Context, probes bool, fn Op[C]) error {
	c, err := e.Connect(ctx, probes)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := fn(ctx, c); err != nil {
		Abort(ctx, c)
		return err
	}
	c.Reset(ctx) // a failed reset is logged, not raised
	return nil
}
