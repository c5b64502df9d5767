package standin

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// RedisVersion is the version the embedded Redis announces: miniredis's own
// answer to HELLO, which this package also returns as INFO server's
// redis_version.
const RedisVersion = "8.4.0"

// StartRedis starts miniredis on a free port of 127.0.0.1 and returns it once
// it accepts connections. It needs no password; Server.URL selects database
// 0. Server.Close stops it and discards the data.
//
// miniredis implements every command Celery's Redis result backend sends
// except two, which this package answers itself (outside MULTI):
//
//   - INFO server (miniredis knows only the clients and stats sections):
//     redis_version, redis_mode, server_name, miniredis_version, tcp_port,
//     process_id and uptime_in_seconds;
//   - CLIENT SETINFO (redis-py ≥ 5 and go-redis send it on every new
//     connection and ignore an error): OK, as Redis ≥ 7.2 answers.
//
// Keys with a TTL (SETEX) never expire: miniredis's clock only moves when a
// test tells it to. A run of bench is far shorter than Celery's
// result_expires (one day), so this changes nothing bench measures.
func StartRedis(ctx context.Context) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := miniredis.NewMiniRedis()
	if err := m.StartAddr(loopback); err != nil {
		return nil, fmt.Errorf("embedded: redis: %w", err)
	}
	x := &redisExtras{
		started: time.Now(),
		port:    m.Port(),
		version: moduleVersion("github.com/alicebob/miniredis/v2"),
		multi:   make(map[*server.Peer]bool),
	}
	m.Server().SetPreHook(x.hook)
	addr := m.Addr()
	return &Server{
		URL:           "redis://" + addr + "/0",
		Addr:          addr,
		Product:       "miniredis",
		Version:       x.version,
		ServerVersion: RedisVersion,
		close: func() error {
			m.Close() // closes the listener and every client, then waits
			return nil
		},
	}, nil
}

// redisExtras answers the commands miniredis lacks. miniredis calls hook
// before dispatching every command; hook returns true when it has written
// the reply itself.
type redisExtras struct {
	started time.Time
	port    string
	version string

	mu    sync.Mutex
	multi map[*server.Peer]bool // peers between MULTI and EXEC/DISCARD
}

func (x *redisExtras) hook(c *server.Peer, cmd string, args ...string) bool {
	switch cmd {
	case "MULTI":
		x.mu.Lock()
		if _, seen := x.multi[c]; !seen {
			c.OnDisconnect(func() {
				x.mu.Lock()
				delete(x.multi, c)
				x.mu.Unlock()
			})
		}
		x.multi[c] = true
		x.mu.Unlock()
		return false
	case "EXEC", "DISCARD":
		x.mu.Lock()
		if x.multi[c] {
			x.multi[c] = false
		}
		x.mu.Unlock()
		return false
	case "INFO", "CLIENT":
	default:
		return false
	}
	x.mu.Lock()
	queued := x.multi[c]
	x.mu.Unlock()
	if queued {
		return false // miniredis queues it (and fails it at EXEC)
	}
	switch {
	case cmd == "INFO" && len(args) == 1 && strings.EqualFold(args[0], "server"):
		c.WriteBulk(x.infoServer())
		return true
	case cmd == "CLIENT" && len(args) == 3 && strings.EqualFold(args[0], "SETINFO"):
		switch strings.ToUpper(args[1]) {
		case "LIB-NAME", "LIB-VER":
			c.WriteOK()
		default:
			c.WriteError("ERR Unrecognized option '" + args[1] + "'")
		}
		return true
	}
	return false
}

func (x *redisExtras) infoServer() string {
	var b strings.Builder
	b.WriteString("# Server\r\n")
	fmt.Fprintf(&b, "redis_version:%s\r\n", RedisVersion)
	b.WriteString("redis_mode:standalone\r\n")
	b.WriteString("server_name:miniredis\r\n")
	if x.version != "" {
		fmt.Fprintf(&b, "miniredis_version:%s\r\n", x.version)
	}
	fmt.Fprintf(&b, "process_id:%d\r\n", os.Getpid())
	fmt.Fprintf(&b, "tcp_port:%s\r\n", x.port)
	fmt.Fprintf(&b, "uptime_in_seconds:%d\r\n", int64(time.Since(x.started)/time.Second))
	return b.String()
}
