package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/celery-bench/bench/backends"
)

// caller is one Celery client process: a command connection (pre-dialled,
// as a go-redis client) and a pub/sub connection of its own, opened at the
// first SUBSCRIBE as Celery's ResultConsumer.start does.
//
// It tracks what Celery tracks: subscribed is ResultConsumer.subscribed_to,
// and stale holds the ready messages it has read ahead of Celery. Bench
// reads the socket in OnTaskCall to see its SUBSCRIBE confirmed (Celery
// relies on the broker hop instead) and so may read messages that Celery
// would only read at its next drain, where a ready message for any other
// task makes it UNSUBSCRIBE that task (_maybe_cancel_ready_task). Those
// UNSUBSCRIBEs are sent when the next drain starts, as Celery sends them.
type caller struct {
	b     *backend
	obs   backends.Observer
	cl    client
	laddr string // the command connection's first local address, for tests

	// Time spent opening connections since the last observe (ns), and
	// when the first of those began (unix ns, 0 for none); see observe.
	connecting, connectStart atomic.Int64

	ps         *conn    // nil until the first SUBSCRIBE
	subscribed []string // ResultConsumer.subscribed_to; empty when ps is nil
	stale      []string // channels of ready messages read ahead, see above
	push       push

	// The current task's key, built once per task, and the GET and DEL
	// argument lists over it.
	lastID, lastKey  string
	getArgs, delArgs []any

	// waiting is the key WaitFor drains for; pendingReady is its state when
	// a reconnection's MGET found it ready.
	waiting      string
	pendingReady backends.State

	// Cancellation of blocked pub/sub I/O (arm, disarm).
	armed     bool
	deadline  time.Time
	watched   atomic.Pointer[conn]
	stop      func() bool
	interrupt func()
	wg        sync.WaitGroup
}

// maxStale bounds the read-ahead bookkeeping when no drain ever runs
// (every result found ready by the first GET); Celery's unread messages
// would pile up in the socket instead.
const maxStale = 1024

// NewCaller opens nothing yet. Like redis-py, the caller connects its
// command connection at its first command (get()'s GET), so a
// fire-and-forget caller never opens one, and its pub/sub connection at the
// first OnTaskCall. The server was checked when the backend opened.
func (b *backend) NewCaller(ctx context.Context, obs backends.Observer) (backends.Caller, error) {
	cl := &caller{b: b, obs: b.observer(obs)}
	cl.cl = cl.newCommandClient()
	cl.interrupt = cl.onCancel
	cl.getArgs, cl.delArgs = []any{"GET", nil}, []any{"DEL", nil}
	return cl, nil
}

// newCommandClient is the caller's command connection, which it opens at
// its first command.
func (c *caller) newCommandClient() client {
	return c.b.newClientDial(nil, func(ctx context.Context) (*conn, error) {
		cn, err := c.dial(ctx)
		if err == nil && c.laddr == "" {
			c.laddr = cn.nc.LocalAddr().String()
		}
		return cn, err
	})
}

// dial opens a connection with Celery's setup commands and sets its time
// aside for observe. It may run on a go-redis goroutine, hence the atomics.
func (c *caller) dial(ctx context.Context) (*conn, error) {
	start := time.Now()
	cn, err := c.b.dial(ctx)
	if err == nil {
		c.connectStart.CompareAndSwap(0, start.UnixNano())
		c.connecting.Add(int64(time.Since(start)))
	}
	return cn, err
}

// observe reports op, started at start and ending now, to the observer.
// redis-py opens a connection inside the command that first needs it; the
// time spent opening connections during op is reported as OpConnect and
// left out of op's own time, so that a caller's first GET reads as a GET.
// A connection that failed to open is op's error, and its time stays in op.
func (c *caller) observe(op string, start time.Time, err error) {
	d := time.Since(start)
	// A load first: almost every op opened nothing, and a load does not
	// take the cache line for writing as a swap would.
	if c.connecting.Load() == 0 {
		c.obs.Observe(op, start, d, err)
		return
	}
	if cd := time.Duration(c.connecting.Swap(0)); cd > 0 {
		c.obs.Observe(backends.OpConnect, time.Unix(0, c.connectStart.Swap(0)), cd, nil)
		d -= cd
	}
	c.obs.Observe(op, start, d, err)
}

func (c *caller) key(taskID string) string {
	if taskID != c.lastID || c.lastKey == "" {
		c.lastID, c.lastKey = taskID, taskKeyPrefix+taskID
		k := any(c.lastKey)
		c.getArgs[1], c.delArgs[1] = k, k
	}
	return c.lastKey
}

func (c *caller) isSubscribed(key string) bool {
	for _, k := range c.subscribed {
		if k == key {
			return true
		}
	}
	return false
}

// discard removes key from subscribed_to.
func (c *caller) discard(key string) {
	for i, k := range c.subscribed {
		if k == key {
			c.subscribed = append(c.subscribed[:i], c.subscribed[i+1:]...)
			return
		}
	}
}

// OnTaskCall is RedisBackend.on_task_call: SUBSCRIBE to the task's channel
// before the task is sent. It returns once the server has confirmed the
// subscription, which Celery gets for free from the broker round trip that
// follows; that wait is the only read Celery does not do, and it sends
// nothing. A task already subscribed to sends nothing, as in Celery.
func (c *caller) OnTaskCall(ctx context.Context, taskID string) error {
	key := c.key(taskID)
	if err := ctx.Err(); err != nil {
		return wrap(err, "on_task_call %s at %s", taskID, c.b.cfg.addr)
	}
	if c.isSubscribed(key) {
		return nil
	}
	start := time.Now()
	c.arm(ctx)
	err := c.subscribe(ctx, key, true)
	c.disarm()
	c.observe(backends.OpOnTaskCall, start, err)
	if err != nil {
		return wrap(err, "on_task_call %s at %s", taskID, c.b.cfg.addr)
	}
	return nil
}

// subscribe is ResultConsumer._consume_from: add key to subscribed_to and
// SUBSCRIBE it, connecting first if needed. With confirm it then reads
// until the server confirms it.
func (c *caller) subscribe(ctx context.Context, key string, confirm bool) error {
	c.subscribed = append(c.subscribed, key)
	err := c.connect(ctx)
	if err == nil {
		c.ps.wbuf = appendCommand(c.ps.wbuf[:0], "SUBSCRIBE", key)
		err = c.ps.flush()
	}
	if err != nil {
		// A reconnection SUBSCRIBEs every key in subscribed_to, this one too.
		if err := c.recover(ctx, err); err != nil {
			return err
		}
	}
	for tries := 0; confirm; tries++ {
		err := c.awaitSubscribed(ctx, key)
		if err == nil {
			return nil
		}
		if tries == reconnectRetries {
			return err
		}
		if err := c.recover(ctx, err); err != nil {
			return err
		}
		if !c.isSubscribed(key) {
			return nil // the reconnection's MGET found the task ready already
		}
	}
	return nil
}

// connect dials the pub/sub connection if there is none.
func (c *caller) connect(ctx context.Context) error {
	if c.ps != nil {
		return nil
	}
	ps, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.ps = ps
	c.watch(ctx, ps)
	return nil
}

// awaitSubscribed reads until the confirmation of SUBSCRIBE key, passing
// over the confirmations of earlier UNSUBSCRIBEs and the messages of
// earlier tasks (remembering the ready ones in stale).
func (c *caller) awaitSubscribed(ctx context.Context, key string) error {
	for {
		if err := c.read(); err != nil {
			return err
		}
		p := &c.push
		switch {
		case p.is("subscribe"):
			if string(p.channel) == key {
				return nil
			}
		case p.is("message"):
			if string(p.channel) != key && len(c.stale) < maxStale {
				if st, err := stateOf(p.payload); err == nil && st.Ready() {
					c.stale = append(c.stale, string(p.channel))
				}
			}
		}
	}
}

// WaitFor is AsyncResult.get() on the Redis backend: subscribe if the task
// is not subscribed to yet (a get() without a send), waiting for the
// confirmation as OnTaskCall does, so the GET cannot overtake the
// SUBSCRIBE and miss the ready message; one GET
// (on_wait_for_pending); if not ready, read pub/sub messages until the
// task's ready message, ignoring its non-ready states (STARTED, PROGRESS,
// RETRY) and other channels; then UNSUBSCRIBE twice. interval is ignored,
// as Celery ignores it for this backend.
func (c *caller) WaitFor(ctx context.Context, taskID string, _ time.Duration) (backends.State, error) {
	key := c.key(taskID)
	if err := ctx.Err(); err != nil {
		return "", wrap(err, "wait_for %s at %s", taskID, c.b.cfg.addr)
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
	val, err := c.cl.Do(ctx, c.getArgs...).Text()
	if err == goredis.Nil {
		val, err = "", nil
	}
	c.observe(backends.OpGetTaskMeta, start, err)
	if err != nil {
		return "", wrap(err, "wait_for %s at %s: GET", taskID, c.b.cfg.addr)
	}
	if val != "" {
		st, err := stateOf(val)
		if err != nil {
			return "", wrap(err, "wait_for %s at %s: reading the stored record", taskID, c.b.cfg.addr)
		}
		if st.Ready() {
			return st, c.completed(ctx, taskID, key)
		}
	}

	start = time.Now()
	c.waiting, c.pendingReady = key, ""
	c.arm(ctx)
	st, err := c.drain(ctx, key)
	c.disarm()
	fromReconnect := c.pendingReady != ""
	c.waiting, c.pendingReady = "", ""
	c.observe(backends.OpDrainEvents, start, err)
	if err != nil {
		return "", wrap(err, "wait_for %s at %s", taskID, c.b.cfg.addr)
	}
	if fromReconnect {
		// Celery learnt it from the reconnection's MGET while it had no
		// pub/sub object, so its cancel_for calls sent nothing.
		return st, nil
	}
	return st, c.completed(ctx, taskID, key)
}

// drain is drain_events_until the task is ready.
func (c *caller) drain(ctx context.Context, key string) (backends.State, error) {
	if c.ps == nil {
		return "", errors.New("no pub/sub connection")
	}
	if len(c.stale) > 0 {
		// Celery reads these first and cancels each of those tasks.
		c.ps.wbuf = c.ps.wbuf[:0]
		for _, k := range c.stale {
			c.discard(k)
			c.ps.wbuf = appendCommand(c.ps.wbuf, "UNSUBSCRIBE", k)
		}
		c.stale = c.stale[:0]
		if err := c.ps.flush(); err != nil {
			if err := c.recover(ctx, err); err != nil {
				return "", err
			}
		}
	}
	for {
		if c.pendingReady != "" {
			return c.pendingReady, nil
		}
		if err := c.read(); err != nil {
			if err := c.recover(ctx, err); err != nil {
				return "", err
			}
			continue
		}
		p := &c.push
		if !p.is("message") {
			continue // a confirmation: redis-py's ignore_subscribe_messages
		}
		st, err := stateOf(p.payload)
		if err != nil {
			return "", wrap(err, "a message on %s", p.channel)
		}
		if string(p.channel) == key {
			if st.Ready() {
				return st, nil
			}
			continue
		}
		if st.Ready() {
			// _maybe_cancel_ready_task for another task.
			other := string(p.channel)
			c.discard(other)
			c.ps.wbuf = appendCommand(c.ps.wbuf[:0], "UNSUBSCRIBE", other)
			if err := c.ps.flush(); err != nil {
				if err := c.recover(ctx, err); err != nil {
					return "", err
				}
			}
		}
	}
}

// completed runs what Celery runs when get() sees the task ready: on_ready
// → remove_pending_result → cancel_for, then _maybe_cancel_ready_task →
// cancel_for: UNSUBSCRIBE twice, written together without waiting for the
// confirmations (the next read consumes them). One observation.
func (c *caller) completed(ctx context.Context, taskID, key string) error {
	c.discard(key)
	if c.ps == nil {
		return nil
	}
	start := time.Now()
	c.ps.wbuf = appendCommand(c.ps.wbuf[:0], "UNSUBSCRIBE", key)
	c.ps.wbuf = appendCommand(c.ps.wbuf, "UNSUBSCRIBE", key)
	err := c.ps.flush()
	if err != nil {
		err = c.recover(ctx, err)
	}
	c.observe(backends.OpRemovePendingResult, start, err)
	if err != nil {
		return wrap(err, "wait_for %s at %s: UNSUBSCRIBE", taskID, c.b.cfg.addr)
	}
	return nil
}

// cancelFor is ResultConsumer.cancel_for: discard the key and, if there is
// a pub/sub connection, UNSUBSCRIBE without waiting. One observation when
// something is sent.
func (c *caller) cancelFor(ctx context.Context, key string) error {
	c.discard(key)
	if c.ps == nil {
		return nil
	}
	start := time.Now()
	c.ps.wbuf = appendCommand(c.ps.wbuf[:0], "UNSUBSCRIBE", key)
	err := c.ps.flush()
	if err != nil {
		err = c.recover(ctx, err)
	}
	c.observe(backends.OpRemovePendingResult, start, err)
	return err
}

// Release is AsyncResult.__del__ → remove_pending_result: one more
// UNSUBSCRIBE.
func (c *caller) Release(ctx context.Context, taskID string) error {
	if err := c.cancelFor(ctx, c.key(taskID)); err != nil {
		return wrap(err, "release %s at %s: UNSUBSCRIBE", taskID, c.b.cfg.addr)
	}
	return nil
}

// GetTaskMeta is Backend.get_task_meta: GET and decode; a missing key is
// PENDING.
func (c *caller) GetTaskMeta(ctx context.Context, taskID string) (*backends.TaskMeta, error) {
	c.key(taskID)
	start := time.Now()
	val, err := c.cl.Do(ctx, c.getArgs...).Text()
	if err == goredis.Nil {
		c.observe(backends.OpGetTaskMeta, start, nil)
		return &backends.TaskMeta{TaskID: taskID, Status: backends.Pending}, nil
	}
	c.observe(backends.OpGetTaskMeta, start, err)
	if err != nil {
		return nil, wrap(err, "get_task_meta %s at %s: GET", taskID, c.b.cfg.addr)
	}
	m, err := ParseMetaJSON([]byte(val))
	if err != nil {
		return nil, wrap(err, "get_task_meta %s at %s", taskID, c.b.cfg.addr)
	}
	if m.TaskID == "" {
		m.TaskID = taskID
	}
	return m, nil
}

// Forget is AsyncResult.forget(): DEL, then cancel_for (RedisBackend.forget).
// From Celery 5.6 AsyncResult.forget first calls remove_pending_result,
// which sends one more UNSUBSCRIBE before the DEL. The DEL is observed as
// OpForget, each UNSUBSCRIBE as OpRemovePendingResult.
func (c *caller) Forget(ctx context.Context, taskID string) error {
	key := c.key(taskID)
	var errs []error
	if c.b.o.Celery.AtLeast(5, 6) {
		errs = append(errs, c.cancelFor(ctx, key))
	}
	start := time.Now()
	err := c.cl.Do(ctx, c.delArgs...).Err()
	c.observe(backends.OpForget, start, err)
	if err != nil {
		errs = append(errs, wrap(err, "DEL"))
	}
	errs = append(errs, c.cancelFor(ctx, key))
	if err := errors.Join(errs...); err != nil {
		return wrap(err, "forget %s at %s", taskID, c.b.cfg.addr)
	}
	return nil
}

// Close closes both connections.
func (c *caller) Close() error {
	c.dropPubSub()
	return c.cl.Close()
}
