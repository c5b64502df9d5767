package mysql

// celery.backend_cleanup (DatabaseBackend.cleanup) and the set-up that
// gives it something to delete.

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
)

var (
	_ backends.ExpiredCleaner = (*backend)(nil)
	_ backends.ExpiredCleaner = (*caller)(nil)
)

// fillBatch is how many rows one INSERT of FillExpired writes; fillCommit
// how many INSERTs one transaction holds.
const (
	fillBatch  = 1000
	fillCommit = 10
)

// fillResult is the pickled return value of the expired rows: 5, as
// pickle.dumps(5, 5) (the live capture's value).
var fillResult = []byte("\x80\x05K\x05.")

// CleanupExpired is DatabaseBackend.cleanup as the backend_cleanup task
// runs it in a prefork child, on a connection of its own with the child's
// setup (SET AUTOCOMMIT = 0, SET NAMES; no probes, the Engine being warm):
// one transaction, DELETE FROM celery_taskmeta WHERE
// celery_taskmeta.date_done < '<before>', the same for celery_tasksetmeta,
// COMMIT, then the pool's ROLLBACK. before is rendered as PyMySQL renders
// a datetime, without an offset. The observation, OpBackendCleanup on
// obs, covers the four statements, not the connection.
//
// Note: like Celery's, the DELETEs are not limited to bench's ids: every
// row of the database done before before goes. The database is bench's
// own: a run of the cleanup workload sets Options.KeepForeign, and Prepare
// then refuses a database holding foreign results, --force or not.
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
		for _, t := range tableNames {
			s := append(c.sql[:0], "DELETE FROM "+t+" WHERE "+t+".date_done < "...)
			c.sql = appendDate(s, before.Truncate(time.Microsecond))
			res, err := c.execSQL(ctx)
			if err != nil {
				return err
			}
			if k, err := res.RowsAffected(); err == nil {
				n += k
			}
		}
		if _, err := c.exec(ctx, stmtCommit); err != nil {
			return err
		}
		_, err := c.exec(ctx, stmtRollback)
		return err
	}()
	if err != nil {
		rollback(ctx, c)
		n = 0
	}
	obs.Observe(backends.OpBackendCleanup, start, time.Since(start), err)
	if err != nil {
		return 0, fmt.Errorf("mysql: backend_cleanup: %w", err)
	}
	return n, nil
}

// CleanupExpired on a caller runs the backend's, reporting to the caller's
// observer.
func (c *caller) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return c.b.cleanupExpired(ctx, before, c.obs)
}

// FillExpired on a caller runs the backend's.
func (c *caller) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return c.b.FillExpired(ctx, idPrefix, n, doneAt)
}

// FillExpired inserts n SUCCESS rows done at doneAt, ids idPrefix plus 12
// hex digits, in multi-row INSERTs of fillBatch rows (ids from
// NEXTVAL(task_id_sequence) on MariaDB, AUTO_INCREMENT on MySQL), fillCommit
// INSERTs per transaction, on a connection of its own. It is not Celery
// traffic and reports nothing.
func (b *backend) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	c, err := b.connect(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	nb := b.dialect.noBackslash
	done := doneAt.Truncate(time.Microsecond)
	var total int64
	inTxn := 0
	for i := 0; i < n; {
		s := c.sql[:0]
		if b.dialect.sequences {
			s = append(s, "INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback) VALUES "...)
		} else {
			s = append(s, "INSERT INTO celery_taskmeta (task_id, status, result, date_done, traceback) VALUES "...)
		}
		for j := 0; j < fillBatch && i < n; j, i = j+1, i+1 {
			if j > 0 {
				s = append(s, ", "...)
			}
			s = append(s, '(')
			if b.dialect.sequences {
				s = append(s, "NEXTVAL(task_id_sequence), "...)
			}
			s = appendString(s, fmt.Sprintf("%s%012x", idPrefix, i), nb)
			s = append(s, ", 'SUCCESS', "...)
			s = appendBytes(s, fillResult, nb)
			s = append(s, ", "...)
			s = appendDate(s, done)
			s = append(s, ", NULL)"...)
		}
		c.sql = s
		res, err := c.execSQL(ctx)
		if err != nil {
			rollback(ctx, c)
			return total, fmt.Errorf("mysql: filling expired results: %w", err)
		}
		if k, err := res.RowsAffected(); err == nil {
			total += k
		}
		if inTxn++; inTxn == fillCommit || i == n {
			if _, err := c.exec(ctx, stmtCommit); err != nil {
				return total, fmt.Errorf("mysql: filling expired results: %w", err)
			}
			inTxn = 0
		}
	}
	return total, nil
}
