package djangodb

import (
	"context"
	"testing"

	"github.com/celery-bench/bench/backends"
)

// TestDateDoneIndex checks --date-done-index on a real server: auto
// creates migration 0009's two date_done indexes with the tables; yes and
// no create or drop them on existing tables; auto then leaves the tables as
// they are.
func TestDateDoneIndex(t *testing.T) {
	const db = "celery_bench_django_test_index"
	for _, u := range []struct{ name, url, drop string }{
		{"mysql", "django-db+mysql://root@127.0.0.1:3306/" + db, "DROP DATABASE IF EXISTS `" + db + "`"},
		{"postgres", "django-db+postgresql://postgres@127.0.0.1:5432/" + db, `DROP DATABASE IF EXISTS "` + db + `" WITH (FORCE)`},
	} {
		t.Run(u.name, func(t *testing.T) { testDateDoneIndex(t, u.url, u.drop) })
	}
}

func testDateDoneIndex(t *testing.T, rawURL, dropStmt string) {
	ctx := context.Background()
	open := func(c backends.IndexChoice) *backend {
		t.Helper()
		o := backends.DefaultOptions
		o.DateDoneIndex = c
		return openTest(t, rawURL, o)
	}
	indexes := func(b *backend) string {
		t.Helper()
		c, err := b.dial(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer c.close()
		var n int64
		for _, ix := range dateDoneIndexes {
			k, err := c.queryInt(ctx, b.d.dateDoneIndexCount(ix[0], ix[1], true))
			if err != nil {
				t.Fatal(err)
			}
			n += k
		}
		return map[int64]string{0: "0", 2: "2"}[n]
	}
	drop := func(b *backend) {
		t.Helper()
		a, err := b.dial(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		defer a.close()
		if _, err := a.exec(ctx, dropStmt); err != nil {
			t.Fatal(err)
		}
	}
	b := open(backends.IndexAuto)
	drop(b) // a fresh database: auto decides at creation
	b = open(backends.IndexAuto)
	t.Cleanup(func() { drop(b) })
	if got := indexes(b); got != "2" {
		t.Fatalf("auto on new tables: %q date_done indexes, want 2", got)
	}
	for _, step := range []struct {
		c    backends.IndexChoice
		want string
	}{{backends.IndexNo, "0"}, {backends.IndexAuto, "0"}, {backends.IndexYes, "2"}, {backends.IndexYes, "2"}, {backends.IndexAuto, "2"}, {backends.IndexNo, "0"}} {
		if got := indexes(open(step.c)); got != step.want {
			t.Fatalf("%s on existing tables: %q date_done indexes, want %s", step.c, got, step.want)
		}
	}
	drop(b)
	if got := indexes(open(backends.IndexNo)); got != "0" {
		t.Errorf("no on new tables: %q date_done indexes, want 0", got)
	}
}
