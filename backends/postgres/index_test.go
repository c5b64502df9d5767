package postgres

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// TestDateDoneIndex checks --date-done-index on a real server: auto creates
// the date_done indexes with the tables from Celery 5.6 on and not before;
// yes and no create or drop them on existing tables; auto then leaves the
// tables as they are.
func TestDateDoneIndex(t *testing.T) {
	const db = "celery_bench_pgtest_index"
	ctx := context.Background()
	open := func(t *testing.T, v backends.Version, c backends.IndexChoice) *backend {
		t.Helper()
		u, _ := url.Parse("db+postgresql://postgres@127.0.0.1:5432/" + db)
		o := backends.DefaultOptions
		o.Celery, o.DateDoneIndex, o.ConnectTimeout, o.Force = v, c, 2*time.Second, true
		b, err := openBackend(ctx, u, o)
		if err != nil {
			if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
				t.Fatalf("%s is required (BENCH_REQUIRE_SERVERS=1): %v", u, err)
			}
			t.Skipf("%s does not answer (%v)", u, err)
		}
		if err := b.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		return b
	}
	indexes := func(t *testing.T, b *backend) string {
		t.Helper()
		c, err := b.dial(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		r, err := c.send(ctx, "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '%(date_done)'")
		if err != nil || len(r.Rows) != 1 {
			t.Fatalf("counting indexes: %v", err)
		}
		return string(r.Rows[0][0])
	}
	drop := func(t *testing.T, b *backend) {
		t.Helper()
		a, err := b.dial(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		defer a.close()
		if _, err := a.send(ctx, `DROP DATABASE IF EXISTS "`+db+`" WITH (FORCE)`); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range backends.Versions() {
		t.Run("celery"+v.String(), func(t *testing.T) {
			b := open(t, v, backends.IndexAuto)
			drop(t, b) // a fresh database: auto decides at creation
			b = open(t, v, backends.IndexAuto)
			t.Cleanup(func() { drop(t, b) })
			want := "0"
			if v.AtLeast(5, 6) {
				want = "2"
			}
			if got := indexes(t, b); got != want {
				t.Fatalf("auto on new tables: %s date_done indexes, want %s", got, want)
			}
			for _, step := range []struct {
				c    backends.IndexChoice
				want string
			}{{backends.IndexNo, "0"}, {backends.IndexAuto, "0"}, {backends.IndexYes, "2"}, {backends.IndexYes, "2"}, {backends.IndexAuto, "2"}, {backends.IndexNo, "0"}} {
				if got := indexes(t, open(t, v, step.c)); got != step.want {
					t.Fatalf("%s on existing tables: %s date_done indexes, want %s", step.c, got, step.want)
				}
			}
			drop(t, b)
			if got := indexes(t, open(t, v, backends.IndexYes)); got != "2" {
				t.Errorf("yes on new tables: %s date_done indexes, want 2", got)
			}
			drop(t, b)
			if got := indexes(t, open(t, v, backends.IndexNo)); got != "0" {
				t.Errorf("no on new tables: %s date_done indexes, want 0", got)
			}
		})
	}
}
