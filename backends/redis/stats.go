package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends"
)

var _ backends.StatsReader = (*backend)(nil)

// ServerStats reads INFO (its default sections) on a connection of its own
// and returns, in this order:
//
//   - used_memory (Gauge, bytes): what Redis's allocator holds, client
//     buffers included;
//   - mem_clients_normal (Gauge, bytes): the client buffers in it, which
//     come and go with connections and with Redis shrinking idle clients'
//     query buffers;
//   - keys and expires (Gauge) of the db bench uses, from the keyspace
//     section (0 when the db is empty);
//   - expired_keys, total_commands_processed, total_connections_received
//     (Counter), from stats, server-wide;
//   - used_cpu_sys, used_cpu_user and, on Redis 6.2+, their _main_thread
//     forms (Counter, s), and backends.StatServerCPU, their sum (sys + user
//     of the whole process).
//   - backends.StatRunID and backends.StatServerStarted (Identity), from
//     run_id and uptime_in_seconds, which backends.Restarted compares.
//
// The connection sends AUTH when the URL has credentials, then INFO:
// no CLIENT SETINFO and no SELECT, since INFO's keyspace lists every db.
// So one snapshot adds one connection and one command (two with AUTH), which
// Stat.Self records. A server that refuses INFO (a stand-in, or a renamed
// command) yields no figures and no error.
func (b *backend) ServerStats(ctx context.Context) (backends.ServerStats, error) {
	cfg := *b.cfg
	cfg.db, cfg.clientName = 0, ""
	raw := *b
	raw.cfg = &cfg
	raw.o.Celery = backends.Celery52 // no CLIENT SETINFO
	c, err := raw.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.nc.Close()
	var info any
	err = withConn(ctx, c, func() (err error) {
		info, err = c.roundTrip("INFO")
		return err
	})
	var se serverError
	if errors.As(err, &se) && !isAuthError(se) {
		return nil, nil
	}
	if err != nil {
		return nil, b.commandError("INFO", err)
	}
	s, _ := info.(string)
	self := 1.0
	if b.cfg.auth {
		self++
	}
	out := parseInfo(s, b.cfg.db, self)
	return append(out, identity(s, time.Now())...), nil
}

// identity returns the figures of INFO server that tell one run of the
// process from the next: run_id and, from uptime_in_seconds at now,
// backends.StatServerStarted.
func identity(info string, now time.Time) backends.ServerStats {
	var out backends.ServerStats
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "run_id":
			out = append(out, backends.Stat{Name: backends.StatRunID, Kind: backends.Identity, Text: v})
		case "uptime_in_seconds":
			if up, err := strconv.ParseFloat(v, 64); err == nil {
				out = append(out, backends.ServerStarted(now, up))
			}
		}
	}
	return out
}

// parseInfo turns an INFO reply into figures, for db. cmdSelf is how many
// commands one snapshot sends.
func parseInfo(info string, db int, cmdSelf float64) backends.ServerStats {
	fields := map[string]string{}
	keyspace := false // the reply has a keyspace section
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if strings.EqualFold(line, "# Keyspace") {
			keyspace = true
		}
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			fields[k] = v
		}
	}
	var out backends.ServerStats
	num := func(name string) (float64, bool) {
		v, ok := fields[name]
		if !ok {
			return 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	add := func(name, unit string, kind backends.StatKind, self float64) {
		if v, ok := num(name); ok {
			out = append(out, backends.Stat{Name: name, Unit: unit, Value: v, Kind: kind, Self: self})
		}
	}
	add("used_memory", "bytes", backends.Gauge, 0)
	add("mem_clients_normal", "bytes", backends.Gauge, 0)
	if keyspace {
		// "db10:keys=5,expires=5,avg_ttl=86399000"; no line for an empty db.
		var keys, expires float64
		for _, kv := range strings.Split(fields["db"+strconv.Itoa(db)], ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			switch k {
			case "keys":
				keys = n
			case "expires":
				expires = n
			}
		}
		out = append(out,
			backends.Stat{Name: "keys", Unit: "keys", Value: keys, Kind: backends.Gauge},
			backends.Stat{Name: "expires", Unit: "keys", Value: expires, Kind: backends.Gauge})
	}
	add("expired_keys", "keys", backends.Counter, 0)
	add("total_commands_processed", "commands", backends.Counter, cmdSelf)
	add("total_connections_received", "connections", backends.Counter, 1)
	add("used_cpu_sys", "s", backends.Counter, 0)
	add("used_cpu_user", "s", backends.Counter, 0)
	add("used_cpu_sys_main_thread", "s", backends.Counter, 0)
	add("used_cpu_user_main_thread", "s", backends.Counter, 0)
	sys, ok1 := num("used_cpu_sys")
	user, ok2 := num("used_cpu_user")
	if ok1 && ok2 {
		out = append(out, backends.Stat{Name: backends.StatServerCPU, Unit: "s", Value: sys + user, Kind: backends.Counter})
	}
	return out
}
