package backends

import (
	"context"
	"fmt"
	"math"
	"time"
)

// A StatsReader is a Backend that can report what its server has spent:
// memory, rows, commands, connections, CPU. It is optional; the harness
// type-asserts for it, takes one snapshot before the measured window and one
// after, and reports DiffStats and PerTask of the two.
//
// ServerStats opens a connection of its own for each call (it is not a
// session's), and is safe for concurrent use, though two snapshots taken at
// once see each other's traffic. A figure the server does not expose is left
// out rather than reported as an error; the error is for a server that
// cannot be asked at all.
type StatsReader interface {
	ServerStats(ctx context.Context) (ServerStats, error)
}

// StatKind says how two readings of a Stat combine.
type StatKind uint8

const (
	// Gauge is a level at the moment of the snapshot (bytes of memory,
	// keys, rows); a difference keeps the later reading.
	Gauge StatKind = iota
	// Counter only grows while the server runs (commands processed, rows
	// read, CPU seconds); a difference subtracts.
	Counter
	// Identity tells one run of the server process from the next: when
	// it started (StatServerStarted) or its run id (StatRunID, in Text).
	// It is no figure of the traffic: DiffStats leaves it out, and
	// Restarted compares it.
	Identity
)

func (k StatKind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Identity:
		return "identity"
	}
	return "gauge"
}

// A Stat is one named figure of a server.
type Stat struct {
	// Name is the server's own name for the figure where it has one
	// ("used_memory", "Innodb_rows_read"), so it can be looked up in the
	// server's documentation, or one of the Stat* constants for figures
	// every backend reports the same way.
	Name string
	// Unit is what Value counts, plural: "bytes", "keys", "rows",
	// "commands", "connections", "statements", "s" (seconds).
	Unit  string
	Value float64
	Kind  StatKind
	// Self is how much taking one snapshot adds to a Counter (its own
	// connection, its own commands), as far as it is known exactly. Any
	// two snapshots of one server taken one after the other by a backend
	// include exactly one snapshot's worth between them; DiffStats
	// subtracts it, so a difference counts the measured traffic alone.
	Self float64
	// Text is an Identity's value when it is not a number (a run id).
	Text string
}

// ServerStats is one snapshot of a server's figures, in the backend's order
// (the order the formats print). It is owned by the caller.
type ServerStats []Stat

// Get returns the named figure and whether the snapshot has it.
func (s ServerStats) Get(name string) (Stat, bool) {
	for _, st := range s {
		if st.Name == name {
			return st, true
		}
	}
	return Stat{}, false
}

// Names of figures that every backend reporting them reports under the same
// name and unit, so the derivations of PerTask work across backends.
const (
	// StatServerCPU is the CPU time (user + system, every thread) the
	// server process has used since it started, in seconds (Counter).
	StatServerCPU = "server_cpu"
	// StatServerStarted is when the server process started, in seconds
	// since the Unix epoch (Identity): the snapshot's clock less the
	// server's uptime, so good to a second or so.
	StatServerStarted = "server_started"
	// StatRunID is the server's own id of its process's run (Identity,
	// in Text): Redis's run_id, new at every start.
	StatRunID = "run_id"
)

// ServerStarted returns the StatServerStarted figure of a server up for
// uptime seconds at now.
func ServerStarted(now time.Time, uptime float64) Stat {
	return Stat{Name: StatServerStarted, Unit: "s", Kind: Identity, Value: float64(now.UnixNano())/1e9 - uptime}
}

// startedSlack is how far two StatServerStarted readings of one process
// may differ: uptime is whole seconds, and the snapshot's clock is read
// around the query.
const startedSlack = 2.5

// Restarted reports whether the server restarted between the snapshots
// before and after, and how it shows: its run id changed, its uptime says
// it started after before was taken, or (when it reports neither) a
// counter went down. Server-cost figures derived from such snapshots mean
// nothing.
func Restarted(before, after ServerStats) (string, bool) {
	if b, ok := before.Get(StatRunID); ok {
		if a, ok := after.Get(StatRunID); ok && a.Text != b.Text {
			return "its run_id changed", true
		}
	}
	if b, ok := before.Get(StatServerStarted); ok {
		if a, ok := after.Get(StatServerStarted); ok && a.Value-b.Value > startedSlack {
			return fmt.Sprintf("its uptime says it started %.0f s after the first snapshot", math.Round(a.Value-b.Value)), true
		}
	}
	for _, a := range after {
		if a.Kind != Counter {
			continue
		}
		if b, ok := before.Get(a.Name); ok && a.Value < b.Value {
			return a.Name + " went down (a restart, or its statistics were reset)", true
		}
	}
	return "", false
}

// DiffStats returns what the server did between two snapshots of it, in
// after's order: for a Counter, after minus before minus one snapshot's own
// cost (Stat.Self); for a Gauge, after's reading. A Counter that before
// lacks, or that went backwards (the server restarted, or its statistics
// were reset in between), is left out: its difference means nothing. A
// figure that only before has is left out too.
func DiffStats(before, after ServerStats) ServerStats {
	out := make(ServerStats, 0, len(after))
	for _, a := range after {
		if a.Kind == Identity {
			continue
		}
		if a.Kind != Counter {
			out = append(out, a)
			continue
		}
		b, ok := before.Get(a.Name)
		if !ok || a.Value < b.Value {
			continue
		}
		d := a
		d.Value = a.Value - b.Value - a.Self
		if d.Value < 0 {
			d.Value = 0
		}
		d.Self = 0
		out = append(out, d)
	}
	return out
}

// PerTask derives, from two snapshots taken around a run of tasks tasks,
// the figures that compare backends: what the server spent per task, and
// what it keeps per stored result. Every figure is a Gauge named in words
// with its unit ("server CPU per task", "µs"); figures whose inputs either
// snapshot lacks are left out, and so is everything per task when tasks is
// not positive.
//
//   - server CPU per task (µs): StatServerCPU.
//   - Redis: commands per task; connections per task. (Memory per result
//     needs snapshots of an idle server: ResultMemory.)
//   - MySQL/MariaDB: InnoDB rows written per task (inserted + updated +
//     deleted) and InnoDB rows read per task, or, from a MariaDB 10.6+
//     that does not count InnoDB's rows, rows written per task
//     (Handler_write + _update + _delete) and rows read per task
//     (Rows_read), which count every engine's; statements per task (the sum of
//     Com_select, _insert, _update, _delete, _commit and _rollback), fsyncs
//     per task,
//     connections per task, bytes received and sent per task, and data +
//     index bytes per row (the table's size over its row count at the
//     after snapshot; InnoDB's row count is an estimate, and its sizes
//     move in 16 KiB pages).
func PerTask(before, after ServerStats, tasks int64) ServerStats {
	d := DiffStats(before, after)
	var out ServerStats
	add := func(name, unit string, v float64) {
		out = append(out, Stat{Name: name, Unit: unit, Value: v, Kind: Gauge})
	}
	sum := func(s ServerStats, names ...string) (float64, bool) {
		var t float64
		for _, n := range names {
			st, ok := s.Get(n)
			if !ok {
				return 0, false
			}
			t += st.Value
		}
		return t, true
	}
	perTask := func(name, unit string, names ...string) {
		if tasks <= 0 {
			return
		}
		if v, ok := sum(d, names...); ok {
			add(name, unit, v/float64(tasks))
		}
	}
	if tasks > 0 {
		if v, ok := sum(d, StatServerCPU); ok {
			add("server CPU per task", "µs", v*1e6/float64(tasks))
		}
	}
	// Redis.
	perTask("commands per task", "commands", "total_commands_processed")
	perTask("connections per task", "connections", "total_connections_received")
	// MySQL / MariaDB.
	if _, ok := d.Get("Innodb_rows_inserted"); ok {
		perTask("InnoDB rows written per task", "rows", "Innodb_rows_inserted", "Innodb_rows_updated", "Innodb_rows_deleted")
		perTask("InnoDB rows read per task", "rows", "Innodb_rows_read")
	} else {
		perTask("rows written per task", "rows", "Handler_write", "Handler_update", "Handler_delete")
		perTask("rows read per task", "rows", "Rows_read")
	}
	perTask("statements per task", "statements", "Com_select", "Com_insert", "Com_update", "Com_delete", "Com_commit", "Com_rollback")
	perTask("fsyncs per task", "fsyncs", "Innodb_data_fsyncs")
	perTask("connections per task", "connections", "Connections")
	perTask("bytes received per task", "bytes", "Bytes_received")
	perTask("bytes sent per task", "bytes", "Bytes_sent")
	// PostgreSQL.
	perTask("transactions per task", "transactions", "xact_commit", "xact_rollback")
	perTask("rows written per task", "rows", "tup_inserted", "tup_updated", "tup_deleted")
	perTask("WAL bytes per task", "bytes", "wal_bytes")
	if tasks > 0 {
		b, ok1 := before.Get("n_dead_tup")
		a, ok2 := after.Get("n_dead_tup")
		if ok1 && ok2 {
			add("dead tuples left per task", "rows", (a.Value-b.Value)/float64(tasks))
		}
	}
	if size, ok := sum(after, "table_bytes", "index_bytes"); ok {
		if rows, ok := sum(after, "n_live_tup"); ok && rows > 0 {
			add("table+index bytes per row", "bytes", size/rows)
		}
	}
	if size, ok := sum(after, "data_length", "index_length"); ok {
		if rows, ok := sum(after, "table_rows"); ok && rows > 0 {
			add("data+index bytes per row", "bytes", size/rows)
		}
	}
	return out
}

// ResultMemory derives "memory per result" (bytes) on Redis: the growth of
// used_memory, less client buffers (mem_clients_normal) where the server
// reports them, divided by the growth of the db's keys. It measures what
// the results a run left behind cost only when both snapshots are of a
// server with none of the run's connections open, the after one taken
// before Cleanup: a connection's query buffer is allocated when it first
// sends and shrunk once it idles, which moved used_memory by half a
// megabyte between two snapshots taken during a short run. It reports
// false unless both memory and keys grew.
func ResultMemory(before, after ServerStats) (Stat, bool) {
	mem := func(s ServerStats) (float64, bool) {
		m, ok := s.Get("used_memory")
		if !ok {
			return 0, false
		}
		if c, ok := s.Get("mem_clients_normal"); ok {
			return m.Value - c.Value, true
		}
		return m.Value, true
	}
	mb, ok1 := mem(before)
	ma, ok2 := mem(after)
	kb, ok3 := before.Get("keys")
	ka, ok4 := after.Get("keys")
	if !ok1 || !ok2 || !ok3 || !ok4 || ka.Value <= kb.Value || ma <= mb {
		return Stat{}, false
	}
	return Stat{Name: "memory per result", Unit: "bytes", Value: (ma - mb) / (ka.Value - kb.Value), Kind: Gauge}, true
}
