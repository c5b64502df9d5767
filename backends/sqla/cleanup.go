package sqla

// celery.backend_cleanup (DatabaseBackend.cleanup) and the set-up that
// gives it something to delete.

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
)

// FillBatch is how many rows one INSERT of FillExpired writes; FillCommit
// how many INSERTs one transaction holds.
const (
	FillBatch  = 1000
	FillCommit = 10
)

// fillResult is the pickled return value of the expired rows: 5, as
// pickle.dumps(5, 5) (the live capture's value).
var fillResult = []byte("\x80\x05K\x05.")

// CleanupExpired is DatabaseBackend.cleanup as the backend_cleanup task
// runs it in a prefork child, on a connection of its own with the child's
// setup (no probes, the Engine being warm): one transaction, DELETE FROM
// celery_taskmeta WHERE celery_taskmeta.date_done < <before> (app.now(),
// aware), the same for celery_tasksetmeta, COMMIT, then the pool's reset.
// The observation, OpBackendCleanup on obs, covers those statements, not
// the connection.
//
// Note: like Celery's, the DELETEs are not limited to bench's ids: every
// row of the database done before before goes. The database is bench's
// own: a run of the cleanup workload sets Options.KeepForeign, and Prepare
// then refuses a database holding foreign results, --force or not.
func (e *Engine[C]) CleanupExpired(ctx context.Context, before time.Time, obs backends.Observer) (int64, error) {
	c, err := e.Connect(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var n int64
	start := time.Now()
	err = func() error {
		buf := c.SQL()
		for _, t := range TableNames {
			s := append((*buf)[:0], "DELETE FROM "+t+" WHERE "+t+".date_done < "...)
			*buf = e.D.AppendDate(s, before.Truncate(time.Microsecond), true)
			k, err := c.Exec(ctx, string(*buf))
			if err != nil {
				return err
			}
			n += k
		}
		if err := c.Commit(ctx); err != nil {
			return err
		}
		return c.Reset(ctx)
	}()
	if err != nil {
		Abort(ctx, c)
		n = 0
	}
	obs.Observe(backends.OpBackendCleanup, start, time.Since(start), err)
	if err != nil {
		return 0, e.errorf("backend_cleanup: %w", err)
	}
	return n, nil
}

// FillExpired inserts n SUCCESS rows done at doneAt, ids idPrefix plus 12
// hex digits, in multi-row INSERTs of FillBatch rows (ids as the dialect
// fills them in), FillCommit INSERTs per transaction, on a connection of
// its own. It is not Celery traffic and reports nothing.
func (e *Engine[C]) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	c, err := e.Connect(ctx, false)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	d := e.D
	done := doneAt.Truncate(time.Microsecond)
	buf := c.SQL()
	var total int64
	inTxn := 0
	for i := 0; i < n; {
		s := append((*buf)[:0], d.FillPrefix()...)
		for j := 0; j < FillBatch && i < n; j, i = j+1, i+1 {
			if j > 0 {
				s = append(s, ", "...)
			}
			s = append(s, '(')
			s = append(s, d.FillID()...)
			s = d.AppendString(s, fmt.Sprintf("%s%012x", idPrefix, i))
			s = append(s, ", 'SUCCESS', "...)
			s = d.AppendBytes(s, fillResult)
			s = append(s, ", "...)
			s = d.AppendDate(s, done, false)
			s = append(s, ", NULL)"...)
		}
		*buf = s
		k, err := c.Exec(ctx, string(*buf))
		if err != nil {
			Abort(ctx, c)
			return total, e.errorf("filling expired results: %w", err)
		}
		total += k
		if inTxn++; inTxn == FillCommit || i == n {
			if err := c.Commit(ctx); err != nil {
				return total, e.errorf("filling expired results: %w", err)
			}
			inTxn = 0
		}
	}
	return total, nil
}
