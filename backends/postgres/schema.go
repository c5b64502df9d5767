package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/pgdialect"
	"github.com/celery-bench/bench/backends/sqla"
)

// The statements of create_all on PostgreSQL (SQLAlchemy 1.4's dialect):
// has_table, has_sequence, and the DDL of Celery's models, TaskExtended's
// columns included.
var (
	hasTable    [2]string
	hasSequence [2]string
	createTable [2]string
	createIndex [2]string
)

func init() {
	columns := [2][]string{
		{"id INTEGER NOT NULL", "task_id VARCHAR(155)", "status VARCHAR(50)", "result BYTEA",
			"date_done TIMESTAMP WITHOUT TIME ZONE", "traceback TEXT", "name VARCHAR(155)", "args BYTEA",
			"kwargs BYTEA", "worker VARCHAR(155)", "retries INTEGER", "queue VARCHAR(155)",
			"PRIMARY KEY (id)", "UNIQUE (task_id)"},
		{"id INTEGER NOT NULL", "taskset_id VARCHAR(155)", "result BYTEA",
			"date_done TIMESTAMP WITHOUT TIME ZONE", "PRIMARY KEY (id)", "UNIQUE (taskset_id)"},
	}
	for i, t := range sqla.TableNames {
		hasTable[i] = "select relname from pg_class c join pg_namespace n on n.oid=c.relnamespace where pg_catalog.pg_table_is_visible(c.oid) and relname='" + t + "'"
		hasSequence[i] = "SELECT relname FROM pg_class c join pg_namespace n on n.oid=c.relnamespace where relkind='S' and n.nspname='public' and relname='" + sqla.SequenceNames[i] + "'"
		s := "\nCREATE TABLE " + t + " ("
		for j, c := range columns[i] {
			if j > 0 {
				s += ", "
			}
			s += "\n\t" + c
		}
		createTable[i] = s + "\n)\n\n"
		createIndex[i] = "CREATE INDEX ix_" + t + "_date_done ON " + t + " (date_done)"
	}
}

// createAll runs metadata.create_all(engine) on c: one transaction that
// checks both tables and creates the missing ones, each after its
// sequence (checked first) and before its date_done index (5.6.3).
func (b *backend) createAll(ctx context.Context, c *conn) error {
	var missing [2]bool
	for i := range sqla.TableNames {
		r, err := c.query(ctx, hasTable[i])
		if err != nil {
			return err
		}
		missing[i] = len(r.Rows) == 0
	}
	for i := range sqla.TableNames {
		if !missing[i] {
			continue
		}
		r, err := c.query(ctx, hasSequence[i])
		if err != nil {
			return err
		}
		if len(r.Rows) == 0 {
			if _, err := c.query(ctx, "CREATE SEQUENCE "+sqla.SequenceNames[i]+" START WITH 1"); err != nil {
				return err
			}
		}
		if _, err := c.query(ctx, createTable[i]); err != nil {
			return err
		}
		if b.indexDateDone() {
			if _, err := c.query(ctx, createIndex[i]); err != nil {
				return err
			}
		}
	}
	return c.commit(ctx)
}

var idColumns = [2]string{"task_id", "taskset_id"}

// matchDateDoneIndex makes existing tables match an explicit
// Options.DateDoneIndex: it creates ix_<table>_date_done where no index is
// on date_done alone, or drops it where it is there and not wanted.
// IndexAuto leaves the tables as they are.
func (b *backend) matchDateDoneIndex(ctx context.Context, c *conn) error {
	if b.opts.DateDoneIndex == backends.IndexAuto {
		return nil
	}
	want := b.indexDateDone()
	for i, t := range sqla.TableNames {
		q := "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '" + t + "' AND "
		if want {
			q += "indexdef LIKE '%(date_done)'"
		} else {
			q += "indexname = 'ix_" + t + "_date_done'"
		}
		r, err := c.send(ctx, q)
		if err == nil {
			switch {
			case want && len(r.Rows) == 0:
				_, err = c.send(ctx, createIndex[i])
			case !want && len(r.Rows) > 0:
				_, err = c.send(ctx, "DROP INDEX ix_"+t+"_date_done")
			}
		}
		if err != nil {
			return fmt.Errorf("postgres: date_done index of %s in database %q on %s: %w", t, b.cfg.Database, b.cfg.Addr(), err)
		}
	}
	return nil
}

// Prepare creates bench's database if it is missing and Celery's tables in
// it (with create_all's statements), checks that the tables are Celery's,
// and refuses a database holding results whose ids do not start with
// Options.IDPrefix unless Options.Force is set (and KeepForeign is not).
func (b *backend) Prepare(ctx context.Context) error {
	a, err := b.dial(ctx, true)
	if err != nil {
		return err
	}
	r, err := a.send(ctx, "SELECT 1 FROM pg_database WHERE datname = "+string(appendString(nil, b.cfg.Database)))
	if err == nil && len(r.Rows) == 0 {
		_, err = a.send(ctx, `CREATE DATABASE "`+b.cfg.Database+`"`)
		if err != nil && strings.Contains(err.Error(), "42P04") { // duplicate_database: created meanwhile
			err = nil
		}
	}
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
		abort(ctx, c)
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
	for i, t := range sqla.TableNames {
		s := append(c.sql[:0], "SELECT COUNT(*) FROM "+t+" WHERE "+idColumns[i]+" IS NULL OR "+idColumns[i]+" NOT LIKE "...)
		c.sql = appendLike(s, b.opts.IDPrefix)
		r, err := c.send(ctx, string(c.sql))
		if err != nil {
			return err
		}
		if len(r.Rows) == 1 {
			counts[i], _ = textInt(r.Rows[0][0])
		}
	}
	return sqla.ForeignError("postgres", b.cfg.Database, b.cfg.Addr(), counts, &b.opts)
}

// checkSchema makes sure both tables have Celery's columns and the id
// sequences exist. It runs in autocommit (no BEGIN).
func (b *backend) checkSchema(ctx context.Context, c *conn) error {
	want := [2][]string{sqla.TaskColumns[:], {"id", "taskset_id", "result", "date_done"}}
	for i, t := range sqla.TableNames {
		r, err := c.send(ctx, "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '"+
			t+"' AND column_name IN ('"+strings.Join(want[i], "', '")+"')")
		if err != nil {
			return err
		}
		if n, _ := textInt(r.Rows[0][0]); n != int64(len(want[i])) {
			return errorf("table %s in database %q on %s is not Celery's (it lacks some of the columns %s): drop it or name another database in --backend",
				t, b.cfg.Database, b.cfg.Addr(), strings.Join(want[i], ", "))
		}
		r, err = c.send(ctx, hasSequence[i])
		if err != nil {
			return err
		}
		if len(r.Rows) == 0 {
			return errorf("table %s in database %q on %s has no sequence %s, which Celery takes its ids from: drop the table or name another database in --backend",
				t, b.cfg.Database, b.cfg.Addr(), sqla.SequenceNames[i])
		}
	}
	return nil
}

var appendLike = pgdialect.AppendLike

// cleanupBatch is how many rows one DELETE of Cleanup removes.
const cleanupBatch = 10000

// Cleanup deletes the results and groups whose ids start with prefix, in
// committed batches, and returns how many it deleted. An empty prefix is
// refused.
func (b *backend) Cleanup(ctx context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, errorf("cleanup needs an id prefix")
	}
	c, err := b.dial(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	var total int64
	for i, t := range sqla.TableNames {
		for {
			s := append(c.sql[:0], "DELETE FROM "+t+" WHERE id IN (SELECT id FROM "+t+" WHERE "+idColumns[i]+" LIKE "...)
			s = appendLike(s, prefix)
			c.sql = append(s, fmt.Sprintf(" LIMIT %d)", cleanupBatch)...)
			r, err := c.send(ctx, string(c.sql)) // autocommit
			if err != nil {
				return total, err
			}
			n := r.CommandTag.RowsAffected()
			total += n
			if n < cleanupBatch {
				break
			}
		}
	}
	return total, nil
}
