package redis

// Groups on the caller side: GroupResult.get() (join_native with its MGET
// and 0.5 s sleep), get_many, and GroupResult.save/restore/delete.

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

var (
	_ backends.GroupJoiner  = (*caller)(nil)
	_ backends.ManyGetter   = (*caller)(nil)
	_ backends.GroupSaver   = (*caller)(nil)
	_ backends.ChordSizer   = (*caller)(nil)
	_ backends.ParentWaiter = (*caller)(nil)
	_ backends.ChordJoiner  = (*worker)(nil)
)

// getManySleep is the time.sleep(interval) of Backend.get_many when some
// member is unready after its one MGET (interval=0.5, hard-coded in
// ResultSet.join_native's call).
var getManySleep = 500 * time.Millisecond

// GetMany is get_many(ids, max_iterations=1): one MGET of the keys in the
// order given. A missing key is PENDING.
func (c *caller) GetMany(ctx context.Context, taskIDs []string) ([]backends.State, error) {
	args := make([]any, 0, 1+len(taskIDs))
	args = append(args, "MGET")
	for _, id := range taskIDs {
		args = append(args, taskKeyPrefix+id)
	}
	start := time.Now()
	vals, err := c.cl.Do(ctx, args...).Slice()
	c.observe(backends.OpGetMany, start, err)
	if err != nil {
		return nil, wrap(err, "get_many at %s: MGET", c.b.cfg.addr)
	}
	out := make([]backends.State, len(taskIDs))
	for i := range out {
		out[i] = backends.Pending
		if i >= len(vals) {
			continue
		}
		if s, ok := vals[i].(string); ok {
			st, err := stateOf(s)
			if err != nil {
				return nil, wrap(err, "get_many at %s: reading %s", c.b.cfg.addr, taskIDs[i])
			}
			out[i] = st
		}
	}
	return out, nil
}

// JoinGroup is GroupResult.get() → join_native → iter_native: one MGET
// (get_many with max_iterations=1) of the members in the order given
// (Celery's set order). Each member it finds ready is done at once:
// UNSUBSCRIBE twice (on_ready, then _maybe_cancel_ready_task). If any is
// unready, it sleeps 0.5 s, then drains pub/sub until every member is
// ready, each ready message of a member bringing its two UNSUBSCRIBEs and
// a ready message of anything else one. When the last member is ready,
// GroupResult._on_ready sends UNSUBSCRIBE celery-task-meta-<gid> between
// that member's two. The members must be subscribed (OnTaskCall).
func (c *caller) JoinGroup(ctx context.Context, groupID string, taskIDs []string) ([]backends.State, error) {
	states, err := c.GetMany(ctx, taskIDs)
	if err != nil {
		return nil, wrap(err, "join group %s", groupID)
	}
	pending := 0
	for _, st := range states {
		if !st.Ready() {
			pending++
		}
	}
	done := func(i int) error {
		key := taskKeyPrefix + taskIDs[i]
		pending--
		err := c.cancelFor(ctx, key)
		if pending == 0 {
			err = errors.Join(err, c.cancelFor(ctx, taskKeyPrefix+groupID))
		}
		return errors.Join(err, c.cancelFor(ctx, key))
	}
	for i, st := range states {
		if st.Ready() {
			pending++ // done counts it down again
			if err := done(i); err != nil {
				return states, wrap(err, "join group %s: UNSUBSCRIBE", groupID)
			}
		}
	}
	if pending == 0 {
		return states, nil
	}
	t := time.NewTimer(getManySleep)
	select {
	case <-ctx.Done():
		t.Stop()
		return states, wrap(ctx.Err(), "join group %s", groupID)
	case <-t.C:
	}
	start := time.Now()
	c.arm(ctx)
	err = c.drainGroup(ctx, taskIDs, states, &pending, done)
	c.disarm()
	c.observe(backends.OpDrainEvents, start, err)
	if err != nil {
		return states, wrap(err, "join group %s at %s", groupID, c.b.cfg.addr)
	}
	return states, nil
}

// drainGroup reads pub/sub until every member in states is ready.
func (c *caller) drainGroup(ctx context.Context, ids []string, states []backends.State, pending *int, done func(int) error) error {
	if c.ps == nil {
		return errors.New("no pub/sub connection")
	}
	index := func(key string) int {
		for i, id := range ids {
			if !states[i].Ready() && len(key) == len(taskKeyPrefix)+len(id) && key[len(taskKeyPrefix):] == id {
				return i
			}
		}
		return -1
	}
	// Ready messages read ahead: Celery reads them now.
	stale := append([]string(nil), c.stale...)
	c.stale = c.stale[:0]
	for _, k := range stale {
		if i := index(k); i >= 0 {
			states[i] = backends.Success
			if err := done(i); err != nil {
				return err
			}
			continue
		}
		if err := c.cancelFor(ctx, k); err != nil {
			return err
		}
	}
	for *pending > 0 {
		if err := c.read(); err != nil {
			if err := c.recover(ctx, err); err != nil {
				return err
			}
			// A reconnection's MGET may have found members ready and
			// dropped them from subscribed_to: read those once more.
			for i, id := range ids {
				if !states[i].Ready() && !c.isSubscribed(taskKeyPrefix+id) {
					m, err := c.GetTaskMeta(ctx, id)
					if err != nil {
						return err
					}
					states[i] = m.Status
					*pending--
				}
			}
			continue
		}
		p := &c.push
		if !p.is("message") {
			continue
		}
		st, err := stateOf(p.payload)
		if err != nil {
			return wrap(err, "a message on %s", p.channel)
		}
		if !st.Ready() {
			continue
		}
		key := string(p.channel)
		if i := index(key); i >= 0 {
			states[i] = st
			if err := done(i); err != nil {
				return err
			}
			continue
		}
		if err := c.cancelFor(ctx, key); err != nil { // _maybe_cancel_ready_task
			return err
		}
	}
	return nil
}

// groupValue appends GroupResult.as_tuple() as the JSON serializer writes
// _save_group's {"result": ...}: {"result": [["<gid>", null],
// [[["<tid>", null], null], ...]]}.
func appendGroupValue(dst []byte, groupID string, taskIDs []string) []byte {
	dst = append(dst, `{"result": [[`...)
	dst = pyjson.AppendString(dst, groupID)
	dst = append(dst, `, null], [`...)
	for i, id := range taskIDs {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, "[["...)
		dst = pyjson.AppendString(dst, id)
		dst = append(dst, ", null], null]"...)
	}
	return append(dst, "]]}"...)
}

// parseGroupValue reads the member ids back from a stored group.
func parseGroupValue(data []byte) ([]string, error) {
	v, err := pyjson.Decode(data)
	if err != nil {
		return nil, err
	}
	bad := fmt.Errorf("not a GroupResult tuple: %.80q", data)
	d, ok := v.(interface{ Get(string) (any, bool) })
	var res any
	if ok {
		res, ok = d.Get("result")
	}
	if !ok {
		return nil, bad
	}
	tup, ok := res.([]any)
	if !ok || len(tup) != 2 {
		return nil, bad
	}
	members, ok := tup[1].([]any)
	if !ok {
		return nil, bad
	}
	out := make([]string, 0, len(members))
	for _, m := range members {
		mt, ok := m.([]any)
		if !ok || len(mt) == 0 {
			return nil, bad
		}
		inner, ok := mt[0].([]any)
		if !ok || len(inner) == 0 {
			return nil, bad
		}
		id, ok := inner[0].(string)
		if !ok {
			return nil, bad
		}
		out = append(out, id)
	}
	return out, nil
}

// setPublish runs RedisBackend.set: MULTI; SETEX key <expires> value (SET
// without result_expires); PUBLISH key value; EXEC, in one write.
func (b *backend) setPublish(ctx context.Context, pipe goredis.Pipeliner, key string, value []byte) error {
	pipe.Do(ctx, "MULTI")
	if b.expires != nil {
		pipe.Do(ctx, "SETEX", key, b.expires, value)
	} else {
		pipe.Do(ctx, "SET", key, value)
	}
	pipe.Do(ctx, "PUBLISH", key, value)
	exec := pipe.Do(ctx, "EXEC")
	if _, err := pipe.Exec(ctx); err != nil {
		return wrap(err, "MULTI/EXEC")
	}
	return execError(exec)
}

// execError reports an aborted transaction or an error reply inside it.
func execError(exec *goredis.Cmd) error {
	replies, ok := exec.Val().([]any)
	if !ok {
		return errors.New("MULTI/EXEC: the transaction was aborted")
	}
	for _, r := range replies {
		if err, ok := r.(error); ok {
			return wrap(err, "MULTI/EXEC")
		}
	}
	return nil
}

// SaveGroup is GroupResult.save() → _save_group: set() of
// celery-taskset-meta-<gid> to the group tuple, published to a channel
// nobody listens on.
func (c *caller) SaveGroup(ctx context.Context, groupID string, taskIDs []string) error {
	value := appendGroupValue(nil, groupID, taskIDs)
	start := time.Now()
	err := c.b.setPublish(ctx, c.cl.Pipeline(), groupKeyPrefix+groupID, value)
	c.observe(backends.OpSaveGroup, start, err)
	if err != nil {
		return wrap(err, "save_group %s at %s", groupID, c.b.cfg.addr)
	}
	return nil
}

// RestoreGroup is GroupResult.restore(): GET celery-taskset-meta-<gid>;
// rebuilding the AsyncResults in a caller SUBSCRIBEs each member (written
// together, unconfirmed). A missing group gives nil.
func (c *caller) RestoreGroup(ctx context.Context, groupID string) ([]string, error) {
	start := time.Now()
	val, err := c.cl.Do(ctx, "GET", groupKeyPrefix+groupID).Text()
	if err == goredis.Nil {
		c.observe(backends.OpRestoreGroup, start, nil)
		return nil, nil
	}
	c.observe(backends.OpRestoreGroup, start, err)
	if err != nil {
		return nil, wrap(err, "restore_group %s at %s: GET", groupID, c.b.cfg.addr)
	}
	ids, err := parseGroupValue([]byte(val))
	if err != nil {
		return nil, wrap(err, "restore_group %s at %s", groupID, c.b.cfg.addr)
	}
	start = time.Now()
	c.arm(ctx)
	for _, id := range ids {
		if key := taskKeyPrefix + id; !c.isSubscribed(key) {
			if err = c.subscribe(ctx, key, false); err != nil {
				break
			}
		}
	}
	c.disarm()
	c.observe(backends.OpOnTaskCall, start, err)
	if err != nil {
		return ids, wrap(err, "restore_group %s at %s: SUBSCRIBE", groupID, c.b.cfg.addr)
	}
	return ids, nil
}

// DeleteGroup is GroupResult.delete(): DEL celery-taskset-meta-<gid>.
func (c *caller) DeleteGroup(ctx context.Context, groupID string) error {
	start := time.Now()
	err := c.cl.Do(ctx, "DEL", groupKeyPrefix+groupID).Err()
	c.observe(backends.OpDeleteGroup, start, err)
	if err != nil {
		return wrap(err, "delete_group %s at %s: DEL", groupID, c.b.cfg.addr)
	}
	return nil
}
