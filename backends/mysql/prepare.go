package mysql

import (
	"context"
	"fmt"
	"strings"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

// idColumns are the id columns of tableNames.
var idColumns = [2]string{"task_id", "taskset_id"}

// cleanupBatch is how many rows one DELETE of Cleanup removes.
const cleanupBatch = 10000

// Prepare creates bench's database if it is missing and Celery's tables in
// it (with the statements create_all would send), checks that the tables
// are Celery's, and refuses a database holding results whose ids do not
// start with Options.IDPrefix unless Options.Force is set (and
// Options.KeepForeign is not).
func (b *backend) Prepare(ctx context.Context) error {
	a, err := b.dial(ctx, true)
	if err != nil {
		return err
	}
	_, err = a.exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+b.cfg.Database+"`")
	a.close()
	if err != nil {
		return err
	}
	c, err := b.dial(ctx, false)
	if err != nil {
		return err
	}
	defer c.close()
	if err := b.createAll(ctx, c); err != nil {
		return err
	}
	if err := b.checkSchema(ctx, c); err != nil {
		return err
	}
	if err := b.matchDateDoneIndex(ctx, c); err != nil {
		return err
	}
	if (b.opts.Force && !b.opts.KeepForeign) || b.opts.IDPrefix == "" {
		return nil
	}
	var counts [2]int64
	for i, t := range tableNames {
		s := append(c.sql[:0], "SELECT COUNT(*) FROM "+t+" WHERE "+idColumns[i]+" IS NULL OR NOT ("...)
		c.sql = append(b.appendPrefixMatch(s, idColumns[i], b.opts.IDPrefix), ')')
		if counts[i], err = c.queryInt(ctx, string(c.sql)); err != nil {
			return err
		}
	}
	return sqla.ForeignError("mysql", b.cfg.Database, b.cfg.Addr, counts, &b.opts)
}

// checkSchema makes sure celery_taskmeta and celery_tasksetmeta are the
// tables Celery's models declare (a database may hold an older schema of
// the same name, such as django-celery's), and that on MariaDB the id
// sequences exist.
func (b *backend) checkSchema(ctx context.Context, c *conn) error {
	want := [2][]string{taskColumns[:], {"id", "taskset_id", "result", "date_done"}}
	for i, t := range tableNames {
		s := append(c.sql[:0], "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = "...)
		s = appendString(s, b.cfg.Database, b.dialect.noBackslash)
		s = append(s, " AND table_name = '"+t+"' AND column_name IN ('"+strings.Join(want[i], "', '")+"')"...)
		c.sql = s
		n, err := c.queryInt(ctx, string(c.sql))
		if err != nil {
			return err
		}
		if n != int64(len(want[i])) {
			return fmt.Errorf("mysql: table %s in database %q on %s is not Celery's (it lacks some of the columns %s): drop it or name another database in --backend",
				t, b.cfg.Database, b.cfg.Addr, strings.Join(want[i], ", "))
		}
		if !b.dialect.sequences {
			continue
		}
		found, err := c.query(ctx, b.hasSequence[i], c.scratch(1))
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("mysql: table %s in database %q on %s has no sequence %s, which Celery on MariaDB >= 10.3 takes its ids from: drop the table or name another database in --backend",
				t, b.cfg.Database, b.cfg.Addr, sequenceNames[i])
		}
	}
	return nil
}

// matchDateDoneIndex makes existing tables match an explicit
// Options.DateDoneIndex: it creates ix_<table>_date_done where no index
// covers date_done, or drops it where it is there and not wanted.
// IndexAuto leaves the tables as they are.
func (b *backend) matchDateDoneIndex(ctx context.Context, c *conn) error {
	if b.opts.DateDoneIndex == backends.IndexAuto {
		return nil
	}
	want := b.indexDateDone()
	for i, t := range tableNames {
		s := append(c.sql[:0], "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = "...)
		s = appendString(s, b.cfg.Database, b.dialect.noBackslash)
		if want {
			s = append(s, " AND table_name = '"+t+"' AND column_name = 'date_done'"...)
		} else {
			s = append(s, " AND table_name = '"+t+"' AND index_name = 'ix_"+t+"_date_done'"...)
		}
		c.sql = s
		n, err := c.queryInt(ctx, string(c.sql))
		if err != nil {
			return err
		}
		switch {
		case want && n == 0:
			_, err = c.exec(ctx, b.createIndex[i])
		case !want && n > 0:
			_, err = c.exec(ctx, "DROP INDEX ix_"+t+"_date_done ON "+t)
		}
		if err != nil {
			return fmt.Errorf("mysql: date_done index of %s in database %q on %s: %w", t, b.cfg.Database, b.cfg.Addr, err)
		}
	}
	_, err := c.exec(ctx, stmtCommit)
	return err
}

// appendPrefixMatch appends a condition true when column starts with
// prefix, case-sensitively. The LIKE lets the server use the unique index;
// the binary comparison drops the matches that differ only in case.
func (b *backend) appendPrefixMatch(s []byte, column, prefix string) []byte {
	s = append(s, column+" LIKE "...)
	s = appendLike(s, prefix, b.dialect.noBackslash)
	s = append(s, " AND CAST("+column+" AS BINARY) LIKE "...)
	return appendLike(s, prefix, b.dialect.noBackslash)
}

// Cleanup deletes the results and groups whose ids start with prefix, in
// committed batches of cleanupBatch rows, and returns how many it deleted.
// An empty prefix is refused: it would delete everything.
func (b *backend) Cleanup(ctx context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, fmt.Errorf("mysql: cleanup needs an id prefix")
	}
	c, err := b.dial(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	var total int64
	for i, t := range tableNames {
		for {
			s := append(c.sql[:0], "DELETE FROM "+t+" WHERE "...)
			s = b.appendPrefixMatch(s, idColumns[i], prefix)
			c.sql = append(s, fmt.Sprintf(" LIMIT %d", cleanupBatch)...)
			res, err := c.execSQL(ctx)
			if err != nil {
				return total, err
			}
			if _, err := c.exec(ctx, stmtCommit); err != nil {
				return total, err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return total, err
			}
			total += n
			if n < cleanupBatch {
				break
			}
		}
	}
	return total, nil
}
