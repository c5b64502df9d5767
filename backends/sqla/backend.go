package sqla

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pickle"
)

// Flavour gives a dialect's backend the SQLAlchemy flavour's sessions and
// its backend_cleanup: the backend embeds it, so that its NewCaller,
// NewWorker, CleanupExpired and FillExpired are these.
type Flavour[C Conn] struct {
	Engine *Engine[C]
	// GroupBackend is the DatabaseBackend that pickled GroupResults hold.
	GroupBackend *pickle.Object
}

// NewCaller sets up a caller process (see Caller).
func (f *Flavour[C]) NewCaller(ctx context.Context, obs backends.Observer) (backends.Caller, error) {
	c, err := NewCaller(ctx, f.Engine, obs, f.GroupBackend)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// NewWorker opens a prefork child's connection (see Worker).
func (f *Flavour[C]) NewWorker(ctx context.Context, obs backends.Observer) (backends.Worker, error) {
	w, err := NewWorker(ctx, f.Engine, obs)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// CleanupExpired is Engine.CleanupExpired, reporting nowhere.
func (f *Flavour[C]) CleanupExpired(ctx context.Context, before time.Time) (int64, error) {
	return f.Engine.CleanupExpired(ctx, before, backends.Discard)
}

// FillExpired is Engine.FillExpired.
func (f *Flavour[C]) FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error) {
	return f.Engine.FillExpired(ctx, idPrefix, n, doneAt)
}

// ForeignError is Prepare's refusal of a database whose tables hold
// counts rows (celery_taskmeta's, celery_tasksetmeta's) with ids not
// starting with o.IDPrefix, or nil when there are none. prefix starts the
// message ("mysql"); database and addr name the database.
func ForeignError(prefix, database, addr string, counts [2]int64, o *backends.Options) error {
	n := counts[0] + counts[1]
	if n == 0 {
		return nil
	}
	fix := "--force runs anyway"
	if o.KeepForeign {
		fix = "name a database of bench's own in --backend"
	}
	return fmt.Errorf("%s: database %q on %s: %w: %d rows (%s %d, %s %d) have ids not starting with %q; %s",
		prefix, database, addr, backends.ErrForeignData, n, TableNames[0], counts[0], TableNames[1], counts[1], o.IDPrefix, fix)
}
