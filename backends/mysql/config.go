package mysql

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/mysqldialect"
)

// DefaultDatabase is the database bench uses when the URL names none.
const DefaultDatabase = "celery_bench"

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
	mysqldialect.Config
	charset string // PyMySQL's charset, "utf8mb4" unless ?charset= says otherwise
}

// parseURL reads db+mysql://user[:password]@host[:port]/database[?charset=…]
// with PyMySQL's defaults (mysqldialect.ParseURL). Errors show the URL
// with its password redacted.
func parseURL(u *url.URL) (config, error) {
	c := config{charset: "utf8mb4"}
	var err error
	c.Config, err = mysqldialect.ParseURL(u, "mysql", DefaultDatabase, func(k string, v []string) (bool, error) {
		if k != "charset" {
			return false, nil
		}
		c.charset = v[len(v)-1]
		if _, ok := charsets[c.charset]; !ok {
			return true, fmt.Errorf("mysql: unsupported charset %q in %s (supported: %s)", c.charset, backends.RedactURL(u), strings.Join(charsetNames(), ", "))
		}
		return true, nil
	}, "charset")
	return c, err
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
// database ("" for none), which sends nothing of its own after the
// handshake (mysqldialect.Config.DriverConfig); the handshake announces the
// collation of the URL's charset, as PyMySQL does.
func (c config) driverConfig(database string) *mysql.Config {
	return c.DriverConfig(database, charsets[c.charset])
}
