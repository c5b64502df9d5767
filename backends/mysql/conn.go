package mysql

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

// conn is one client connection, driven below database/sql: every statement
// is a text COM_QUERY of a string built here, sent with no arguments, so
// the driver neither prepares nor interpolates anything.
//
// A conn is used by one goroutine at a time.
type conn struct {
	b   *backend
	dc  driver.Conn
	ex  driver.ExecerContext
	qu  driver.QueryerContext
	pi  driver.Pinger
	va  driver.Validator
	id  uint64      // for the statement hook
	rec sqla.Record // the pool's: when opened, whether checked out yet

	sql   []byte         // the statement being built
	arena []byte         // the bytes of the last row read by query
	vals  []driver.Value // scratch for rows.Next
}

// dial opens a connection to the backend's database (or to the server with
// no database, for admin), bounded by Options.ConnectTimeout, and sends
// nothing after the handshake.
func (b *backend) dial(ctx context.Context, admin bool) (*conn, error) {
	dctx := ctx
	if t := b.opts.ConnectTimeout; t > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	connector := b.connector
	if admin {
		connector = b.adminConnector
	}
	dc, err := connector.Connect(dctx)
	if err != nil {
		return nil, b.connectError(ctx, dctx, err)
	}
	c := &conn{b: b, dc: dc, id: connSeq.Add(1), rec: sqla.Record{Opened: time.Now(), Fresh: true}}
	var ok1, ok2, ok3, ok4 bool
	c.ex, ok1 = dc.(driver.ExecerContext)
	c.qu, ok2 = dc.(driver.QueryerContext)
	c.pi, ok3 = dc.(driver.Pinger)
	c.va, ok4 = dc.(driver.Validator)
	if !ok1 || !ok2 || !ok3 || !ok4 {
		dc.Close()
		return nil, errors.New("mysql: the driver connection lacks ExecerContext, QueryerContext, Pinger or Validator")
	}
	c.event("Connect", "")
	return c, nil
}

// connect opens a connection as PyMySQL and SQLAlchemy set it up:
// SET AUTOCOMMIT = 0 (PyMySQL), SET NAMES (the dialect's on_connect), and,
// on a new Engine's first connection, the dialect initialisation probes.
func (b *backend) connect(ctx context.Context, probes bool) (*conn, error) {
	c, err := b.dial(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := c.setup(ctx, probes); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *conn) setup(ctx context.Context, probes bool) error {
	if _, err := c.exec(ctx, stmtAutocommit); err != nil {
		return err
	}
	if _, err := c.exec(ctx, c.b.setNames); err != nil {
		return err
	}
	if !probes {
		return nil
	}
	for _, p := range c.b.dialect.probes {
		if p == stmtRollback {
			if _, err := c.exec(ctx, p); err != nil {
				return err
			}
			continue
		}
		if _, err := c.query(ctx, p, c.scratch(1)); err != nil {
			return err
		}
	}
	return nil
}

// event reports a command to the statement hook, if one is set.
func (c *conn) event(cmd, stmt string) {
	if h := c.b.hook; h != nil {
		h(c.id, cmd, stmt)
	}
}

// exec sends a statement that returns no rows.
func (c *conn) exec(ctx context.Context, stmt string) (driver.Result, error) {
	c.event("Query", stmt)
	r, err := c.ex.ExecContext(ctx, stmt, nil)
	if err != nil {
		return nil, c.fail(ctx, stmt, err)
	}
	return r, nil
}

// execSQL sends the statement built in c.sql.
func (c *conn) execSQL(ctx context.Context) (driver.Result, error) {
	return c.exec(ctx, string(c.sql))
}

// scratch returns a row buffer of n values.
func (c *conn) scratch(n int) []driver.Value {
	if cap(c.vals) < n {
		c.vals = make([]driver.Value, n)
	}
	return c.vals[:n]
}

// query sends a statement that returns rows, reads them all (as PyMySQL's
// buffered cursor does) and copies the first into dest, which must have one
// value per column. Byte values in dest stay valid until the next query on
// c. It reports whether there was a row.
func (c *conn) query(ctx context.Context, stmt string, dest []driver.Value) (bool, error) {
	c.event("Query", stmt)
	rows, err := c.qu.QueryContext(ctx, stmt, nil)
	if err != nil {
		return false, c.fail(ctx, stmt, err)
	}
	found := false
	err = rows.Next(dest)
	if err == nil {
		found = true
		c.keep(dest)
	} else if err == io.EOF {
		err = nil
	}
	// Close reads and drops any further rows.
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, c.fail(ctx, stmt, err)
	}
	return found, nil
}

// queryInt runs a statement whose first row starts with an integer, and
// returns it (0 when there is no row).
func (c *conn) queryInt(ctx context.Context, stmt string) (int64, error) {
	row := c.scratch(1)
	found, err := c.query(ctx, stmt, row)
	if err != nil || !found {
		return 0, err
	}
	return asInt(row[0])
}

// keep copies the byte values of row, which point into the driver's read
// buffer, into c's arena.
func (c *conn) keep(row []driver.Value) {
	n := 0
	for _, v := range row {
		if b, ok := v.([]byte); ok {
			n += len(b)
		}
	}
	if cap(c.arena) < n {
		c.arena = make([]byte, 0, n)
	}
	a := c.arena[:0]
	for i, v := range row {
		if b, ok := v.([]byte); ok {
			start := len(a)
			a = append(a, b...)
			row[i] = a[start:len(a):len(a)]
		}
	}
	c.arena = a
}

// ping sends COM_PING, as pool_pre_ping does on checkout.
func (c *conn) ping(ctx context.Context) error {
	c.event("Ping", "")
	if err := c.pi.Ping(ctx); err != nil {
		return c.fail(ctx, "COM_PING", err)
	}
	return nil
}

// broken reports whether the connection can no longer be used.
func (c *conn) broken() bool { return !c.va.IsValid() }

// close sends COM_QUIT if the connection is still usable, and releases it.
func (c *conn) close() {
	if !c.broken() {
		c.event("Quit", "")
	}
	c.dc.Close()
}

// fail wraps an error of statement stmt. When ctx is done the error wraps
// ctx.Err() instead, as every method of a session promises.
func (c *conn) fail(ctx context.Context, stmt string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("mysql: %s: %w", label(stmt), cerr)
	}
	return fmt.Errorf("mysql: %s: %w", label(stmt), err)
}

// label names a statement for error messages (backends.SQLLabel).
var label = backends.SQLLabel

// asInt reads an integer column value.
func asInt(v driver.Value) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case []byte:
		var n int64
		_, err := fmt.Sscan(string(v), &n)
		return n, err
	}
	return 0, fmt.Errorf("mysql: unexpected integer value %T", v)
}
