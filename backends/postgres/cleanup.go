package postgres

// celery.backend_cleanup (DatabaseBackend.cleanup) and the set-up that
// gives it something to delete.

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

var (
	_ backends.ExpiredCleaner = (*backend)(nil)
	_ backends.ExpiredCleaner = (*caller)(nil)
)

const (
	fillBatch  = 1000
	fillCommit = 10
)

// fillResult is pickle.dumps(5, 5).
var fillResult = []byte("\x80\x05K\x05.")

// CleanupExpired is DatabaseBackend.cleanup as backend_cleanup runs it in a
// prefork child, on a connection of its own (no first-connect statements,
// the Engine being warm): BEGIN; DELETE FROM celery_taskmeta WHERE
// celery_taskmeta.date_done < '<before>+00:00'::timestamptz (app.now() is
// aware); the same for celery_tasksetmeta; COMMIT. The observation covers
// the four statements, not the connection.
//
// Like Celery's, the DELETEs remove every row of the database done before
// before; the cleanup workload sets Options.KeepForeign so Prepare refuses
// a database with foreign results.
func (b *backend) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return b.cleanupExpired(ctx, before, backends.Discard)
}

func (b *backend) cleanupExpired(ctx context.Context, before time.Time, obs backends.Observer) (int64, error) {
	c, err := b.connect(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	var n int64
	start := time.Now()
	err = func() error {
		for _, t := range sqla.TableNames {
			s := append(c.sql[:0], "DELETE FROM "+t+" WHERE "+t+".date_done < "...)
			c.sql = appendDate(s, before.Truncate(time.Microsecond), true)
			r, err := c.querySQL(ctx)
			if err != nil {
				return err
			}
			n += r.CommandTag.RowsAffected()
		}
		return c.commit(ctx)
	}()
	if err != nil {
		abort(ctx, c)
		n = 0
	}
	obs.Observe(backends.OpBackendCleanup, start, time.Since(start), err)
	if err != nil {
		return 0, errorf("backend_cleanup: %w", err)
	}
	return n, nil
}

func (c *caller) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return c.b.cleanupExpired(ctx, before, c.obs)
}

func (c *caller) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return c.b.FillExpired(ctx, idPrefix, n, doneAt)
}

// FillExpired inserts n SUCCESS rows done at doneAt, ids idPrefix plus 12
// hex digits, in multi-row INSERTs of fillBatch rows (ids from
// nextval('task_id_sequence')), fillCommit INSERTs per transaction. It is
// not Celery traffic and reports nothing.
func (b *backend) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	c, err := b.connect(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	done := doneAt.Truncate(time.Microsecond)
	var total int64
	inTxn := 0
	for i := 0; i < n; {
		s := append(c.sql[:0], "INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback) VALUES "...)
		for j := 0; j < fillBatch && i < n; j, i = j+1, i+1 {
			if j > 0 {
				s = append(s, ", "...)
			}
			s = append(s, "(nextval('task_id_sequence'), "...)
			s = appendString(s, fmt.Sprintf("%s%012x", idPrefix, i))
			s = append(s, ", 'SUCCESS', "...)
			s = appendBytes(s, fillResult)
			s = append(s, ", "...)
			s = appendDate(s, done, false)
			s = append(s, ", NULL)"...)
		}
		c.sql = s
		r, err := c.querySQL(ctx)
		if err != nil {
			abort(ctx, c)
			return total, errorf("filling expired results: %w", err)
		}
		total += r.CommandTag.RowsAffected()
		if inTxn++; inTxn == fillCommit || i == n {
			if err := c.commit(ctx); err != nil {
				return total, errorf("filling expired results: %w", err)
			}
			inTxn = 0
		}
	}
	return total, nil
}
