package djangodb

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

const fillBatch = 1000

// CleanupExpired is DatabaseBackend.cleanup as celery.backend_cleanup runs
// it in a worker, on a task connection of its own (Django's set-up, the
// process being warm): TaskResult.objects.delete_expired, then
// GroupResult's, each `_raw_delete` in its own atomic block (MySQL: SET
// autocommit=0; DELETE … WHERE date_done < cutoff; COMMIT; SET
// autocommit=1. PostgreSQL: BEGIN; DELETE …; COMMIT). Like Django's, the DELETEs are not limited to bench's
// ids: Prepare refuses foreign rows under Options.KeepForeign.
func (b *backend) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return b.cleanupExpired(ctx, before, backends.Discard)
}

func (b *backend) cleanupExpired(ctx context.Context, before time.Time, obs backends.Observer) (int64, error) {
	c, err := b.connect(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	var total int64
	start := time.Now()
	err = func() error {
		for _, del := range b.t.deleteExpired {
			if err := c.begin(ctx); err != nil {
				return err
			}
			c.sql = b.appendDate(append(c.sql[:0], del...), before.Truncate(time.Microsecond))
			n, err := c.execSQL(ctx)
			if err != nil {
				c.rollback(ctx)
				return err
			}
			total += n
			if err := c.commit(ctx); err != nil {
				return err
			}
		}
		return nil
	}()
	obs.Observe(backends.OpBackendCleanup, start, time.Since(start), err)
	return total, err
}

// CleanupExpired on a caller runs the cleanup as the backend does,
// reporting to the caller's observer.
func (c *caller) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return c.b.cleanupExpired(ctx, before, c.obs)
}

func (c *caller) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return c.b.FillExpired(ctx, idPrefix, n, doneAt)
}

// FillExpired inserts n SUCCESS rows done at doneAt in multi-row INSERTs
// (set-up, not Celery traffic).
func (b *backend) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	c, err := b.dial(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.close()
	done := string(b.appendDate(nil, doneAt.Truncate(time.Microsecond)))
	var total int64
	for i := 0; i < n; {
		s := append(c.sql[:0], b.t.insertTask...)
		s = s[:len(s)-1] // "VALUES (" -> "VALUES "
		for j := 0; j < fillBatch && i < n; j, i = j+1, i+1 {
			if j > 0 {
				s = append(s, ", "...)
			}
			r := taskRow{taskID: fmt.Sprintf("%s%012x", idPrefix, i), status: "SUCCESS", result: "5", meta: `{"children": []}`}
			s = append(s, '(')
			s = append(b.appendTaskValues(s, &r, done, done, false), ')')
		}
		c.sql = s
		k, err := c.execSQL(ctx)
		if err != nil {
			return total, fmt.Errorf("django-db: filling expired results: %w", err)
		}
		total += k
	}
	return total, nil
}
