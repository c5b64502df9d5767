package sqla

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
)

// fakeConn records what a session sends; rows answers QueryRow by
// statement prefix, fail fails every Exec.
type fakeConn struct {
	log  *[]string
	rows map[string][][]byte
	fail error
	rec  Record
	sql  []byte
}

func (c *fakeConn) Broken() bool                    { return false }
func (c *fakeConn) Ping(ctx context.Context) error  { *c.log = append(*c.log, "[ping]"); return nil }
func (c *fakeConn) Reset(ctx context.Context) error { *c.log = append(*c.log, "[reset]"); return nil }
func (c *fakeConn) Abort(ctx context.Context) error { *c.log = append(*c.log, "[abort]"); return nil }
func (c *fakeConn) Close()                          { *c.log = append(*c.log, "[close]") }
func (c *fakeConn) Record() *Record                 { return &c.rec }
func (c *fakeConn) SQL() *[]byte                    { return &c.sql }
func (c *fakeConn) Commit(ctx context.Context) error {
	*c.log = append(*c.log, "COMMIT")
	return nil
}
func (c *fakeConn) EndRead(ctx context.Context) error {
	*c.log = append(*c.log, "ROLLBACK")
	return nil
}
func (c *fakeConn) QueryRow(ctx context.Context, stmt string, n int, r *Row) (bool, error) {
	*c.log = append(*c.log, stmt)
	for p, row := range c.rows {
		if strings.HasPrefix(stmt, p) {
			r.Cols = row
			return true, nil
		}
	}
	return false, nil
}
func (c *fakeConn) Exec(ctx context.Context, stmt string) (int64, error) {
	*c.log = append(*c.log, stmt)
	return 1, c.fail
}

// fakeDialect renders literals plainly; new rows get id 7.
type fakeDialect struct{}

func (fakeDialect) AppendString(dst []byte, s string) []byte {
	return append(append(append(dst, '\''), s...), '\'')
}
func (fakeDialect) AppendBytes(dst, b []byte) []byte {
	return append(append(append(dst, "b'"...), b...), '\'')
}
func (fakeDialect) AppendDate(dst []byte, t time.Time, aware bool) []byte {
	return append(append(append(dst, '\''), t.Format(time.DateTime)...), '\'')
}
func (fakeDialect) AppendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
func (fakeDialect) Blob(b []byte) ([]byte, bool)         { return b, true }
func (fakeDialect) Int(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}
func (fakeDialect) Date(b []byte) (time.Time, bool) {
	t, err := time.Parse(time.DateTime, string(b))
	return t, err == nil
}
func (fakeDialect) NaiveDateEqual(b []byte, t time.Time) bool {
	return string(b) == t.Format(time.DateTime)
}
func (fakeDialect) NextTaskID(ctx context.Context, c *fakeConn) (int64, error) { return 0, nil }
func (fakeDialect) InsertTask(ctx context.Context, c *fakeConn, _ int64, values []byte, extended bool) (int64, error) {
	_, err := c.Exec(ctx, "INSERT ("+string(values)+")")
	return 7, err
}
func (fakeDialect) NextGroupID(ctx context.Context, c *fakeConn) (int64, error) { return 0, nil }
func (fakeDialect) InsertGroup(ctx context.Context, c *fakeConn, _ int64, values []byte) error {
	_, err := c.Exec(ctx, "INSERT GROUP ("+string(values)+")")
	return err
}
func (fakeDialect) FillPrefix() string { return "FILL " }
func (fakeDialect) FillID() string     { return "" }
func (fakeDialect) Now() time.Time     { return time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC) }

func fakeEngine(v backends.Version, c *fakeConn) *Engine[*fakeConn] {
	o := backends.DefaultOptions
	o.Celery = v
	return &Engine[*fakeConn]{Opts: &o, Prefix: "fake", D: fakeDialect{},
		Connect: func(ctx context.Context, probes bool) (*fakeConn, error) {
			*c.log = append(*c.log, "[connect]")
			c.rec = Record{Opened: time.Now(), Fresh: true}
			return c, nil
		},
		CreateAll: func(ctx context.Context, c *fakeConn) error { return c.Commit(ctx) },
	}
}

// TestStoreSequence: a 5.2 child's first store_result checks the tables,
// then SELECTs, INSERTs the PENDING row and UPDATEs what changed.
func TestStoreSequence(t *testing.T) {
	var log []string
	c := &fakeConn{log: &log}
	w, err := NewWorker(context.Background(), fakeEngine(backends.Celery52, c), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &backends.TaskMeta{TaskID: "t1", Status: backends.Success, Result: int64(5)}
	if err := w.StoreResult(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(log, "\n")
	want := strings.Join([]string{"[connect]", "COMMIT", "[reset]",
		SelectTaskPrefix(false) + "'t1'",
		"INSERT ('t1', 'PENDING', NULL, '2026-12-04 10:00:00', NULL)",
		// date_done is the INSERT's default, so its onupdate puts it back
		"UPDATE celery_taskmeta SET status='SUCCESS', result=b'\x80\x05K\x05.', date_done='2026-12-04 10:00:00', traceback=NULL WHERE celery_taskmeta.id = 7",
		"COMMIT", "[reset]"}, "\n")
	if got != want {
		t.Errorf("statements:\n%s\nwant\n%s", got, want)
	}
}

// TestRetrySequence: a failing statement is retried 3 times in all, each
// failed session aborted, and the last error returned through Mark.
func TestRetrySequence(t *testing.T) {
	var log []string
	boom := errors.New("boom")
	c := &fakeConn{log: &log, fail: boom}
	e := fakeEngine(backends.Celery56, c)
	marked := 0
	e.Mark = func(err error) error { marked++; return err }
	s, err := NewNullPool(context.Background(), e)
	if err != nil {
		t.Fatal(err)
	}
	log = nil
	cl := &Caller[*fakeConn]{e: e, Obs: backends.Discard, s: s}
	if err := cl.Forget(context.Background(), "t1"); !errors.Is(err, boom) || marked != 1 {
		t.Fatalf("Forget = %v (marked %d), want boom marked once", err, marked)
	}
	if n := strings.Count(strings.Join(log, "\n"), DeleteTaskPrefix+"'t1'\n[abort]\n[close]"); n != MaxAttempts {
		t.Errorf("%d aborted attempts, want %d:\n%s", n, MaxAttempts, strings.Join(log, "\n"))
	}
}
