// Package djangodb is django-celery-results' DatabaseBackend
// (result_backend = 'django-db', version 2.4 on Django 3.2) on MySQL and
// MariaDB through Django's mysqlclient driver, served as
// django-db+mysql://user[:password]@host[:port]/database.
//
// It is the Django flavour of bench's SQL backends: the statement
// sequences of the ORM (TaskResult.objects.store_result's get_or_create
// and full-row UPDATE, get_task's SELECT … LIMIT 21 with the
// REPEATABLE-READ check, forget, GroupResult, delete_expired), Django's
// connection set-up, and Django's connection life: a worker (prefork
// child) opens a connection at a task's first write and closes it at
// task_postrun under CONN_MAX_AGE=0 (--django-conn-max-age, or the
// conn_max_age URL parameter, offers Django's CONN_MAX_AGE); a caller keeps one connection for its
// life. The result column holds the result serializer's text (JSON) with
// content_type and content_encoding, and date_created/date_done are
// written as Django writes them with USE_TZ=True (naive UTC strings).
//
// The MySQL dialect parts (mysqlclient's escaping, Django's DDL, the
// driver set-up) are small copies of backends/mysql's helpers, which that
// package does not export.
//
// Every statement is a text COM_QUERY of a literal built here, as
// mysqlclient sends it (it interpolates client-side); go-sql-driver/mysql
// is used below database/sql and sends nothing of its own after the
// handshake.
package djangodb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net"
	"net/url"
	"os/user"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
)

// DefaultDatabase is the database bench uses when the URL names none.
const DefaultDatabase = "celery_bench_django"

func init() {
	backends.Register(backends.Meta{
		Name:        "django-db",
		Schemes:     []string{"django-db+mysql"},
		Description: "django-celery-results' DatabaseBackend (django-db) on MySQL/MariaDB through Django's ORM (a connection per worker task, one per caller)",
		DefaultURL:  "django-db+mysql://root@127.0.0.1:3306/" + DefaultDatabase,
		Open:        open,
	})
}

var _ backends.Backend = (*backend)(nil)

// config is what a django-db+mysql:// URL says.
type config struct {
	addr     string
	user     string
	password string
	database string
	// connMaxAge is Django's CONN_MAX_AGE in a worker: 0 closes the
	// connection at every task boundary, < 0 is None (never closed by age).
	connMaxAge time.Duration
}

func parseURL(u *url.URL) (config, error) {
	var c config
	host := u.Hostname()
	if host == "" {
		host = "localhost"
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return c, fmt.Errorf("django-db: bad port %q in %s", port, backends.RedactURL(u))
	}
	c.addr = net.JoinHostPort(host, port)
	if h, _, err := net.SplitHostPort(c.addr); err != nil || h != host {
		return c, fmt.Errorf("django-db: host %q in %s is not a host name or address", host, u.Redacted())
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	if c.user == "" {
		c.user = "root"
		if cur, err := user.Current(); err == nil && cur.Username != "" {
			c.user = cur.Username
		}
	}
	c.database = strings.TrimPrefix(u.Path, "/")
	if c.database == "" {
		c.database = DefaultDatabase
	}
	if strings.ContainsAny(c.database, "/`\x00") {
		return c, fmt.Errorf("django-db: database name %q in %s is not one bench can use", c.database, backends.RedactURL(u))
	}
	for k, v := range u.Query() {
		switch k {
		case "conn_max_age":
			s := v[len(v)-1]
			if s == "None" {
				c.connMaxAge = -1
				continue
			}
			n, err := strconv.ParseUint(s, 10, 31)
			if err != nil {
				return c, fmt.Errorf("django-db: conn_max_age %q in %s is not a number of seconds or None", s, backends.RedactURL(u))
			}
			c.connMaxAge = time.Duration(n) * time.Second
		default:
			return c, fmt.Errorf("django-db: unsupported URL parameter %q in %s (supported: conn_max_age)", k, backends.RedactURL(u))
		}
	}
	return c, nil
}

// driverConfig sets go-sql-driver/mysql up to send nothing of its own
// after the handshake; the handshake announces utf8mb3 as mysqlclient
// does for Django's charset 'utf8'.
func (c config) driverConfig(database string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = c.addr
	cfg.User = c.user
	cfg.Passwd = c.password
	cfg.DBName = database
	cfg.Collation = "utf8mb3_general_ci"
	cfg.Params = nil
	// Django's MySQL backend sets CLIENT.FOUND_ROWS.
	cfg.ClientFoundRows = true
	cfg.Logger = &mysql.NopLogger{}
	return cfg
}

type backend struct {
	opts           backends.Options
	cfg            config
	connector      driver.Connector
	adminConnector driver.Connector
	server         backends.ServerInfo
	mariadb        bool
	version        []int
	noBackslash    bool
	returning      bool // INSERT … RETURNING (MariaDB >= 10.5)

	now  func() time.Time
	hook func(conn uint64, cmd, stmt string)
}

var connSeq atomic.Uint64

func open(ctx context.Context, u *url.URL, o backends.Options) (backends.Backend, error) {
	return openBackend(ctx, u, o)
}

func openBackend(ctx context.Context, u *url.URL, o backends.Options) (*backend, error) {
	cfg, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	if _, given := u.Query()["conn_max_age"]; !given {
		cfg.connMaxAge = o.DjangoConnMaxAge
		if cfg.connMaxAge < 0 {
			cfg.connMaxAge = -1
		}
	}
	b := &backend{opts: o, cfg: cfg, now: time.Now}
	if b.connector, err = mysql.NewConnector(cfg.driverConfig(cfg.database)); err != nil {
		return nil, fmt.Errorf("django-db: %s: %w", backends.RedactURL(u), err)
	}
	if b.adminConnector, err = mysql.NewConnector(cfg.driverConfig("")); err != nil {
		return nil, fmt.Errorf("django-db: %s: %w", backends.RedactURL(u), err)
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
	b.mariadb = strings.Contains(version, "MariaDB")
	b.version = parseVersion(version)
	b.noBackslash = strings.Contains(mode, "NO_BACKSLASH_ESCAPES")
	b.returning = b.mariadb && atLeast(b.version, 10, 5)
	product := "MySQL"
	if b.mariadb {
		product = "MariaDB"
	}
	b.server = backends.ServerInfo{Product: product, Version: version}
	return b, nil
}

func (b *backend) Server() backends.ServerInfo { return b.server }

// Close does nothing: the backend keeps no connection between calls.
func (b *backend) Close() error { return nil }

// closeEveryTask: Celery >= 5.6 closes the worker's connections at every
// task boundary whatever CONN_MAX_AGE says.
func (b *backend) closeEveryTask() bool {
	return b.cfg.connMaxAge == 0 || b.opts.Celery.AtLeast(5, 6)
}

func parseVersion(s string) []int {
	s = strings.TrimPrefix(s, "5.5.5-")
	var out []int
	for _, p := range strings.Split(s, ".") {
		n := 0
		i := 0
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			n = n*10 + int(p[i]-'0')
			i++
		}
		if i == 0 {
			break
		}
		out = append(out, n)
		if i < len(p) {
			break
		}
	}
	return out
}

func atLeast(v []int, want ...int) bool {
	for i, w := range want {
		got := 0
		if i < len(v) {
			got = v[i]
		}
		if got != w {
			return got > w
		}
	}
	return true
}

func asBytes(v driver.Value) []byte {
	switch v := v.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case nil:
		return nil
	}
	return []byte(fmt.Sprint(v))
}

func asInt(v driver.Value) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("django-db: unexpected integer value %T", v)
}
