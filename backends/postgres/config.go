package postgres

import (
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

// DefaultDatabase is the database bench uses when the URL names none.
const DefaultDatabase = "celery_bench"

// maintenanceDB is where Prepare and open connect before bench's database
// exists.
const maintenanceDB = "postgres"

// config is what a Celery db+postgresql:// URL says.
type config struct {
	host, port string
	user       string
	password   string
	database   string
	sslmode    string
}

func (c config) addr() string { return net.JoinHostPort(c.host, c.port) }

// parseURL reads db+postgresql://user[:password]@host[:port]/database
// [?sslmode=…]. Errors show the URL with its password redacted.
func parseURL(u *url.URL) (config, error) {
	c := config{sslmode: "prefer"} // libpq's default
	c.host = u.Hostname()
	if c.host == "" {
		c.host = "localhost"
	}
	c.port = u.Port()
	if c.port == "" {
		c.port = "5432"
	}
	if _, err := strconv.ParseUint(c.port, 10, 16); err != nil {
		return c, errorf("bad port %q in %s", c.port, backends.RedactURL(u))
	}
	if h, _, err := net.SplitHostPort(c.addr()); err != nil || h != c.host {
		return c, errorf("host %q in %s is not a host name or address", c.host, backends.RedactURL(u))
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	if c.user == "" { // libpq's default: the OS user name
		c.user = "postgres"
		if cur, err := user.Current(); err == nil && cur.Username != "" {
			c.user = cur.Username
		}
	}
	c.database = strings.TrimPrefix(u.Path, "/")
	if c.database == "" {
		c.database = DefaultDatabase
	}
	if strings.ContainsAny(c.database, "/\"\x00") {
		return c, errorf("database name %q in %s is not one bench can use", c.database, backends.RedactURL(u))
	}
	for k, v := range u.Query() {
		switch k {
		case "sslmode":
			switch m := v[len(v)-1]; m {
			case "disable", "allow", "prefer", "require":
				c.sslmode = m
			default:
				return c, errorf("unsupported sslmode %q in %s (supported: disable, allow, prefer, require)", m, backends.RedactURL(u))
			}
		default:
			return c, errorf("unsupported URL parameter %q in %s (supported: sslmode)", k, backends.RedactURL(u))
		}
	}
	return c, nil
}

// pgConfig returns the pgconn configuration of a connection to database:
// the startup packet carries user and database only, as libpq's does when
// no application_name is set.
func (c config) pgConfig(database string, timeout time.Duration) (*pgconn.Config, error) {
	kv := fmt.Sprintf("host='%s' port=%s user='%s' dbname='%s' sslmode=%s",
		quoteKV(c.host), c.port, quoteKV(c.user), quoteKV(database), c.sslmode)
	if timeout > 0 {
		kv += fmt.Sprintf(" connect_timeout=%d", max(1, int(timeout.Round(time.Second)/time.Second)))
	}
	pc, err := pgconn.ParseConfig(kv)
	if err != nil {
		return nil, err
	}
	pc.Password = c.password
	delete(pc.RuntimeParams, "application_name")
	return pc, nil
}

func quoteKV(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}
