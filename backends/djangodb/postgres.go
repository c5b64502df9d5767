package djangodb

// The PostgreSQL dialect: Django's django.db.backends.postgresql with
// psycopg2 2.9, on the parts it shares with the SQLAlchemy flavour
// (backends/pgdialect: libpq's options, psycopg2's literals, the server's
// counters). Statements go through pgx's low-level pgconn as
// simple-protocol Queries of the text built here, so the server logs
// "statement: …" exactly as it does for psycopg2. Django runs psycopg2 in
// autocommit: nothing but an atomic block sends BEGIN.

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/pgdialect"
)

// stmtSetTimeZone is DatabaseWrapper.ensure_timezone under USE_TZ=True,
// TIME_ZONE='UTC': sent when the server's TimeZone parameter is not the
// string 'UTC' (a server set to 'Etc/UTC' gets it on every connection).
const stmtSetTimeZone = "SET TIME ZONE 'UTC'"

type pgDialect struct {
	cfg     pgdialect.Config
	timeout time.Duration
}

func newPostgres(u *url.URL, o backends.Options) (*pgDialect, time.Duration, bool, error) {
	var age time.Duration
	given := false
	cfg, err := pgdialect.ParseURL(u, "django-db", DefaultDatabase, func(k string, v []string) (bool, error) {
		if k != "conn_max_age" {
			return false, nil
		}
		given = true
		var err error
		age, err = parseConnMaxAge(u, v)
		return true, err
	}, "sslmode, conn_max_age")
	if err != nil {
		return nil, 0, false, err
	}
	return &pgDialect{cfg: cfg, timeout: o.ConnectTimeout}, age, given, nil
}

func (d *pgDialect) quote(name string) string                 { return `"` + name + `"` }
func (d *pgDialect) appendString(dst []byte, s string) []byte { return pgdialect.AppendString(dst, s) }

// appendDate: psycopg2's adaptation of an aware datetime,
// '…T…[.ffffff]+00:00'::timestamptz.
func (d *pgDialect) appendDate(dst []byte, t time.Time) []byte {
	return pgdialect.AppendDate(dst, t, true)
}

// parseDate reads a timestamptz in the connection's UTC session
// ("2026-12-01 22:08:10.538885+00").
func (d *pgDialect) parseDate(v []byte) (time.Time, bool) { return pgdialect.TextDate(v) }

// appendPrefixMatch: PostgreSQL's LIKE is case-sensitive already.
func (d *pgDialect) appendPrefixMatch(s []byte, column, prefix string) []byte {
	s = append(s, `"`+column+`" LIKE `...)
	return pgdialect.AppendLike(s, prefix)
}

func (d *pgDialect) returning() bool            { return true }
func (d *pgDialect) checksRepeatableRead() bool { return false }
func (d *pgDialect) beginAtomic() []string      { return []string{"BEGIN"} }
func (d *pgDialect) commitAtomic() []string     { return []string{"COMMIT"} }
func (d *pgDialect) rollbackAtomic() []string   { return []string{"ROLLBACK"} }
func (d *pgDialect) goodbye() string            { return "Terminate" }
func (d *pgDialect) addr() string               { return d.cfg.Addr() }
func (d *pgDialect) database() string           { return d.cfg.Database }

// dial connects as psycopg2 does (libpq: TLS when the server offers it
// under sslmode=prefer; no application_name).
func (d *pgDialect) dial(ctx context.Context, admin bool) (link, error) {
	db := d.cfg.Database
	if admin {
		db = pgdialect.MaintenanceDB
	}
	pcfg, err := d.cfg.PgConfig(db, d.timeout)
	if err != nil {
		return nil, fmt.Errorf("django-db: %s: %v", d.cfg.Addr(), err)
	}
	pc, err := pgconn.ConnectConfig(ctx, pcfg)
	if err != nil {
		return nil, pgdialect.ConnectError(ctx, ctx, "django-db", d.cfg, db, d.timeout, err)
	}
	return &pgLink{pc: pc}, nil
}

// setUp is Django's init_connection_state on PostgreSQL: ensure_timezone
// only (psycopg2's client encoding and autocommit are client-side, and no
// isolation level is configured).
func (d *pgDialect) setUp(ctx context.Context, c *conn, first bool) error {
	if l, ok := c.l.(*pgLink); ok && l.pc.ParameterStatus("TimeZone") == "UTC" {
		return nil
	}
	_, err := c.exec(ctx, stmtSetTimeZone)
	return err
}

func (d *pgDialect) probe(ctx context.Context, c *conn) (backends.ServerInfo, error) {
	l := c.l.(*pgLink)
	return backends.ServerInfo{Product: "PostgreSQL", Version: l.pc.ParameterStatus("server_version")}, nil
}

// isUsable: psycopg2's cursor().execute('SELECT 1'), in autocommit.
func (d *pgDialect) isUsable(ctx context.Context, c *conn) error {
	_, err := c.exec(ctx, "SELECT 1")
	return err
}

// markServer: a *pgconn.PgError says SQLState() itself.
func (d *pgDialect) markServer(err error) error { return err }

func (d *pgDialect) createDatabase(ctx context.Context, a *conn) error {
	n, err := a.queryInt(ctx, "SELECT COUNT(*) FROM pg_database WHERE datname = "+string(pgdialect.AppendString(nil, d.cfg.Database)))
	if err == nil && n == 0 {
		_, err = a.exec(ctx, `CREATE DATABASE "`+d.cfg.Database+`"`)
	}
	return err
}

func (d *pgDialect) schemaFilter() string { return "table_schema = current_schema()" }

// pgTables are the end state of migrations 0001–0011 on PostgreSQL as
// Django's schema editor leaves it (serial keys, timestamptz, the
// varchar_pattern_ops _like indexes, <table>_<col>_key unique
// constraints), with migration 0009's named indexes.
var pgTables = []tableDDL{
	{tableTask, `CREATE TABLE "django_celery_results_taskresult" ("id" serial NOT NULL PRIMARY KEY, "task_id" varchar(255) NOT NULL UNIQUE, "status" varchar(50) NOT NULL, "content_type" varchar(128) NOT NULL, "content_encoding" varchar(64) NOT NULL, "result" text NULL, "date_done" timestamp with time zone NOT NULL, "traceback" text NULL, "meta" text NULL, "task_args" text NULL, "task_kwargs" text NULL, "task_name" varchar(255) NULL, "worker" varchar(100) NULL, "date_created" timestamp with time zone NOT NULL, "periodic_task_name" varchar(255) NULL)`, []string{
		`CREATE INDEX "django_celery_results_taskresult_task_id_de0d95bf_like" ON "django_celery_results_taskresult" ("task_id" varchar_pattern_ops)`,
		`CREATE INDEX "django_cele_task_na_08aec9_idx" ON "django_celery_results_taskresult" ("task_name")`,
		`CREATE INDEX "django_cele_status_9b6201_idx" ON "django_celery_results_taskresult" ("status")`,
		`CREATE INDEX "django_cele_worker_d54dd8_idx" ON "django_celery_results_taskresult" ("worker")`,
		`CREATE INDEX "django_cele_date_cr_f04a50_idx" ON "django_celery_results_taskresult" ("date_created")`,
		`CREATE INDEX "django_cele_date_do_f59aad_idx" ON "django_celery_results_taskresult" ("date_done")`,
	}},
	{tableChord, `CREATE TABLE "django_celery_results_chordcounter" ("id" serial NOT NULL PRIMARY KEY, "group_id" varchar(255) NOT NULL UNIQUE, "sub_tasks" text NOT NULL, "count" integer NOT NULL CHECK ("count" >= 0))`, []string{
		`CREATE INDEX "django_celery_results_chordcounter_group_id_1f70858c_like" ON "django_celery_results_chordcounter" ("group_id" varchar_pattern_ops)`,
	}},
	{tableGroup, `CREATE TABLE "django_celery_results_groupresult" ("id" serial NOT NULL PRIMARY KEY, "group_id" varchar(255) NOT NULL UNIQUE, "date_created" timestamp with time zone NOT NULL, "date_done" timestamp with time zone NOT NULL, "content_type" varchar(128) NOT NULL, "content_encoding" varchar(64) NOT NULL, "result" text NULL)`, []string{
		`CREATE INDEX "django_cele_date_cr_bd6c1d_idx" ON "django_celery_results_groupresult" ("date_created")`,
		`CREATE INDEX "django_cele_date_do_caae0e_idx" ON "django_celery_results_groupresult" ("date_done")`,
		`CREATE INDEX "django_celery_results_groupresult_group_id_a085f1a9_like" ON "django_celery_results_groupresult" ("group_id" varchar_pattern_ops)`,
	}},
}

func (d *pgDialect) tables() []tableDDL { return pgTables }

func (d *pgDialect) createMigrations() string {
	return `CREATE TABLE "django_migrations" ("id" serial NOT NULL PRIMARY KEY, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "applied" timestamp with time zone NOT NULL)`
}

func (d *pgDialect) fromDual() string { return "" }

func (d *pgDialect) dateDoneIndexCount(table, name string, any bool) string {
	s := "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = '" + table + "'"
	if any {
		return s + " AND indexdef LIKE '%(date_done)'"
	}
	return s + " AND indexname = '" + name + "'"
}

func (d *pgDialect) createIndex(table, name string) string {
	return `CREATE INDEX "` + name + `" ON "` + table + `" ("date_done")`
}

func (d *pgDialect) dropIndex(table, name string) string { return `DROP INDEX "` + name + `"` }

// serverStats reads pgdialect.ServerStats for django_celery_results_taskresult
// on a connection of its own to bench's database (no set-up statements).
func (d *pgDialect) serverStats(ctx context.Context, b *backend) (backends.ServerStats, error) {
	c, err := b.dial(ctx, false)
	if err != nil {
		return nil, err
	}
	defer c.close()
	l := c.l.(*pgLink)
	return pgdialect.ServerStats(ctx, func(ctx context.Context, stmt string) (*pgconn.Result, error) {
		c.event("Query", stmt)
		r, err := l.send(ctx, stmt)
		if err != nil {
			return nil, c.fail(ctx, stmt, err)
		}
		return r, nil
	}, d.cfg.Host, tableTask)
}

// pgLink is one pgconn connection; every statement a simple-protocol
// Query.
type pgLink struct {
	pc    *pgconn.PgConn
	arena []byte
}

// closeTimeout bounds the Terminate of a connection being closed.
const closeTimeout = 2 * time.Second

func (l *pgLink) send(ctx context.Context, stmt string) (*pgconn.Result, error) {
	rs, err := l.pc.Exec(ctx, stmt).ReadAll()
	if err == nil && len(rs) > 0 {
		err = rs[len(rs)-1].Err
	}
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return &pgconn.Result{}, nil
	}
	return rs[len(rs)-1], nil
}

func (l *pgLink) exec(ctx context.Context, stmt string) (int64, error) {
	mrr := l.pc.Exec(ctx, stmt)
	var n int64
	for mrr.NextResult() {
		tag, err := mrr.ResultReader().Close()
		if err != nil {
			mrr.Close()
			return 0, err
		}
		n = tag.RowsAffected()
	}
	return n, mrr.Close()
}

func (l *pgLink) query(ctx context.Context, stmt string, dest []driver.Value) (bool, error) {
	mrr := l.pc.Exec(ctx, stmt)
	found := false
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		if fd := rr.FieldDescriptions(); len(fd) > 0 && len(fd) != len(dest) {
			rr.Close()
			mrr.Close()
			return false, fmt.Errorf("%d columns, want %d", len(fd), len(dest))
		}
		for rr.NextRow() {
			if found {
				continue
			}
			for i, v := range rr.Values() {
				if v == nil {
					dest[i] = nil
				} else {
					dest[i] = v
				}
			}
			keepRow(&l.arena, dest)
			found = true
		}
		if _, err := rr.Close(); err != nil {
			mrr.Close()
			return false, err
		}
	}
	return found, mrr.Close()
}

func (l *pgLink) rows(ctx context.Context, stmt string, fn func(cols []string, row []driver.Value)) error {
	r, err := l.send(ctx, stmt)
	if err != nil {
		return err
	}
	cols := make([]string, len(r.FieldDescriptions))
	for i, f := range r.FieldDescriptions {
		cols[i] = f.Name
	}
	row := make([]driver.Value, len(cols))
	for _, vals := range r.Rows {
		for i, v := range vals {
			if v == nil {
				row[i] = nil
			} else {
				row[i] = v
			}
		}
		fn(cols, row)
	}
	return nil
}

func (l *pgLink) usable() bool { return !l.pc.IsClosed() }

func (l *pgLink) close(polite bool) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	l.pc.Close(ctx)
}
