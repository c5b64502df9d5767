package pgdialect

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/celery-bench/bench/backends"
)

// dbCounters are the pg_stat_database columns ServerStats reports.
var dbCounters = []struct{ name, unit string }{
	{"xact_commit", "transactions"},
	{"xact_rollback", "transactions"},
	{"tup_returned", "rows"},
	{"tup_fetched", "rows"},
	{"tup_inserted", "rows"},
	{"tup_updated", "rows"},
	{"tup_deleted", "rows"},
	{"blks_read", "blocks"},
	{"blks_hit", "blocks"},
}

// snapshotStatements is how many statements (each its own autocommit
// transaction) one snapshot sends, so its own xact_commit.
const snapshotStatements = 4

// Sender sends one statement in autocommit (no BEGIN) and returns its
// result.
type Sender func(ctx context.Context, stmt string) (*pgconn.Result, error)

// ServerStats reads through send, on a connection of its own to bench's
// database (no BEGIN: every statement is its own transaction):
//
//   - pg_stat_database of the database (Counter): transactions, rows
//     returned/fetched/inserted/updated/deleted, blocks read and hit. The
//     statistics of a backend still connected reach the view when it goes
//     idle, at most once a second (PostgreSQL 15), or at its exit.
//   - table's n_live_tup and n_dead_tup from pg_stat_user_tables
//     and its table and index bytes (pg_table_size, pg_indexes_size)
//     (Gauge), when the table exists.
//   - wal_bytes (Counter): pg_current_wal_lsn() - '0/0'.
//   - backends.StatServerCPU (Counter, s) when the server listens on a
//     loopback address and its postmaster is visible here: utime + stime
//     of the postmaster and its live children, plus the cutime + cstime of
//     the children it has reaped (each connection is a process).
//
// host is the server's host as the URL names it: the CPU is read only for
// a loopback server.
func ServerStats(ctx context.Context, send Sender, host, table string) (backends.ServerStats, error) {
	var out backends.ServerStats
	cols := make([]string, len(dbCounters))
	for i, d := range dbCounters {
		cols[i] = d.name
	}
	r, err := send(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM pg_stat_database WHERE datname = current_database()")
	if err != nil {
		return nil, err
	}
	if len(r.Rows) == 1 {
		for i, d := range dbCounters {
			if v, err := strconv.ParseFloat(string(r.Rows[0][i]), 64); err == nil {
				var self float64
				if d.name == "xact_commit" {
					self = snapshotStatements
				}
				out = append(out, backends.Stat{Name: d.name, Unit: d.unit, Value: v, Kind: backends.Counter, Self: self})
			}
		}
	}
	r, err = send(ctx, "SELECT s.n_live_tup, s.n_dead_tup, pg_table_size(s.relid), pg_indexes_size(s.relid) FROM pg_stat_user_tables s WHERE s.relname = "+string(AppendString(nil, table))+" AND s.schemaname = current_schema()")
	if err != nil {
		return nil, err
	}
	if len(r.Rows) == 1 {
		for i, f := range []struct{ name, unit string }{{"n_live_tup", "rows"}, {"n_dead_tup", "rows"}, {"table_bytes", "bytes"}, {"index_bytes", "bytes"}} {
			if v, err := strconv.ParseFloat(string(r.Rows[0][i]), 64); err == nil {
				out = append(out, backends.Stat{Name: f.name, Unit: f.unit, Value: v, Kind: backends.Gauge})
			}
		}
	}
	r, err = send(ctx, "SELECT pg_current_wal_lsn() - '0/0'")
	if err != nil {
		return nil, err
	}
	if len(r.Rows) == 1 {
		if v, err := strconv.ParseFloat(string(r.Rows[0][0]), 64); err == nil {
			out = append(out, backends.Stat{Name: "wal_bytes", Unit: "bytes", Value: v, Kind: backends.Counter})
		}
	}
	if cpu, ok := serverCPU(ctx, send, host); ok {
		out = append(out, backends.Stat{Name: backends.StatServerCPU, Unit: "s", Value: cpu, Kind: backends.Counter})
	}
	return out, nil
}

// serverCPU returns the CPU seconds of the server's processes when the
// server is on this host: the postmaster's pid is the first line of
// postmaster.pid in data_directory. It always sends its one statement, so
// that every snapshot sends the same number.
func serverCPU(ctx context.Context, send Sender, host string) (float64, bool) {
	r, err := send(ctx, "SELECT current_setting('data_directory', true)")
	if err != nil || len(r.Rows) != 1 || r.Rows[0][0] == nil || !loopback(host) {
		return 0, false
	}
	data, err := os.ReadFile(filepath.Join(string(r.Rows[0][0]), "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0]))
	if err != nil {
		return 0, false
	}
	own, ok := procCPU(pid, true)
	if !ok {
		return 0, false
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return own, true
	}
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(child) != pid {
			continue
		}
		if v, ok := procCPU(child, true); ok {
			own += v
		}
	}
	return own, true
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// statFields returns the fields of /proc/<pid>/stat after the command name
// (f[0] is field 3, the state).
func statFields(pid int) []string {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func parentOf(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}

// procCPU returns utime + stime of pid, with its reaped children's
// cutime + cstime when children is set, in seconds (USER_HZ = 100).
func procCPU(pid int, children bool) (float64, bool) {
	f := statFields(pid)
	if len(f) < 15 {
		return 0, false
	}
	var t uint64
	n := 2
	if children {
		n = 4
	}
	for _, s := range f[11 : 11+n] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, false
		}
		t += v
	}
	return float64(t) / 100, true
}
