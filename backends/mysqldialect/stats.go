package mysqldialect

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
)

// globalStatus are the SHOW GLOBAL STATUS counters ServerStats reports, in
// order, with their units.
var globalStatus = []struct{ name, unit string }{
	{"Innodb_rows_read", "rows"},
	{"Innodb_rows_inserted", "rows"},
	{"Innodb_rows_updated", "rows"},
	{"Innodb_rows_deleted", "rows"},
	{"Rows_read", "rows"},
	{"Handler_write", "rows"},
	{"Handler_update", "rows"},
	{"Handler_delete", "rows"},
	{"Connections", "connections"},
	{"Com_select", "statements"},
	{"Com_insert", "statements"},
	{"Com_update", "statements"},
	{"Com_delete", "statements"},
	{"Com_commit", "statements"},
	{"Com_rollback", "statements"},
	{"Innodb_data_fsyncs", "fsyncs"},
	{"Bytes_received", "bytes"},
	{"Bytes_sent", "bytes"},
}

// uptime is the counter reported as backends.StatServerStarted when
// StatsTarget.Uptime asks for it (after globalStatus).
var uptime = struct{ name, unit string }{"Uptime", "s"}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat:
// 100 on every Linux architecture.
const clockTicks = 100

// Exec sends one statement that returns no rows.
type Exec func(ctx context.Context, stmt string) error

// Rows sends a statement and calls fn with the column names and each row.
// The row's values ([]byte, int64 or nil) are valid only during the call.
type Rows func(ctx context.Context, stmt string, fn func(cols []string, row []driver.Value)) error

// StatsTarget is what ServerStats reads about.
type StatsTarget struct {
	Addr     string // host:port as the URL names it: the CPU is read only on a loopback address
	Database string // bench's database
	Table    string // the table whose figures it reports
	// MySQL8 is a MySQL (not MariaDB) server of version 8 or later, told
	// information_schema_stats_expiry = 0.
	MySQL8 bool
	// Uptime adds Uptime to SHOW GLOBAL STATUS and reports it as
	// backends.StatServerStarted.
	Uptime bool
}

// ServerStats reads, through exec and rows on an admin connection of its
// own (no database, no setup statements), in this order:
//
//   - t.Table's table_rows (an estimate on InnoDB), data_length
//     and index_length (Gauge; InnoDB counts them in 16 KiB pages), from
//     SHOW TABLE STATUS in bench's database, which are
//     information_schema.TABLES' figures. ANALYZE TABLE runs first so that
//     InnoDB's statistics are current (it would otherwise refresh them
//     only after a tenth of the rows changed, and later, in the
//     background); MySQL 8 is also told information_schema_stats_expiry
//     = 0. They are left out while the database or table does not exist.
//   - the SHOW GLOBAL STATUS counters of globalStatus that the server has
//     (Counter): MySQL and MariaDB before 10.6 count InnoDB's rows in
//     Innodb_rows_*; MariaDB 10.6+ does not, and its Rows_read and
//     Handler_write, _update and _delete count the rows of every engine
//     (MariaDB's SEQUENCE engine included).
//   - with t.Uptime, backends.StatServerStarted (Identity), from Uptime,
//     which backends.Restarted compares.
//   - backends.StatServerCPU (Counter, s): utime + stime of the server's
//     process from /proc/<pid>/stat, when the server listens on a loopback
//     address and its process is visible here: the pid in @@pid_file, or
//     else the only mariadbd or mysqld process. Otherwise it is left out.
//
// It sends only SHOW, SET and ANALYZE statements, so it moves none of the
// Com_* or row counters it reports. One snapshot adds one connection
// (Stat.Self), and its own traffic to Bytes_received and Bytes_sent, which
// Self does not cover: a difference of two snapshots includes about 2 KB
// that are the snapshots'.
func ServerStats(ctx context.Context, exec Exec, rows Rows, t StatsTarget) (backends.ServerStats, error) {
	var out backends.ServerStats

	if t.MySQL8 {
		if err := exec(ctx, "SET SESSION information_schema_stats_expiry = 0"); err != nil {
			return nil, err
		}
	}
	// Refresh InnoDB's persistent statistics, which it otherwise updates
	// only after a tenth of the table has changed and then in the
	// background, so that the sizes are current. The result says whether
	// it worked; when it did not (no table yet, no privilege) the figures
	// are what InnoDB last computed.
	if err := rows(ctx, "ANALYZE TABLE `"+t.Database+"`."+t.Table, func([]string, []driver.Value) {}); ctx.Err() != nil {
		return nil, err
	}
	table := map[string]float64{}
	stmt := "SHOW TABLE STATUS FROM `" + t.Database + "` LIKE '" + t.Table + "'"
	err := rows(ctx, stmt, func(cols []string, row []driver.Value) {
		if len(cols) == 0 || cols[0] != "Name" || string(backends.ValueBytes(row[0])) != t.Table {
			return // LIKE's _ matches any character
		}
		for i, col := range cols {
			switch col {
			case "Rows", "Data_length", "Index_length":
				if n, err := strconv.ParseFloat(string(backends.ValueBytes(row[i])), 64); err == nil {
					table[col] = n
				}
			}
		}
	})
	var me *mysql.MySQLError
	if errors.As(err, &me) && me.Number == 1049 { // ER_BAD_DB_ERROR: not prepared yet
		err = nil
	}
	if err != nil {
		return nil, err
	}
	for _, f := range []struct{ col, name string }{{"Rows", "table_rows"}, {"Data_length", "data_length"}, {"Index_length", "index_length"}} {
		if v, ok := table[f.col]; ok {
			unit := "bytes"
			if f.col == "Rows" {
				unit = "rows"
			}
			out = append(out, backends.Stat{Name: f.name, Unit: unit, Value: v, Kind: backends.Gauge})
		}
	}

	counters := globalStatus
	if t.Uptime {
		counters = append(counters[:len(counters):len(counters)], uptime)
	}
	names := make([]string, len(counters))
	for i, g := range counters {
		names[i] = "'" + g.name + "'"
	}
	status := map[string]float64{}
	err = rows(ctx, "SHOW GLOBAL STATUS WHERE Variable_name IN ("+strings.Join(names, ", ")+")", func(_ []string, row []driver.Value) {
		if n, err := strconv.ParseFloat(string(backends.ValueBytes(row[1])), 64); err == nil {
			status[strings.ToLower(string(backends.ValueBytes(row[0])))] = n
		}
	})
	if err != nil {
		return nil, err
	}
	for _, g := range counters {
		v, ok := status[strings.ToLower(g.name)]
		if !ok {
			continue
		}
		if g == uptime {
			out = append(out, backends.ServerStarted(time.Now(), v))
			continue
		}
		var self float64
		if g.name == "Connections" {
			self = 1
		}
		out = append(out, backends.Stat{Name: g.name, Unit: g.unit, Value: v, Kind: backends.Counter, Self: self})
	}

	if cpu, ok := serverCPU(ctx, rows, t.Addr); ok {
		out = append(out, backends.Stat{Name: backends.StatServerCPU, Unit: "s", Value: cpu, Kind: backends.Counter})
	}
	return out, nil
}

// serverCPU returns the server process's CPU seconds (user + system, all
// threads) when the server is on this host and its process can be read.
func serverCPU(ctx context.Context, rows Rows, addr string) (float64, bool) {
	if !loopback(addr) {
		return 0, false
	}
	var pidFile string
	_ = rows(ctx, "SHOW GLOBAL VARIABLES LIKE 'pid_file'", func(_ []string, row []driver.Value) {
		pidFile = string(backends.ValueBytes(row[1]))
	})
	if pidFile != "" {
		if !filepath.IsAbs(pidFile) { // relative to the data directory
			_ = rows(ctx, "SHOW GLOBAL VARIABLES LIKE 'datadir'", func(_ []string, row []driver.Value) {
				pidFile = filepath.Join(string(backends.ValueBytes(row[1])), pidFile)
			})
		}
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && isServer(pid) {
				return procCPU(pid)
			}
		}
	}
	// The pid file is not readable here, or names a pid of another pid
	// namespace: take the only server process there is.
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, false
	}
	found := 0
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !isServer(pid) {
			continue
		}
		if found != 0 {
			return 0, false // more than one: which is ours is unknown
		}
		found = pid
	}
	if found == 0 {
		return 0, false
	}
	return procCPU(found)
}

// loopback reports whether addr (host:port) is on this host.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isServer reports whether pid is a mariadbd or mysqld process.
func isServer(pid int) bool {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	if err != nil {
		return false
	}
	switch strings.TrimSpace(string(comm)) {
	case "mariadbd", "mysqld":
		return true
	}
	return false
}

// procCPU returns utime + stime of pid, in seconds.
func procCPU(pid int) (float64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	return parseProcStat(string(data))
}

// parseProcStat reads utime and stime (fields 14 and 15, in clock ticks)
// from the text of /proc/<pid>/stat, whose second field, the command name
// in parentheses, may hold spaces and parentheses itself.
func parseProcStat(s string) (float64, bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(utime+stime) / clockTicks, true
}
