package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/celery-bench/bench/backends/pgdialect"
	"github.com/celery-bench/bench/backends/sqla"
)

// conn is one client connection. Every statement is a simple-protocol
// Query of a string built here. Like psycopg2 with autocommit off, exec
// and query send BEGIN first when no transaction is open; COMMIT and
// ROLLBACK close it.
//
// A conn is used by one goroutine at a time.
type conn struct {
	b     *backend
	pc    *pgconn.PgConn
	id    uint64      // for the statement hook
	rec   sqla.Record // the pool's: when opened, whether checked out yet
	inTxn bool

	sql []byte // the statement being built
}

// closeTimeout bounds the Terminate of a connection being closed.
const closeTimeout = 2 * time.Second

// dial opens a connection to the backend's database (or to the
// maintenance database, for admin), bounded by Options.ConnectTimeout. It
// sends no statement.
func (b *backend) dial(ctx context.Context, admin bool) (*conn, error) {
	db := b.cfg.Database
	if admin {
		db = maintenanceDB
	}
	return b.dialDB(ctx, db)
}

func (b *backend) dialDB(ctx context.Context, db string) (*conn, error) {
	pcfg, err := b.cfg.PgConfig(db, b.opts.ConnectTimeout)
	if err != nil {
		return nil, errorf("%s: %v", b.cfg.Addr(), err)
	}
	dctx := ctx
	if t := b.opts.ConnectTimeout; t > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	id := connSeq.Add(1)
	if h := b.hook; h != nil {
		h(id, "Connect", "")
	}
	pc, err := pgconn.ConnectConfig(dctx, pcfg)
	if err != nil {
		return nil, b.connectError(ctx, dctx, db, err)
	}
	return &conn{b: b, pc: pc, id: id, rec: sqla.Record{Opened: time.Now(), Fresh: true}}, nil
}

// firstConnect are the statements of SQLAlchemy's first connect on a new
// Engine: psycopg2's hstore OID lookup (the dialect's use_native_hstore
// on_connect), then DefaultDialect.initialize.
var firstConnect = [][]string{
	{"SELECT t.oid, typarray\nFROM pg_type t JOIN pg_namespace ns\n    ON typnamespace = ns.oid\nWHERE typname = 'hstore';\n"},
	{"select pg_catalog.version()", "select current_schema()", "show transaction isolation level", "show standard_conforming_strings"},
}

// connect opens a connection as psycopg2 and SQLAlchemy set it up: nothing
// is sent, except on a new Engine's first connection the first-connect
// statements, each block in a transaction of its own ended by ROLLBACK.
func (b *backend) connect(ctx context.Context, probes bool) (*conn, error) {
	c, err := b.dial(ctx, false)
	if err != nil {
		return nil, err
	}
	if probes {
		for _, block := range firstConnect {
			for _, s := range block {
				if _, err := c.query(ctx, s); err != nil {
					c.close()
					return nil, err
				}
			}
			if err := c.rollback(ctx); err != nil {
				c.close()
				return nil, err
			}
		}
	}
	return c, nil
}

func (c *conn) event(cmd, stmt string) {
	if h := c.b.hook; h != nil {
		h(c.id, cmd, stmt)
	}
}

// send sends one statement as is and returns its result.
func (c *conn) send(ctx context.Context, stmt string) (*pgconn.Result, error) {
	c.event("Query", stmt)
	rs, err := c.pc.Exec(ctx, stmt).ReadAll()
	if err == nil && len(rs) > 0 {
		err = rs[len(rs)-1].Err
	}
	if err != nil {
		return nil, c.fail(ctx, stmt, err)
	}
	if len(rs) == 0 {
		return &pgconn.Result{}, nil
	}
	return rs[len(rs)-1], nil
}

// begin sends psycopg2's implicit BEGIN when no transaction is open.
func (c *conn) begin(ctx context.Context) error {
	if c.inTxn {
		return nil
	}
	if _, err := c.send(ctx, "BEGIN"); err != nil {
		return err
	}
	c.inTxn = true
	return nil
}

// query runs stmt inside the current transaction (opening one first) and
// returns its result.
func (c *conn) query(ctx context.Context, stmt string) (*pgconn.Result, error) {
	if err := c.begin(ctx); err != nil {
		return nil, err
	}
	return c.send(ctx, stmt)
}

// querySQL runs the statement built in c.sql.
func (c *conn) querySQL(ctx context.Context) (*pgconn.Result, error) {
	return c.query(ctx, string(c.sql))
}

// commit sends COMMIT if a transaction is open.
func (c *conn) commit(ctx context.Context) error {
	if !c.inTxn {
		return nil
	}
	c.inTxn = false
	_, err := c.send(ctx, "COMMIT")
	return err
}

// rollback sends ROLLBACK if a transaction is open (psycopg2 sends nothing
// otherwise, so SQLAlchemy's reset-on-return after a COMMIT is silent).
func (c *conn) rollback(ctx context.Context) error {
	if !c.inTxn {
		return nil
	}
	c.inTxn = false
	_, err := c.send(ctx, "ROLLBACK")
	return err
}

// ping is pool_pre_ping's do_ping: SELECT 1 in autocommit, no BEGIN.
func (c *conn) ping(ctx context.Context) error {
	_, err := c.send(ctx, "SELECT 1")
	return err
}

// broken reports whether the connection can no longer be used.
func (c *conn) broken() bool { return c.pc.IsClosed() }

// close sends Terminate if the connection is still usable, and releases it.
func (c *conn) close() {
	if !c.broken() {
		c.event("Terminate", "")
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	c.pc.Close(ctx)
}

// fail wraps an error of statement stmt; when ctx is done it wraps
// ctx.Err() instead.
func (c *conn) fail(ctx context.Context, stmt string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return errorf("%s: %w", label(stmt), cerr)
	}
	return errorf("%s: %w", label(stmt), err)
}

// label names a statement by its verb and table for error messages.
var label = pgdialect.Label

func (b *backend) connectError(ctx, dctx context.Context, db string, err error) error {
	return pgdialect.ConnectError(ctx, dctx, "postgres", b.cfg, db, b.opts.ConnectTimeout, err)
}
