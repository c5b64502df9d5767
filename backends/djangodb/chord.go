package djangodb

import (
	"context"
	"fmt"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

var (
	_ backends.ChordApplier = (*caller)(nil)
	_ backends.ChordSizer   = (*caller)(nil)
	_ backends.ChordJoiner  = (*worker)(nil)
)

// ApplyChord is DatabaseBackend.apply_chord: ChordCounter.objects.create
// in autocommit, before the header tasks are sent. It is reported as
// OpSetChordSize: the caller storing the chord's size.
func (c *caller) ApplyChord(ctx context.Context, groupID string, headerIDs []string) error {
	start := time.Now()
	err := func() error {
		subs := make([]any, len(headerIDs))
		for i, id := range headerIDs {
			subs[i] = []any{[]any{id, nil}, nil}
		}
		text, err := pyjson.Append(nil, subs)
		if err != nil {
			return err
		}
		cn, err := c.ensure(ctx)
		if err != nil {
			return err
		}
		b := c.b
		s := b.appendString(append(cn.sql[:0], b.t.insertChord...), groupID)
		s = b.appendString(append(s, ", "...), string(text))
		s = append(appendInt(append(s, ", "...), int64(len(headerIDs))), ')')
		if b.d.returning() {
			cn.sql = append(s, b.t.returningChord...)
			_, err = cn.querySQL(ctx, cn.scratch(1))
		} else {
			cn.sql = s
			_, err = cn.execSQL(ctx)
		}
		return err
	}()
	c.obs.Observe(backends.OpSetChordSize, start, time.Since(start), err)
	return err
}

// SetChordSize does nothing: apply_chord stored the size already.
func (c *caller) SetChordSize(ctx context.Context, groupID string, size int) error { return nil }

// OnChordPartReturn is DatabaseBackend.on_chord_part_return on the header
// task's connection: an atomic block that locks the counter row
// (SELECT … FOR UPDATE), decrements it (full-row UPDATE) or, for the last
// part, deletes it; the last part then reads every header result
// (deps.ready(): one SELECT each) and publishes the body when all
// succeeded. When a member failed the error wraps ErrChordError (Celery
// then stores the body's FAILURE, chord_error_from_stack, which bench does
// not write).
func (w *worker) OnChordPartReturn(ctx context.Context, groupID string, index int, m *backends.TaskMeta, ordered bool, publish func()) (bool, error) {
	start := time.Now()
	last, err := w.chordPart(ctx, groupID, publish)
	w.obs.Observe(backends.OpOnChordPartReturn, start, time.Since(start), err)
	return last, err
}

func (w *worker) chordPart(ctx context.Context, groupID string, publish func()) (bool, error) {
	c, err := w.ensure(ctx)
	if err != nil {
		return false, err
	}
	b := w.b
	abort := func(err error) (bool, error) {
		c.rollback(ctx)
		return false, err
	}
	if err := c.begin(ctx); err != nil {
		return false, err
	}
	row := c.scratch(4)
	c.sql = append(b.appendString(append(c.sql[:0], b.t.selectChord...), groupID), b.t.orderChord...)
	found, err := c.querySQL(ctx, row)
	if err != nil {
		return abort(err)
	}
	if !found { // "Can't find ChordCounter": the atomic block ends
		return false, c.commit(ctx)
	}
	pk, err := asInt(row[0])
	if err != nil {
		return abort(err)
	}
	count, err := asInt(row[3])
	if err != nil {
		return abort(err)
	}
	subs := string(asBytes(row[2]))
	count--
	if count != 0 {
		s := b.appendString(append(c.sql[:0], b.t.updateChord[0]...), groupID)
		s = b.appendString(append(s, b.t.updateChord[1]...), subs)
		s = appendInt(append(s, b.t.updateChord[2]...), count)
		c.sql = appendInt(append(s, b.t.whereChordPK...), pk)
	} else {
		c.sql = append(appendInt(append(c.sql[:0], b.t.deleteChordPK...), pk), ')')
	}
	if _, err := c.execSQL(ctx); err != nil {
		return abort(err)
	}
	if err := c.commit(ctx); err != nil {
		return false, err
	}
	if count != 0 {
		return false, nil
	}
	// chord_counter.group_result(): the header ids from sub_tasks; then
	// deps.ready() reads each until one is unready.
	v, err := pyjson.Decode([]byte(subs))
	if err != nil {
		return false, fmt.Errorf("django-db: chord %s: sub_tasks: %w", groupID, err)
	}
	list, _ := v.([]any)
	failed := ""
	trow := c.scratch(nTaskColumns)
	for _, e := range list {
		t, _ := e.([]any)
		var id string
		if len(t) > 0 {
			if inner, ok := t[0].([]any); ok && len(inner) > 0 {
				id, _ = inner[0].(string)
			}
		}
		c.sql = append(b.appendString(append(c.sql[:0], b.t.selectTask...), id), " LIMIT 21"...)
		found, err := c.querySQL(ctx, trow)
		if err != nil {
			return true, err
		}
		st := backends.Pending
		if found {
			st = backends.State(asBytes(trow[colStatus]))
		}
		if !st.Ready() {
			return true, nil // deps.ready() is false: no callback
		}
		if st != backends.Success && failed == "" {
			failed = id
		}
	}
	if failed != "" {
		return true, fmt.Errorf("django-db: chord %s: dependency %s failed: %w", groupID, failed, backends.ErrChordError)
	}
	publish()
	return true, nil
}
