package redis

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseURL checks parseURL on any URL: no panic; the password, from the
// user info or ?password=, never in the display form or an error; an
// accepted URL has a valid address and db; and its display form (password
// redacted) parses to the same server, db, user and timeouts.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"redis://127.0.0.1:6379/0",
		"redis://:s3cret@127.0.0.1:6379/3",
		"redis://user:s3cret@h:1/?client_name=bench&socket_timeout=2.5",
		"redis://h/0?password=qu3ry-secret&username=alice",
		"rediss://h:6380/1?ssl_cert_reqs=required",
		"rediss://h/0?ssl_cert_reqs=CERT_NONE&ssl_check_hostname=false",
		"redis://h/0?ssl_cert_reqs=required",
		"redis://h:0/0", "redis://h:99999/x", "redis:opaque", "redis://h/0?db=7", "redis://h/0?bogus=1",
		"redis://h/0?socket_connect_timeout=-1&db=-2", "redis://h/0?%zz",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		// The password as an echoed URL would show it: ":PASSWORD@" in
		// the user info, "password=VALUE" in the query (both as written).
		var secrets []string
		if u.User != nil {
			if p, ok := u.User.Password(); ok && p != "xxxxx" && p != "" {
				secrets = append(secrets, ":"+url.UserPassword("", p).String()[1:]+"@")
			}
		}
		for _, kv := range strings.Split(u.RawQuery, "&") {
			if v, ok := strings.CutPrefix(kv, "password="); ok && v != "" && v != "xxxxx" {
				secrets = append(secrets, "password="+v)
			}
		}
		c, err := parseURL(u)
		out := ""
		if err != nil {
			out = err.Error()
		} else {
			out = c.display
		}
		for _, p := range secrets {
			if strings.Contains(out, p) {
				t.Fatalf("parseURL(%q) shows the password %q: %q", s, p, out)
			}
		}
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(c.addr)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			t.Fatalf("parseURL(%q): address %q", s, c.addr)
		}
		if c.db < 0 || c.socketTimeout < 0 || c.connectTimeout < 0 {
			t.Fatalf("parseURL(%q): db %d, timeouts %v %v", s, c.db, c.socketTimeout, c.connectTimeout)
		}
		if (c.tls != nil) != (u.Scheme == "rediss") {
			t.Fatalf("parseURL(%q): TLS %v for scheme %s", s, c.tls != nil, u.Scheme)
		}
		du, err := url.Parse(c.display)
		if err != nil {
			t.Fatalf("parseURL(%q): display %q does not parse: %v", s, c.display, err)
		}
		d, err := parseURL(du)
		if err != nil {
			t.Fatalf("parseURL(%q): display %q is refused: %v", s, c.display, err)
		}
		if d.addr != c.addr || d.db != c.db || d.username != c.username || d.clientName != c.clientName ||
			d.socketTimeout != c.socketTimeout || d.connectTimeout != c.connectTimeout || (d.tls == nil) != (c.tls == nil) {
			t.Fatalf("parseURL(%q) = %+v, but its display %q parses to %+v", s, *c, c.display, *d)
		}
	})
}
