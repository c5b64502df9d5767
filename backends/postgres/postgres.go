// Package postgres is Celery's SQLAlchemy result backend
// (db+postgresql://) on PostgreSQL, as Celery 5.2 and 5.6 drive it through
// SQLAlchemy 1.4 and psycopg2 2.9: the same statements, in the same order,
// on the same connections, with the same bytes.
//
// A Worker session is a prefork pool child: one pooled connection for its
// life, the create_all check at its first operation (Celery 5.2) or at
// backend setup (5.5+), and from 5.6.3 a logged "SELECT 1" before every
// checkout of a used connection (pool_pre_ping). A Caller session is a
// process outside a worker: a new Engine with NullPool for every
// operation, so every poll opens a connection (with TLS when the server
// offers it, libpq's sslmode=prefer), runs the dialect's first-connect
// statements, reads and terminates.
//
// Every statement is a simple-protocol Query of SQL text built here with
// psycopg2's client-side literals, sent through pgx's low-level pgconn:
// the server logs "statement: …" exactly as it does for psycopg2, never
// parse/bind/execute. As psycopg2 does with autocommit off, a BEGIN goes
// before the first statement of every transaction, and nothing follows its
// COMMIT or ROLLBACK.
package postgres

import (
	"context"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/sqla"
)

func init() {
	backends.Register(backends.Meta{
		Name:        "postgres",
		Schemes:     []string{"db+postgresql", "postgresql", "db+postgresql+psycopg2"},
		Description: "Celery's SQLAlchemy database backend on PostgreSQL with psycopg2 (celery_taskmeta; a connection per caller poll)",
		DefaultURL:  "db+postgresql://postgres@127.0.0.1:5432/" + DefaultDatabase,
		Open:        open,
	})
}

// The Caller, Worker and Unlocker that sqla.Flavour gives are asserted to
// be the backends interfaces in package mysql, as they are on any Conn.
var (
	_ backends.Backend        = (*backend)(nil)
	_ backends.ExpiredCleaner = (*backend)(nil)
	_ sqla.Dialect[*conn]     = (*backend)(nil)
)

// backend holds what every session shares: the parsed URL and what the
// server said at open. It holds no connection of its own.
type backend struct {
	opts   backends.Options
	cfg    config
	server backends.ServerInfo

	// Flavour is the SQLAlchemy flavour's sessions (NewCaller, NewWorker)
	// and backend_cleanup, in this dialect's words.
	sqla.Flavour[*conn]

	// insertTask are the INSERTs of a new Task (TaskExtended) up to their
	// first value after the id.
	insertTask [2]string

	// groupBackend is the DatabaseBackend that pickled GroupResults hold.
	groupBackend *pickle.Object

	// now is the clock of the values SQLAlchemy fills in itself: the
	// INSERT's date_done default and its onupdate. Tests fix it.
	now func() time.Time
	// hook, when set (by tests), sees every message sent: cmd is
	// "Connect", "Query" (with the statement) or "Terminate"; conn
	// identifies the connection within the process.
	hook func(conn uint64, cmd, stmt string)
}

// connSeq numbers connections for the hook, process-wide.
var connSeq atomic.Uint64

// open parses a db+postgresql:// URL and connects to the server's
// maintenance database (Prepare creates bench's) to read its version. That
// connection is closed before open returns.
func open(ctx context.Context, u *url.URL, o backends.Options) (backends.Backend, error) {
	return openBackend(ctx, u, o)
}

func openBackend(ctx context.Context, u *url.URL, o backends.Options) (*backend, error) {
	cfg, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	b := &backend{opts: o, cfg: cfg, now: time.Now,
		insertTask:   [2]string{insertTaskPrefix(false), insertTaskPrefix(true)},
		groupBackend: sqla.CeleryBackendObject(u.String(), o.ResultExpires)}
	c, err := b.dial(ctx, true)
	if err != nil {
		return nil, err
	}
	defer c.close()
	b.server = backends.ServerInfo{Product: "PostgreSQL", Version: c.pc.ParameterStatus("server_version")}
	b.Flavour = sqla.Flavour[*conn]{Engine: b.newEngine(), GroupBackend: b.groupBackend}
	return b, nil
}

func (b *backend) Server() backends.ServerInfo { return b.server }

// Close does nothing: the backend keeps no connection between calls.
func (b *backend) Close() error { return nil }

// Celery-version switches.

// indexDateDone: date_done has index=True (5.6.3), unless
// Options.DateDoneIndex says otherwise.
func (b *backend) indexDateDone() bool {
	return b.opts.DateDoneIndex.Resolve(b.opts.Celery.AtLeast(5, 6))
}

// errorf formats an error of this package.
func errorf(format string, args ...any) error {
	return fmt.Errorf("postgres: "+format, args...)
}
