package djangodb

import (
	"context"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

var _ backends.GroupSaver = (*caller)(nil)

// groupTuple is GroupResult.as_tuple() of groupID and its members:
// ((gid, None), [((tid, None), None), …]).
func groupTuple(groupID string, taskIDs []string) any {
	members := make([]any, len(taskIDs))
	for i, id := range taskIDs {
		members[i] = []any{[]any{id, nil}, nil}
	}
	return []any{[]any{groupID, nil}, members}
}

// SaveGroup is _save_group: GroupResultManager.store_group_result's
// get_or_create (SELECT, then the atomic INSERT) or full-row save().
func (c *caller) SaveGroup(ctx context.Context, groupID string, taskIDs []string) error {
	start := time.Now()
	err := func() error {
		text, err := pyjson.Append(nil, groupTuple(groupID, taskIDs))
		if err != nil {
			return err
		}
		cn, err := c.ensure(ctx)
		if err != nil {
			return err
		}
		b := c.b
		row := cn.scratch(len(groupColumns))
		cn.sql = append(b.appendString(append(cn.sql[:0], b.t.selectGroup...), groupID), " LIMIT 21"...)
		found, err := cn.querySQL(ctx, row)
		if err != nil {
			return err
		}
		if found {
			pk, err := asInt(row[0])
			if err != nil {
				return err
			}
			created := "NULL"
			if v, ok := row[2].([]byte); ok {
				if t, ok := b.parseDate(v); ok {
					created = string(b.appendDate(nil, t))
				}
			}
			s := append(cn.sql[:0], b.t.updateGroup[0]...)
			s = b.appendString(s, groupID)
			s = append(append(s, b.t.updateGroup[1]...), created...)
			s = b.appendDate(append(s, b.t.updateGroup[2]...), b.now())
			s = append(s, b.t.updateGroup[3]...)
			s = b.appendString(s, string(text))
			cn.sql = appendInt(append(s, b.t.whereGroupPK...), pk)
			_, err = cn.execSQL(ctx)
			return err
		}
		if err := cn.begin(ctx); err != nil {
			return err
		}
		s := b.appendString(append(cn.sql[:0], b.t.insertGroup...), groupID)
		s = b.appendDate(append(s, ", "...), b.now())
		s = b.appendDate(append(s, ", "...), b.now())
		s = append(s, ", 'application/json', 'utf-8', "...)
		s = append(b.appendString(s, string(text)), ')')
		if b.d.returning() {
			s = append(s, b.t.returningGroup...)
		}
		cn.sql = s
		if b.d.returning() {
			_, err = cn.querySQL(ctx, cn.scratch(1))
		} else {
			_, err = cn.execSQL(ctx)
		}
		if err != nil {
			cn.rollback(ctx)
			return err
		}
		return cn.commit(ctx)
	}()
	c.obs.Observe(backends.OpSaveGroup, start, time.Since(start), err)
	return err
}

// readGroup is GroupResultManager.get_group: the SELECT, and on a second
// miss in a row the REPEATABLE-READ check. It returns the row's primary
// key (0 when missing) and the member ids.
func (c *caller) readGroup(ctx context.Context, groupID string, warn bool) (int64, []string, error) {
	cn, err := c.ensure(ctx)
	if err != nil {
		return 0, nil, err
	}
	row := cn.scratch(len(groupColumns))
	cn.sql = append(c.b.appendString(append(cn.sql[:0], c.b.t.selectGroup...), groupID), " LIMIT 21"...)
	found, err := cn.querySQL(ctx, row)
	if err != nil {
		return 0, nil, err
	}
	if !found {
		if warn && c.b.d.checksRepeatableRead() {
			if c.lastGroupID == groupID {
				if _, err := cn.query(ctx, stmtShowIsolated, cn.scratch(2)); err != nil {
					return 0, nil, err
				}
			}
			c.lastGroupID = groupID
		}
		return 0, nil, nil
	}
	pk, err := asInt(row[0])
	if err != nil {
		return 0, nil, err
	}
	var ids []string
	if b, ok := row[6].([]byte); ok {
		if v, err := pyjson.Decode(b); err == nil {
			if t, ok := v.([]any); ok && len(t) == 2 {
				members, _ := t[1].([]any)
				for _, m := range members {
					mt, _ := m.([]any)
					if len(mt) > 0 {
						if inner, ok := mt[0].([]any); ok && len(inner) > 0 {
							if id, ok := inner[0].(string); ok {
								ids = append(ids, id)
							}
						}
					}
				}
			}
		}
	}
	if ids == nil {
		ids = []string{}
	}
	return pk, ids, nil
}

// RestoreGroup is _restore_group (get_group).
func (c *caller) RestoreGroup(ctx context.Context, groupID string) ([]string, error) {
	start := time.Now()
	_, ids, err := c.readGroup(ctx, groupID, true)
	c.obs.Observe(backends.OpRestoreGroup, start, time.Since(start), err)
	return ids, err
}

// DeleteGroup is _delete_group: get_group(…).delete(), in autocommit.
func (c *caller) DeleteGroup(ctx context.Context, groupID string) error {
	start := time.Now()
	err := func() error {
		pk, _, err := c.readGroup(ctx, groupID, true)
		if err != nil || pk == 0 {
			return err
		}
		cn := c.c
		cn.sql = append(appendInt(append(cn.sql[:0], c.b.t.deleteGroupPK...), pk), ')')
		_, err = cn.execSQL(ctx)
		return err
	}()
	c.obs.Observe(backends.OpDeleteGroup, start, time.Since(start), err)
	return err
}
