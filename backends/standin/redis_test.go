package standin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// realRedisAddr is where a developer's or CI's Redis listens. The command
// script also runs there, to compare answers, when something answers.
const realRedisAddr = "127.0.0.1:6379"

// A redisStep is one command (or pipeline) of the script and its reply.
type redisStep struct {
	name  string
	reply string
	// own marks replies that legitimately differ between servers
	// (versions, commands newer than the server); they are checked on the
	// embedded server alone.
	own bool
}

func newRedisClient(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DB: 0, MaxRetries: -1})
}

// show renders a go-redis reply, replacing the key prefix with "<p>".
func show(prefix string, v any, err error) string {
	var s string
	switch {
	case errors.Is(err, redis.Nil):
		s = "(nil)"
	case err != nil:
		s = "error: " + err.Error()
	case v == nil:
		s = "nil"
	default:
		switch v := v.(type) {
		case string, []string, []any, fmt.Stringer:
			s = fmt.Sprintf("%q", v)
		default:
			s = fmt.Sprint(v)
		}
	}
	return strings.ReplaceAll(s, prefix, "<p>")
}

// cmdsReply renders the replies of a pipeline.
func cmdsReply(prefix string, cmds []redis.Cmder, err error) string {
	var out []string
	for _, c := range cmds {
		var v any
		switch c := c.(type) {
		case *redis.StatusCmd:
			v = c.Val()
		case *redis.IntCmd:
			v = c.Val()
		case *redis.StringCmd:
			v = c.Val()
		case *redis.BoolCmd:
			v = c.Val()
		case *redis.StringSliceCmd:
			v = c.Val()
		default:
			v = c.String()
		}
		out = append(out, c.Name()+"="+show(prefix, v, c.Err()))
	}
	return strings.Join(out, " ") + " exec=" + show(prefix, nil, err)
}

// celeryRedisScript sends, through go-redis v9 with RESP2, the commands
// Celery's Redis result backend sends over a task's life (see
// /work/shared/reference/celery-redis-backend.md §2), under keys that start
// with prefix, and returns the replies.
func celeryRedisScript(t *testing.T, addr, prefix string) []redisStep {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	worker := newRedisClient(addr)
	defer worker.Close()
	caller := newRedisClient(addr)
	defer caller.Close()

	sh := func(v any, err error) string { return show(prefix, v, err) }
	var steps []redisStep
	add := func(name, reply string) { steps = append(steps, redisStep{name: name, reply: reply}) }
	own := func(name, reply string) { steps = append(steps, redisStep{name: name, reply: reply, own: true}) }

	key := "celery-task-meta-" + prefix + "2ae0ce77"
	key2 := "celery-task-meta-" + prefix + "78252b6e"
	missing := "celery-task-meta-" + prefix + "missing"
	meta := `{"status": "SUCCESS", "result": 5, "traceback": null, "children": [], "date_done": "2026-11-25T22:47:09.912656", "task_id": "` + prefix + `2ae0ce77"}`

	add("PING", sh(worker.Ping(ctx).Result()))
	// go-redis, like redis-py ≥ 5, has sent CLIENT SETINFO on connecting;
	// send it again to see the answer.
	own("CLIENT SETINFO LIB-NAME", sh(caller.Do(ctx, "CLIENT", "SETINFO", "LIB-NAME", "redis-py").Result()))
	own("CLIENT SETINFO LIB-VER", sh(caller.Do(ctx, "CLIENT", "SETINFO", "LIB-VER", "5.0.1").Result()))

	// task.delay(): SUBSCRIBE on the caller's pub/sub connection, confirmed.
	ps := caller.Subscribe(ctx, key)
	defer ps.Close()
	add("SUBSCRIBE", sh(ps.Receive(ctx)))

	// get(): one GET, then wait on pub/sub.
	add("GET pending", sh(caller.Get(ctx, key).Result()))

	// store_result on the worker: GET, then MULTI SETEX PUBLISH EXEC in one
	// round trip.
	add("GET before store", sh(worker.Get(ctx, key).Result()))
	cmds, err := worker.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetEx(ctx, key, meta, 86400*time.Second)
		p.Publish(ctx, key, meta)
		return nil
	})
	add("MULTI SETEX PUBLISH EXEC", cmdsReply(prefix, cmds, err))

	// The caller's pub/sub delivers the same bytes.
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
	msg, err := ps.ReceiveMessage(rctx)
	rcancel()
	if err != nil {
		add("message", show(prefix, nil, err))
	} else {
		add("message", show(prefix, msg.Channel+" "+msg.Payload, nil))
	}
	// Ready: UNSUBSCRIBE twice for the same channel (cancel_for ×2).
	for i := range 2 {
		if err := ps.Unsubscribe(ctx, key); err != nil {
			add(fmt.Sprintf("UNSUBSCRIBE %d", i+1), show(prefix, nil, err))
			continue
		}
		add(fmt.Sprintf("UNSUBSCRIBE %d", i+1), sh(ps.Receive(ctx)))
	}
	add("GET ready", sh(caller.Get(ctx, key).Result()))
	own("TTL", sh(caller.TTL(ctx, key).Result()))

	// result_expires=None: SET instead of SETEX; nobody listens.
	cmds, err = worker.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key2, meta, 0)
		p.Publish(ctx, key2, meta)
		return nil
	})
	add("MULTI SET PUBLISH EXEC", cmdsReply(prefix, cmds, err))
	add("TTL no expiry", sh(caller.TTL(ctx, key2).Result()))

	// Group .get(): one MGET of the members.
	add("MGET", sh(caller.MGet(ctx, key, missing, key2).Result()))

	// A chord of 2 (§2.6), sorted-set and list modes.
	gid := "celery-taskset-meta-" + prefix + "d9d2e6fc"
	cmds, err = caller.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SetEx(ctx, gid+".s", "2", 86400*time.Second)
		p.Publish(ctx, gid+".s", "2")
		return nil
	})
	add("set_chord_size", cmdsReply(prefix, cmds, err))
	for i, tid := range []string{"t1", "t2"} {
		member := fmt.Sprintf(`[1, "%s", "SUCCESS", %d]`, tid, i)
		cmds, err = worker.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.ZAdd(ctx, gid+".j", redis.Z{Score: float64(i), Member: member})
			p.ZCount(ctx, gid+".j", "-inf", "+inf")
			p.Get(ctx, gid+".t")
			p.Get(ctx, gid+".s")
			p.Expire(ctx, gid+".j", 86400*time.Second)
			p.Expire(ctx, gid+".t", 86400*time.Second)
			p.Expire(ctx, gid+".s", 86400*time.Second)
			return nil
		})
		add(fmt.Sprintf("on_chord_part_return %d", i+1), cmdsReply(prefix, cmds, err))
		cmds, err = worker.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.RPush(ctx, gid+".l", member)
			p.LLen(ctx, gid+".l")
			return nil
		})
		add(fmt.Sprintf("on_chord_part_return list %d", i+1), cmdsReply(prefix, cmds, err))
	}
	add("GET group", sh(worker.Get(ctx, gid).Result()))
	cmds, err = worker.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRange(ctx, gid+".j", 0, -1)
		return nil
	})
	add("MULTI ZRANGE EXEC", cmdsReply(prefix, cmds, err))
	add("LRANGE", sh(worker.LRange(ctx, gid+".l", 0, 1).Result()))
	add("INCRBY add_to_chord", sh(worker.IncrBy(ctx, gid+".t", 1).Result()))

	// bench's cleanup: SCAN MATCH its prefix, then UNLINK.
	var keys []string
	for cursor := uint64(0); ; {
		ks, next, err := caller.Scan(ctx, cursor, "celery-*"+prefix+"*", 100).Result()
		if err != nil {
			add("SCAN", show(prefix, nil, err))
			break
		}
		keys = append(keys, ks...)
		if cursor = next; cursor == 0 {
			break
		}
	}
	slices.Sort(keys)
	add("SCAN MATCH", show(prefix, keys, nil))

	cmds, err = worker.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, gid+".j")
		p.Del(ctx, gid+".t")
		p.Del(ctx, gid+".s")
		return nil
	})
	add("MULTI DEL×3 EXEC", cmdsReply(prefix, cmds, err))
	add("DEL forget", sh(caller.Del(ctx, key).Result()))
	add("DEL missing", sh(caller.Del(ctx, missing).Result()))
	add("UNLINK", sh(caller.Unlink(ctx, key2, gid+".l").Result()))
	add("GET forgotten", sh(caller.Get(ctx, key).Result()))

	info, err := caller.Info(ctx, "server").Result()
	own("INFO server", show(prefix, info, err))
	return steps
}

// TestRedisCeleryCommands runs Celery's Redis commands on the embedded
// Redis and, when a Redis answers at 127.0.0.1:6379, checks that both reply
// alike.
func TestRedisCeleryCommands(t *testing.T) {
	srv, err := StartRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.URL != "redis://"+srv.Addr+"/0" || !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
		t.Errorf("URL %q, Addr %q", srv.URL, srv.Addr)
	}
	emb := celeryRedisScript(t, srv.Addr, "bench-embedded-")
	byName := make(map[string]string)
	for _, s := range emb {
		byName[s.name] = s.reply
		if strings.Contains(s.reply, "error") {
			t.Errorf("embedded: %s: %s", s.name, s.reply)
		}
	}
	for name, want := range map[string]string{
		"CLIENT SETINFO LIB-NAME":  `"OK"`,
		"SUBSCRIBE":                `"subscribe: celery-task-meta-<p>2ae0ce77"`,
		"GET pending":              "(nil)",
		"MULTI SETEX PUBLISH EXEC": `setex="OK" publish=1 exec=nil`,
		"UNSUBSCRIBE 2":            `"unsubscribe: celery-task-meta-<p>2ae0ce77"`,
		"TTL":                      `"24h0m0s"`,
		"MULTI SET PUBLISH EXEC":   `set="OK" publish=0 exec=nil`,
		"DEL forget":               "1",
		"UNLINK":                   "2",
	} {
		if got := byName[name]; got != want {
			t.Errorf("embedded: %s = %s, want %s", name, got, want)
		}
	}
	if m := byName["message"]; !strings.Contains(m, `\"status\": \"SUCCESS\"`) {
		t.Errorf("embedded: pub/sub message %s, want the stored meta", m)
	}
	if !strings.Contains(byName["INFO server"], "redis_version:"+RedisVersion) {
		t.Errorf("embedded: INFO server = %s, want redis_version:%s", byName["INFO server"], RedisVersion)
	}
	if t.Failed() {
		for _, s := range emb {
			t.Logf("embedded %-28s %s", s.name, s.reply)
		}
	}

	if !Reachable(context.Background(), realRedisAddr, time.Second) {
		t.Logf("no Redis at %s: embedded server checked alone", realRedisAddr)
		return
	}
	rl := celeryRedisScript(t, realRedisAddr, fmt.Sprintf("bench-embedded-%d-", time.Now().UnixNano()))
	if len(rl) != len(emb) {
		t.Fatalf("scripts differ in length: embedded %d, real %d", len(emb), len(rl))
	}
	same := 0
	for i, e := range emb {
		r := rl[i]
		switch {
		case e.own:
			t.Logf("server-specific %s\n\tembedded: %.200s\n\treal:     %.200s", e.name, e.reply, r.reply)
		case e.reply != r.reply:
			t.Errorf("%s:\n\tembedded: %s\n\treal:     %s", e.name, e.reply, r.reply)
		default:
			same++
		}
	}
	t.Logf("%d commands answered alike on the embedded Redis and %s", same, realRedisAddr)
}

// TestRedisMultiKeepsQueueing checks that the commands StartRedis answers
// itself are queued, not answered, inside MULTI, so a transaction's
// replies stay in step.
func TestRedisMultiKeepsQueueing(t *testing.T) {
	srv, err := StartRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c := newRedisClient(srv.Addr)
	defer c.Close()
	cmds, _ := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "k", "v", 0)
		p.Info(ctx, "server")
		p.Get(ctx, "k")
		return nil
	})
	if len(cmds) != 3 || cmds[0].Err() != nil || cmds[2].(*redis.StringCmd).Val() != "v" {
		t.Errorf("MULTI SET INFO GET EXEC = %v", cmds)
	}
	if got, err := c.Info(ctx, "server").Result(); err != nil || !strings.Contains(got, "redis_version:") {
		t.Errorf("INFO server after EXEC = %q, %v", got, err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		t.Errorf("PING after MULTI: %v", err)
	}
}

// TestMiniredisGaps documents what miniredis itself lacks among the
// commands Celery and go-redis send, and so why StartRedis answers them.
// When a miniredis release implements one, this test fails: drop the
// stand-in for it from redisExtras.
func TestMiniredisGaps(t *testing.T) {
	m, err := miniredis.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	c := newRedisClient(m.Addr())
	defer c.Close()
	for _, cmd := range [][]any{
		{"INFO", "server"},
		{"CLIENT", "SETINFO", "LIB-NAME", "redis-py"},
		{"CLIENT", "SETINFO", "LIB-VER", "5.0.1"},
	} {
		if err := c.Do(ctx, cmd...).Err(); err == nil {
			t.Errorf("miniredis now answers %v: drop its stand-in from redisExtras", cmd)
		} else {
			t.Logf("miniredis %s: %v", miniredisVersion(), err)
		}
	}
}

func miniredisVersion() string {
	if v := moduleVersion("github.com/alicebob/miniredis/v2"); v != "" {
		return v
	}
	return "(version unknown)"
}
