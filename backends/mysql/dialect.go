package mysql

import (
	"strconv"
	"strings"
)

// dialect is what SQLAlchemy 1.4's MySQL dialect decides from the server it
// first connects to (MySQLDialect.initialize), and so what bench sends.
type dialect struct {
	mariadb bool
	version []int // numeric parts of SELECT VERSION(), "10.11.19-MariaDB" -> 10, 11, 19
	// sequences is supports_sequences: MariaDB >= 10.3 gives the id
	// columns a SEQUENCE instead of AUTO_INCREMENT.
	sequences bool
	// noBackslash is the NO_BACKSLASH_ESCAPES sql_mode, under which PyMySQL
	// doubles quotes instead of escaping with backslashes.
	noBackslash bool
	// probes are the statements of the dialect initialisation on an
	// Engine's first connection, ROLLBACK included.
	probes []string
}

// newDialect returns the dialect for a server that answers SELECT VERSION()
// with version and SELECT @@sql_mode with sqlMode.
func newDialect(version, sqlMode string) dialect {
	d := dialect{
		mariadb: strings.Contains(version, "MariaDB"),
		version: parseVersion(version),
	}
	d.sequences = d.mariadb && d.atLeast(10, 3)
	d.noBackslash = strings.Contains(sqlMode, "NO_BACKSLASH_ESCAPES")

	// DefaultDialect.initialize: server_version_info, default_schema_name,
	// default_isolation_level; then MySQLDialect: _detect_sql_mode,
	// _detect_casing; then first_connect's do_rollback.
	iso := "SELECT @@tx_isolation"
	if !d.mariadb && d.atLeast(5, 7, 20) {
		iso = "SELECT @@transaction_isolation"
	}
	setting := func(name string) string { // MySQLDialect._fetch_setting
		if !d.atLeast(5, 6) {
			return "SHOW VARIABLES LIKE '" + name + "'"
		}
		return "SELECT @@" + name
	}
	d.probes = []string{
		"SELECT VERSION()",
		"SELECT DATABASE()",
		iso,
		setting("sql_mode"),
		setting("lower_case_table_names"),
		stmtRollback,
	}
	return d
}

// parseVersion returns the leading dotted numbers of a server version,
// skipping MariaDB's "5.5.5-" replication prefix as SQLAlchemy does.
func parseVersion(s string) []int {
	s = strings.TrimPrefix(s, "5.5.5-")
	end := strings.IndexFunc(s, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end >= 0 {
		s = s[:end]
	}
	var out []int
	for _, p := range strings.Split(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			break
		}
		out = append(out, n)
	}
	return out
}

// atLeast compares the server version with the given one, part by part.
func (d dialect) atLeast(want ...int) bool {
	for i, w := range want {
		v := 0
		if i < len(d.version) {
			v = d.version[i]
		}
		if v != w {
			return v > w
		}
	}
	return true
}

// product names the server for ServerInfo.
func (d dialect) product() string {
	if d.mariadb {
		return "MariaDB"
	}
	return "MySQL"
}
