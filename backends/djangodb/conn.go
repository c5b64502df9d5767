package djangodb

// Copied from backends/mysql/conn.go and errors.go (trimmed): that package
// exports none of it, and it is being refactored elsewhere.

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Django's MySQL connection set-up (mysqlclient connect, then
// DatabaseWrapper.init_connection_state): statements in order.
const (
	stmtSetNames     = "SET NAMES utf8mb3" // mysqlclient, charset 'utf8'
	stmtAutocommit0  = "SET autocommit=0"  // mysqlclient connect, and atomic()
	stmtAutocommit1  = "SET autocommit=1"  // Django's autocommit, and the end of atomic()
	stmtCommit       = "COMMIT"
	stmtRollback     = "ROLLBACK"
	stmtIsolation    = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
	stmtShowIsolated = "SHOW VARIABLES WHERE variable_name IN ('tx_isolation', 'transaction_isolation');"
)

// stmtServerData is DatabaseWrapper.mysql_server_data, sent on the first
// connection of each process (it is cached on the DatabaseWrapper),
// between the autocommit and isolation statements.
const stmtServerData = `
                SELECT VERSION(),
                       @@sql_mode,
                       @@default_storage_engine,
                       @@sql_auto_is_null,
                       @@lower_case_table_names,
                       CONVERT_TZ('2001-01-01 01:00:00', 'UTC', 'UTC') IS NOT NULL
            `

// conn is one client connection; every statement is a text COM_QUERY.
type conn struct {
	b      *backend
	dc     driver.Conn
	ex     driver.ExecerContext
	qu     driver.QueryerContext
	va     driver.Validator
	id     uint64
	opened time.Time

	sql   []byte
	arena []byte
	vals  []driver.Value
}

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
	c := &conn{b: b, dc: dc, id: connSeq.Add(1), opened: time.Now()}
	var ok1, ok2, ok3 bool
	c.ex, ok1 = dc.(driver.ExecerContext)
	c.qu, ok2 = dc.(driver.QueryerContext)
	c.va, ok3 = dc.(driver.Validator)
	if !ok1 || !ok2 || !ok3 {
		dc.Close()
		return nil, errors.New("django-db: the driver connection lacks ExecerContext, QueryerContext or Validator")
	}
	c.event("Connect", "")
	return c, nil
}

// connect opens a connection as Django does (ensure_connection): the
// mysqlclient set-up, the server-data query when serverData (the
// process's first connection), and the isolation level.
func (b *backend) connect(ctx context.Context, serverData bool) (*conn, error) {
	c, err := b.dial(ctx, false)
	if err != nil {
		return nil, err
	}
	for _, s := range []string{stmtSetNames, stmtAutocommit0, stmtAutocommit1} {
		if _, err := c.exec(ctx, s); err != nil {
			c.close()
			return nil, err
		}
	}
	if serverData {
		if _, err := c.query(ctx, stmtServerData, c.scratch(6)); err != nil {
			c.close()
			return nil, err
		}
	}
	if _, err := c.exec(ctx, stmtIsolation); err != nil {
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

func (c *conn) exec(ctx context.Context, stmt string) (driver.Result, error) {
	c.event("Query", stmt)
	r, err := c.ex.ExecContext(ctx, stmt, nil)
	if err != nil {
		return nil, c.fail(ctx, stmt, err)
	}
	return r, nil
}

func (c *conn) execSQL(ctx context.Context) (driver.Result, error) {
	return c.exec(ctx, string(c.sql))
}

func (c *conn) scratch(n int) []driver.Value {
	if cap(c.vals) < n {
		c.vals = make([]driver.Value, n)
	}
	return c.vals[:n]
}

// query sends a statement that returns rows, reads them all (mysqlclient
// stores the result) and copies the first into dest.
func (c *conn) query(ctx context.Context, stmt string, dest []driver.Value) (bool, error) {
	c.event("Query", stmt)
	rows, err := c.qu.QueryContext(ctx, stmt, nil)
	if err != nil {
		return false, c.fail(ctx, stmt, err)
	}
	if n := len(rows.Columns()); n != len(dest) {
		rows.Close()
		return false, fmt.Errorf("django-db: %s: %d columns, want %d", label(stmt), n, len(dest))
	}
	found := false
	err = rows.Next(dest)
	if err == nil {
		found = true
		c.keep(dest)
	} else if err == io.EOF {
		err = nil
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
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

func (c *conn) broken() bool { return !c.va.IsValid() }

// close sends COM_QUIT if the connection is still usable (Django's
// connection.close()), and releases it.
func (c *conn) close() {
	if !c.broken() {
		c.event("Quit", "")
	}
	c.dc.Close()
}

func (c *conn) fail(ctx context.Context, stmt string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("django-db: %s: %w", label(stmt), cerr)
	}
	return fmt.Errorf("django-db: %s: %w", label(stmt), err)
}

func label(stmt string) string {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return "empty statement"
	}
	if strings.EqualFold(f[0], "UPDATE") && len(f) > 1 {
		return f[0] + " " + f[1]
	}
	for i, w := range f {
		switch w {
		case "FROM", "INTO", "TABLE", "INDEX", "DATABASE":
			if i+1 < len(f) {
				return f[0] + " … " + w + " " + f[i+1]
			}
		}
	}
	return strings.Join(f[:min(len(f), 3)], " ")
}

const hintUnreachable = "(is MySQL/MariaDB running? check host and port in --backend)"

func (b *backend) connectError(ctx, dctx context.Context, err error) error {
	addr := b.cfg.addr
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("django-db: connecting to %s: %w", addr, cerr)
	}
	if errors.Is(dctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("django-db: cannot connect to %s: no answer within %v %s: %w", addr, b.opts.ConnectTimeout, hintUnreachable, err)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1698:
			return fmt.Errorf("django-db: %s rejected user %q: check the user and password in --backend: %w", addr, b.cfg.user, err)
		case 1049:
			return fmt.Errorf("django-db: %s has no database %q: check the database name in --backend (bench creates it when it prepares a run): %w", addr, b.cfg.database, err)
		}
		return fmt.Errorf("django-db: %s refused the connection: %w", addr, err)
	}
	return fmt.Errorf("django-db: cannot connect to %s %s: %w", addr, hintUnreachable, err)
}
