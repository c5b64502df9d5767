package djangodb

import (
	"context"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// testURL and testPGURL are databases of the tests' own on the shared
// MariaDB and PostgreSQL.
const (
	testURL   = "django-db+mysql://root@127.0.0.1:3306/celery_bench_django_test"
	testPGURL = "django-db+postgresql://postgres@127.0.0.1:5432/celery_bench_django_test"
)

// testURLs are both dialects' test databases, by dialect name.
var testURLs = []struct{ name, url string }{{"mysql", testURL}, {"postgres", testPGURL}}

func openTest(t *testing.T, rawURL string, o backends.Options) *backend {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o.ConnectTimeout = 2 * time.Second
	b, err := openBackend(ctx, u, o)
	if err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("the server of %s is required (BENCH_REQUIRE_SERVERS=1): %v", u.Redacted(), err)
		}
		t.Skipf("the server of %s does not answer (%v); BENCH_REQUIRE_SERVERS=1 makes this a failure", u.Redacted(), err)
	}
	o.Force = true
	if err := b.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Cleanup(context.Background(), "bec1d0c0-") })
	return b
}

// connects counts the connections b opens and the statements sent.
type recorder struct {
	mu       sync.Mutex
	connects int
	stmts    []string
}

func (r *recorder) hook(_ uint64, cmd, stmt string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch cmd {
	case "Connect":
		r.connects++
	case "Query":
		r.stmts = append(r.stmts, stmt)
	case "Ping":
		r.stmts = append(r.stmts, "[Ping]")
	}
}

// TestConnMaxAge: a worker opens one connection per task under CONN_MAX_AGE=0, keeps it across
// tasks under CONN_MAX_AGE=60 on Celery 5.2, and closes it after every task on Celery 5.6.
func TestConnMaxAge(t *testing.T) {
	for _, tc := range []struct {
		name   string
		maxAge time.Duration
		celery backends.Version
		want   int
	}{
		{"0", 0, backends.Celery52, 3},
		{"60s", 60 * time.Second, backends.Celery52, 1},
		{"None", -1, backends.Celery52, 1},
		{"60s-celery5.6", 60 * time.Second, backends.Celery56, 3},
	} {
		for _, u := range testURLs {
			t.Run(u.name+"/"+tc.name, func(t *testing.T) {
				o := backends.DefaultOptions
				o.Celery = tc.celery
				o.DjangoConnMaxAge = tc.maxAge
				b := openTest(t, u.url, o)
				r := &recorder{}
				b.hook = r.hook
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				w, _ := b.NewWorker(ctx, nil)
				defer w.Close()
				for i := 0; i < 3; i++ {
					m := &backends.TaskMeta{TaskID: "bec1d0c0-0000-4000-8000-00000000000" + string(rune('1'+i)), Status: backends.Success,
						Result: i, Children: []string{}, DateDone: time.Now()}
					if err := w.StoreResult(ctx, m); err != nil {
						t.Fatal(err)
					}
					backends.EndTask(ctx, w)
				}
				if r.connects != tc.want {
					t.Errorf("3 tasks opened %d connections, want %d", r.connects, tc.want)
				}
				// The server-data query is sent once per worker process
				// (MySQL); PostgreSQL sets the time zone on every connection
				// (the shared server's TimeZone is Etc/UTC).
				n, tz := 0, 0
				for _, s := range r.stmts {
					switch s {
					case stmtServerData:
						n++
					case stmtSetTimeZone:
						tz++
					}
				}
				if want := map[string]int{"mysql": 1, "postgres": 0}[u.name]; n != want {
					t.Errorf("server-data query sent %d times, want %d", n, want)
				}
				if want := map[string]int{"mysql": 0, "postgres": tc.want}[u.name]; tz != want {
					t.Errorf("SET TIME ZONE sent %d times, want %d", tz, want)
				}
			})
		}
	}
}

// TestCallerOneConnection: a caller keeps one connection; a second miss of the same id sends
// the REPEATABLE-READ check, a miss of another id does not.
func TestCallerOneConnection(t *testing.T) {
	for _, u := range testURLs {
		t.Run(u.name, func(t *testing.T) { testCallerOneConnection(t, u.name, u.url) })
	}
}

func testCallerOneConnection(t *testing.T, dialect, url string) {
	b := openTest(t, url, backends.DefaultOptions)
	r := &recorder{}
	b.hook = r.hook
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, _ := b.NewCaller(ctx, nil)
	defer c.Close()
	for _, id := range []string{"bec1d0c0-0000-4000-8000-000000000001", "bec1d0c0-0000-4000-8000-000000000001", "bec1d0c0-0000-4000-8000-000000000002"} {
		if m, err := c.GetTaskMeta(ctx, id); err != nil || m.Status != backends.Pending {
			t.Fatalf("GetTaskMeta = %v, %v", m, err)
		}
	}
	if r.connects != 1 {
		t.Errorf("caller opened %d connections, want 1", r.connects)
	}
	shows := 0
	for _, s := range r.stmts {
		if s == stmtShowIsolated {
			shows++
		}
	}
	// PostgreSQL's get_task never checks the isolation level.
	if want := map[string]int{"mysql": 1, "postgres": 0}[dialect]; shows != want {
		t.Errorf("SHOW VARIABLES sent %d times, want %d", shows, want)
	}
}

func TestParseURL(t *testing.T) {
	for raw, want := range map[string]time.Duration{
		"django-db+mysql://u@h/db":                   0,
		"django-db+mysql://u@h/db?conn_max_age=60":   60 * time.Second,
		"django-db+mysql://u@h/db?conn_max_age=None": -1,
	} {
		u, _ := url.Parse(raw)
		c, err := parseURL(u)
		if err != nil || c.connMaxAge != want || c.Database != "db" || c.Addr != "h:3306" {
			t.Errorf("parseURL(%s) = %+v, %v", raw, c, err)
		}
	}
	for _, raw := range []string{"django-db+mysql://u@h/db?conn_max_age=x", "django-db+mysql://u@h/db?charset=latin1", "django-db+mysql://u@h:99999/db"} {
		u, _ := url.Parse(raw)
		if _, err := parseURL(u); err == nil {
			t.Errorf("parseURL(%s) accepted", raw)
		}
	}
}

// TestServerStats: the snapshot has the table's figures and the server's counters.
func TestServerStats(t *testing.T) {
	for _, u := range testURLs {
		t.Run(u.name, func(t *testing.T) { testServerStats(t, u.name, u.url) })
	}
}

func testServerStats(t *testing.T, dialect, url string) {
	b := openTest(t, url, backends.DefaultOptions)
	var _ backends.StatsReader = b
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := b.ServerStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, s := range st {
		have[s.Name] = true
	}
	want := map[string][]string{
		"mysql":    {"table_rows", "data_length", "index_length", "Connections", "Com_select", "Com_insert", "Com_commit"},
		"postgres": {"xact_commit", "tup_inserted", "tup_updated", "n_live_tup", "n_dead_tup", "table_bytes", "index_bytes", "wal_bytes"},
	}[dialect]
	for _, name := range want {
		if !have[name] {
			t.Errorf("ServerStats lacks %s: %+v", name, st)
		}
	}
}

// TestUsableAfterError: under CONN_MAX_AGE=60 (Celery 5.2) a worker
// connection that saw a database error is checked with is_usable() at the
// task's end (SELECT 1 on PostgreSQL, COM_PING on MySQL) and kept when it
// answers; a connection without errors is not checked.
func TestUsableAfterError(t *testing.T) {
	for _, u := range testURLs {
		t.Run(u.name, func(t *testing.T) {
			o := backends.DefaultOptions
			o.Celery = backends.Celery52
			o.DjangoConnMaxAge = 60 * time.Second
			b := openTest(t, u.url, o)
			r := &recorder{}
			b.hook = r.hook
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			bw, _ := b.NewWorker(ctx, nil)
			defer bw.Close()
			w := bw.(*worker)
			check := map[string]string{"mysql": "[Ping]", "postgres": "SELECT 1"}[u.name]
			count := func() (n int) {
				for _, s := range r.stmts {
					if s == check {
						n++
					}
				}
				return n
			}
			m := &backends.TaskMeta{TaskID: "bec1d0c0-0000-4000-8000-0000000000u1", Status: backends.Success, Result: 1, Children: []string{}}
			if err := w.StoreResult(ctx, m); err != nil {
				t.Fatal(err)
			}
			backends.EndTask(ctx, w)
			if n := count(); n != 0 {
				t.Fatalf("is_usable sent %d times after a task without errors", n)
			}
			if _, err := w.c.exec(ctx, "SELECT no_such_column FROM "+b.d.quote(tableTask)); err == nil {
				t.Fatal("a bad statement succeeded")
			}
			backends.EndTask(ctx, w)
			if n := count(); n != 1 {
				t.Fatalf("is_usable sent %d times after an error, want 1", n)
			}
			m.TaskID = "bec1d0c0-0000-4000-8000-0000000000u2"
			if err := w.StoreResult(ctx, m); err != nil {
				t.Fatal(err)
			}
			backends.EndTask(ctx, w)
			if r.connects != 1 || count() != 1 {
				t.Errorf("%d connections and %d checks, want 1 and 1", r.connects, count())
			}
		})
	}
}
