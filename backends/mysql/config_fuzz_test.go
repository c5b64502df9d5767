package mysql

import (
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// FuzzParseURL checks parseURL on any URL: no panic; errors never show the
// password; an accepted URL has a valid address, a usable database name
// and a known charset; and the driver configuration built from it survives
// the driver's own DSN round trip with the same user, password, address
// and database.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"db+mysql://root@127.0.0.1:3306/celery_bench",
		"db+mysql://root:hunter22@127.0.0.1:3306/celery_bench?charset=utf8mb4",
		"db+mysql://u:p%40ss@[::1]:3307/db?charset=latin1",
		"db+mysql://u:secret1@h:99999/db", "db+mysql://u:secret2@h/a/b", "db+mysql://u:secret3@h/db?charset=klingon",
		"db+mysql://u:secret4@h/db?pool=5", "db+mysql:///", "db+mysql://h:x/db",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := url.Parse(s)
		if err != nil {
			return
		}
		c, err := parseURL(u)
		if err != nil {
			// The password as an echoed URL would show it: ":PASSWORD@".
			if p, _ := u.User.Password(); p != "" && p != "xxxxx" && strings.Contains(err.Error(), ":"+url.UserPassword("", p).String()[1:]+"@") {
				t.Fatalf("parseURL(%q): error %q shows the password %q", s, err, p)
			}
			return
		}
		host, port, err := net.SplitHostPort(c.Addr)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 0 || n > 65535 {
			t.Fatalf("parseURL(%q): address %q", s, c.Addr)
		}
		if c.Database == "" || strings.ContainsAny(c.Database, "/`\x00") || charsets[c.charset] == "" || c.User == "" {
			t.Fatalf("parseURL(%q) = %+v", s, c)
		}
		dc := c.driverConfig(c.Database)
		back, err := mysql.ParseDSN(dc.FormatDSN())
		if err != nil {
			t.Fatalf("parseURL(%q): the driver refuses its own DSN: %v", s, err)
		}
		if back.User != c.User || back.Passwd != c.Password || back.Addr != c.Addr || back.DBName != c.Database {
			t.Fatalf("parseURL(%q): DSN round trip gives user %q addr %q db %q (password equal: %v), want %q %q %q",
				s, back.User, back.Addr, back.DBName, back.Passwd == c.Password, c.User, c.Addr, c.Database)
		}
	})
}
