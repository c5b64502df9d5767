package mysql

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// The tests run against a real server: BENCH_MYSQL_URL, or MariaDB/MySQL at
// 127.0.0.1:3306 as root. Each test works in scratch databases of its own
// (celery_bench_test_<random>_<name>), dropped when it ends. Without a
// server the tests that need one skip, unless BENCH_REQUIRE_SERVERS=1.

// testURL returns the server URL with the database replaced by db.
func testURL(t testing.TB, db string) *url.URL {
	t.Helper()
	raw := os.Getenv("BENCH_MYSQL_URL")
	if raw == "" {
		raw = "db+mysql://root@127.0.0.1:3306/"
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("BENCH_MYSQL_URL: %v", err)
	}
	u.Path = "/" + db
	return u
}

var runID = func() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}()

var (
	serverOnce sync.Once
	serverErr  error
)

// needServer skips t when no server answers, or fails it when
// BENCH_REQUIRE_SERVERS=1.
func needServer(t testing.TB) {
	t.Helper()
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o := backends.DefaultOptions
		o.ConnectTimeout = 2 * time.Second
		_, serverErr = openBackend(ctx, testURL(t, "x"), o)
	})
	if serverErr != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("no MySQL/MariaDB server and BENCH_REQUIRE_SERVERS=1: %v", serverErr)
		}
		t.Skipf("no MySQL/MariaDB server (set BENCH_MYSQL_URL, or BENCH_REQUIRE_SERVERS=1 to fail): %v", serverErr)
	}
}

// scratchDB returns the name of a database for t alone, dropped (if it
// was created) when t ends.
func scratchDB(t testing.TB, suffix ...string) string {
	t.Helper()
	name := strings.ToLower(t.Name() + strings.Join(suffix, ""))
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
	if len(name) > 30 {
		name = name[:30]
	}
	db := "celery_bench_test_" + runID + "_" + name
	t.Cleanup(func() {
		if !t.Skipped() { // a skipped test found no server to clean
			adminExec(t, "DROP DATABASE IF EXISTS `"+db+"`")
		}
	})
	return db
}

// testOptions are the options of the tests: Celery line v, no
// result_extended, ids under "g-".
func testOptions(v backends.Version) backends.Options {
	o := backends.DefaultOptions
	o.Celery = v
	o.IDPrefix = "g-"
	return o
}

// openTest opens a backend on database db. It does not prepare it.
func openTest(t testing.TB, db string, o backends.Options) *backend {
	t.Helper()
	needServer(t)
	b, err := openBackend(context.Background(), testURL(t, db), o)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// openPrepared is openTest followed by a successful Prepare.
func openPrepared(t testing.TB, db string, o backends.Options) *backend {
	t.Helper()
	b := openTest(t, db, o)
	if err := b.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

// newTestWorker opens a worker session on b, closed when the test ends.
func newTestWorker(t testing.TB, b *backend) backends.Worker {
	t.Helper()
	w, err := b.NewWorker(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// adminExec runs statements on a connection of their own with no database.
func adminExec(t testing.TB, stmts ...string) {
	t.Helper()
	b, err := openBackend(context.Background(), testURL(t, "x"), backends.DefaultOptions)
	if err != nil {
		t.Errorf("admin: %v", err)
		return
	}
	c, err := b.dial(context.Background(), true)
	if err != nil {
		t.Errorf("admin: %v", err)
		return
	}
	defer c.close()
	for _, s := range stmts {
		if _, err := c.exec(context.Background(), s); err != nil {
			t.Errorf("admin: %v", err)
		}
	}
}

// queryString runs a one-value query in database db and returns the value
// as text ("NULL" for NULL, "" for no row).
func queryString(t testing.TB, db, stmt string) string {
	t.Helper()
	b := openTest(t, db, backends.DefaultOptions)
	c, err := b.dial(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	row := c.scratch(1)
	found, err := c.query(context.Background(), stmt, row)
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return ""
	}
	if row[0] == nil {
		return "NULL"
	}
	return string(asBytes(row[0]))
}

// recorder is the statement hook of the tests. It numbers connections in
// the order they first appear and writes one line per command:
// `1 Connect`, `1 Query "SET AUTOCOMMIT = 0"`, `1 Ping`, `1 Quit`, with
// the statement quoted byte by byte (goQuote).
type recorder struct {
	mu     sync.Mutex
	ids    map[uint64]int
	lines  []string
	events []event // the same, unquoted
}

// event is one command the recorder saw; conn as in its lines.
type event struct {
	conn      int
	cmd, stmt string
}

func record(b *backend) *recorder {
	r := &recorder{}
	b.hook = r.hook
	return r
}

func (r *recorder) hook(conn uint64, cmd, stmt string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[uint64]int{}
	}
	n, ok := r.ids[conn]
	if !ok {
		n = len(r.ids) + 1
		r.ids[conn] = n
	}
	line := fmt.Sprintf("%d %s", n, cmd)
	if cmd == "Query" {
		line += " " + goQuote(stmt)
	}
	r.lines = append(r.lines, line)
	r.events = append(r.events, event{n, cmd, stmt})
}

// take returns the lines so far and starts afresh.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.lines
	r.lines, r.events, r.ids = nil, nil, nil
	return out
}

// takeEvents returns the events so far and starts afresh.
func (r *recorder) takeEvents() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events
	r.lines, r.events, r.ids = nil, nil, nil
	return out
}

// goQuote quotes s byte by byte: printable ASCII as is, \" \\ \n \t \r,
// and \xNN for every other byte (UTF-8 included), so that the bytes sent
// are visible exactly. testdata/*.golden use this form.
func goQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// diffLines reports the first difference between got and want, with
// context, or "" when they are equal.
func diffLines(got, want []string) string {
	n := max(len(got), len(want))
	for i := 0; i < n; i++ {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s\n\nall got:\n%s", i+1, g, w, strings.Join(got, "\n"))
		}
	}
	return ""
}
