package redis

// Chords: the caller's set_chord_size and its parent-polling wait on the
// body, and the worker's on_chord_part_return (RedisBackend, 5.2.6 L429 to
// L530; unchanged in 5.6.3).

import (
	"context"
	"errors"
	"os"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

// chordSuffixes are the chord keys' suffixes in the order Celery names
// them in its pipelines: the members, the add_to_chord counter, the size.
const (
	suffixJoin  = ".j"
	suffixTotal = ".t"
	suffixSize  = ".s"
)

// drainTimeout is the timeout of Drainer.drain_events_until's
// get_message: a wait with nothing to read wakes up after it.
var drainTimeout = time.Second

// SetChordSize is set_chord_size: set() of celery-taskset-meta-<gid>.s to
// the size, MULTI; SETEX; PUBLISH; EXEC on the command connection.
func (c *caller) SetChordSize(ctx context.Context, groupID string, size int) error {
	start := time.Now()
	err := c.b.setPublish(ctx, c.cl.Pipeline(), groupKeyPrefix+groupID+suffixSize, []byte(strconv.Itoa(size)))
	c.observe(backends.OpSetChordSize, start, err)
	if err != nil {
		return wrap(err, "set_chord_size %s at %s", groupID, c.b.cfg.addr)
	}
	return nil
}

// WaitForWithParents is AsyncResult.get() on a chord body, whose parents
// are the header members: _maybe_reraise_parent_error reads every
// unready parent first (one GET each); then the body is subscribed to and
// read (SUBSCRIBE, then one GET: Celery's capture shows the GET first,
// which can miss a result published in between, so bench subscribes
// first and waits for the server's confirmation, which sends nothing:
// without it the GET on the command connection can overtake the SUBSCRIBE
// on the pub/sub one and the body's message is lost); then the drain loop: every return of get_message (a message, the
// confirmation of a SUBSCRIBE or UNSUBSCRIBE, or the 1 s timeout) is a
// wake-up after which one GET goes to each parent still unready. A parent
// seen ready is released (UNSUBSCRIBE), and when the last one is, so is
// the group (UNSUBSCRIBE celery-task-meta-<gid>). Those UNSUBSCRIBEs'
// confirmations are wake-ups too, which is why the number of GETs depends
// on timing (32 to 116 for a chord of 5 in the reference captures). The
// body's ready message ends the wait with its two UNSUBSCRIBEs. interval
// is ignored, as Celery ignores it for this backend.
func (c *caller) WaitForWithParents(ctx context.Context, taskID, groupID string, parentIDs []string, _ time.Duration) (backends.State, error) {
	key := c.key(taskID)
	unready := append([]string(nil), parentIDs...)
	if err := c.pollParents(ctx, &unready, groupID); err != nil {
		return "", err
	}
	if !c.isSubscribed(key) {
		start := time.Now()
		c.arm(ctx)
		err := c.subscribe(ctx, key, true)
		c.disarm()
		c.observe(backends.OpOnTaskCall, start, err)
		if err != nil {
			return "", wrap(err, "wait_for %s at %s", taskID, c.b.cfg.addr)
		}
	}
	start := time.Now()
	val, err := c.cl.Do(ctx, "GET", key).Text()
	if err == goredis.Nil {
		val, err = "", nil
	}
	c.observe(backends.OpGetTaskMeta, start, err)
	if err != nil {
		return "", wrap(err, "wait_for %s at %s: GET", taskID, c.b.cfg.addr)
	}
	if val != "" {
		if st, err := stateOf(val); err == nil && st.Ready() {
			return st, c.completed(ctx, taskID, key)
		}
	}
	start = time.Now()
	c.arm(ctx)
	st, err := c.drainWithParents(ctx, key, &unready, groupID)
	c.disarm()
	c.observe(backends.OpDrainEvents, start, err)
	if err != nil {
		return "", wrap(err, "wait_for %s at %s", taskID, c.b.cfg.addr)
	}
	return st, c.completed(ctx, taskID, key)
}

// pollParents sends one GET per unready parent, releasing those found
// ready.
func (c *caller) pollParents(ctx context.Context, unready *[]string, groupID string) error {
	if len(*unready) == 0 {
		return nil
	}
	keep := (*unready)[:0]
	for _, id := range *unready {
		k := taskKeyPrefix + id
		start := time.Now()
		val, err := c.cl.Do(ctx, "GET", k).Text()
		if err == goredis.Nil {
			val, err = "", nil
		}
		c.observe(backends.OpGetTaskMeta, start, err)
		if err != nil {
			return wrap(err, "reading parent %s at %s: GET", id, c.b.cfg.addr)
		}
		if val != "" {
			if st, err := stateOf(val); err == nil && st.Ready() {
				if err := c.cancelFor(ctx, k); err != nil {
					return err
				}
				continue
			}
		}
		keep = append(keep, id)
	}
	*unready = keep
	if len(keep) == 0 && groupID != "" {
		return c.cancelFor(ctx, taskKeyPrefix+groupID)
	}
	return nil
}

// drainWithParents is drain_events_until with on_interval: it reads
// pub/sub with a 1 s timeout until key's ready message, polling the
// parents after every wake-up.
func (c *caller) drainWithParents(ctx context.Context, key string, unready *[]string, groupID string) (backends.State, error) {
	if c.ps == nil {
		return "", errors.New("no pub/sub connection")
	}
	var ready backends.State
	if len(c.stale) > 0 {
		stale := append([]string(nil), c.stale...)
		c.stale = c.stale[:0]
		for _, k := range stale {
			if err := c.cancelFor(ctx, k); err != nil {
				return "", err
			}
		}
	}
	for {
		woke, err := c.readWithin(ctx, drainTimeout)
		if err != nil {
			if err := c.recover(ctx, err); err != nil {
				return "", err
			}
			if !c.isSubscribed(key) { // a reconnection's MGET found it ready
				ready = backends.Success
			}
		}
		if woke && c.push.is("message") {
			st, err := stateOf(c.push.payload)
			if err != nil {
				return "", wrap(err, "a message on %s", c.push.channel)
			}
			switch ch := string(c.push.channel); {
			case ch == key && st.Ready():
				ready = st
			case ch != key && st.Ready():
				if err := c.cancelFor(ctx, ch); err != nil { // _maybe_cancel_ready_task
					return "", err
				}
			}
		}
		if err := c.pollParents(ctx, unready, groupID); err != nil {
			return "", err
		}
		if ready != "" {
			return ready, nil
		}
	}
}

// readWithin reads the next pub/sub reply into c.push, waiting at most d
// (and no longer than the armed ctx allows). woke is false when d passed
// with nothing to read, which is not an error.
func (c *caller) readWithin(ctx context.Context, d time.Duration) (woke bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	dl, own := time.Now().Add(d), true
	if cdl, ok := ctx.Deadline(); ok && !cdl.After(dl) {
		dl, own = cdl, false
	}
	c.ps.nc.SetReadDeadline(dl)
	err = c.read()
	if ctx.Err() == nil && c.ps != nil {
		c.ps.nc.SetReadDeadline(c.deadline) // the armed deadline, or none
	}
	var idle idleError
	if err != nil && own && ctx.Err() == nil && errors.As(err, &idle) && errors.Is(err, os.ErrDeadlineExceeded) {
		return false, nil // get_message(timeout=1) returned None
	}
	if err != nil {
		return false, err
	}
	return true, nil
}

// OnChordPartReturn is RedisBackend.on_chord_part_return: one pipeline
// MULTI; ZADD <gid>.j <index> <member> (RPUSH when not ordered); ZCOUNT
// <gid>.j -inf +inf (LLEN); GET <gid>.t; GET <gid>.s; EXPIRE .j, .t and .s
// (none when result_expires is None); EXEC, where member is
// [1, "<tid>", "<STATE>", <result>] in JSON. When the count reaches the
// size (plus .t), the part is the last: GET celery-taskset-meta-<gid>
// (GroupResult.restore), MULTI; ZRANGE .j 0 -1 (LRANGE .j 0 <total>); EXEC,
// then the body's publish, then MULTI; DEL .j; DEL .t; DEL .s; EXEC. A
// member in FAILURE or REVOKED stops it before the publish and the DEL
// (ChordError). One observation covers it all.
func (w *worker) OnChordPartReturn(ctx context.Context, groupID string, index int, m *backends.TaskMeta, ordered bool, publish func()) (bool, error) {
	member, err := appendChordMember(nil, m)
	if err != nil {
		return false, wrap(err, "on_chord_part_return %s: encoding the member", m.TaskID)
	}
	start := time.Now()
	last, err := w.chordPart(ctx, groupID, index, member, ordered, publish)
	w.obs.Observe(backends.OpOnChordPartReturn, start, time.Since(start), err)
	if err != nil {
		return last, wrap(err, "on_chord_part_return %s at %s", m.TaskID, w.b.cfg.addr)
	}
	return last, nil
}

// appendChordMember appends encode([1, tid, state, encode_result(result)]).
func appendChordMember(dst []byte, m *backends.TaskMeta) ([]byte, error) {
	dst = append(dst, "[1, "...)
	dst = pyjson.AppendString(dst, m.TaskID)
	dst = append(dst, ", "...)
	dst = pyjson.AppendString(dst, string(m.Status))
	dst = append(dst, ", "...)
	dst, err := pyjson.Append(dst, m.Result)
	if err != nil {
		return dst, err
	}
	return append(dst, ']'), nil
}

func (w *worker) chordPart(ctx context.Context, groupID string, index int, member []byte, ordered bool, publish func()) (bool, error) {
	base := groupKeyPrefix + groupID
	jkey, tkey, skey := base+suffixJoin, base+suffixTotal, base+suffixSize
	p := w.pipe
	p.Do(ctx, "MULTI")
	if ordered {
		p.Do(ctx, "ZADD", jkey, strconv.Itoa(index), member)
		p.Do(ctx, "ZCOUNT", jkey, "-inf", "+inf")
	} else {
		p.Do(ctx, "RPUSH", jkey, member)
		p.Do(ctx, "LLEN", jkey)
	}
	p.Do(ctx, "GET", tkey)
	p.Do(ctx, "GET", skey)
	if w.b.expires != nil {
		p.Do(ctx, "EXPIRE", jkey, w.b.expires)
		p.Do(ctx, "EXPIRE", tkey, w.b.expires)
		p.Do(ctx, "EXPIRE", skey, w.b.expires)
	}
	exec := p.Do(ctx, "EXEC")
	if _, err := p.Exec(ctx); err != nil {
		return false, wrap(err, "MULTI/EXEC")
	}
	if err := execError(exec); err != nil {
		return false, err
	}
	replies := exec.Val().([]any)
	if len(replies) < 4 {
		return false, errors.New("MULTI/EXEC: short reply")
	}
	readycount, _ := replies[1].(int64)
	total, err := chordInt(replies[2])
	if err != nil {
		return false, wrap(err, "GET %s", tkey)
	}
	size, err := chordInt(replies[3])
	if err != nil {
		return false, wrap(err, "GET %s", skey)
	}
	total += size
	if readycount != total {
		return false, nil
	}

	// The last part: GroupResult.restore (a complex header check), then
	// the members.
	if err := w.cl.Do(ctx, "GET", base).Err(); err != nil && err != goredis.Nil {
		return true, wrap(err, "GET %s", base)
	}
	p.Do(ctx, "MULTI")
	if ordered {
		p.Do(ctx, "ZRANGE", jkey, "0", "-1")
	} else {
		p.Do(ctx, "LRANGE", jkey, "0", strconv.FormatInt(total, 10))
	}
	exec = p.Do(ctx, "EXEC")
	if _, err := p.Exec(ctx); err != nil {
		return true, wrap(err, "MULTI/EXEC")
	}
	if err := execError(exec); err != nil {
		return true, err
	}
	if replies := exec.Val().([]any); len(replies) == 1 {
		members, _ := replies[0].([]any)
		for _, mv := range members {
			s, _ := mv.(string)
			v, err := pyjson.Decode([]byte(s))
			if err != nil {
				return true, wrap(err, "reading chord member %.60q", s)
			}
			if t, ok := v.([]any); ok && len(t) == 4 {
				if st, _ := t[2].(string); st == string(backends.Failure) || st == string(backends.Revoked) {
					id, _ := t[1].(string)
					return true, wrap(backends.ErrChordError, "dependency %s raised", id)
				}
			}
		}
	}
	if publish != nil {
		publish()
	}
	p.Do(ctx, "MULTI")
	p.Do(ctx, "DEL", jkey)
	p.Do(ctx, "DEL", tkey)
	p.Do(ctx, "DEL", skey)
	exec = p.Do(ctx, "EXEC")
	if _, err := p.Exec(ctx); err != nil {
		return true, wrap(err, "MULTI/EXEC")
	}
	return true, execError(exec)
}

// chordInt reads a GET reply of a chord counter: nil is 0.
func chordInt(v any) (int64, error) {
	switch v := v.(type) {
	case nil:
		return 0, nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	case int64:
		return v, nil
	}
	return 0, errors.New("not an integer")
}
