package redis

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url        string
		addr       string
		db         int
		user, pass string
		auth, tls  bool
		err        string // a substring of the error; "" for none
	}{
		{"redis://", "localhost:6379", 0, "", "", false, false, ""},                                               // Celery's defaults
		{"redis://h", "h:6379", 0, "", "", false, false, ""},                                                      // default port
		{"redis://h:7000/3", "h:7000", 3, "", "", false, false, ""},                                               // port and db
		{"redis://h/", "h:6379", 0, "", "", false, false, ""},                                                     // empty path
		{"redis://:s3cret@h/1", "h:6379", 1, "", "s3cret", true, false, ""},                                       // password only: AUTH pw
		{"redis://u:s3cret@h", "h:6379", 0, "u", "s3cret", true, false, ""},                                       // ACL user
		{"redis://u@h", "h:6379", 0, "u", "", true, false, ""},                                                    // user without password
		{"redis://h/2?db=5", "h:6379", 5, "", "", false, false, ""},                                               // query db wins, as in Celery
		{"redis://[::1]:6380/0", "[::1]:6380", 0, "", "", false, false, ""},                                       // IPv6
		{"redis://h?socket_timeout=3.5&max_connections=10&virtual_host=4", "h:6379", 0, "", "", false, false, ""}, // accepted
		{"rediss://h?ssl_cert_reqs=none", "h:6379", 0, "", "", false, true, ""},                                   // TLS
		{"rediss://h:6380/0?ssl_cert_reqs=CERT_REQUIRED", "h:6380", 0, "", "", false, true, ""},                   // TLS, Python constant
		{"rediss://h", "", 0, "", "", false, false, "ssl_cert_reqs"},                                              // Celery requires it
		{"rediss://h?ssl_cert_reqs=maybe", "", 0, "", "", false, false, "ssl_cert_reqs"},                          // bad value
		{"redis://h?ssl_cert_reqs=none", "", 0, "", "", false, false, "use rediss://"},                            // TLS setting on redis://
		{"redis://h/zero", "", 0, "", "", false, false, "db index"},                                               // bad db
		{"redis://h/-1", "", 0, "", "", false, false, "db index"},                                                 // negative db
		{"redis://h:99999", "", 0, "", "", false, false, "port"},                                                  // bad port
		{"redis://h?colour=blue", "", 0, "", "", false, false, `unknown query parameter "colour"`},                // garbage
		{"redis://h?max_connections=lots", "", 0, "", "", false, false, "not a number"},                           // bad value
		{"redis:h", "", 0, "", "", false, false, "write it as"},                                                   // opaque
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseURL(u)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one containing %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.url, err)
			continue
		}
		if c.addr != tt.addr || c.db != tt.db || c.username != tt.user || c.password != tt.pass ||
			c.auth != tt.auth || (c.tls != nil) != tt.tls {
			t.Errorf("%s: got addr %s db %d user %q pass %q auth %v tls %v", tt.url, c.addr, c.db, c.username, c.password, c.auth, c.tls != nil)
		}
	}
	u, _ := url.Parse("redis://:hunter2@h?colour=blue")
	_, err := parseURL(u)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v shows the password", err)
	}
	u, _ = url.Parse("redis://h?password=hunter2&colour=blue")
	if _, err := parseURL(u); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error %v shows the password", err)
	}
	u, _ = url.Parse("redis://h?socket_timeout=0.25&socket_connect_timeout=1")
	if c, _ := parseURL(u); c.socketTimeout != 250*time.Millisecond || c.connectTimeout != time.Second {
		t.Errorf("timeouts %v %v", c.socketTimeout, c.connectTimeout)
	}
}
