package redis

import (
	"context"
	"errors"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/celery-bench/bench/backends"
)

// worker is one prefork worker child: one connection for its life, as
// redis-py's pool gives a single-threaded process.
type worker struct {
	b     *backend
	obs   backends.Observer
	cl    client
	pipe  goredis.Pipeliner
	laddr string // the first connection's local address, for tests

	// The key and the encoded record live in reused buffers, and the
	// commands' argument lists are built once over them, so a write
	// allocates only what go-redis allocates itself.
	key, buf                       argBuf
	get, multi, set, publish, exec []any
}

// argBuf is a command argument in a reused buffer. go-redis writes an
// encoding.BinaryMarshaler as a bulk string; a pointer in an interface
// costs no allocation, where a []byte would cost one per call.
type argBuf struct{ b []byte }

func (a *argBuf) MarshalBinary() ([]byte, error) { return a.b, nil }

// NewWorker connects at once, so that a bad URL or an unreachable server
// fails here and not in the first measured write. Celery connects at the
// first command; the handshake's commands are the same.
func (b *backend) NewWorker(ctx context.Context, obs backends.Observer) (backends.Worker, error) {
	c, err := b.dial(ctx)
	if err != nil {
		return nil, err
	}
	cl := b.newClient(c)
	w := &worker{
		b: b, obs: b.observer(obs), cl: cl, pipe: cl.Pipeline(),
		laddr: c.nc.LocalAddr().String(),
		buf:   argBuf{make([]byte, 0, 512)},
	}
	key, buf := any(&w.key), any(&w.buf)
	w.get = []any{"GET", key}
	w.multi = []any{"MULTI"}
	if b.expires != nil {
		w.set = []any{"SETEX", key, b.expires, buf}
	} else {
		w.set = []any{"SET", key, buf}
	}
	w.publish = []any{"PUBLISH", key, buf}
	w.exec = []any{"EXEC"}
	return w, nil
}

// StoreResult is BaseKeyValueStoreBackend._store_result: GET the record; if
// it says SUCCESS, stop (Celery's guard against overwriting a finished
// task); else write it and publish the same bytes in one MULTI/EXEC
// pipeline, one write and one round trip. The observation covers both
// round trips but not the encoding, which happens before the GET.
//
// Note: Celery retries the pipeline on connection errors (retry_policy, up
// to 20 times); bench reports the error instead, so that a failing server
// shows in the error counts rather than as slow writes.
func (w *worker) StoreResult(ctx context.Context, m *backends.TaskMeta) error {
	if m.TaskID == "" {
		return errors.New("redis: store_result: empty task id")
	}
	buf, err := AppendMetaJSON(w.buf.b[:0], m, w.b.o.Celery)
	if err != nil {
		return wrap(err, "store_result %s: encoding the record", m.TaskID)
	}
	w.buf.b = buf
	w.key.b = append(append(w.key.b[:0], taskKeyPrefix...), m.TaskID...)
	start := time.Now()
	err = w.store(ctx)
	w.obs.Observe(backends.OpStoreResult, start, time.Since(start), err)
	if err != nil {
		return wrap(err, "store_result %s at %s", m.TaskID, w.b.cfg.addr)
	}
	return nil
}

func (w *worker) store(ctx context.Context) error {
	old, err := w.cl.Do(ctx, w.get...).Text()
	switch {
	case err == goredis.Nil:
	case err != nil:
		return wrap(err, "GET")
	default:
		st, err := stateOf(old)
		if err != nil {
			return wrap(err, "GET: reading the stored record")
		}
		if st == backends.Success {
			return nil
		}
	}
	w.pipe.Do(ctx, w.multi...)
	w.pipe.Do(ctx, w.set...) // SETEX key <expires> <json>, or SET key <json>
	w.pipe.Do(ctx, w.publish...)
	exec := w.pipe.Do(ctx, w.exec...)
	if _, err := w.pipe.Exec(ctx); err != nil {
		return wrap(err, "MULTI/EXEC")
	}
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

// Close closes the connection.
func (w *worker) Close() error { return w.cl.Close() }
