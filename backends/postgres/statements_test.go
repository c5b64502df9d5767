package postgres

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

const testURL = "db+postgresql://postgres@127.0.0.1:5432/celery_bench_pgtest"

// openTest opens and prepares the shared test database, recording every
// message sent.
func openTest(t *testing.T, o backends.Options) (*backend, func() []string) {
	t.Helper()
	u, _ := url.Parse(testURL)
	o.ConnectTimeout = 2 * time.Second
	o.Force = true
	b, err := openBackend(context.Background(), u, o)
	if err != nil {
		if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
			t.Fatalf("%s is required (BENCH_REQUIRE_SERVERS=1): %v", testURL, err)
		}
		t.Skipf("%s does not answer (%v)", testURL, err)
	}
	if err := b.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 12, 1, 22, 2, 14, 265046000, time.UTC)
	b.now = func() time.Time { return fixed }
	var mu sync.Mutex
	var log []string
	b.hook = func(conn uint64, cmd, stmt string) {
		mu.Lock()
		defer mu.Unlock()
		if cmd == "Query" {
			log = append(log, stmt)
		} else {
			log = append(log, "["+cmd+"]")
		}
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := log
		log = nil
		return out
	}
	return b, take
}

func short(ss []string) string {
	var out []string
	for _, s := range ss {
		f := strings.Fields(s)
		if len(f) > 2 {
			f = f[:2]
		}
		out = append(out, strings.Join(f, " "))
	}
	return strings.Join(out, " | ")
}

// TestStatementSequences checks the sequences of the reference capture
// (celery-postgresql-backend.md §2.1, §2.7, §2.8) on Celery 5.2.
func TestStatementSequences(t *testing.T) {
	o := backends.DefaultOptions
	o.Celery = backends.Celery52
	b, take := openTest(t, o)
	ctx := context.Background()
	id := fmt.Sprintf("pgtest-%d", time.Now().UnixNano())
	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	// first op of a fresh child: the create_all check, then the store
	if err := w.StoreResult(ctx, &backends.TaskMeta{TaskID: id, Status: backends.Success, Result: int64(5)}); err != nil {
		t.Fatal(err)
	}
	got := take()
	want := "[Connect] | BEGIN | SELECT t.oid, | ROLLBACK | BEGIN | select pg_catalog.version() | select current_schema() | show transaction | show standard_conforming_strings | ROLLBACK | " +
		"BEGIN | select relname | select relname | COMMIT | BEGIN | SELECT celery_taskmeta.id | INSERT INTO | UPDATE celery_taskmeta | COMMIT"
	if short(got) != want {
		t.Errorf("first store:\n got %s\nwant %s", short(got), want)
	}
	if ins := got[len(got)-3]; ins != "INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback) VALUES (nextval('task_id_sequence'), '"+id+"', 'PENDING', NULL, '2026-12-01T22:02:14.265046'::timestamp, NULL) RETURNING celery_taskmeta.id" {
		t.Errorf("INSERT = %q", ins)
	}
	if up := got[len(got)-2]; !strings.HasPrefix(up, `UPDATE celery_taskmeta SET status='SUCCESS', result='\x80054b052e'::bytea, date_done='2026-12-01T22:02:14.265046'::timestamp, traceback=NULL WHERE celery_taskmeta.id = `) {
		t.Errorf("UPDATE = %q", up)
	}
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.GetTaskMeta(ctx, id); err != nil { // first op: two connections
		t.Fatal(err)
	}
	take()
	m, err := c.GetTaskMeta(ctx, id)
	if err != nil || m.Status != backends.Success || m.Result != int64(5) {
		t.Fatalf("GetTaskMeta = %+v, %v", m, err)
	}
	want = "[Connect] | BEGIN | SELECT t.oid, | ROLLBACK | BEGIN | select pg_catalog.version() | select current_schema() | show transaction | show standard_conforming_strings | ROLLBACK | BEGIN | SELECT celery_taskmeta.id | ROLLBACK | [Terminate]"
	if got := short(take()); got != want {
		t.Errorf("poll:\n got %s\nwant %s", got, want)
	}
	if err := c.Forget(ctx, id); err != nil {
		t.Fatal(err)
	}
	got = take()
	if g := short(got[10:]); g != "BEGIN | DELETE FROM | COMMIT | [Terminate]" {
		t.Errorf("forget: %s", g)
	}
}
