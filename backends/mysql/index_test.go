package mysql

import (
	"testing"

	"github.com/celery-bench/bench/backends"
)

// TestDateDoneIndex checks --date-done-index on a real server: auto creates
// the date_done indexes with the tables from Celery 5.6 on and not before;
// yes and no create or drop them on existing tables; auto then leaves the
// tables as they are.
func TestDateDoneIndex(t *testing.T) {
	indexes := func(t *testing.T, db string) string {
		t.Helper()
		return queryString(t, db, "SELECT COUNT(DISTINCT table_name, index_name) FROM information_schema.statistics WHERE table_schema = DATABASE() AND column_name = 'date_done'")
	}
	open := func(t *testing.T, db string, v backends.Version, c backends.IndexChoice) {
		t.Helper()
		o := testOptions(v)
		o.DateDoneIndex = c
		openPrepared(t, db, o)
	}
	for _, v := range backends.Versions() {
		t.Run("celery"+v.String(), func(t *testing.T) {
			db := scratchDB(t)
			open(t, db, v, backends.IndexAuto)
			want := "0"
			if v.AtLeast(5, 6) {
				want = "2"
			}
			if got := indexes(t, db); got != want {
				t.Fatalf("auto on new tables: %s date_done indexes, want %s", got, want)
			}
			for _, step := range []struct {
				c    backends.IndexChoice
				want string
			}{{backends.IndexNo, "0"}, {backends.IndexAuto, "0"}, {backends.IndexYes, "2"}, {backends.IndexYes, "2"}, {backends.IndexAuto, "2"}, {backends.IndexNo, "0"}} {
				open(t, db, v, step.c)
				if got := indexes(t, db); got != step.want {
					t.Fatalf("%s on existing tables: %s date_done indexes, want %s", step.c, got, step.want)
				}
			}
			// A new table under an explicit choice.
			db2 := scratchDB(t, "_no")
			open(t, db2, v, backends.IndexNo)
			if got := indexes(t, db2); got != "0" {
				t.Errorf("no on new tables: %s date_done indexes, want 0", got)
			}
			db3 := scratchDB(t, "_yes")
			open(t, db3, v, backends.IndexYes)
			if got := indexes(t, db3); got != "2" {
				t.Errorf("yes on new tables: %s date_done indexes, want 2", got)
			}
		})
	}
}
