package redis

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends"
)

// Defaults of Celery's RedisBackend and redis-py.
const (
	defaultHost = "localhost"
	defaultPort = "6379"
	// defaultSocketTimeout is Celery's redis_socket_timeout: the longest a
	// command connection waits for a reply.
	defaultSocketTimeout = 120 * time.Second
)

// config is what a result_backend URL says, parsed once by Open.
type config struct {
	addr       string // host:port
	db         int
	username   string
	password   string
	auth       bool // send AUTH: the URL names a user or a password
	clientName string
	tls        *tls.Config // nil for redis://
	// socketTimeout bounds every reply on a command connection.
	socketTimeout time.Duration
	// connectTimeout bounds a socket_connect_timeout from the URL; Open
	// caps it with Options.ConnectTimeout.
	connectTimeout time.Duration
	// display is the URL without its password, for messages.
	display string
}

// queryParam describes a query parameter Celery's RedisBackend accepts in a
// result_backend URL (celery.backends.redis._params_from_url, which hands
// unknown names to redis-py's Connection, which rejects them).
type queryParam struct {
	check func(string) error // nil accepts any value
	tls   bool               // only on rediss://
	used  bool               // bench reproduces it; otherwise accepted and ignored
}

var queryParams = map[string]queryParam{
	"db":                     {check: checkInt, used: true},
	"password":               {used: true},
	"username":               {used: true},
	"client_name":            {used: true},
	"socket_timeout":         {check: checkFloat, used: true},
	"socket_connect_timeout": {check: checkFloat, used: true},
	"ssl_cert_reqs":          {tls: true, used: true},
	"ssl_ca_certs":           {tls: true, used: true},
	"ssl_certfile":           {tls: true, used: true},
	"ssl_keyfile":            {tls: true, used: true},
	// Accepted and ignored. virtual_host is overwritten by the URL path in
	// Celery; health_check_interval would make redis-py PING a connection
	// idle for longer than it before the next command, which bench does not
	// reproduce; the others change nothing on the wire.
	"virtual_host":          {},
	"health_check_interval": {check: checkInt},
	"max_connections":       {check: checkInt},
	"retry_on_timeout":      {},
	"socket_keepalive":      {},
	"encoding":              {},
	"encoding_errors":       {},
	"decode_responses":      {},
}

func checkInt(s string) error {
	_, err := strconv.Atoi(s)
	return err
}

func checkFloat(s string) error {
	_, err := strconv.ParseFloat(s, 64)
	return err
}

// certReqs maps Celery's accepted ssl_cert_reqs values to whether the
// server certificate is verified. Python treats CERT_OPTIONAL like
// CERT_REQUIRED on the client side.
var certReqs = map[string]bool{
	"required": true, "CERT_REQUIRED": true,
	"optional": true, "CERT_OPTIONAL": true,
	"none": false, "CERT_NONE": false,
}

// parseURL reads a Celery result_backend URL:
// redis://[[user]:password@]host[:port][/db][?query] or rediss://... .
func parseURL(u *url.URL) (*config, error) {
	c := &config{display: backends.RedactURL(u), socketTimeout: defaultSocketTimeout}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("redis: --backend %s: %s", c.display, fmt.Sprintf(format, args...))
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, bad("scheme %q is not redis or rediss", u.Scheme)
	}
	if u.Opaque != "" {
		return nil, bad("write it as %s://host:port/db", u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		host = defaultHost
	}
	if port == "" {
		port = defaultPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, bad("port %q is not a number from 1 to 65535", port)
	}
	c.addr = net.JoinHostPort(host, port)
	if h, _, err := net.SplitHostPort(c.addr); err != nil || h != host {
		return nil, bad("host %q is not a host name or address", host) // "redis://]0" parses as host "]0"
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		n, err := strconv.Atoi(db)
		if err != nil || n < 0 {
			return nil, bad("the path must be a db index, such as /0; got %q", u.Path)
		}
		c.db = n
	}
	if u.User != nil {
		c.username = u.User.Username()
		c.password, _ = u.User.Password()
	}

	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, bad("the query does not parse: %v", err)
	}
	var unknown []string
	for name, vals := range q {
		p, ok := queryParams[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if p.tls && u.Scheme != "rediss" {
			// Celery: E_REDIS_SSL_PARAMS_AND_SCHEME_MISMATCH.
			return nil, bad("%s is a TLS setting; use rediss:// for TLS", name)
		}
		if p.check != nil {
			if err := p.check(vals[len(vals)-1]); err != nil {
				return nil, bad("%s=%q is not a number", name, vals[len(vals)-1])
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		var known []string
		for k := range queryParams {
			known = append(known, k)
		}
		sort.Strings(known)
		return nil, bad("unknown query parameter %q (Celery would reject it too); known: %s",
			unknown[0], strings.Join(known, ", "))
	}
	get := func(name string) string { return q.Get(name) }
	if v := get("db"); v != "" {
		n, _ := strconv.Atoi(v)
		if n < 0 {
			return nil, bad("db=%d is negative", n)
		}
		c.db = n
	}
	if q.Has("username") {
		c.username = get("username")
	}
	if q.Has("password") {
		c.password = get("password")
	}
	c.auth = c.username != "" || c.password != ""
	c.clientName = get("client_name")
	if v := get("socket_timeout"); v != "" {
		c.socketTimeout = seconds(v)
	}
	if v := get("socket_connect_timeout"); v != "" {
		c.connectTimeout = seconds(v)
	}
	if u.Scheme == "rediss" {
		if c.tls, err = tlsConfig(host, q); err != nil {
			return nil, bad("%v", err)
		}
	}
	return c, nil
}

// seconds converts redis-py's float seconds; 0 or less means no timeout.
func seconds(s string) time.Duration {
	f, _ := strconv.ParseFloat(s, 64)
	if f <= 0 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// tlsConfig builds the TLS settings of a rediss:// URL as Celery passes them
// to redis-py's SSLConnection. Verification checks the certificate chain but
// not the host name: redis-py before 6.0 defaults ssl_check_hostname to
// False, and Celery does not set it.
func tlsConfig(host string, q url.Values) (*tls.Config, error) {
	reqs := q.Get("ssl_cert_reqs")
	verify, ok := certReqs[reqs]
	if !ok {
		// Celery: E_REDIS_SSL_CERT_REQS_MISSING_INVALID.
		return nil, errors.New("a rediss:// URL needs ssl_cert_reqs=required, optional or none (or CERT_REQUIRED, CERT_OPTIONAL, CERT_NONE)")
	}
	cfg := &tls.Config{InsecureSkipVerify: true} // verified below when asked
	if net.ParseIP(host) == nil {
		cfg.ServerName = host
	}
	var roots *x509.CertPool
	if f := q.Get("ssl_ca_certs"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ssl_ca_certs: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ssl_ca_certs: %s holds no PEM certificate", f)
		}
	}
	if cert := q.Get("ssl_certfile"); cert != "" {
		key := q.Get("ssl_keyfile")
		if key == "" {
			key = cert // Python's load_cert_chain reads the key from the cert file
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("ssl_certfile/ssl_keyfile: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if verify {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("redis: the server sent no TLS certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return cfg, nil
}
