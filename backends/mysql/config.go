package mysql

import (
	"fmt"
	"net"
	"net/url"
	"os/user"
	"sort"
	"strconv"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
)

// DefaultDatabase is the database bench uses when the URL names none.
const DefaultDatabase = "celery_bench"

// defaultPort is MySQL's port, which PyMySQL uses when the URL has none.
const defaultPort = "3306"

// charsets maps the charset URL parameter that SQLAlchemy hands to PyMySQL
// to the collation PyMySQL announces in its handshake (its
// charset_by_name(...).id). The connection then sends "SET NAMES <charset>"
// (SQLAlchemy's on_connect).
var charsets = map[string]string{
	"utf8mb4": "utf8mb4_general_ci",
	"utf8":    "utf8_general_ci",
	"utf8mb3": "utf8_general_ci",
	"latin1":  "latin1_swedish_ci",
	"ascii":   "ascii_general_ci",
	"binary":  "binary",
}

// config is what a Celery db+mysql:// URL says.
type config struct {
	addr     string // host:port
	user     string
	password string
	database string
	charset  string // PyMySQL's charset, "utf8mb4" unless ?charset= says otherwise
}

// parseURL reads db+mysql://user[:password]@host[:port]/database[?charset=…].
// Errors show the URL with its password redacted.
func parseURL(u *url.URL) (config, error) {
	c := config{charset: "utf8mb4"}
	host := u.Hostname()
	if host == "" {
		host = "localhost" // PyMySQL's default host
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return c, fmt.Errorf("mysql: bad port %q in %s", port, backends.RedactURL(u))
	}
	c.addr = net.JoinHostPort(host, port)
	if h, _, err := net.SplitHostPort(c.addr); err != nil || h != host {
		return c, fmt.Errorf("mysql: host %q in %s is not a host name or address", host, u.Redacted()) // "//]0" parses as host "]0"
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	if c.user == "" {
		// PyMySQL's DEFAULT_USER is getpass.getuser().
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
		return c, fmt.Errorf("mysql: database name %q in %s is not one bench can use", c.database, backends.RedactURL(u))
	}
	q := u.Query()
	for k, v := range q {
		switch k {
		case "charset":
			c.charset = v[len(v)-1]
			if _, ok := charsets[c.charset]; !ok {
				return c, fmt.Errorf("mysql: unsupported charset %q in %s (supported: %s)", c.charset, backends.RedactURL(u), strings.Join(charsetNames(), ", "))
			}
		default:
			return c, fmt.Errorf("mysql: unsupported URL parameter %q in %s (supported: charset)", k, backends.RedactURL(u))
		}
	}
	return c, nil
}

func charsetNames() []string {
	var out []string
	for k := range charsets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// driverConfig returns the go-sql-driver configuration of a connection to
// database ("" for none). It is set up so that the driver sends nothing of
// its own after the handshake: no Params (which it would turn into SET
// statements), no charset (SET NAMES), and a fixed MaxAllowedPacket (else it
// queries @@max_allowed_packet).
func (c config) driverConfig(database string) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.Net = "tcp"
	cfg.Addr = c.addr
	cfg.User = c.user
	cfg.Passwd = c.password
	cfg.DBName = database
	cfg.Collation = charsets[c.charset] // handshake collation id only
	cfg.Params = nil
	// SQLAlchemy's mysqldb/pymysql dialects always set CLIENT.FOUND_ROWS.
	cfg.ClientFoundRows = true
	cfg.Logger = &mysql.NopLogger{}
	return cfg
}
