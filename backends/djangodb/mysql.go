package djangodb

// The MySQL/MariaDB dialect: Django's mysqlclient backend. Its URL
// parsing, driver set-up, escaping and server counters are
// backends/mysqldialect's, which it shares with backends/mysql (PyMySQL
// under SQLAlchemy).

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/mysqldialect"
)

// Django's MySQL connection set-up (mysqlclient connect, then
// DatabaseWrapper.init_connection_state) and atomic blocks: statements in
// order.
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

// config is what a django-db+mysql:// URL says.
type config struct {
	mysqldialect.Config
	// connMaxAge is Django's CONN_MAX_AGE in a worker: 0 closes the
	// connection at every task boundary, < 0 is None (never closed by age).
	connMaxAge time.Duration
}

// parseConnMaxAge reads the conn_max_age URL parameter: seconds or None
// (-1).
func parseConnMaxAge(u *url.URL, v []string) (time.Duration, error) {
	s := v[len(v)-1]
	if s == "None" {
		return -1, nil
	}
	n, err := strconv.ParseUint(s, 10, 31)
	if err != nil {
		return 0, fmt.Errorf("django-db: conn_max_age %q in %s is not a number of seconds or None", s, backends.RedactURL(u))
	}
	return time.Duration(n) * time.Second, nil
}

// parseURL reads django-db+mysql://user[:password]@host[:port]/database
// [?conn_max_age=…] with mysqlclient's defaults (mysqldialect.ParseURL).
func parseURL(u *url.URL) (config, error) {
	var c config
	var err error
	c.Config, err = mysqldialect.ParseURL(u, "django-db", DefaultDatabase, func(k string, v []string) (bool, error) {
		if k != "conn_max_age" {
			return false, nil
		}
		var err error
		c.connMaxAge, err = parseConnMaxAge(u, v)
		return true, err
	}, "conn_max_age")
	return c, err
}

// driverConfig sets go-sql-driver/mysql up to send nothing of its own
// after the handshake (mysqldialect.Config.DriverConfig); the handshake
// announces utf8mb3 as mysqlclient does for Django's charset 'utf8'.
func (c config) driverConfig(database string) *mysql.Config {
	return c.DriverConfig(database, "utf8mb3_general_ci")
}

// mysqlDialect is Django's django.db.backends.mysql with mysqlclient.
type mysqlDialect struct {
	cfg            config
	connector      driver.Connector
	adminConnector driver.Connector
	timeout        time.Duration
	// What probe learnt.
	mariadb     bool
	version     []int
	noBackslash bool
	hasReturn   bool // INSERT … RETURNING (MariaDB >= 10.5)
}

func newMySQL(u *url.URL, o backends.Options) (*mysqlDialect, time.Duration, bool, error) {
	cfg, err := parseURL(u)
	if err != nil {
		return nil, 0, false, err
	}
	_, given := u.Query()["conn_max_age"]
	d := &mysqlDialect{cfg: cfg, timeout: o.ConnectTimeout}
	if d.connector, err = mysql.NewConnector(cfg.driverConfig(cfg.Database)); err != nil {
		return nil, 0, false, fmt.Errorf("django-db: %s: %w", backends.RedactURL(u), err)
	}
	if d.adminConnector, err = mysql.NewConnector(cfg.driverConfig("")); err != nil {
		return nil, 0, false, fmt.Errorf("django-db: %s: %w", backends.RedactURL(u), err)
	}
	return d, cfg.connMaxAge, given, nil
}

func (d *mysqlDialect) quote(name string) string { return "`" + name + "`" }

// appendString appends s as mysqlclient's string_literal writes it
// (mysql_real_escape_string), or with quotes doubled under
// NO_BACKSLASH_ESCAPES (mysqldialect.AppendString).
func (d *mysqlDialect) appendString(dst []byte, s string) []byte {
	return mysqldialect.AppendString(dst, s, d.noBackslash)
}

// appendDate appends t as Django's MySQL backend adapts an aware datetime
// under USE_TZ=True: made naive in UTC, str(datetime) (no fraction when
// the microseconds are 0).
func (d *mysqlDialect) appendDate(dst []byte, t time.Time) []byte {
	dst = append(dst, '\'')
	dst = backends.AppendSQLDate(dst, t)
	return append(dst, '\'')
}

// parseDate reads a datetime(6) column value.
func (d *mysqlDialect) parseDate(v []byte) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", string(v), time.UTC)
	return t, err == nil
}

func (d *mysqlDialect) appendPrefixMatch(s []byte, column, prefix string) []byte {
	s = append(s, "`"+column+"` LIKE "...)
	s = mysqldialect.AppendLike(s, prefix, d.noBackslash)
	s = append(s, " AND CAST(`"+column+"` AS BINARY) LIKE "...)
	return mysqldialect.AppendLike(s, prefix, d.noBackslash)
}

func (d *mysqlDialect) returning() bool            { return d.hasReturn }
func (d *mysqlDialect) checksRepeatableRead() bool { return true }
func (d *mysqlDialect) beginAtomic() []string      { return []string{stmtAutocommit0} }
func (d *mysqlDialect) commitAtomic() []string     { return []string{stmtCommit, stmtAutocommit1} }
func (d *mysqlDialect) rollbackAtomic() []string   { return []string{stmtRollback, stmtAutocommit1} }
func (d *mysqlDialect) goodbye() string            { return "Quit" }
func (d *mysqlDialect) addr() string               { return d.cfg.Addr }
func (d *mysqlDialect) database() string           { return d.cfg.Database }

func (d *mysqlDialect) dial(ctx context.Context, admin bool) (link, error) {
	connector := d.connector
	if admin {
		connector = d.adminConnector
	}
	dc, err := connector.Connect(ctx)
	if err != nil {
		return nil, d.connectError(ctx, err)
	}
	l := &mysqlLink{dc: dc}
	var ok1, ok2, ok3 bool
	l.ex, ok1 = dc.(driver.ExecerContext)
	l.qu, ok2 = dc.(driver.QueryerContext)
	l.va, ok3 = dc.(driver.Validator)
	if !ok1 || !ok2 || !ok3 {
		dc.Close()
		return nil, errors.New("django-db: the driver connection lacks ExecerContext, QueryerContext or Validator")
	}
	return l, nil
}

// setUp: mysqlclient's SET NAMES and autocommit, the server-data query on
// the process's first connection, and the isolation level.
func (d *mysqlDialect) setUp(ctx context.Context, c *conn, first bool) error {
	if err := c.execAll(ctx, []string{stmtSetNames, stmtAutocommit0, stmtAutocommit1}); err != nil {
		return err
	}
	if first {
		if _, err := c.query(ctx, stmtServerData, c.scratch(6)); err != nil {
			return err
		}
	}
	_, err := c.exec(ctx, stmtIsolation)
	return err
}

func (d *mysqlDialect) probe(ctx context.Context, c *conn) (backends.ServerInfo, error) {
	row := c.scratch(2)
	if _, err := c.query(ctx, "SELECT VERSION(), @@sql_mode", row); err != nil {
		return backends.ServerInfo{}, err
	}
	version, mode := string(asBytes(row[0])), string(asBytes(row[1]))
	d.mariadb = strings.Contains(version, "MariaDB")
	d.version = parseVersion(version)
	d.noBackslash = strings.Contains(mode, "NO_BACKSLASH_ESCAPES")
	d.hasReturn = d.mariadb && atLeast(d.version, 10, 5)
	product := "MySQL"
	if d.mariadb {
		product = "MariaDB"
	}
	return backends.ServerInfo{Product: product, Version: version}, nil
}

// isUsable: mysqlclient's connection.ping(), a COM_PING.
func (d *mysqlDialect) isUsable(ctx context.Context, c *conn) error {
	c.event("Ping", "")
	l, _ := c.l.(*mysqlLink)
	if l == nil {
		return errors.New("django-db: not a MySQL connection")
	}
	p, ok := l.dc.(driver.Pinger)
	if !ok {
		return errors.New("django-db: the driver connection cannot ping")
	}
	return p.Ping(ctx)
}

func (d *mysqlDialect) markServer(err error) error {
	if _, ok := errors.AsType[*mysql.MySQLError](err); ok {
		return backends.MarkServer(err)
	}
	return err
}

const hintUnreachable = mysqldialect.HintUnreachable

func (d *mysqlDialect) connectError(dctx context.Context, err error) error {
	addr := d.cfg.Addr
	if errors.Is(dctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("django-db: cannot connect to %s: no answer within %v %s: %w", addr, d.timeout, hintUnreachable, err)
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045, 1698:
			return fmt.Errorf("django-db: %s rejected user %q: check the user and password in --backend: %w", addr, d.cfg.User, err)
		case 1049:
			return fmt.Errorf("django-db: %s has no database %q: check the database name in --backend (bench creates it when it prepares a run): %w", addr, d.cfg.Database, err)
		}
		return fmt.Errorf("django-db: %s refused the connection: %w", addr, err)
	}
	return fmt.Errorf("django-db: cannot connect to %s %s: %w", addr, hintUnreachable, err)
}

// mysqlLink is a go-sql-driver/mysql connection used below database/sql:
// every statement a text COM_QUERY.
type mysqlLink struct {
	dc    driver.Conn
	ex    driver.ExecerContext
	qu    driver.QueryerContext
	va    driver.Validator
	arena []byte
}

func (l *mysqlLink) exec(ctx context.Context, stmt string) (int64, error) {
	r, err := l.ex.ExecContext(ctx, stmt, nil)
	if err != nil {
		return 0, err
	}
	n, _ := r.RowsAffected()
	return n, nil
}

func (l *mysqlLink) query(ctx context.Context, stmt string, dest []driver.Value) (bool, error) {
	rows, err := l.qu.QueryContext(ctx, stmt, nil)
	if err != nil {
		return false, err
	}
	if n := len(rows.Columns()); n != len(dest) {
		rows.Close()
		return false, fmt.Errorf("%d columns, want %d", n, len(dest))
	}
	found := false
	err = rows.Next(dest)
	if err == nil {
		found = true
		keepRow(&l.arena, dest)
	} else if err == io.EOF {
		err = nil
	}
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return found, err
}

func (l *mysqlLink) rows(ctx context.Context, stmt string, fn func(cols []string, row []driver.Value)) error {
	rs, err := l.qu.QueryContext(ctx, stmt, nil)
	if err != nil {
		return err
	}
	return mysqldialect.EachRow(rs, fn)
}

func (l *mysqlLink) usable() bool { return l.va.IsValid() }

// close: go-sql-driver/mysql's Close sends COM_QUIT on a usable
// connection itself.
func (l *mysqlLink) close(polite bool) { l.dc.Close() }
