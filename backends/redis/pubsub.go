package redis

// The caller's pub/sub connection when things go wrong: reads that ctx
// interrupts, and the reconnection Celery runs when the connection is lost.

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// reconnectRetries is Celery's retry_policy max_retries for
// _reconnect_pubsub; the first retry is immediate, the others 1 s apart.
const reconnectRetries = 20

// read reads the next reply of the pub/sub connection into c.push. An
// error that struck before any byte of the reply was consumed is an
// idleError: the connection is intact.
func (c *caller) read() error {
	if _, err := c.ps.br.Peek(1); err != nil {
		return idleError{err}
	}
	return c.ps.readPush(&c.push)
}

// idleError is a read error that left the connection's reply stream
// intact.
type idleError struct{ error }

func (e idleError) Unwrap() error { return e.error }

// recover handles a failed pub/sub read or write. When ctx has ended it
// returns an error wrapping ctx.Err(), dropping the connection unless the
// failure left it intact (a wait cut short between two replies). An error
// reply is returned as it is. A lost connection is re-established as
// Celery's reconnect_on_error does.
func (c *caller) recover(ctx context.Context, err error) error {
	var idle idleError
	intact := errors.As(err, &idle)
	if cerr := ctxCause(ctx, err); cerr != nil {
		if !intact {
			c.dropPubSub()
		}
		return cerr
	}
	var se serverError
	if errors.As(err, &se) {
		return err
	}
	if !retryable(err) {
		c.dropPubSub()
		return err
	}
	return c.reconnect(ctx)
}

// retryable reports a lost or refused connection, which Celery retries.
func retryable(err error) bool {
	var se serverError
	switch {
	case errors.As(err, &se), errors.Is(err, errProtocol),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNREFUSED):
		return true
	}
	var ce *connectError
	if errors.As(err, &ce) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && !ne.Timeout()
}

// reconnect is ResultConsumer._reconnect_pubsub under Celery's retry
// policy: drop the pub/sub connection and the command connection
// (connection_pool.reset()), MGET every subscribed key on a new command
// connection (Celery 5.2 always, with no keys a bare MGET whose error reply
// redis-py swallows; 5.3+ only when something is subscribed), then open a
// new pub/sub connection and SUBSCRIBE all keys still subscribed in one
// command. A key the MGET shows ready is cancelled as Celery does then,
// with nothing sent: Celery has no pub/sub object at that moment.
//
// Note: with nothing subscribed, Celery 5.2 sends a bare SUBSCRIBE, which
// the server rejects; bench only opens the connection, as 5.3+ does.
func (c *caller) reconnect(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := c.reconnectOnce(ctx)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			c.dropPubSub()
			return cerr
		}
		if !retryable(err) || attempt == reconnectRetries {
			c.dropPubSub()
			return wrap(err, "the pub/sub connection to %s was lost", c.b.cfg.addr)
		}
		if attempt > 0 {
			t := time.NewTimer(time.Second)
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
}

func (c *caller) reconnectOnce(ctx context.Context) error {
	c.closePubSub()
	c.stale = c.stale[:0]
	c.cl.Close()
	c.cl = c.newCommandClient()
	if len(c.subscribed) > 0 || !c.b.o.Celery.AtLeast(5, 3) {
		keys := append([]string(nil), c.subscribed...)
		args := make([]any, 0, 1+len(keys))
		args = append(args, "MGET")
		for _, k := range keys {
			args = append(args, k)
		}
		vals, err := c.cl.Do(ctx, args...).Slice()
		var rerr goredis.Error
		if err != nil && !(len(keys) == 0 && errors.As(err, &rerr)) {
			return err
		}
		for i, v := range vals {
			s, ok := v.(string)
			if !ok || i >= len(keys) {
				continue
			}
			if st, err := stateOf(s); err == nil && st.Ready() {
				c.discard(keys[i])
				if keys[i] == c.waiting {
					c.pendingReady = st
				}
			}
		}
	}
	if err := c.connect(ctx); err != nil {
		return err
	}
	if len(c.subscribed) > 0 {
		c.ps.wbuf = appendArrayLen(c.ps.wbuf[:0], 1+len(c.subscribed))
		c.ps.wbuf = appendBulk(c.ps.wbuf, "SUBSCRIBE")
		for _, k := range c.subscribed {
			c.ps.wbuf = appendBulk(c.ps.wbuf, k)
		}
		return c.ps.flush()
	}
	return nil
}

// closePubSub closes the pub/sub connection, keeping subscribed_to.
func (c *caller) closePubSub() {
	if c.ps != nil {
		c.ps.nc.Close()
		c.ps = nil
	}
}

// dropPubSub closes the pub/sub connection and forgets its subscriptions,
// which died with it.
func (c *caller) dropPubSub() {
	c.closePubSub()
	c.subscribed = c.subscribed[:0]
	c.stale = c.stale[:0]
}

// arm makes blocked I/O on the pub/sub connection (the current one and any
// that replaces it before disarm) return when ctx ends: the connection gets
// ctx's deadline, and a cancellation sets a deadline in the past.
func (c *caller) arm(ctx context.Context) {
	c.armed = true
	c.deadline, _ = ctx.Deadline()
	if c.ps != nil {
		c.watch(ctx, c.ps)
	}
	if ctx.Done() != nil {
		c.wg.Add(1)
		c.stop = context.AfterFunc(ctx, c.interrupt)
	}
}

// watch puts ps under the armed ctx.
func (c *caller) watch(ctx context.Context, ps *conn) {
	if !c.armed {
		return
	}
	if !c.deadline.IsZero() {
		ps.nc.SetDeadline(c.deadline)
	}
	c.watched.Store(ps)
	if ctx.Err() != nil { // the interrupt may have seen the previous connection
		ps.nc.SetDeadline(aLongTimeAgo)
	}
}

// onCancel runs in its own goroutine when the armed ctx is done.
func (c *caller) onCancel() {
	defer c.wg.Done()
	if ps := c.watched.Load(); ps != nil {
		ps.nc.SetDeadline(aLongTimeAgo)
	}
}

// disarm undoes arm, waiting for a running onCancel, and clears the
// deadline of a connection that lives on.
func (c *caller) disarm() {
	interrupted := false
	if c.stop != nil {
		if c.stop() {
			c.wg.Done()
		} else {
			c.wg.Wait()
			interrupted = true
		}
		c.stop = nil
	}
	c.watched.Store(nil)
	if c.ps != nil && (interrupted || !c.deadline.IsZero()) {
		c.ps.nc.SetDeadline(time.Time{})
	}
	c.armed, c.deadline = false, time.Time{}
}
