// Package pgdialect holds the PostgreSQL dialect parts that Celery's
// SQLAlchemy backend (backends/postgres, db+postgresql://) and
// django-celery-results' Django backend (backends/djangodb,
// django-db+postgresql://) share: the URL's connection options as libpq
// takes them, psycopg2 2.9's client-side literals, one-line connection
// errors, and the server's own counters. The flavours own their statement
// sequences and connection behaviour.
//
// Nothing here keeps state; every function is safe for concurrent use.
package pgdialect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/celery-bench/bench/backends"
)

// MaintenanceDB is where a backend connects before its database exists.
const MaintenanceDB = "postgres"

// Config is what a PostgreSQL URL says.
type Config struct {
	Host, Port string
	User       string
	Password   string
	Database   string
	SSLMode    string
}

// Addr is host:port.
func (c Config) Addr() string { return net.JoinHostPort(c.Host, c.Port) }

// ParseURL reads scheme://user[:password]@host[:port]/database[?sslmode=…]
// with libpq's defaults (port 5432, the OS user, sslmode=prefer) and
// defaultDB when the path is empty. Errors start with prefix ("postgres",
// "django-db") and show the URL with its password redacted. param, when
// not nil, takes the query parameters other than sslmode and returns false
// for the ones it does not know; supported names them for the error.
func ParseURL(u *url.URL, prefix, defaultDB string, param func(k string, v []string) (bool, error), supported string) (Config, error) {
	errorf := func(format string, args ...any) error { return fmt.Errorf(prefix+": "+format, args...) }
	c := Config{SSLMode: "prefer"}
	c.Host = u.Hostname()
	if c.Host == "" {
		c.Host = "localhost"
	}
	c.Port = u.Port()
	if c.Port == "" {
		c.Port = "5432"
	}
	if _, err := strconv.ParseUint(c.Port, 10, 16); err != nil {
		return c, errorf("bad port %q in %s", c.Port, backends.RedactURL(u))
	}
	if h, _, err := net.SplitHostPort(c.Addr()); err != nil || h != c.Host {
		return c, errorf("host %q in %s is not a host name or address", c.Host, backends.RedactURL(u))
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if c.User == "" { // libpq's default: the OS user name
		c.User = "postgres"
		if cur, err := user.Current(); err == nil && cur.Username != "" {
			c.User = cur.Username
		}
	}
	c.Database = strings.TrimPrefix(u.Path, "/")
	if c.Database == "" {
		c.Database = defaultDB
	}
	if strings.ContainsAny(c.Database, "/\"\x00") {
		return c, errorf("database name %q in %s is not one bench can use", c.Database, backends.RedactURL(u))
	}
	for k, v := range u.Query() {
		if k == "sslmode" {
			switch m := v[len(v)-1]; m {
			case "disable", "allow", "prefer", "require":
				c.SSLMode = m
			default:
				return c, errorf("unsupported sslmode %q in %s (supported: disable, allow, prefer, require)", m, backends.RedactURL(u))
			}
			continue
		}
		known := false
		if param != nil {
			var err error
			if known, err = param(k, v); err != nil {
				return c, err
			}
		}
		if !known {
			return c, errorf("unsupported URL parameter %q in %s (supported: %s)", k, backends.RedactURL(u), supported)
		}
	}
	return c, nil
}

// PgConfig returns the pgconn configuration of a connection to database:
// the startup packet carries user and database only, as libpq's does when
// no application_name is set.
func (c Config) PgConfig(database string, timeout time.Duration) (*pgconn.Config, error) {
	kv := fmt.Sprintf("host='%s' port=%s user='%s' dbname='%s' sslmode=%s",
		quoteKV(c.Host), c.Port, quoteKV(c.User), quoteKV(database), c.SSLMode)
	if timeout > 0 {
		kv += fmt.Sprintf(" connect_timeout=%d", max(1, int(timeout.Round(time.Second)/time.Second)))
	}
	pc, err := pgconn.ParseConfig(kv)
	if err != nil {
		return nil, err
	}
	pc.Password = c.Password
	delete(pc.RuntimeParams, "application_name")
	return pc, nil
}

func quoteKV(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}

// ConnError is a failed connection attempt: one line naming the problem
// and the fix, wrapping the driver's error.
type ConnError struct {
	Msg string
	Err error
}

func (e *ConnError) Error() string { return e.Msg }
func (e *ConnError) Unwrap() error { return e.Err }

const hintUnreachable = "(is PostgreSQL running? check host and port in --backend)"

// ConnectError explains err, the failure of a connection to database db
// dialled under dctx (derived from ctx, bounded by timeout), in one line
// starting with prefix. When ctx itself is done it wraps ctx.Err().
func ConnectError(ctx, dctx context.Context, prefix string, c Config, db string, timeout time.Duration, err error) error {
	addr := c.Addr()
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s: connecting to %s: %w", prefix, addr, cerr)
	}
	if errors.Is(dctx.Err(), context.DeadlineExceeded) {
		return &ConnError{prefix + ": cannot connect to " + addr + ": no answer within " + timeout.String() + " " + hintUnreachable, err}
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		var msg string
		switch pe.Code {
		case "28P01", "28000": // invalid_password, invalid_authorization_specification
			msg = prefix + ": " + addr + " rejected user \"" + c.User + "\" (" + pe.Message + "): check the user and password in --backend"
		case "3D000": // invalid_catalog_name
			msg = prefix + ": " + addr + " has no database \"" + db + "\" (" + pe.Message + "): check the database name in --backend (bench creates it when it prepares a run)"
		default:
			msg = prefix + ": " + addr + " refused the connection (" + pe.Code + ": " + pe.Message + ")"
		}
		return &ConnError{msg, err}
	}
	reason := backends.DialReason(err)
	return &ConnError{prefix + ": cannot connect to " + addr + ": " + reason + " " + hintUnreachable, err}
}

// Label names a statement for error messages (backends.SQLLabel).
var Label = backends.SQLLabel
