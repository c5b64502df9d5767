// Package redis is Celery's Redis result backend (celery.backends.redis,
// RedisBackend and its pub/sub ResultConsumer) as bench drives it. Its
// promise is fidelity: every connection carries the same commands, with the
// same upper-case names and the same value bytes, as a Celery process with
// the JSON result serializer sends them (the reference captures are in
// shared/reference/celery-redis-backend.md).
//
//   - A Worker is one prefork child: one connection. A state write is
//     GET celery-task-meta-<id>, then, unless the record already says
//     SUCCESS, one pipeline MULTI; SETEX key <result_expires> <json>;
//     PUBLISH key <json>; EXEC (SET instead of SETEX when result_expires is
//     None).
//   - A Caller is one web process: a command connection for GET and DEL,
//     and a pub/sub connection, opened at the first SUBSCRIBE, on which it
//     SUBSCRIBEs when a task is sent, waits for the ready message after one
//     GET, and UNSUBSCRIBEs twice when the task is ready and once more when
//     the AsyncResult is released.
//   - Every new connection runs redis-py's handshake: AUTH with a password,
//     CLIENT SETNAME with a client_name, CLIENT SETINFO LIB-NAME and LIB-VER
//     for Celery 5.6 (which brings redis-py 5), and SELECT when the db is
//     not 0; nothing else, and no HELLO.
//
// Command connections are go-redis clients of one connection each; the
// pub/sub connection, the handshakes and the harness's own commands
// (Prepare, Cleanup, INFO) use a small RESP2 client of this package.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/celery-bench/bench/backends"
)

func init() {
	backends.Register(backends.Meta{
		Name:        "redis",
		Schemes:     []string{"redis", "rediss"},
		Description: "Redis, as Celery's RedisBackend: GET + MULTI/SETEX/PUBLISH/EXEC writes, pub/sub waits",
		DefaultURL:  "redis://127.0.0.1:6379/0",
		Open:        open,
	})
}

// What redis-py 5 sends in CLIENT SETINFO. Celery 5.6 requires kombu 5.6,
// which allows redis-py 4.5.2 to 6.x; 5.2.1 is the line bench reproduces.
const (
	redisPyName    = "redis-py"
	redisPyVersion = "5.2.1"
)

var (
	_ backends.Backend = (*backend)(nil)
	_ backends.Worker  = (*worker)(nil)
	_ backends.Caller  = (*caller)(nil)
)

// backend is immutable after open, so its methods are safe for concurrent
// use. It holds no connection of its own: every session dials its own, and
// Prepare and Cleanup open one for their duration.
type backend struct {
	cfg *config
	o   backends.Options
	// connectTimeout bounds each dial and handshake.
	connectTimeout time.Duration
	// expires is the SETEX argument ("86400"), nil for a plain SET.
	expires any
	server  backends.ServerInfo
}

func open(ctx context.Context, u *url.URL, o backends.Options) (backends.Backend, error) {
	cfg, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	if o.ResultExpires < 0 {
		return nil, fmt.Errorf("redis: result_expires %v is negative", o.ResultExpires)
	}
	b := &backend{cfg: cfg, o: o, connectTimeout: o.ConnectTimeout}
	if b.connectTimeout <= 0 {
		b.connectTimeout = backends.DefaultOptions.ConnectTimeout
	}
	if cfg.connectTimeout > 0 && cfg.connectTimeout < b.connectTimeout {
		b.connectTimeout = cfg.connectTimeout
	}
	// Celery: int(result_expires.total_seconds()); 0 is falsy and means SET.
	if secs := int64(o.ResultExpires / time.Second); secs > 0 {
		b.expires = strconv.FormatInt(secs, 10)
	}
	c, err := b.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.nc.Close()
	version, err := b.serverVersion(ctx, c)
	if err != nil {
		return nil, err
	}
	b.server = backends.ServerInfo{Product: "Redis", Version: version}
	return b, nil
}

// serverVersion asks INFO server for redis_version. A server that refuses
// INFO (a stand-in such as miniredis, or a renamed command) is not an
// error; its version is unknown.
func (b *backend) serverVersion(ctx context.Context, c *conn) (string, error) {
	var info any
	err := withConn(ctx, c, func() (err error) {
		info, err = c.roundTrip("INFO", "server")
		return err
	})
	var se serverError
	if errors.As(err, &se) && !strings.HasPrefix(string(se), "NOAUTH") && !strings.HasPrefix(string(se), "NOPERM") {
		return "", nil
	}
	if err != nil {
		return "", b.commandError("INFO", err)
	}
	s, _ := info.(string)
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", nil
}

func (b *backend) Server() backends.ServerInfo { return b.server }

// Close releases nothing: the backend keeps no connection of its own.
func (b *backend) Close() error { return nil }

func (b *backend) observer(obs backends.Observer) backends.Observer {
	if obs == nil {
		return backends.Discard
	}
	return obs
}

// dial opens a connection and runs redis-py's handshake on it, within
// b.connectTimeout.
func (b *backend) dial(parent context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(parent, b.connectTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", b.cfg.addr)
	if err != nil {
		if perr := parent.Err(); perr != nil {
			return nil, wrap(perr, "connecting to %s", b.cfg.addr)
		}
		return nil, &connectError{addr: b.cfg.addr, err: err}
	}
	if b.cfg.tls != nil {
		tc := tls.Client(nc, b.cfg.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, wrap(err, "TLS handshake with %s failed (rediss:// in --backend; is that port TLS?)", b.cfg.addr)
		}
		nc = tc
	}
	c := newConn(nc)
	if !b.sendsHandshake() {
		return c, nil
	}
	if err := withConn(ctx, c, func() error { return b.handshake(c) }); err != nil {
		nc.Close()
		if perr := parent.Err(); perr != nil {
			return nil, wrap(perr, "connecting to %s", b.cfg.addr)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, wrap(err, "%s accepted the connection but did not answer within %v", b.cfg.addr, b.connectTimeout)
		}
		return nil, err
	}
	return c, nil
}

// sendsHandshake reports whether a new connection sends anything before
// its first command.
func (b *backend) sendsHandshake() bool {
	return b.cfg.auth || b.cfg.clientName != "" || b.o.Celery.AtLeast(5, 6) || b.cfg.db != 0
}

// handshake sends what redis-py's Connection.on_connect sends, one round
// trip per command, in its order: AUTH, CLIENT SETNAME, CLIENT SETINFO
// LIB-NAME and LIB-VER (redis-py 5, for Celery 5.6; an error reply from a
// server older than 7.2 is ignored, as redis-py ignores it), SELECT.
func (b *backend) handshake(c *conn) error {
	if b.cfg.auth {
		args := []string{"AUTH", b.cfg.password}
		if b.cfg.username != "" {
			args = []string{"AUTH", b.cfg.username, b.cfg.password}
		}
		if _, err := c.roundTrip(args...); err != nil {
			return b.commandError("AUTH", err)
		}
	}
	if b.cfg.clientName != "" {
		if _, err := c.roundTrip("CLIENT", "SETNAME", b.cfg.clientName); err != nil {
			return b.commandError("CLIENT SETNAME", err)
		}
	}
	if b.o.Celery.AtLeast(5, 6) {
		for _, kv := range [...][2]string{{"LIB-NAME", redisPyName}, {"LIB-VER", redisPyVersion}} {
			_, err := c.roundTrip("CLIENT", "SETINFO", kv[0], kv[1])
			var se serverError
			if err != nil && (!errors.As(err, &se) || isAuthError(se)) {
				return b.commandError("CLIENT SETINFO", err)
			}
		}
	}
	if b.cfg.db != 0 {
		if _, err := c.roundTrip("SELECT", strconv.Itoa(b.cfg.db)); err != nil {
			return b.commandError("SELECT", err)
		}
	}
	return nil
}

// isAuthError reports a reply that redis-py raises as AuthenticationError
// or NoPermissionError rather than ignoring.
func isAuthError(se serverError) bool {
	return strings.HasPrefix(string(se), "NOAUTH") || strings.HasPrefix(string(se), "WRONGPASS") ||
		strings.HasPrefix(string(se), "NOPERM")
}

// commandError explains a failed command of the handshake or of the
// harness, naming the fix. Network errors are returned as they are.
func (b *backend) commandError(cmd string, err error) error {
	var se serverError
	if !errors.As(err, &se) {
		if errors.Is(err, errProtocol) {
			return wrap(err, "%s", b.cfg.addr)
		}
		return wrap(err, "%s to %s", cmd, b.cfg.addr)
	}
	msg := string(se)
	switch {
	case cmd == "AUTH" || strings.HasPrefix(msg, "WRONGPASS"):
		return fmt.Errorf("redis: %s rejected the credentials in --backend (%w)", b.cfg.addr, se)
	case strings.HasPrefix(msg, "NOAUTH"):
		return fmt.Errorf("redis: %s requires a password; put it in --backend as redis://:PASSWORD@%s/%d (%w)", b.cfg.addr, b.cfg.addr, b.cfg.db, se)
	case strings.HasPrefix(msg, "NOPERM"):
		return fmt.Errorf("redis: the user in --backend may not run %s on %s (%w)", cmd, b.cfg.addr, se)
	case cmd == "SELECT":
		return fmt.Errorf("redis: %s has no db %d; use an index below its \"databases\" setting (16 by default) in --backend (%w)", b.cfg.addr, b.cfg.db, se)
	}
	return wrap(se, "%s on %s", cmd, b.cfg.addr)
}

// aLongTimeAgo is a deadline that makes a blocked read or write return at
// once.
var aLongTimeAgo = time.Unix(1, 0)

// withConn runs fn, which does I/O on c, within ctx: c gets ctx's deadline,
// and a cancellation interrupts fn. It is for connections that are closed
// or discarded when fn fails; the caller's pub/sub connection, which lives
// on, uses caller.arm instead. When ctx ends first, the error wraps
// ctx.Err().
func withConn(ctx context.Context, c *conn, fn func() error) error {
	if dl, ok := ctx.Deadline(); ok {
		c.nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(aLongTimeAgo) })
	err := fn()
	stopped := stop()
	if err != nil {
		if cerr := ctxCause(ctx, err); cerr != nil {
			return cerr
		}
		return err
	}
	if !stopped {
		return ctx.Err()
	}
	c.nc.SetDeadline(time.Time{})
	return nil
}

// ctxCause returns ctx.Err() when err is due to ctx: any error once ctx
// has ended, or a deadline error from a connection whose deadline is ctx's
// (ctx itself notices a moment later, so this waits for it, briefly).
// Otherwise it returns nil.
func ctxCause(ctx context.Context, err error) error {
	if ctx.Err() == nil && errors.Is(err, os.ErrDeadlineExceeded) && ctx.Done() != nil {
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	return ctx.Err()
}

// newClient returns a go-redis client of one connection that sends exactly
// what redis-py sends. first, if not nil, is an already dialled connection
// it takes as its first; later connections (after an error) are dialled
// with b.dial.
//
// go-redis v9 sends "hello 2" on every new connection even with
// Protocol 2, which redis-py never does; the connection's first write is
// answered locally with an error reply instead (helloShim), so go-redis
// carries on in RESP2 exactly as against a server without HELLO. Identity
// (CLIENT SETINFO), retries and maintenance notifications are off, and the
// pool holds one connection, which pipelines share (v9.19 has no separate
// pipeline pool; v9.23 would need PipelinePoolSize: -1 for the same).
func (b *backend) newClient(first *conn) client { return b.newClientDial(first, b.dial) }

// newClientDial is newClient opening its connections (all but first) with
// dial, which go-redis may call from a goroutine of its own.
func (b *backend) newClientDial(first *conn, dial func(context.Context) (*conn, error)) client {
	pre := new(atomic.Pointer[conn])
	pre.Store(first)
	timeout := b.cfg.socketTimeout
	if timeout <= 0 {
		timeout = -1 // no timeout
	}
	return client{pre: pre, Client: goredis.NewClient(&goredis.Options{
		Addr: b.cfg.addr,
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			c := pre.Swap(nil)
			if c == nil {
				var err error
				if c, err = dial(ctx); err != nil {
					return nil, err
				}
			}
			if c.br.Buffered() > 0 {
				c.nc.Close()
				return nil, fmt.Errorf("redis: %s sent bytes nobody asked for after the handshake", b.cfg.addr)
			}
			return newHelloShim(c.nc), nil
		},
		Protocol:                 2,
		DisableIdentity:          true,
		PoolSize:                 1,
		MaxIdleConns:             1,
		MaxRetries:               -1,
		DialerRetries:            1,
		DialTimeout:              b.connectTimeout,
		ReadTimeout:              timeout,
		WriteTimeout:             timeout,
		ContextTimeoutEnabled:    true,
		ConnMaxIdleTime:          -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})}
}

// client is a go-redis client of one connection, with the dialled
// connection it has not taken yet.
type client struct {
	*goredis.Client
	pre *atomic.Pointer[conn]
}

// Close closes the connection, taken or not.
func (c client) Close() error {
	if p := c.pre.Swap(nil); p != nil {
		p.nc.Close()
	}
	return c.Client.Close()
}

// helloCmd is the first command go-redis v9 writes on a new connection.
var helloCmd = []byte("*2\r\n$5\r\nhello\r\n$1\r\n2\r\n")

// helloReply is what helloShim answers it with: any error reply makes
// go-redis fall back to RESP2 without further commands.
var helloReply = []byte("-ERR HELLO not sent: Celery's redis-py speaks RESP2 without it\r\n")

// helloShim keeps go-redis's HELLO off the wire: if the first write is
// exactly helloCmd it is dropped and helloReply is read back instead. Every
// other write and read passes through.
type helloShim struct {
	net.Conn
	first bool   // no write yet
	reply []byte // the unread rest of helloReply
}

// helloShimSys is a helloShim over a connection with a file descriptor,
// which go-redis's pool peeks at to detect a closed connection.
type helloShimSys struct{ *helloShim }

func (c helloShimSys) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}

func newHelloShim(nc net.Conn) net.Conn {
	s := &helloShim{Conn: nc, first: true}
	if _, ok := nc.(syscall.Conn); ok {
		return helloShimSys{s}
	}
	return s
}

func (c *helloShim) Write(p []byte) (int, error) {
	if c.first {
		c.first = false
		if string(p) == string(helloCmd) {
			c.reply = helloReply
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

func (c *helloShim) Read(p []byte) (int, error) {
	if len(c.reply) > 0 {
		n := copy(p, c.reply)
		c.reply = c.reply[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
