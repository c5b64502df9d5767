// Package djangodb is django-celery-results' DatabaseBackend
// (result_backend = 'django-db', version 2.4 on Django 3.2) on Django's
// MySQL/MariaDB backend through mysqlclient, served as
// django-db+mysql://user[:password]@host[:port]/database, and on its
// PostgreSQL backend through psycopg2, served as
// django-db+postgresql://user[:password]@host[:port]/database.
//
// It is the Django flavour of bench's SQL backends: the statement
// sequences of the ORM (TaskResult.objects.store_result's get_or_create
// and full-row UPDATE, get_task's SELECT … LIMIT 21 with MySQL's
// REPEATABLE-READ check, forget, GroupResult, ChordCounter,
// delete_expired) and Django's connection life: a worker (prefork child)
// opens a connection at a task's first write and closes it at task_postrun
// under CONN_MAX_AGE=0 (--django-conn-max-age, or the conn_max_age URL
// parameter, offers Django's CONN_MAX_AGE); a caller keeps one connection
// for its life. The result column holds the result serializer's text
// (JSON) with content_type and content_encoding, and date_created/date_done
// are written as Django writes them with USE_TZ=True.
//
// What differs between the two servers (driver, set-up statements,
// quoting, literals, atomic blocks, DDL, counters) is a dialect
// (dialect.go; mysql.go, postgres.go). Every statement is sent as text
// built here, as both drivers interpolate client-side: a COM_QUERY through
// go-sql-driver/mysql below database/sql, or a simple-protocol Query
// through pgx's pgconn. Neither sends anything of its own after the
// handshake.
package djangodb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/celery-bench/bench/backends"
)

// DefaultDatabase is the database bench uses when the URL names none.
const DefaultDatabase = "celery_bench_django"

func init() {
	backends.Register(backends.Meta{
		Name:        "django-db",
		Schemes:     []string{"django-db+mysql"},
		Description: "django-celery-results' DatabaseBackend (django-db) on MySQL/MariaDB through Django's ORM (a connection per worker task, one per caller)",
		DefaultURL:  "django-db+mysql://root@127.0.0.1:3306/" + DefaultDatabase,
		Open:        open,
	})
	backends.Register(backends.Meta{
		Name:        "django-db-postgres",
		Schemes:     []string{"django-db+postgresql", "django-db+postgres"},
		Description: "django-celery-results' DatabaseBackend (django-db) on PostgreSQL through Django's ORM and psycopg2 (a connection per worker task, one per caller)",
		DefaultURL:  "django-db+postgresql://postgres@127.0.0.1:5432/" + DefaultDatabase,
		Open:        open,
	})
}

var _ backends.Backend = (*backend)(nil)

// backend holds what every session shares: the dialect and the settings.
// It holds no connection of its own.
type backend struct {
	opts backends.Options
	d    dialect
	// connMaxAge is Django's CONN_MAX_AGE in a worker: 0 closes the
	// connection at every task boundary, < 0 is None (never closed by age).
	connMaxAge time.Duration
	server     backends.ServerInfo
	t          texts

	now  func() time.Time
	hook func(conn uint64, cmd, stmt string)
}

var connSeq atomic.Uint64

func open(ctx context.Context, u *url.URL, o backends.Options) (backends.Backend, error) {
	return openBackend(ctx, u, o)
}

// openBackend parses the URL, picks the dialect by its scheme and reads
// the server's version on an admin connection, closed before it returns.
func openBackend(ctx context.Context, u *url.URL, o backends.Options) (*backend, error) {
	b := &backend{opts: o, now: time.Now}
	var given bool
	var err error
	switch u.Scheme {
	case "django-db+postgresql", "django-db+postgres":
		b.d, b.connMaxAge, given, err = newPostgres(u, o)
	default:
		b.d, b.connMaxAge, given, err = newMySQL(u, o)
	}
	if err != nil {
		return nil, err
	}
	if !given {
		b.connMaxAge = o.DjangoConnMaxAge
		if b.connMaxAge < 0 {
			b.connMaxAge = -1
		}
	}
	c, err := b.dial(ctx, true)
	if err != nil {
		return nil, err
	}
	defer c.close()
	if b.server, err = b.d.probe(ctx, c); err != nil {
		return nil, err
	}
	b.t = newTexts(b.d.quote)
	return b, nil
}

// ServerStats reads the server's counters (the dialect says which) for
// django_celery_results_taskresult.
func (b *backend) ServerStats(ctx context.Context) (backends.ServerStats, error) {
	return b.d.serverStats(ctx, b)
}

var _ backends.StatsReader = (*backend)(nil)

func (b *backend) Server() backends.ServerInfo { return b.server }

// Close does nothing: the backend keeps no connection between calls.
func (b *backend) Close() error { return nil }

func parseVersion(s string) []int {
	s = strings.TrimPrefix(s, "5.5.5-")
	var out []int
	for _, p := range strings.Split(s, ".") {
		n := 0
		i := 0
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			n = n*10 + int(p[i]-'0')
			i++
		}
		if i == 0 {
			break
		}
		out = append(out, n)
		if i < len(p) {
			break
		}
	}
	return out
}

func atLeast(v []int, want ...int) bool {
	for i, w := range want {
		got := 0
		if i < len(v) {
			got = v[i]
		}
		if got != w {
			return got > w
		}
	}
	return true
}

// asBytes reads a text column value (backends.ValueBytes).
func asBytes(v driver.Value) []byte { return backends.ValueBytes(v) }

func asInt(v driver.Value) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	}
	return 0, fmt.Errorf("django-db: unexpected integer value %T", v)
}
