package redis

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/conformance"
)

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	o := testOptions(backends.Celery56)
	o.ConnectTimeout = 2 * time.Second

	// Unreachable: a port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = backends.Open(ctx, "redis://:hunter2@"+addr+"/0", o)
	want := "redis: cannot connect to " + addr + ": connection refused (is Redis running? check the host and port in --backend)"
	if err == nil || err.Error() != want {
		t.Errorf("unreachable:\n got %v\nwant %s", err, want)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Errorf("the error does not wrap the dial error: %#v", err)
	}

	m := miniredis.RunT(t)
	m.RequireAuth("s3cret")
	_, err = backends.Open(ctx, "redis://:hunter2@"+m.Addr()+"/0", o)
	want = "redis: " + m.Addr() + " rejected the credentials in --backend (WRONGPASS invalid username-password pair)"
	if err == nil || err.Error() != want {
		t.Errorf("bad password:\n got %v\nwant %s", err, want)
	}
	var se serverError
	if !errors.As(err, &se) {
		t.Errorf("the error does not wrap the server's reply")
	}
	for _, v := range backends.Versions() {
		o.Celery = v
		_, err = backends.Open(ctx, "redis://"+m.Addr()+"/0", o)
		if err == nil || !strings.Contains(err.Error(), "requires a password") || !strings.Contains(err.Error(), "NOAUTH") {
			t.Errorf("celery %s, no password: %v", v, err)
		}
	}
	b, err := backends.Open(ctx, "redis://:s3cret@"+m.Addr()+"/0", o)
	if err != nil {
		t.Fatalf("good password: %v", err)
	}
	if s := b.Server(); s.Product != "Redis" {
		t.Errorf("Server() = %v", s)
	}

	// A server that accepts but never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	o.ConnectTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err = backends.Open(ctx, "redis://"+silent.Addr().String()+"/0", o)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("silent server: %v after %v", err, time.Since(start))
	}

	// A cancelled context is not a connection failure.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := backends.Open(cctx, "redis://"+m.Addr()+"/0", o); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled open: %v", err)
	}
}

func TestOpenErrorsRealServer(t *testing.T) {
	raw := realRedisURL(t)
	u, _ := url.Parse(raw)
	ctx := context.Background()
	o := testOptions(backends.Celery52)
	u.Path = "/99999"
	_, err := backends.Open(ctx, u.String(), o)
	if err == nil || !strings.Contains(err.Error(), "has no db 99999") || !strings.Contains(err.Error(), "DB index is out of range") {
		t.Errorf("bad db: %v", err)
	}
	u.Path = "/13"
	if u.User == nil {
		u.User = url.UserPassword("", "hunter2")
		_, err = backends.Open(ctx, u.String(), o)
		if err == nil || !strings.Contains(err.Error(), "rejected the credentials in --backend") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("password on a server without one: %v", err)
		}
	}
	b := openBackend(t, raw, o)
	if s := b.Server(); s.Product != "Redis" || s.Version == "" {
		t.Errorf("Server() = %+v", s)
	}
}

// TestWaitForCancel: a cancelled or expired ctx ends a blocked WaitFor at
// once with an error wrapping ctx.Err(); the connection, intact between
// two replies, stays subscribed and usable.
func TestWaitForCancel(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) { u, _ := miniURL(t); testWaitForCancel(t, u) })
	t.Run("redis", func(t *testing.T) { testWaitForCancel(t, realRedisURL(t)) })
}

func testWaitForCancel(t *testing.T, rawURL string) {
	o := testOptions(backends.Celery56)
	b := openBackend(t, rawURL, o)
	obs := &observations{}
	c, w := newCaller(t, b, obs), newWorker(t, b, nil)
	ctx := context.Background()
	id := taskID(o.IDPrefix, 1)
	if err := c.OnTaskCall(ctx, id); err != nil {
		t.Fatal(err)
	}
	ps := c.ps

	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.WaitFor(cctx, id, 0)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor after cancel = %v, want an error wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("WaitFor took %v to notice the cancellation", d)
	}

	dctx, cancel2 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel2()
	start = time.Now()
	_, err = c.WaitFor(dctx, id, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor past its deadline = %v, want an error wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("WaitFor took %v to notice the deadline", d)
	}
	if c.ps != ps || !c.isSubscribed(taskKeyPrefix+id) {
		t.Fatal("an interrupted wait between replies dropped the connection or the subscription")
	}

	// The same connection still works: the task finishes and is waited for.
	if err := w.StoreResult(ctx, success(id, 1)); err != nil {
		t.Fatal(err)
	}
	if st, err := c.WaitFor(ctx, id, 0); err != nil || st != backends.Success {
		t.Fatalf("WaitFor after the interruptions = %s, %v", st, err)
	}
	if err := c.Release(ctx, id); err != nil {
		t.Fatal(err)
	}
	id2 := taskID(o.IDPrefix, 2)
	if err := c.OnTaskCall(ctx, id2); err != nil {
		t.Fatal(err)
	}
	if err := w.StoreResult(ctx, success(id2, 2)); err != nil {
		t.Fatal(err)
	}
	if st, err := c.WaitFor(ctx, id2, 0); err != nil || st != backends.Success {
		t.Fatalf("next task: %s, %v", st, err)
	}
	if c.ps != ps {
		t.Error("the pub/sub connection was replaced")
	}
}

// TestWaitForCancelMidReply: a cancellation that cuts a reply in half
// drops the connection, since the rest of the reply would be read as the
// next one, and the next task starts on a new connection.
func TestWaitForCancelMidReply(t *testing.T) {
	u, _ := miniURL(t)
	o := testOptions(backends.Celery52)
	b := openBackend(t, u, o)
	c := newCaller(t, b, nil)
	client, server := net.Pipe()
	defer server.Close()
	c.ps = newConn(client)
	key := taskKeyPrefix + taskID(o.IDPrefix, 1)
	c.subscribed = append(c.subscribed, key)
	go func() {
		// Half a message, then silence.
		server.Write([]byte("*3\r\n$7\r\nmessage\r\n$" + strconv.Itoa(len(key)) + "\r\n" + key + "\r\n$100\r\n{\"status\""))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c.arm(ctx)
	_, err := c.drain(ctx, key)
	c.disarm()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drain = %v", err)
	}
	if c.ps != nil || len(c.subscribed) != 0 {
		t.Fatal("the half-read connection was kept")
	}
	// The next task dials a new pub/sub connection.
	w := newWorker(t, b, nil)
	id := taskID(o.IDPrefix, 2)
	if err := c.OnTaskCall(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := w.StoreResult(context.Background(), success(id, 1)); err != nil {
		t.Fatal(err)
	}
	if st, err := c.WaitFor(context.Background(), id, 0); err != nil || st != backends.Success {
		t.Fatalf("WaitFor = %s, %v", st, err)
	}
}

func TestPrepareAndCleanup(t *testing.T) {
	ctx := context.Background()
	u, m := miniURL(t)
	o := testOptions(backends.Celery56)
	o.Force = false
	b := openBackend(t, u, o)
	w := newWorker(t, b, nil)
	m.Set("unrelated", "x") // not Celery's: never foreign
	if err := b.Prepare(ctx); err != nil {
		t.Fatalf("Prepare on a db without Celery results: %v", err)
	}
	for i := 0; i < 3; i++ {
		if err := w.StoreResult(ctx, success(taskID(o.IDPrefix, i), i)); err != nil {
			t.Fatal(err)
		}
	}
	m.Set(groupKeyPrefix+o.IDPrefix+"-g.s", "3")
	if err := b.Prepare(ctx); err != nil {
		t.Fatalf("Prepare with only bench's own results: %v", err)
	}
	m.Set(taskKeyPrefix+"foreign-1", "{}")
	m.Set(groupKeyPrefix+"foreign-2", "{}")
	err := b.Prepare(ctx)
	if !errors.Is(err, backends.ErrForeignData) {
		t.Fatalf("Prepare with foreign results = %v, want ErrForeignData", err)
	}
	for _, s := range []string{" 2 Celery result keys", "celery-task", "foreign-", "--force"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Prepare error %q does not say %q", err, s)
		}
	}
	o.Force = true
	bf := openBackend(t, u, o)
	if err := bf.Prepare(ctx); err != nil {
		t.Errorf("Prepare with Force: %v", err)
	}

	n, err := b.Cleanup(ctx, o.IDPrefix)
	if err != nil || n != 4 {
		t.Fatalf("Cleanup = %d, %v; want 4", n, err)
	}
	for _, k := range []string{"unrelated", taskKeyPrefix + "foreign-1", groupKeyPrefix + "foreign-2"} {
		if !m.Exists(k) {
			t.Errorf("Cleanup deleted %s", k)
		}
	}
	if keys := m.Keys(); len(keys) != 3 {
		t.Errorf("left %v", keys)
	}
	if _, err := b.Cleanup(ctx, ""); err == nil {
		t.Error("Cleanup with an empty prefix ran")
	}
	m.Set(taskKeyPrefix+"a*b-1", "{}")
	m.Set(taskKeyPrefix+"aXb-1", "{}")
	if n, err := b.Cleanup(ctx, "a*b"); err != nil || n != 1 || !m.Exists(taskKeyPrefix+"aXb-1") {
		t.Errorf("Cleanup treated the prefix as a pattern: %d, %v", n, err)
	}
}

func TestPrepareRealServer(t *testing.T) {
	raw := realRedisURL(t)
	ctx := context.Background()
	o := testOptions(backends.Celery52)
	b := openBackend(t, raw, o)
	w := newWorker(t, b, nil)
	other := testOptions(backends.Celery52) // another prefix: foreign to b
	if err := w.StoreResult(ctx, success(taskID(other.IDPrefix, 1), 1)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Cleanup(context.Background(), other.IDPrefix) })
	o.Force = false
	strict := openBackend(t, raw, o)
	if err := strict.Prepare(ctx); !errors.Is(err, backends.ErrForeignData) {
		t.Errorf("Prepare = %v, want ErrForeignData", err)
	}
	if err := b.Prepare(ctx); err != nil {
		t.Errorf("Prepare with Force: %v", err)
	}
	if n, err := b.Cleanup(ctx, other.IDPrefix); err != nil || n != 1 {
		t.Errorf("Cleanup = %d, %v", n, err)
	}
}

// TestTLS connects over rediss:// to a TLS miniredis, without and with
// verification against a CA file.
func TestTLS(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	m, err := miniredis.RunTLS(&tls.Config{Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close) // after the backends' own cleanups
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{"ssl_cert_reqs=none", "ssl_cert_reqs=required&ssl_ca_certs=" + url.QueryEscape(ca)} {
		o := testOptions(backends.Celery56)
		b := openBackend(t, "rediss://"+m.Addr()+"/0?"+q, o)
		c, w := newCaller(t, b, nil), newWorker(t, b, nil)
		id := taskID(o.IDPrefix, 1)
		if err := c.OnTaskCall(ctx, id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := w.StoreResult(ctx, success(id, 1)); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if st, err := c.WaitFor(ctx, id, 0); err != nil || st != backends.Success {
			t.Fatalf("%s: WaitFor = %s, %v", q, st, err)
		}
	}
	// Verification against the system roots fails on a self-signed cert.
	o := testOptions(backends.Celery56)
	if _, err := backends.Open(ctx, "rediss://"+m.Addr()+"/0?ssl_cert_reqs=required", o); err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("self-signed certificate accepted: %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"example.invalid"}, // not the address: the host name is not checked
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// TestConformanceMiniredis runs the shared backend suite on miniredis,
// the embedded stand-in.
func TestConformanceMiniredis(t *testing.T) {
	t.Run("miniredis", func(t *testing.T) {
		conformance.Run(t, func(t *testing.T, o backends.Options) backends.Backend {
			u, _ := miniURL(t)
			return openSuite(t, u, o)
		})
	})
	// The real Redis runs it in backends/all, with every registered backend.
}

func openSuite(t *testing.T, rawURL string, o backends.Options) backends.Backend {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := backends.Open(ctx, rawURL, o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHandshake checks what every kind of connection sends first: AUTH,
// CLIENT SETNAME, CLIENT SETINFO (5.6), SELECT, in redis-py's order, on the
// pub/sub connection too.
func TestHandshake(t *testing.T) {
	ctx := context.Background()
	for _, v := range backends.Versions() {
		for _, user := range []string{"", "bench"} {
			m := miniredis.RunT(t)
			if user == "" {
				m.RequireAuth("pw")
			} else {
				m.RequireUserAuth(user, "pw")
			}
			p := newProxy(t, m.Addr())
			o := testOptions(v)
			b := openBackend(t, "redis://"+user+":pw@"+p.addr()+"/2?client_name=bench-1", o)
			c, w := newCaller(t, b, nil), newWorker(t, b, nil)
			id := taskID(o.IDPrefix, 1)
			if err := c.OnTaskCall(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := w.StoreResult(ctx, success(id, 1)); err != nil {
				t.Fatal(err)
			}
			if st, err := c.WaitFor(ctx, id, 0); err != nil || st != backends.Success {
				t.Fatalf("WaitFor = %s, %v", st, err)
			}
			want := []string{"AUTH pw"}
			if user != "" {
				want = []string{"AUTH bench pw"}
			}
			want = append(want, "CLIENT SETNAME bench-1")
			if v.AtLeast(5, 6) {
				want = append(want, "CLIENT SETINFO LIB-NAME redis-py", "CLIENT SETINFO LIB-VER 5.2.1")
			}
			want = append(want, "SELECT 2")
			conns := map[string]string{
				"worker": w.laddr, "caller commands": c.laddr, "caller pub/sub": c.ps.nc.LocalAddr().String(),
			}
			for name, addr := range conns {
				got := render(p.find(addr).commands(t))
				if len(got) < len(want) || !equalStreams(got[:len(want)], want) || strings.Contains(strings.Join(got, "\n"), "hello") {
					t.Errorf("celery %s, user %q, %s sent %q, want it to open with %q", v, user, name, got, want)
				}
			}
		}
	}
}

// TestCloseReleasesConnections: sessions leave no connection open, used
// or not.
func TestCloseReleasesConnections(t *testing.T) {
	u, m := miniURL(t)
	o := testOptions(backends.Celery56)
	b := openBackend(t, u, o)
	// Open asks INFO on a connection of its own and closes it; miniredis
	// counts it until its reader notices, so wait for that before counting.
	if n := waitConnections(m, 0); n != 0 {
		t.Fatalf("%d connections open after Open, want 0", n)
	}
	ctx := context.Background()
	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	idle, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.OnTaskCall(ctx, taskID(o.IDPrefix, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.StoreResult(ctx, success(taskID(o.IDPrefix, 1), 1)); err != nil {
		t.Fatal(err)
	}
	// The worker's connection and c's pub/sub connection: callers open
	// their command connection at their first command, as redis-py does,
	// and neither caller has sent one.
	if n := m.CurrentConnectionCount(); n != 2 {
		t.Errorf("%d connections open, want 2 (the worker, one pub/sub)", n)
	}
	w.Close()
	c.Close()
	idle.Close()
	if n := waitConnections(m, 0); n != 0 {
		t.Errorf("%d connections left open after Close", n)
	}
}

// waitConnections waits up to 2 s for m to count at most n open
// connections (it notices a closed one asynchronously) and returns the
// count it last saw.
func waitConnections(m *miniredis.Miniredis, n int) int {
	deadline := time.Now().Add(2 * time.Second)
	for m.CurrentConnectionCount() > n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return m.CurrentConnectionCount()
}

// TestReconnectNothingSubscribed: a reconnection with nothing subscribed
// sends a bare MGET (whose error reply redis-py swallows) on Celery 5.2 and
// no MGET on 5.6, and SUBSCRIBEs nothing.
func TestReconnectNothingSubscribed(t *testing.T) {
	ctx := context.Background()
	for _, v := range backends.Versions() {
		m := miniredis.RunT(t)
		p := newProxy(t, m.Addr())
		o := testOptions(v)
		b := openBackend(t, "redis://"+p.addr()+"/0", o)
		c := newCaller(t, b, nil)
		id := taskID(o.IDPrefix, 1)
		if err := c.OnTaskCall(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := c.Release(ctx, id); err != nil {
			t.Fatal(err)
		}
		before := len(p.all())
		if err := c.reconnect(ctx); err != nil {
			t.Fatalf("celery %s: %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
		var got [][]string
		for _, pc := range p.all()[before:] {
			got = append(got, render(pc.commands(t)))
		}
		hs := handshake(v, 0, wire)
		want := [][]string{append(hs, "MGET"), hs} // new command connection, new pub/sub
		if v.AtLeast(5, 3) {
			want = [][]string{hs} // the command connection is reset but not used
		}
		if len(got) != len(want) {
			t.Fatalf("celery %s: %d new connections %q, want %d", v, len(got), got, len(want))
		}
		for i := range want {
			if !equalStreams(got[i], want[i]) {
				t.Errorf("celery %s: connection %d sent %q, want %q", v, i, got[i], want[i])
			}
		}
	}
}
