package mysql

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
)

// TestStoredPickles checks the result column byte for byte against the
// values Python's pickle.dumps(v, 5) gives (reference §4.1), read back
// with HEX(result); None is NULL.
func TestStoredPickles(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	b := openPrepared(t, db, testOptions(backends.Celery52))
	w := newTestWorker(t, b)
	for i, tc := range []struct {
		v   any
		hex string
	}{
		{5, "80054B052E"},
		{"ok", "80059506000000000000008C026F6B942E"},
		{[]any{0, 2, 4}, "8005950B000000000000005D94284B004B024B04652E"},
		{progressResult, "80059518000000000000007D94288C04646F6E65944B018C05746F74616C944B02752E"},
		{py.Exception("builtins", "ValueError", "boom!"), "8005954D000000000000007D94288C086578635F74797065948C0A56616C75654572726F72948C0B6578635F6D657373616765948C05626F6F6D219485948C0A6578635F6D6F64756C65948C086275696C74696E7394752E"},
		{nil, "NULL"},
	} {
		id := "g-pickle-" + string(rune('a'+i))
		if err := w.StoreResult(ctx, success(id, tc.v)); err != nil {
			t.Fatal(err)
		}
		got := queryString(t, db, "SELECT IFNULL(HEX(result), 'NULL') FROM celery_taskmeta WHERE task_id = '"+id+"'")
		if got != tc.hex {
			t.Errorf("result %#v stored as %s, want %s", tc.v, got, tc.hex)
		}
	}
}

// TestResultExtendedValues checks the extended columns as Celery stores
// them with the json serializer, and that GetTaskMeta decodes them.
func TestResultExtendedValues(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	o := testOptions(backends.Celery56)
	o.ResultExtended = true
	b := openPrepared(t, db, o)
	w := newTestWorker(t, b)
	m := success("g-ext", 5)
	m.Extended = addRequest
	if err := w.StoreResult(ctx, m); err != nil {
		t.Fatal(err)
	}
	got := queryString(t, db, "SELECT CONCAT_WS('|', name, HEX(args), kwargs, worker, retries, queue) FROM celery_taskmeta WHERE task_id = 'g-ext'")
	if want := "tasks.add|5B322C20335D|{}|w2@vm|0|celery"; got != want {
		t.Errorf("extended columns = %s, want %s", got, want)
	}
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r, err := c.GetTaskMeta(ctx, "g-ext")
	if err != nil {
		t.Fatal(err)
	}
	e := r.Extended
	if e == nil || e.Name != "tasks.add" || len(e.Args) != 2 || e.Args[0] != int64(2) || e.Worker != "w2@vm" || e.Queue != "celery" || !pyEqual(e.Kwargs, py.Dict{}) {
		t.Errorf("GetTaskMeta extended = %+v", e)
	}
}

// TestGetTaskMetaUndecodable checks that a result pickled by Python as an
// exception object (GLOBAL/REDUCE, which package pickle does not read)
// comes back as its raw bytes rather than failing the read.
func TestGetTaskMetaUndecodable(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	b := openPrepared(t, db, testOptions(backends.Celery52))
	// pickle.dumps(ValueError('boom!'), 5)
	raw, _ := hex.DecodeString("80059529000000000000008c086275696c74696e73948c0a56616c75654572726f729493948c05626f6f6d21948594529494")
	raw = append(raw, '.')
	c, err := b.dial(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	c.sql = append(c.sql[:0], "INSERT INTO celery_taskmeta (id, task_id, status, result, date_done, traceback) VALUES (NEXTVAL(task_id_sequence), 'g-exc', 'FAILURE', "...)
	if !b.dialect.sequences {
		c.sql = append(c.sql[:0], "INSERT INTO celery_taskmeta (task_id, status, result, date_done, traceback) VALUES ('g-exc', 'FAILURE', "...)
	}
	c.sql = appendBytes(c.sql, raw, false)
	c.sql = append(c.sql, ", '2026-11-25 22:43:48', 'Traceback…')"...)
	if _, err := c.execSQL(ctx); err != nil {
		t.Fatal(err)
	}
	c.close()
	cl, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	m, err := cl.GetTaskMeta(ctx, "g-exc")
	if err != nil {
		t.Fatalf("GetTaskMeta: %v", err)
	}
	if got, ok := m.Result.([]byte); !ok || string(got) != string(raw) {
		t.Errorf("Result = %#v, want the raw pickle", m.Result)
	}
	if m.Status != backends.Failure || m.Traceback != "Traceback…" {
		t.Errorf("GetTaskMeta = %+v", m)
	}
}

// TestStoreRetryDuplicate reproduces two processes inserting the same new
// task: another connection commits the row between this worker's nextval
// and its INSERT, which fails with 1062; Celery rolls back and retries,
// and the retry takes the update path (§2.10). With 5.6.3 the failed
// attempt also disposes the Engine.
func TestStoreRetryDuplicate(t *testing.T) {
	for _, v := range backends.Versions() {
		t.Run("celery"+v.String(), func(t *testing.T) {
			needServer(t)
			db := scratchDB(t)
			ctx := context.Background()
			b := openPrepared(t, db, testOptions(v))
			other, err := b.dial(ctx, false)
			if err != nil {
				t.Fatal(err)
			}
			defer other.close()
			w := newTestWorker(t, b)
			if err := w.StoreResult(ctx, success("g-warm", 1)); err != nil { // create_all on 5.2
				t.Fatal(err)
			}
			rec := &recorder{}
			injected := false
			b.hook = func(conn uint64, cmd, stmt string) {
				if conn == other.id {
					return
				}
				rec.hook(conn, cmd, stmt)
				if !injected && strings.HasPrefix(stmt, "INSERT INTO celery_taskmeta") {
					injected = true
					if _, err := other.exec(ctx, "INSERT INTO celery_taskmeta (id, task_id, status) VALUES (999, 'g-dup', 'STARTED')"); err != nil {
						t.Error(err)
					}
				}
			}
			if b.dialect.sequences {
				// The sequence would hand out 999 later; keep it clear.
				if _, err := other.exec(ctx, "SELECT SETVAL(task_id_sequence, 1000)"); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.StoreResult(ctx, success("g-dup", 5)); err != nil {
				t.Fatalf("StoreResult: %v", err)
			}
			var verbs []string
			for _, l := range rec.take() {
				f := strings.Fields(l)
				verb := f[1]
				if len(f) > 2 {
					verb = strings.Trim(f[2], `"`)
				}
				verbs = append(verbs, verb)
			}
			want := "SELECT INSERT ROLLBACK ROLLBACK SELECT UPDATE COMMIT ROLLBACK"
			if b.dialect.sequences {
				want = "SELECT select INSERT ROLLBACK ROLLBACK SELECT UPDATE COMMIT ROLLBACK"
			}
			if v.AtLeast(5, 6) {
				// A ping at checkout; after the failure the Engine is
				// disposed, so the retry connects anew with the probes,
				// and does not ping its fresh connection.
				want = "Ping " + strings.Replace(want, "ROLLBACK ROLLBACK SELECT", "ROLLBACK ROLLBACK Quit Connect SET SET SELECT SELECT SELECT SELECT SELECT ROLLBACK SELECT", 1)
			}
			if got := strings.Join(verbs, " "); got != want {
				t.Errorf("commands:\n got %s\nwant %s", got, want)
			}
			st := queryString(t, db, "SELECT CONCAT(id, ' ', status, ' ', HEX(result)) FROM celery_taskmeta WHERE task_id = 'g-dup'")
			if st != "999 SUCCESS 80054B052E" {
				t.Errorf("row = %s, want 999 SUCCESS 80054B052E", st)
			}
		})
	}
}

// TestStoreGivesUp checks that a statement failing every time is tried 3
// times and the error returned names it.
func TestStoreGivesUp(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	b := openPrepared(t, db, testOptions(backends.Celery52))
	w := newTestWorker(t, b)
	rec := record(b)
	// A pickle over BLOB's 65,535 bytes fails with 1406 in strict mode.
	err := w.StoreResult(ctx, success("g-big", strings.Repeat("x", 70000)))
	if err == nil || !strings.Contains(err.Error(), "1406") || !strings.Contains(err.Error(), "UPDATE celery_taskmeta") {
		t.Fatalf("StoreResult = %v, want the 1406 of the UPDATE", err)
	}
	n := 0
	for _, l := range rec.take() {
		if strings.Contains(l, "UPDATE celery_taskmeta") {
			n++
		}
	}
	if n != maxAttempts {
		t.Errorf("%d UPDATE attempts, want %d", n, maxAttempts)
	}
	// The session is still usable.
	if err := w.StoreResult(ctx, success("g-small", 1)); err != nil {
		t.Errorf("StoreResult after the failure: %v", err)
	}
}

// TestWaitForCancel checks that cancelling ctx during WaitFor's sleep
// returns at once with an error wrapping context.Canceled, and that each
// poll is reported.
func TestWaitForCancel(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	b := openPrepared(t, db, testOptions(backends.Celery52))
	polls := 0
	obs := backends.ObserverFunc(func(op string, _ time.Time, _ time.Duration, err error) {
		if op == backends.OpGetTaskMeta && err == nil {
			polls++
		}
	})
	c, err := b.NewCaller(ctx, obs)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err = c.WaitFor(cctx, "g-never", time.Hour)
	d := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor = %v, want an error wrapping context.Canceled", err)
	}
	if d > time.Second {
		t.Errorf("WaitFor returned %v after the cancellation was due", d)
	}
	if polls != 1 {
		t.Errorf("%d polls observed, want 1", polls)
	}
}

// TestStoreCancel checks that a cancelled ctx makes StoreResult return an
// error wrapping context.Canceled, without retrying, and that a store
// cancelled inside its transaction rolls back, so the session goes on.
func TestStoreCancel(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	b := openPrepared(t, db, testOptions(backends.Celery52))
	w := newTestWorker(t, b)
	if err := w.StoreResult(ctx, success("g-warm", 1)); err != nil {
		t.Fatal(err)
	}
	rec := record(b)

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := w.StoreResult(cctx, success("g-cancelled", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("StoreResult with a cancelled ctx = %v", err)
	}
	if got := rec.take(); len(got) != 0 {
		t.Errorf("a cancelled StoreResult sent %q", got)
	}

	cctx, cancel = context.WithCancel(ctx)
	b.hook = func(conn uint64, cmd, stmt string) {
		rec.hook(conn, cmd, stmt)
		if strings.HasPrefix(stmt, "INSERT") {
			cancel()
		}
	}
	if err := w.StoreResult(cctx, success("g-cancelled", 1)); !errors.Is(err, context.Canceled) {
		t.Errorf("StoreResult cancelled at the INSERT = %v", err)
	}
	var verbs []string
	for _, l := range rec.take() {
		verbs = append(verbs, strings.Trim(strings.Fields(l)[2], `"`))
	}
	want := "SELECT select INSERT ROLLBACK ROLLBACK"
	if !b.dialect.sequences {
		want = "SELECT INSERT ROLLBACK ROLLBACK"
	}
	if got := strings.Join(verbs, " "); got != want {
		t.Errorf("commands = %s", got)
	}
	if err := w.StoreResult(ctx, success("g-after", 1)); err != nil {
		t.Fatalf("StoreResult after a cancelled one: %v", err)
	}
	if got := queryString(t, db, "SELECT COUNT(*) FROM celery_taskmeta WHERE task_id IN ('g-cancelled', 'g-after')"); got != "1" {
		t.Errorf("%s rows for g-cancelled and g-after, want 1", got)
	}
}
