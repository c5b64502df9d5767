package mysql

import (
	"math"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/mysqldialect"
)

func TestAppendString(t *testing.T) {
	for _, tc := range []struct {
		in, want, noBackslash string
	}{
		{"abc", `'abc'`, `'abc'`},
		{"", `''`, `''`},
		{"\x00\\\n\r\x1a\"'", `'\0\\\n\r\Z\"\''`, "'\x00\\\n\r\x1a\"'''"},
		{"tab\there é \x80", "'tab\there é \x80'", "'tab\there é \x80'"},
	} {
		if got := string(appendString(nil, tc.in, false)); got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
		if got := string(appendBytes(nil, []byte(tc.in), true)); got != tc.noBackslash {
			t.Errorf("appendBytes(%q, NO_BACKSLASH_ESCAPES) = %s, want %s", tc.in, got, tc.noBackslash)
		}
	}
	if got := string(appendNullBytes(nil, nil, false)); got != "NULL" {
		t.Errorf("nil bytes = %s", got)
	}
	if got := string(appendDate(nil, time.Time{})); got != "NULL" {
		t.Errorf("zero date = %s", got)
	}
	if got := string(appendDate(nil, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))); got != "'2026-01-02 03:04:05'" {
		t.Errorf("date = %s", got)
	}
	if got := string(appendLike(nil, `a%b_c\`, false)); got != `'a\\%b\\_c\\\\%'` {
		t.Errorf("appendLike = %s", got)
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		raw                            string
		addr, user, pw, db, charset, e string
	}{
		{raw: "db+mysql://root@127.0.0.1:3306/celery_bench", addr: "127.0.0.1:3306", user: "root", db: "celery_bench", charset: "utf8mb4"},
		{raw: "db+mysql+pymysql://u:p%40ss@db.example/x", addr: "db.example:3306", user: "u", pw: "p@ss", db: "x", charset: "utf8mb4"},
		{raw: "mysql://root@[::1]:3307", addr: "[::1]:3307", user: "root", db: "celery_bench", charset: "utf8mb4"},
		{raw: "db+mysql://root@h/d?charset=utf8", addr: "h:3306", user: "root", db: "d", charset: "utf8"},
		{raw: "db+mysql://root@h/d?ssl_ca=x", e: `unsupported URL parameter "ssl_ca"`},
		{raw: "db+mysql://root:pw@h/d?charset=koi8r", e: `unsupported charset "koi8r" in db+mysql://root:xxxxx@h/d?charset=koi8r`},
		{raw: "db+mysql://root@h:99999/d", e: `bad port "99999"`},
	} {
		u, err := url.Parse(tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		c, err := parseURL(u)
		if tc.e != "" {
			if err == nil || !strings.Contains(err.Error(), tc.e) {
				t.Errorf("parseURL(%s) error = %v, want %q", tc.raw, err, tc.e)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseURL(%s): %v", tc.raw, err)
			continue
		}
		if c.Addr != tc.addr || c.User != tc.user || c.Password != tc.pw || c.Database != tc.db || c.charset != tc.charset {
			t.Errorf("parseURL(%s) = %+v", tc.raw, c)
		}
		cfg := c.driverConfig(c.Database)
		if len(cfg.Params) != 0 || cfg.MaxAllowedPacket == 0 {
			t.Errorf("driver config would make the driver send statements: %+v", cfg)
		}
	}
}

// TestDialects checks what SQLAlchemy 1.4 picks per server: sequences on
// MariaDB >= 10.3, @@transaction_isolation on MySQL >= 5.7.20, SHOW
// VARIABLES before 5.6; and the MySQL DDL and INSERT (AUTO_INCREMENT, no
// id column), which the live tests (MariaDB) cannot reach.
func TestDialects(t *testing.T) {
	for _, tc := range []struct {
		version   string
		product   string
		sequences bool
		probes    string
	}{
		{"10.11.19-MariaDB-0+deb12u1", "MariaDB", true, "SELECT VERSION()|SELECT DATABASE()|SELECT @@tx_isolation|SELECT @@sql_mode|SELECT @@lower_case_table_names|ROLLBACK"},
		{"5.5.5-10.2.44-MariaDB", "MariaDB", false, "SELECT VERSION()|SELECT DATABASE()|SELECT @@tx_isolation|SELECT @@sql_mode|SELECT @@lower_case_table_names|ROLLBACK"},
		{"8.0.31", "MySQL", false, "SELECT VERSION()|SELECT DATABASE()|SELECT @@transaction_isolation|SELECT @@sql_mode|SELECT @@lower_case_table_names|ROLLBACK"},
		{"5.7.19-log", "MySQL", false, "SELECT VERSION()|SELECT DATABASE()|SELECT @@tx_isolation|SELECT @@sql_mode|SELECT @@lower_case_table_names|ROLLBACK"},
		{"5.5.62", "MySQL", false, "SELECT VERSION()|SELECT DATABASE()|SELECT @@tx_isolation|SHOW VARIABLES LIKE 'sql_mode'|SHOW VARIABLES LIKE 'lower_case_table_names'|ROLLBACK"},
	} {
		d := newDialect(tc.version, "STRICT_TRANS_TABLES")
		if d.product() != tc.product || d.sequences != tc.sequences || strings.Join(d.probes, "|") != tc.probes {
			t.Errorf("%s: %s sequences=%v probes %q", tc.version, d.product(), d.sequences, d.probes)
		}
	}
	if !newDialect("8.0.31", "ANSI,NO_BACKSLASH_ESCAPES").noBackslash {
		t.Error("NO_BACKSLASH_ESCAPES not seen")
	}

	b := &backend{cfg: config{Config: mysqldialect.Config{Database: "celery"}}, dialect: newDialect("8.0.31", ""), opts: testOptions(backends.Celery52)}
	b.initSchema()
	wantDDL := "\nCREATE TABLE celery_tasksetmeta (\n\tid INTEGER NOT NULL AUTO_INCREMENT, \n\ttaskset_id VARCHAR(155), \n\tresult BLOB, \n\tdate_done DATETIME, \n\tPRIMARY KEY (id), \n\tUNIQUE (taskset_id)\n)\n\n"
	if b.createTable[1] != wantDDL {
		t.Errorf("MySQL DDL:\n%q\nwant\n%q", b.createTable[1], wantDDL)
	}
	if got, want := insertTaskPrefix(false, false), "INSERT INTO celery_taskmeta (task_id, status, result, date_done, traceback) VALUES ("; got != want {
		t.Errorf("MySQL INSERT = %q, want %q", got, want)
	}
	if got, want := insertTaskPrefix(true, true), "INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback, name, args, kwargs, worker, retries, queue) VALUES ("; got != want {
		t.Errorf("extended INSERT = %q, want %q", got, want)
	}
}

func TestPyEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b any
		eq   bool
	}{
		{nil, nil, true},
		{int64(5), 5, true},
		{int64(1), true, true},
		{int64(2), 2.0, true},
		{2.5, 2.5, true},
		{math.NaN(), math.NaN(), false},
		{int64(9007199254740993), 9007199254740992.0, false},
		{big.NewInt(5), 5, true},
		{"a", "a", true},
		{"a", []byte("a"), false},
		{[]any{int64(1), "x"}, []any{1, "x"}, true},
		{[]any{int64(1)}, py.Tuple{1}, false},
		{py.Dict{{Key: "a", Value: int64(1)}, {Key: "b", Value: int64(2)}}, py.Dict{{Key: "b", Value: 2}, {Key: "a", Value: 1}}, true},
		{py.Dict{{Key: "a", Value: int64(1)}}, py.Dict{{Key: "a", Value: 2}}, false},
		{py.Dict{}, py.Dict{{Key: "a", Value: 1}}, false},
		{struct{}{}, struct{}{}, false},
	} {
		if got := pyEqual(tc.a, tc.b); got != tc.eq {
			t.Errorf("pyEqual(%#v, %#v) = %v, want %v", tc.a, tc.b, got, tc.eq)
		}
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{
		selectTaskPrefix(false) + "'x'":                          "SELECT … FROM celery_taskmeta",
		"SELECT COUNT(*) FROM information_schema.tables WHERE x": "SELECT COUNT(*) FROM information_schema.tables",
		"UPDATE celery_taskmeta SET status='S' WHERE id = 1":     "UPDATE celery_taskmeta",
		"INSERT INTO celery_taskmeta (id) VALUES (1)":            "INSERT INTO celery_taskmeta",
		"\nCREATE TABLE celery_taskmeta (\n\tid INTEGER":         "CREATE TABLE celery_taskmeta",
		"COMMIT": "COMMIT",
	} {
		if got := label(in); got != want {
			t.Errorf("label(%q) = %q, want %q", in, got, want)
		}
	}
}
