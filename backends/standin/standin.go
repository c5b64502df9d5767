// Package standin starts in-process stand-ins for the servers bench
// measures, so that `go run ./cmd/bench` works on a machine that has only Go:
// when nothing answers at 127.0.0.1:6379 or 127.0.0.1:3306 (see Reachable),
// bench starts StartRedis (miniredis) or StartMySQL (a small MySQL 8.0
// wire-protocol server of this package's own, standard library only) and
// points the backend at the URL it returns.
//
// The figures such a run produces are not representative of Redis or MySQL:
// both stand-ins are interpreters written for tests, running in bench's own
// process and competing with it for CPU, with no disk and no network in
// between. The embedded MySQL in particular runs one transaction at a time
// and keeps its rows in Go maps (see StartMySQL). Callers must label the
// results accordingly (backends.ServerInfo.Embedded).
//
// Nothing here runs at package initialisation: a program that links this
// package but starts no server pays nothing for it.
//
// Both servers listen on 127.0.0.1 only, on a port the kernel picks, write
// nothing to stdout or stderr, and keep everything in memory.
package standin

import (
	"context"
	"errors"
	"net"
	"runtime/debug"
	"sync"
	"time"
)

// A Server is a running embedded server. Its fields are set by the Start
// function and must not be changed.
type Server struct {
	// URL is the Celery result_backend URL that reaches the server:
	// "redis://127.0.0.1:PORT/0" or
	// "db+mysql://root@127.0.0.1:PORT/DATABASE".
	URL string
	// Addr is the server's TCP address, "127.0.0.1:PORT".
	Addr string
	// Product names the implementation: "miniredis" or
	// "bench-mysql-standin" (this package's own MySQL).
	Product string
	// Version is the Go module version of the implementation compiled into
	// this binary ("v2.40.0"; for the embedded MySQL, bench's own module
	// version, often "(devel)"), or "" when the binary carries no module
	// information (test binaries do not).
	Version string
	// ServerVersion is the version the server announces to clients: Redis
	// INFO's redis_version, or MySQL's handshake and SELECT VERSION().
	ServerVersion string

	closeOnce sync.Once
	closeErr  error
	close     func() error
}

// Close stops the server: it stops listening, closes every client
// connection and releases the server's memory. It returns once the server's
// goroutines have stopped serving. Close is safe to call more than once and
// from several goroutines; later calls return the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		if s.close != nil {
			s.closeErr = s.close()
		}
	})
	return s.closeErr
}

// Reachable reports whether a TCP connection to addr ("127.0.0.1:6379") can
// be opened within timeout. It closes the connection at once and sends
// nothing, so it says only that something listens there, not that it speaks
// Redis or MySQL. A cancelled ctx makes it return false.
func Reachable(ctx context.Context, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// loopback is the only address the embedded servers listen on.
const loopback = "127.0.0.1:0"

// listen opens a TCP listener on a free loopback port.
func listen(ctx context.Context) (net.Listener, error) {
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp4", loopback)
}

// moduleVersion returns the version of module path in this binary's build
// information, or "".
func moduleVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return ""
}

// connTracker is a listener that remembers the connections it accepted, so
// that Close can end them, and counts them until their server closes them,
// so that wait can tell when every connection handler has returned.
type connTracker struct {
	net.Listener
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
	open   sync.WaitGroup // accepted connections the server has not closed
}

func newConnTracker(l net.Listener) *connTracker {
	return &connTracker{Listener: l, conns: make(map[*trackedConn]struct{})}
}

func (t *connTracker) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, t: t}
	t.conns[tc] = struct{}{}
	t.open.Add(1)
	return tc, nil
}

// Close stops accepting and closes every connection still open under the
// server's feet; the server's own Close of each (when its handler returns)
// still counts. Close may be called more than once.
func (t *connTracker) Close() error {
	err := t.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	t.mu.Lock()
	t.closed = true
	conns := t.conns
	t.conns = make(map[*trackedConn]struct{})
	t.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return err
}

// wait returns when the server has closed every connection it accepted.
// Call it after Close.
func (t *connTracker) wait() { t.open.Wait() }

type trackedConn struct {
	net.Conn
	t    *connTracker
	once sync.Once
}

// Close is the server's close of the connection.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.t.mu.Lock()
		delete(c.t.conns, c)
		c.t.mu.Unlock()
		c.t.open.Done()
	})
	return err
}
