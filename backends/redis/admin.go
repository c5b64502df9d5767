package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/celery-bench/bench/backends"
)

// scanCount is the COUNT hint of the harness's SCANs.
const scanCount = "1000"

// Prepare refuses a db that holds Celery results or groups bench did not
// write: any celery-task-meta-<id> or celery-taskset-meta-<id> key (chord
// keys included) whose id does not start with Options.IDPrefix. Other keys
// are not Celery's and are left alone. Options.Force skips the check. The
// whole keyspace is SCANned, COUNT 1000 at a time.
func (b *backend) Prepare(ctx context.Context) error {
	if b.o.Force {
		return nil
	}
	var n int64
	var example string
	err := b.scan(ctx, "celery-task*-meta-*", func(c *conn, keys []string) error {
		for _, k := range keys {
			id, ok := strings.CutPrefix(k, taskKeyPrefix)
			if !ok {
				id, ok = strings.CutPrefix(k, groupKeyPrefix)
			}
			if ok && !strings.HasPrefix(id, b.o.IDPrefix) {
				n++
				if example == "" {
					example = k
				}
			}
		}
		return nil
	})
	if err != nil {
		return wrap(err, "checking db %d at %s for other Celery results", b.cfg.db, b.cfg.addr)
	}
	if n > 0 {
		return fmt.Errorf("redis: db %d at %s holds %d Celery result keys not under id prefix %q, such as %s; "+
			"use another db, or --force to run anyway: %w", b.cfg.db, b.cfg.addr, n, b.o.IDPrefix, example, backends.ErrForeignData)
	}
	return nil
}

// Cleanup deletes the results (celery-task-meta-<prefix>*) and groups
// (celery-taskset-meta-<prefix>*, chord keys included) of ids starting with
// prefix: SCAN, then UNLINK each batch found. It returns how many keys it
// deleted. An empty prefix is refused: it would delete every Celery result
// in the db, bench's or not.
func (b *backend) Cleanup(ctx context.Context, prefix string) (int64, error) {
	if prefix == "" {
		return 0, fmt.Errorf("redis: refusing to clean up db %d at %s with an empty id prefix: it would delete every Celery result there", b.cfg.db, b.cfg.addr)
	}
	var n int64
	for _, family := range []string{taskKeyPrefix, groupKeyPrefix} {
		err := b.scan(ctx, family+globEscape(prefix)+"*", func(c *conn, keys []string) error {
			args := append([]string{"UNLINK"}, keys...)
			r, err := c.roundTrip(args...)
			if err != nil {
				return err
			}
			if d, ok := r.(int64); ok {
				n += d
			}
			return nil
		})
		if err != nil {
			return n, wrap(err, "cleaning up ids %q in db %d at %s", prefix, b.cfg.db, b.cfg.addr)
		}
	}
	return n, nil
}

// scan runs SCAN MATCH pattern over the whole keyspace on a connection of
// its own and calls fn with each non-empty batch of keys.
func (b *backend) scan(ctx context.Context, pattern string, fn func(c *conn, keys []string) error) error {
	c, err := b.dial(ctx)
	if err != nil {
		return err
	}
	defer c.nc.Close()
	return withConn(ctx, c, func() error {
		cursor := "0"
		for {
			r, err := c.roundTrip("SCAN", cursor, "MATCH", pattern, "COUNT", scanCount)
			if err != nil {
				return b.commandError("SCAN", err)
			}
			arr, ok := r.([]any)
			if !ok || len(arr) != 2 {
				return errors.New("SCAN: unexpected reply")
			}
			cursor, _ = arr[0].(string)
			list, _ := arr[1].([]any)
			keys := make([]string, 0, len(list))
			for _, k := range list {
				if s, ok := k.(string); ok {
					keys = append(keys, s)
				}
			}
			if len(keys) > 0 {
				if err := fn(c, keys); err != nil {
					return err
				}
			}
			if _, err := strconv.ParseUint(cursor, 10, 64); err != nil {
				return fmt.Errorf("SCAN: bad cursor %q", cursor)
			}
			if cursor == "0" {
				return nil
			}
		}
	})
}

// globEscape quotes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var sb strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}
