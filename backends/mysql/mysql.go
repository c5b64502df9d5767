// Package mysql is Celery's SQLAlchemy result backend (db+mysql://) on
// MySQL and MariaDB, as Celery 5.2 and 5.6 drive it through SQLAlchemy 1.4
// and PyMySQL 1.0: the same statements, in the same order, on the same
// connections, with the same bytes.
//
// A Worker session is a prefork pool child: one pooled connection for its
// life (QueuePool), the create_all check at its first operation (Celery
// 5.2) or at backend setup (5.5+), and from 5.6.3 a COM_PING before every
// checkout (pool_pre_ping) and a new connection after an hour
// (pool_recycle). A Caller session is a process outside a worker: a new
// Engine with NullPool for every operation, so every poll opens a
// connection, runs the dialect probes, reads and quits, unless
// Options.CallerPool keeps one pooled connection instead.
//
// Every statement is a text COM_QUERY built here with PyMySQL's escaping;
// go-sql-driver/mysql is used below database/sql, so it prepares and
// interpolates nothing and sends nothing of its own after the handshake.
// The handshake itself is the driver's (its capability flags and
// connection attributes differ from PyMySQL's).
package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
	"github.com/celery-bench/bench/backends/sqla"
)

func init() {
	backends.Register(backends.Meta{
		Name:        "mysql",
		Schemes:     []string{"db+mysql", "mysql", "db+mysql+pymysql", "db+mysql+mysqldb"},
		Description: "Celery's SQLAlchemy database backend on MySQL/MariaDB (celery_taskmeta; a connection per caller poll)",
		DefaultURL:  "db+mysql://root@127.0.0.1:3306/" + DefaultDatabase,
		Open:        open,
	})
}

var _ backends.Backend = (*backend)(nil)

// backend holds what every session shares: the parsed URL, the driver
// connectors and what the server said at open. It holds no connection of
// its own.
type backend struct {
	opts           backends.Options
	cfg            config
	connector      driver.Connector // to cfg.Database
	adminConnector driver.Connector // to the server, no database
	server         backends.ServerInfo
	dialect        dialect

	// Flavour is the SQLAlchemy flavour's sessions (NewCaller, NewWorker)
	// and backend_cleanup, in this dialect's words.
	sqla.Flavour[*conn]
	setNames string // "SET NAMES utf8mb4"

	// insertTask are the INSERTs of a new Task (TaskExtended) up to their
	// first value.
	insertTask [2]string

	// Statements of the create_all check, fixed per database.
	hasTable    [2]string
	hasSequence [2]string
	createTable [2]string
	createIndex [2]string

	// groupBackend is the DatabaseBackend that pickled GroupResults hold.
	groupBackend *pickle.Object

	// now is the clock of the values SQLAlchemy fills in itself: the
	// INSERT's date_done default and its onupdate. Tests fix it.
	now func() time.Time
	// hook, when set (by tests), sees every command sent: cmd is "Connect",
	// "Query" (with the statement), "Ping" or "Quit"; conn identifies the
	// connection within the process. It is called from the goroutine of
	// the session that sends, before the command is sent.
	hook func(conn uint64, cmd, stmt string)
}

// connSeq numbers connections for the hook, process-wide so that backends
// sharing one hook never mix their connections up.
var connSeq atomic.Uint64

// open parses a db+mysql:// URL, connects to the server without a database
// (Prepare creates it) and reads its version and sql_mode. That connection
// is closed before open returns.
func open(ctx context.Context, u *url.URL, o backends.Options) (backends.Backend, error) {
	return openBackend(ctx, u, o)
}

func openBackend(ctx context.Context, u *url.URL, o backends.Options) (*backend, error) {
	cfg, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	b := &backend{opts: o, cfg: cfg, setNames: "SET NAMES " + cfg.charset, now: time.Now,
		groupBackend: celeryBackendObject(u.String(), o.ResultExpires)}
	if b.connector, err = mysql.NewConnector(cfg.driverConfig(cfg.Database)); err != nil {
		return nil, fmt.Errorf("mysql: %s: %w", backends.RedactURL(u), err)
	}
	if b.adminConnector, err = mysql.NewConnector(cfg.driverConfig("")); err != nil {
		return nil, fmt.Errorf("mysql: %s: %w", backends.RedactURL(u), err)
	}
	c, err := b.dial(ctx, true)
	if err != nil {
		return nil, err
	}
	defer c.close()
	row := c.scratch(2)
	if _, err := c.query(ctx, "SELECT VERSION(), @@sql_mode", row); err != nil {
		return nil, err
	}
	version, mode := string(asBytes(row[0])), string(asBytes(row[1]))
	b.dialect = newDialect(version, mode)
	b.server = backends.ServerInfo{Product: b.dialect.product(), Version: version}
	b.initSchema()
	b.insertTask = [2]string{insertTaskPrefix(b.dialect.sequences, false), insertTaskPrefix(b.dialect.sequences, true)}
	b.Flavour = sqla.Flavour[*conn]{Engine: b.newEngine(), GroupBackend: b.groupBackend}
	return b, nil
}

// asBytes reads a text column value (backends.ValueBytes).
func asBytes(v driver.Value) []byte { return backends.ValueBytes(v) }

func (b *backend) Server() backends.ServerInfo { return b.server }

// Close does nothing: the backend keeps no connection between calls.
func (b *backend) Close() error { return nil }

// Celery-version switches.

// createAtSetup: database_create_tables_at_setup (5.5+) runs create_all
// when the backend is set up, not at the first operation.
func (b *backend) createAtSetup() bool { return b.Engine.CreateAtSetup() }

// indexDateDone: date_done has index=True (5.6.3), unless
// Options.DateDoneIndex says otherwise.
func (b *backend) indexDateDone() bool {
	return b.opts.DateDoneIndex.Resolve(b.opts.Celery.AtLeast(5, 6))
}
