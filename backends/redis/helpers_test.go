package redis

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/celery-bench/bench/backends"
)

// defaultRedisURL is the real server the fidelity tests use unless
// BENCH_REDIS_URL names another: a spare db, of which the tests delete only
// their own keys.
const defaultRedisURL = "redis://127.0.0.1:6379/13"

// realRedisURL returns the URL of the real Redis, skipping the test when it
// does not answer (failing it when BENCH_REQUIRE_SERVERS=1).
func realRedisURL(t testing.TB) string {
	t.Helper()
	return realRedisURLOr(t, defaultRedisURL)
}

// realRedisURLOr is realRedisURL with def in place of defaultRedisURL when
// BENCH_REDIS_URL is unset.
func realRedisURLOr(t testing.TB, def string) string {
	t.Helper()
	raw := os.Getenv("BENCH_REDIS_URL")
	if raw == "" {
		raw = def
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("BENCH_REDIS_URL: %v", err)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "6379")
	}
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("real Redis at %s is required (BENCH_REQUIRE_SERVERS=1) but unreachable: %v", backends.Redact(raw), err)
		}
		t.Skipf("no Redis at %s (%v); set BENCH_REDIS_URL, or BENCH_REQUIRE_SERVERS=1 to fail instead", backends.Redact(raw), err)
	}
	c.Close()
	return raw
}

// miniURL starts an in-process miniredis and returns its URL (db 0).
func miniURL(t testing.TB) (string, *miniredis.Miniredis) {
	t.Helper()
	m := miniredis.RunT(t)
	return "redis://" + m.Addr() + "/0", m
}

// testOptions are DefaultOptions for version v under a fresh id prefix.
func testOptions(v backends.Version) backends.Options {
	o := backends.DefaultOptions
	o.Celery = v
	o.IDPrefix = newPrefix()
	o.Force = true
	return o
}

var prefixSeq struct {
	sync.Mutex
	n int
}

// newPrefix returns an id prefix unique to this test process.
func newPrefix() string {
	prefixSeq.Lock()
	defer prefixSeq.Unlock()
	prefixSeq.n++
	return fmt.Sprintf("%08x", uint32(time.Now().UnixNano())^uint32(os.Getpid()<<16)+uint32(prefixSeq.n))
}

// taskID returns a uuid4-shaped id under prefix.
func taskID(prefix string, n int) string {
	return fmt.Sprintf("%s-0000-4000-8000-%012x", prefix, n)
}

// openBackend opens rawURL and deletes the test's keys at the end.
func openBackend(t testing.TB, rawURL string, o backends.Options) *backend {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := backends.Open(ctx, rawURL, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if _, err := b.Cleanup(context.Background(), o.IDPrefix); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
		b.Close()
	})
	return b.(*backend)
}

func newWorker(t testing.TB, b *backend, obs backends.Observer) *worker {
	t.Helper()
	w, err := b.NewWorker(context.Background(), obs)
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	return w.(*worker)
}

func newCaller(t testing.TB, b *backend, obs backends.Observer) *caller {
	t.Helper()
	c, err := b.NewCaller(context.Background(), obs)
	if err != nil {
		t.Fatalf("NewCaller: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*caller)
}

// observations records what a session reports.
type observations struct {
	mu   sync.Mutex
	ops  []string
	errs []error
	hook func(op string) // called outside the lock
}

func (o *observations) Observe(op string, _ time.Time, _ time.Duration, err error) {
	o.mu.Lock()
	o.ops = append(o.ops, op)
	o.errs = append(o.errs, err)
	hook := o.hook
	o.mu.Unlock()
	if hook != nil {
		hook(op)
	}
}

func (o *observations) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.ops...)
}

// cmds is a compact form of a command stream for comparisons: one command
// per line, arguments separated by spaces.
func cmds(lines ...string) []string { return lines }

func render(cmds [][]string) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = strings.Join(c, " ")
	}
	return out
}

// handshake is what a new connection sends before its first command, as
// seen by a wire recording (serverVersion == wire) or by MONITOR on a server
// of that version.
func handshake(v backends.Version, db int, serverVersion string) []string {
	var out []string
	if v.AtLeast(5, 6) && atLeast72(serverVersion) {
		out = append(out, "CLIENT SETINFO LIB-NAME redis-py", "CLIENT SETINFO LIB-VER 5.2.1")
	}
	if db != 0 {
		out = append(out, "SELECT "+strconv.Itoa(db))
	}
	return out
}

// atLeast72 reports whether a Redis version shows CLIENT SETINFO in
// MONITOR (older servers reject it before MONITOR sees it); a wire
// recording always shows it.
func atLeast72(v string) bool {
	if v == "*" {
		return true
	}
	var maj, min int
	fmt.Sscanf(v, "%d.%d", &maj, &min)
	return maj > 7 || maj == 7 && min >= 2
}

// wire is the handshake "server version" for a wire recording, where every
// command shows.
const wire = "*"

func equalStreams(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// --- a recording TCP proxy ---

// proxy forwards connections to a server and records what each client
// sends, as the server receives it. It can cut a connection.
type proxy struct {
	t        testing.TB
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	conns    []*proxyConn
}

type proxyConn struct {
	client, server net.Conn
	mu             sync.Mutex
	sent           []byte        // client → server
	chunks         [][]byte      // sent, as the reads that carried it
	clientDone     chan struct{} // closed once the client's side has ended and all it sent is in sent
}

func newProxy(t testing.TB, upstream string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, upstream: upstream}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.client.Close()
			c.server.Close()
		}
	})
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.upstream)
		if err != nil {
			c.Close()
			continue
		}
		pc := &proxyConn{client: c, server: s, clientDone: make(chan struct{})}
		p.mu.Lock()
		p.conns = append(p.conns, pc)
		p.mu.Unlock()
		go func() {
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					pc.mu.Lock()
					pc.sent = append(pc.sent, buf[:n]...)
					pc.chunks = append(pc.chunks, append([]byte(nil), buf[:n]...))
					pc.mu.Unlock()
					if _, werr := s.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			close(pc.clientDone)
			s.Close()
		}()
		go func() {
			io.Copy(c, s)
			c.Close()
		}()
	}
}

// addr is the proxy's host:port.
func (p *proxy) addr() string { return p.ln.Addr().String() }

// find returns the proxied connection whose client is at addr.
//
// A session may have connected and written without waiting for a reply
// (a SUBSCRIBE) before the proxy has dialled upstream and listed the
// connection, so find waits for it up to 2 s.
func (p *proxy) find(addr string) *proxyConn {
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		p.mu.Lock()
		for _, c := range p.conns {
			if c.client.RemoteAddr().String() == addr {
				p.mu.Unlock()
				return c
			}
		}
		p.mu.Unlock()
		if time.Now().After(deadline) {
			return nil
		}
	}
}

// all returns the proxied connections in the order they were accepted.
func (p *proxy) all() []*proxyConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*proxyConn(nil), p.conns...)
}

// kill cuts the connection from both sides.
func (c *proxyConn) kill() {
	c.client.Close()
	c.server.Close()
}

// commands parses what the client sent so far.
func (c *proxyConn) commands(t testing.TB) [][]string {
	c.mu.Lock()
	data := append([]byte(nil), c.sent...)
	c.mu.Unlock()
	cmds, err := parseCommands(data)
	if err != nil {
		t.Fatalf("the client sent bytes that are not RESP commands: %v\n%q", err, data)
	}
	return cmds
}

// chunk reports whether some single read carried exactly want.
func (c *proxyConn) chunk(want []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.chunks {
		if bytes.Equal(ch, want) {
			return true
		}
	}
	return false
}

// parseCommands splits RESP arrays of bulk strings.
func parseCommands(data []byte) ([][]string, error) {
	r := bufio.NewReader(bytes.NewReader(data))
	var out [][]string
	for {
		line, err := r.ReadString('\n')
		if err == io.EOF && line == "" {
			return out, nil
		}
		if err != nil || !strings.HasPrefix(line, "*") {
			return out, fmt.Errorf("bad array header %q", line)
		}
		n, _ := strconv.Atoi(strings.TrimSpace(line[1:]))
		cmd := make([]string, n)
		for i := range cmd {
			h, err := r.ReadString('\n')
			if err != nil || !strings.HasPrefix(h, "$") {
				return out, fmt.Errorf("bad bulk header %q", h)
			}
			l, _ := strconv.Atoi(strings.TrimSpace(h[1:]))
			b := make([]byte, l+2)
			if _, err := io.ReadFull(r, b); err != nil {
				return out, err
			}
			cmd[i] = string(b[:l])
		}
		out = append(out, cmd)
	}
}

// waitStreams polls get until it returns want for every key, for up to
// 3 s, then waits a little more to catch extra commands, and reports the
// differences.
func waitStreams(t testing.TB, what string, want map[string][]string, get func(key string) []string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		done := true
		for k, w := range want {
			if len(get(k)) < len(w) {
				done = false
			}
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	for k, w := range want {
		if got := get(k); !equalStreams(got, w) {
			t.Errorf("%s, %s sent:\n  %s\nwant:\n  %s", what, k, strings.Join(got, "\n  "), strings.Join(w, "\n  "))
		}
	}
}

// --- MONITOR ---

// monitor reads a MONITOR feed.
type monitor struct {
	c     *conn
	mu    sync.Mutex
	lines []monitorLine
}

type monitorLine struct {
	db     int
	client string
	args   []string
}

// startMonitor opens a MONITOR connection with b's handshake.
func startMonitor(t testing.TB, b *backend) *monitor {
	t.Helper()
	c, err := b.dial(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.nc.Close() })
	if r, err := c.roundTrip("MONITOR"); err != nil || r != "OK" {
		t.Fatalf("MONITOR: %v %v", r, err)
	}
	m := &monitor{c: c}
	go func() {
		for {
			line, err := c.readLine()
			if err != nil {
				return
			}
			if ml, ok := parseMonitorLine(string(line)); ok {
				m.mu.Lock()
				m.lines = append(m.lines, ml)
				m.mu.Unlock()
			}
		}
	}()
	return m
}

// stream returns what client sent, as MONITOR showed it.
func (m *monitor) stream(client string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.lines {
		if l.client == client {
			out = append(out, strings.Join(l.args, " "))
		}
	}
	return out
}

// raw returns the exact arguments of client's commands.
func (m *monitor) raw(client string) [][]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out [][]string
	for _, l := range m.lines {
		if l.client == client {
			out = append(out, l.args)
		}
	}
	return out
}

// parseMonitorLine reads `+1795653769.204305 [13 127.0.0.1:49574] "GET" "k"`.
func parseMonitorLine(s string) (monitorLine, bool) {
	var ml monitorLine
	i := strings.IndexByte(s, '[')
	j := strings.IndexByte(s, ']')
	if !strings.HasPrefix(s, "+") || i < 0 || j < i {
		return ml, false
	}
	head := strings.Fields(s[i+1 : j])
	if len(head) != 2 {
		return ml, false
	}
	ml.db, _ = strconv.Atoi(head[0])
	ml.client = head[1]
	rest := s[j+1:]
	for {
		k := strings.IndexByte(rest, '"')
		if k < 0 {
			break
		}
		rest = rest[k+1:]
		var arg []byte
		for len(rest) > 0 && rest[0] != '"' {
			if rest[0] == '\\' && len(rest) > 1 {
				switch rest[1] {
				case 'n':
					arg = append(arg, '\n')
				case 'r':
					arg = append(arg, '\r')
				case 't':
					arg = append(arg, '\t')
				case 'a':
					arg = append(arg, '\a')
				case 'b':
					arg = append(arg, '\b')
				case 'x':
					v, _ := strconv.ParseUint(rest[2:4], 16, 8)
					arg = append(arg, byte(v))
					rest = rest[2:]
				default:
					arg = append(arg, rest[1])
				}
				rest = rest[2:]
				continue
			}
			arg = append(arg, rest[0])
			rest = rest[1:]
		}
		if len(rest) > 0 {
			rest = rest[1:]
		}
		ml.args = append(ml.args, string(arg))
	}
	return ml, true
}
