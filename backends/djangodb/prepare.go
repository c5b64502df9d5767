package djangodb

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends"
)

// dateDoneIndexes are the names of migration 0009's date_done indexes, by
// table (the models' Meta.indexes; date_done itself has no db_index since
// 0009).
var dateDoneIndexes = [][2]string{{tableTask, "django_cele_date_do_f59aad_idx"}, {tableGroup, "django_cele_date_do_caae0e_idx"}}

// matchDateDoneIndex makes existing tables match an explicit
// Options.DateDoneIndex: it creates 0009's date_done index where no index
// covers date_done, or drops it where it is there and not wanted.
// IndexAuto leaves the tables as they are.
func (b *backend) matchDateDoneIndex(ctx context.Context, c *conn) error {
	if b.opts.DateDoneIndex == backends.IndexAuto {
		return nil
	}
	want := b.opts.DateDoneIndex.Resolve(true)
	for _, ix := range dateDoneIndexes {
		n, err := c.queryInt(ctx, b.d.dateDoneIndexCount(ix[0], ix[1], want))
		if err == nil {
			switch {
			case want && n == 0:
				_, err = c.exec(ctx, b.d.createIndex(ix[0], ix[1]))
			case !want && n > 0:
				_, err = c.exec(ctx, b.d.dropIndex(ix[0], ix[1]))
			}
		}
		if err != nil {
			return fmt.Errorf("django-db: date_done index of %s in database %q on %s: %w", ix[0], b.d.database(), b.d.addr(), err)
		}
	}
	return nil
}

// migrations are the django_celery_results migrations the schema stands
// for; Prepare records them in django_migrations so that a later
// `manage.py migrate` on the same database finds them applied.
var migrations = []string{"0001_initial", "0002_add_task_name_args_kwargs", "0003_auto_20181106_1101",
	"0004_auto_20190516_0412", "0005_taskresult_worker", "0006_taskresult_date_created",
	"0007_remove_taskresult_hidden", "0008_chordcounter", "0009_groupresult",
	"0010_remove_duplicate_indices", "0011_taskresult_periodic_task_name"}

// Prepare creates bench's database and django_celery_results' tables if
// missing, and refuses a database holding results whose ids do not start
// with Options.IDPrefix unless Options.Force is set (and KeepForeign is
// not).
func (b *backend) Prepare(ctx context.Context) error {
	a, err := b.dial(ctx, true)
	if err != nil {
		return err
	}
	err = b.d.createDatabase(ctx, a)
	a.close()
	if err != nil {
		return err
	}
	c, err := b.dial(ctx, false)
	if err != nil {
		return err
	}
	defer c.close()
	exists := func(table string) (bool, error) {
		s := append(c.sql[:0], "SELECT COUNT(*) FROM information_schema.tables WHERE "+b.d.schemaFilter()...)
		c.sql = b.appendString(append(s, " AND table_name = "...), table)
		n, err := c.queryInt(ctx, string(c.sql))
		return n > 0, err
	}
	created := false
	for _, t := range b.d.tables() {
		ok, err := exists(t.table)
		if err != nil {
			return err
		}
		if ok {
			continue
		}
		if _, err := c.exec(ctx, t.create); err != nil {
			return err
		}
		for _, ix := range t.indexes {
			if strings.Contains(ix, "_date_do_") && !b.opts.DateDoneIndex.Resolve(true) {
				continue // --date-done-index no
			}
			if _, err := c.exec(ctx, ix); err != nil {
				return err
			}
		}
		created = true
	}
	if created {
		if err := b.recordMigrations(ctx, c, exists); err != nil {
			return err
		}
	}
	// The columns store_result writes must be there (an older
	// django_celery_results schema lacks some).
	c.sql = append(c.sql[:0], "SELECT COUNT(*) FROM information_schema.columns WHERE "+b.d.schemaFilter()+" AND table_name = '"+tableTask+"'"...)
	n, err := c.queryInt(ctx, string(c.sql))
	if err != nil {
		return err
	}
	if n != int64(len(taskColumns)) {
		return fmt.Errorf("django-db: table %s in database %q on %s has %d columns, not the %d of django-celery-results 2.4 (migrations up to 0011): migrate it or name another database in --backend",
			tableTask, b.d.database(), b.d.addr(), n, len(taskColumns))
	}
	if err := b.matchDateDoneIndex(ctx, c); err != nil {
		return err
	}
	if (b.opts.Force && !b.opts.KeepForeign) || b.opts.IDPrefix == "" {
		return nil
	}
	var counts [2]int64
	for i, t := range [2][2]string{{tableTask, "task_id"}, {tableGroup, "group_id"}} {
		s := append(c.sql[:0], "SELECT COUNT(*) FROM "+b.d.quote(t[0])+" WHERE NOT ("...)
		c.sql = append(b.d.appendPrefixMatch(s, t[1], b.opts.IDPrefix), ')')
		if counts[i], err = c.queryInt(ctx, string(c.sql)); err != nil {
			return err
		}
	}
	if n := counts[0] + counts[1]; n > 0 {
		fix := "--force runs anyway"
		if b.opts.KeepForeign {
			fix = "name a database of bench's own in --backend"
		}
		return fmt.Errorf("django-db: database %q on %s: %w: %d rows (%s %d, %s %d) have ids not starting with %q; %s",
			b.d.database(), b.d.addr(), backends.ErrForeignData, n, tableTask, counts[0], tableGroup, counts[1], b.opts.IDPrefix, fix)
	}
	return nil
}

func (b *backend) recordMigrations(ctx context.Context, c *conn, exists func(string) (bool, error)) error {
	ok, err := exists("django_migrations")
	if err != nil {
		return err
	}
	if !ok {
		if _, err := c.exec(ctx, b.d.createMigrations()); err != nil {
			return err
		}
	}
	now := time.Now()
	for _, m := range migrations {
		q := b.d.quote
		s := append(c.sql[:0], "INSERT INTO "+q("django_migrations")+" ("+q("app")+", "+q("name")+", "+q("applied")+") SELECT 'django_celery_results', "...)
		s = b.appendString(s, m)
		s = append(s, ", "...)
		s = b.appendDate(s, now)
		s = append(s, b.d.fromDual()+" WHERE NOT EXISTS (SELECT 1 FROM "+q("django_migrations")+" WHERE "+q("app")+" = 'django_celery_results' AND "+q("name")+" = "...)
		c.sql = append(b.appendString(s, m), ')')
		if _, err := c.execSQL(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Cleanup deletes bench's results, groups and chord counters whose ids
// start with prefix (autocommit) and returns how many it deleted.
func (b *backend) Cleanup(ctx context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, fmt.Errorf("django-db: cleanup needs an id prefix")
	}
	c, err := b.dial(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	var total int64
	for _, t := range [3][2]string{{tableTask, "task_id"}, {tableGroup, "group_id"}, {tableChord, "group_id"}} {
		s := append(c.sql[:0], "DELETE FROM "+b.d.quote(t[0])+" WHERE "...)
		c.sql = b.d.appendPrefixMatch(s, t[1], prefix)
		n, err := c.execSQL(ctx)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
