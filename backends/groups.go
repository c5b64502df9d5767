package backends

// Groups, chords and result cleanup: optional capabilities of sessions and
// backends, and the helpers that are their single fallback site. A workload
// calls the helpers below, never the interfaces directly, so that a backend
// without a capability does what Celery does on such a backend (a SQL
// caller joins a group by polling each member; a SQL chord is joined by
// celery.chord_unlock).

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Operation names of groups, chords and cleanup.
const (
	// OpGetMany is Backend.get_many with max_iterations=1: one read of
	// many results (Redis: one MGET).
	OpGetMany = "get_many"
	// OpSaveGroup, OpRestoreGroup and OpDeleteGroup are GroupResult.save(),
	// GroupResult.restore() and GroupResult.delete().
	OpSaveGroup    = "save_group"
	OpRestoreGroup = "restore_group"
	OpDeleteGroup  = "delete_group"
	// OpSetChordSize is RedisBackend.set_chord_size, sent by the caller
	// before the last header task.
	OpSetChordSize = "set_chord_size"
	// OpOnChordPartReturn is Backend.on_chord_part_return, run by the worker
	// after a chord header task's final write (Redis: the ZADD pipeline,
	// and on the last part the join and the DEL pipeline).
	OpOnChordPartReturn = "on_chord_part_return"
	// OpChordUnlock is one run of the celery.chord_unlock task on a SQL
	// backend: the member reads up to the first unready one.
	OpChordUnlock = "chord_unlock"
	// OpBackendCleanup is the celery.backend_cleanup task's
	// DatabaseBackend.cleanup: one DELETE transaction over both tables.
	OpBackendCleanup = "backend_cleanup"
)

// GroupOps lists the operation names above in report order.
func GroupOps() []string {
	return []string{OpGetMany, OpSaveGroup, OpRestoreGroup, OpDeleteGroup, OpSetChordSize,
		OpOnChordPartReturn, OpChordUnlock, OpBackendCleanup}
}

// ErrUnsupported is returned by the helpers when a backend lacks a
// capability Celery has no fallback for.
var ErrUnsupported = errors.New("not supported by this backend")

// ErrChordError is wrapped by OnChordPartReturn when a header member
// ended in a propagating state (FAILURE, REVOKED): Celery raises
// ChordError, fails the body and leaves the chord keys to expire.
var ErrChordError = errors.New("chord member failed (ChordError)")

// GroupJoiner is a Caller that joins a group natively
// (ResultSet.join_native; Redis: one MGET of the members in the order
// given, a 0.5 s sleep when any is unready, then pub/sub until all are
// ready, with Celery's UNSUBSCRIBEs, and UNSUBSCRIBE of the group id).
// The members must have been subscribed to (OnTaskCall).
type GroupJoiner interface {
	JoinGroup(ctx context.Context, groupID string, taskIDs []string) ([]State, error)
}

// ManyGetter is a Caller that reads many results in one operation (Redis:
// MGET). A missing result is PENDING.
type ManyGetter interface {
	GetMany(ctx context.Context, taskIDs []string) ([]State, error)
}

// GroupSaver is a Caller that stores GroupResult records
// (celery-taskset-meta-<gid>; celery_tasksetmeta).
type GroupSaver interface {
	// SaveGroup is GroupResult.save() of a group of taskIDs.
	SaveGroup(ctx context.Context, groupID string, taskIDs []string) error
	// RestoreGroup is GroupResult.restore(): it returns the member ids, or
	// nil when no group is stored. On Redis it subscribes to each member,
	// as rebuilding the AsyncResults does.
	RestoreGroup(ctx context.Context, groupID string) ([]string, error)
	// DeleteGroup is GroupResult.delete().
	DeleteGroup(ctx context.Context, groupID string) error
}

// ChordSizer is a Caller of a backend that joins chords itself
// (Redis: set_chord_size writes <gid>.s). Backends without it get
// celery.chord_unlock instead (ChordUnlocker).
type ChordSizer interface {
	SetChordSize(ctx context.Context, groupID string, size int) error
}

// ChordJoiner is a Worker of a backend that joins chords itself.
type ChordJoiner interface {
	// OnChordPartReturn is on_chord_part_return for header member index of
	// groupID after m (the member's final state) was stored. ordered is
	// result_chord_ordered (Redis: a ZSET, else a list). On the last part
	// it reads the members, calls publish (callback.delay(): the body's
	// broker publish) and deletes the chord's keys; last is then true.
	// When a member failed, publish is not called, nothing is deleted,
	// and the error wraps ErrChordError.
	OnChordPartReturn(ctx context.Context, groupID string, index int, m *TaskMeta, ordered bool, publish func()) (last bool, err error)
}

// ChordUnlocker runs celery.chord_unlock on a worker connection: each run
// reads the header members in order and stops at the first unready one.
type ChordUnlocker interface {
	// ChordUnlock is one run; ready reports that every member is ready.
	ChordUnlock(ctx context.Context, memberIDs []string) (ready bool, err error)
	Close() error
}

// UnlockerOpener is a Caller of a backend without native chords: it opens
// the worker connection chord_unlock runs on. The unlocker reports to obs
// and may be used from another goroutine than the caller's.
type UnlockerOpener interface {
	OpenChordUnlocker(ctx context.Context, obs Observer) (ChordUnlocker, error)
}

// ParentWaiter is a Caller whose AsyncResult.get() on a result with
// parents (a chord body) also reads the unready parents, as Celery's
// _maybe_reraise_parent_error does (Redis: one GET per unready parent on
// every pub/sub wake-up or 1 s timeout).
type ParentWaiter interface {
	// groupID, when not "", is the parents' group: its GroupResult
	// releases its pending result when the last parent is seen ready.
	WaitForWithParents(ctx context.Context, taskID, groupID string, parentIDs []string, interval time.Duration) (State, error)
}

// ExpiredCleaner is implemented by backends (and the sessions of SQL
// callers, on the same backend) whose results do not expire by
// themselves: Celery's daily celery.backend_cleanup task.
type ExpiredCleaner interface {
	// CleanupExpired deletes every result and group whose date_done is
	// before before (DatabaseBackend.cleanup) and returns how many rows it
	// deleted. It reports OpBackendCleanup.
	CleanupExpired(ctx context.Context, before time.Time) (int64, error)
	// FillExpired stores n finished results done at doneAt, with ids
	// idPrefix followed by 12 hex digits (0 to n-1), as fast as the backend
	// allows. It is set-up for a cleanup, not Celery traffic, and reports
	// nothing.
	FillExpired(ctx context.Context, idPrefix string, n int, doneAt time.Time) (int64, error)
}

// JoinGroup is GroupResult.get(): natively when c is a GroupJoiner, else
// AsyncResult.get() on each member in turn (ResultSet.join), each polling
// every interval. The ids are in the order Celery iterates them.
func JoinGroup(ctx context.Context, c Caller, groupID string, taskIDs []string, interval time.Duration) ([]State, error) {
	if j, ok := c.(GroupJoiner); ok {
		return j.JoinGroup(ctx, groupID, taskIDs)
	}
	out := make([]State, len(taskIDs))
	for i, id := range taskIDs {
		st, err := c.WaitFor(ctx, id, interval)
		if err != nil {
			return out, err
		}
		out[i] = st
	}
	return out, nil
}

// GetMany reads many results: one operation when c is a ManyGetter, else
// one GetTaskMeta each.
func GetMany(ctx context.Context, c Caller, taskIDs []string) ([]State, error) {
	if g, ok := c.(ManyGetter); ok {
		return g.GetMany(ctx, taskIDs)
	}
	out := make([]State, len(taskIDs))
	for i, id := range taskIDs {
		m, err := c.GetTaskMeta(ctx, id)
		if err != nil {
			return out, err
		}
		out[i] = m.Status
	}
	return out, nil
}

// SaveGroup, RestoreGroup and DeleteGroup call c's GroupSaver; without one
// they return ErrUnsupported.
func SaveGroup(ctx context.Context, c Caller, groupID string, taskIDs []string) error {
	if g, ok := c.(GroupSaver); ok {
		return g.SaveGroup(ctx, groupID, taskIDs)
	}
	return fmt.Errorf("save_group: %w", ErrUnsupported)
}

func RestoreGroup(ctx context.Context, c Caller, groupID string) ([]string, error) {
	if g, ok := c.(GroupSaver); ok {
		return g.RestoreGroup(ctx, groupID)
	}
	return nil, fmt.Errorf("restore_group: %w", ErrUnsupported)
}

func DeleteGroup(ctx context.Context, c Caller, groupID string) error {
	if g, ok := c.(GroupSaver); ok {
		return g.DeleteGroup(ctx, groupID)
	}
	return fmt.Errorf("delete_group: %w", ErrUnsupported)
}

// NativeChords reports whether c's backend joins chords itself (Redis,
// memory); otherwise chords are joined by chord_unlock (SQL).
func NativeChords(c Caller) bool {
	_, ok := c.(ChordSizer)
	return ok
}

// SetChordSize runs set_chord_size when c's backend joins chords itself;
// elsewhere it is a no-op, as in Celery.
func SetChordSize(ctx context.Context, c Caller, groupID string, size int) error {
	if s, ok := c.(ChordSizer); ok {
		return s.SetChordSize(ctx, groupID, size)
	}
	return nil
}

// OnChordPartReturn runs on_chord_part_return when w's backend joins
// chords itself; elsewhere it is a no-op (the SQL backend's is), and last
// is false: chord_unlock publishes the body.
func OnChordPartReturn(ctx context.Context, w Worker, groupID string, index int, m *TaskMeta, ordered bool, publish func()) (bool, error) {
	if j, ok := w.(ChordJoiner); ok {
		return j.OnChordPartReturn(ctx, groupID, index, m, ordered, publish)
	}
	return false, nil
}

// OpenChordUnlocker opens c's chord_unlock connection, or returns
// ErrUnsupported.
func OpenChordUnlocker(ctx context.Context, c Caller, obs Observer) (ChordUnlocker, error) {
	if o, ok := c.(UnlockerOpener); ok {
		return o.OpenChordUnlocker(ctx, obs)
	}
	return nil, fmt.Errorf("chord_unlock: %w", ErrUnsupported)
}

// WaitForWithParents is AsyncResult.get() on a result whose parents are
// parentIDs: natively when c is a ParentWaiter, else the polling loop of
// SyncBackendMixin.wait_for with _maybe_reraise_parent_error as its
// on_interval: read each unready parent once (AsyncResult.get does), then
// read the task; if unready, read each unready parent, sleep interval,
// repeat.
func WaitForWithParents(ctx context.Context, c Caller, taskID, groupID string, parentIDs []string, interval time.Duration) (State, error) {
	if p, ok := c.(ParentWaiter); ok {
		return p.WaitForWithParents(ctx, taskID, groupID, parentIDs, interval)
	}
	unready := append([]string(nil), parentIDs...)
	readParents := func() error { // _maybe_reraise_parent_error
		keep := unready[:0]
		for _, id := range unready {
			pm, err := c.GetTaskMeta(ctx, id)
			if err != nil {
				return err
			}
			if !pm.Status.Ready() {
				keep = append(keep, id)
			}
		}
		unready = keep
		return nil
	}
	if err := readParents(); err != nil { // AsyncResult.get checks first
		return "", err
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		m, err := c.GetTaskMeta(ctx, taskID)
		if err != nil {
			return "", err
		}
		if m.Status.Ready() {
			return m.Status, nil
		}
		if err := readParents(); err != nil {
			return "", err
		}
		t.Reset(interval)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-t.C:
		}
	}
}

// AsExpiredCleaner returns x's ExpiredCleaner, if it has one.
func AsExpiredCleaner(x any) (ExpiredCleaner, bool) {
	c, ok := x.(ExpiredCleaner)
	return c, ok
}

// ChordApplier is a Caller of a backend whose apply_chord stores
// something before the header tasks are sent (django-db: the
// ChordCounter row).
type ChordApplier interface {
	ApplyChord(ctx context.Context, groupID string, headerIDs []string) error
}

// ApplyChord runs apply_chord's backend write when c's backend has one;
// elsewhere it is a no-op.
func ApplyChord(ctx context.Context, c Caller, groupID string, headerIDs []string) error {
	if a, ok := c.(ChordApplier); ok {
		return a.ApplyChord(ctx, groupID, headerIDs)
	}
	return nil
}
