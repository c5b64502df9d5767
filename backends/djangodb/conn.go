package djangodb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
)

// conn is one client connection of Django's: a link of the dialect's
// driver, and the statement being built. A conn is used by one goroutine
// at a time.
type conn struct {
	b      *backend
	l      link
	id     uint64
	opened time.Time

	sql  []byte
	vals []driver.Value
	// errorsOccurred is Django's flag: a statement failed on this
	// connection since it was last found usable.
	errorsOccurred bool
}

func (b *backend) dial(ctx context.Context, admin bool) (*conn, error) {
	dctx := ctx
	if t := b.opts.ConnectTimeout; t > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	l, err := b.d.dial(dctx, admin)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, fmt.Errorf("django-db: connecting to %s: %w", b.d.addr(), cerr)
		}
		return nil, err
	}
	c := &conn{b: b, l: l, id: connSeq.Add(1), opened: time.Now()}
	c.event("Connect", "")
	return c, nil
}

// connect opens a connection as Django does (ensure_connection): the
// driver's connection and the dialect's set-up; first is the process's
// first connection.
func (b *backend) connect(ctx context.Context, first bool) (*conn, error) {
	c, err := b.dial(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := b.d.setUp(ctx, c, first); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *conn) event(cmd, stmt string) {
	if h := c.b.hook; h != nil {
		h(c.id, cmd, stmt)
	}
}

// exec sends stmt and returns the rows it affected.
func (c *conn) exec(ctx context.Context, stmt string) (int64, error) {
	c.event("Query", stmt)
	n, err := c.l.exec(ctx, stmt)
	if err != nil {
		return 0, c.fail(ctx, stmt, err)
	}
	return n, nil
}

func (c *conn) execSQL(ctx context.Context) (int64, error) {
	return c.exec(ctx, string(c.sql))
}

// execAll sends stmts in order, stopping at the first error.
func (c *conn) execAll(ctx context.Context, stmts []string) error {
	for _, s := range stmts {
		if _, err := c.exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// begin, commit and rollback are transaction.atomic()'s entry, exit and
// exit on an error. rollback sends nothing on a broken connection and
// reports no error: the block's own error is the one that matters.
func (c *conn) begin(ctx context.Context) error  { return c.execAll(ctx, c.b.d.beginAtomic()) }
func (c *conn) commit(ctx context.Context) error { return c.execAll(ctx, c.b.d.commitAtomic()) }
func (c *conn) rollback(ctx context.Context) {
	if !c.broken() {
		c.execAll(ctx, c.b.d.rollbackAtomic())
	}
}

func (c *conn) scratch(n int) []driver.Value {
	if cap(c.vals) < n {
		c.vals = make([]driver.Value, n)
	}
	return c.vals[:n]
}

// query sends a statement that returns rows, reads them all (mysqlclient
// stores the result, psycopg2 fetches it) and copies the first into dest.
func (c *conn) query(ctx context.Context, stmt string, dest []driver.Value) (bool, error) {
	c.event("Query", stmt)
	found, err := c.l.query(ctx, stmt, dest)
	if err != nil {
		return false, c.fail(ctx, stmt, err)
	}
	return found, nil
}

func (c *conn) querySQL(ctx context.Context, dest []driver.Value) (bool, error) {
	return c.query(ctx, string(c.sql), dest)
}

func (c *conn) queryInt(ctx context.Context, stmt string) (int64, error) {
	row := c.scratch(1)
	found, err := c.query(ctx, stmt, row)
	if err != nil || !found {
		return 0, err
	}
	return asInt(row[0])
}

// rows sends a statement and calls fn with the column names and each row.
func (c *conn) rows(ctx context.Context, stmt string, fn func(cols []string, row []driver.Value)) error {
	c.event("Query", stmt)
	if err := c.l.rows(ctx, stmt, fn); err != nil {
		return c.fail(ctx, stmt, err)
	}
	return nil
}

func (c *conn) broken() bool { return !c.l.usable() }

// close sends the goodbye (COM_QUIT, Terminate) if the connection is still
// usable (Django's connection.close()), and releases it.
func (c *conn) close() {
	polite := !c.broken()
	if polite {
		c.event(c.b.d.goodbye(), "")
	}
	c.l.close(polite)
}

func (c *conn) fail(ctx context.Context, stmt string, err error) error {
	c.errorsOccurred = true
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("django-db: %s: %w", label(stmt), cerr)
	}
	return fmt.Errorf("django-db: %s: %w", label(stmt), err)
}

// label names a statement for error messages (backends.SQLLabel).
var label = backends.SQLLabel
