// Package mysqldialect holds the MySQL/MariaDB dialect parts that Celery's
// SQLAlchemy backend on PyMySQL (backends/mysql, db+mysql://) and
// django-celery-results' Django backend on mysqlclient
// (backends/djangodb, django-db+mysql://) share: the URL's connection
// options, the go-sql-driver/mysql set-up that sends nothing of its own,
// the client-side string literals (PyMySQL's and mysqlclient's escape the
// same seven bytes), and the server's own counters. The flavours own their
// statement sequences, connection behaviour and error messages.
//
// Nothing here keeps state; every function is safe for concurrent use.
package mysqldialect

import (
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/user"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
)

// DefaultPort is MySQL's port, which PyMySQL and mysqlclient use when the
// URL has none.
const DefaultPort = "3306"

// HintUnreachable ends the message of a connection that found no server.
const HintUnreachable = "(is MySQL/MariaDB running? check host and port in --backend)"

// Config is what a MySQL URL says.
type Config struct {
	Addr     string // host:port
	User     string
	Password string
	Database string
}

// ParseURL reads scheme://user[:password]@host[:port]/database[?…] with
// the drivers' defaults (host localhost, port 3306, the OS user, as
// PyMySQL's DEFAULT_USER getpass.getuser()) and defaultDB when the path is
// empty. Errors start with prefix ("mysql", "django-db") and show the URL
// with its password redacted. param, when not nil, takes each query
// parameter and returns false for the ones it does not know; supported
// names them for the error.
func ParseURL(u *url.URL, prefix, defaultDB string, param func(k string, v []string) (bool, error), supported string) (Config, error) {
	var c Config
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	port := u.Port()
	if port == "" {
		port = DefaultPort
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return c, fmt.Errorf("%s: bad port %q in %s", prefix, port, backends.RedactURL(u))
	}
	c.Addr = net.JoinHostPort(host, port)
	if h, _, err := net.SplitHostPort(c.Addr); err != nil || h != host {
		return c, fmt.Errorf("%s: host %q in %s is not a host name or address", prefix, host, u.Redacted()) // "//]0" parses as host "]0"
	}
	if u.User != nil {
		c.User = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	if c.User == "" {
		c.User = "root"
		if cur, err := user.Current(); err == nil && cur.Username != "" {
			c.User = cur.Username
		}
	}
	c.Database = strings.TrimPrefix(u.Path, "/")
	if c.Database == "" {
		c.Database = defaultDB
	}
	if strings.ContainsAny(c.Database, "/`\x00") {
		return c, fmt.Errorf("%s: database name %q in %s is not one bench can use", prefix, c.Database, backends.RedactURL(u))
	}
	for k, v := range u.Query() {
		known := false
		if param != nil {
			var err error
			if known, err = param(k, v); err != nil {
				return c, err
			}
		}
		if !known {
			return c, fmt.Errorf("%s: unsupported URL parameter %q in %s (supported: %s)", prefix, k, backends.RedactURL(u), supported)
		}
	}
	return c, nil
}

// DriverConfig returns the go-sql-driver configuration of a connection to
// database ("" for none) whose handshake announces collation. It is set up
// so that the driver sends nothing of its own after the handshake: no
// Params (which it would turn into SET statements), no charset (SET
// NAMES), and a fixed MaxAllowedPacket (else it queries
// @@max_allowed_packet). CLIENT.FOUND_ROWS is set, as SQLAlchemy's
// mysqldb/pymysql dialects and Django's MySQL backend always set it.
func (c Config) DriverConfig(database, collation string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = c.Addr
	cfg.User = c.User
	cfg.Passwd = c.Password
	cfg.DBName = database
	cfg.Collation = collation // handshake collation id only
	cfg.Params = nil
	cfg.ClientFoundRows = true
	cfg.Logger = &mysql.NopLogger{}
	return cfg
}

// EachRow calls fn with the column names and each row of rs, then closes
// rs. The row's values ([]byte, int64 or nil) are valid only during the
// call.
func EachRow(rs driver.Rows, fn func(cols []string, row []driver.Value)) error {
	cols := rs.Columns()
	row := make([]driver.Value, len(cols))
	var err error
	for {
		if err = rs.Next(row); err != nil {
			break
		}
		fn(cols, row)
	}
	if err == io.EOF {
		err = nil
	}
	if cerr := rs.Close(); err == nil {
		err = cerr
	}
	return err
}
