package mysql

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/celery-bench/bench/backends"
)

// asLogged is a statement as mysql.general_log's utf8mb4 argument column
// keeps it: each byte that is not part of valid UTF-8 becomes the text
// \xHH. (The wire bytes themselves are checked by the goldens.)
func asLogged(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02X`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// generalLogLock is the MariaDB named lock (GET_LOCK) held while the
// general log is switched for a capture.
const generalLogLock = "celery_bench_general_log"

// TestGeneralLog checks with MariaDB's general log that the server received
// exactly the commands the statement hook saw, connection by connection:
// nothing extra from the driver after the handshake (no SET NAMES, no
// max_allowed_packet query, no prepared statements). COM_PING is not
// logged, the server trims the whitespace around a statement and the log
// table cannot hold bytes that are not UTF-8 (asLogged), so the
// hook's view is reduced the same way. The test switches the general log
// on (log_output=TABLE) and restores both settings.
func TestGeneralLog(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	ctx := context.Background()
	o := testOptions(backends.Celery52)
	b := openTest(t, db, o)
	if !b.dialect.mariadb {
		t.Skip("reads MariaDB's mysql.general_log")
	}
	if err := b.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := b.dial(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.close()
	// Other captures on this server (scripts/interop) are asked to take the
	// same named lock around their general-log window.
	if n, err := admin.queryInt(ctx, "SELECT GET_LOCK('"+generalLogLock+"', 60)"); err != nil || n != 1 {
		t.Skipf("the general log is busy (lock %s): %v", generalLogLock, err)
	}
	row := admin.scratch(2)
	if _, err := admin.query(ctx, "SELECT @@global.general_log, @@global.log_output", row); err != nil {
		t.Fatal(err)
	}
	oldLog, oldOutput := string(asBytes(row[0])), string(asBytes(row[1]))
	// The general log is server-wide and other captures may be running:
	// change only what is needed, restore only what was changed, and keep
	// the window short.
	var undo []string
	restore := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			if _, err := admin.exec(ctx, undo[i]); err != nil {
				t.Errorf("restoring the general log: %v", err)
			}
		}
		undo = nil
	}
	defer restore()
	if !strings.Contains(oldOutput, "TABLE") {
		if _, err := admin.exec(ctx, "SET GLOBAL log_output = 'TABLE'"); err != nil {
			t.Skipf("cannot switch the general log: %v", err)
		}
		undo = append(undo, "SET GLOBAL log_output = '"+oldOutput+"'")
	}
	if oldLog != "1" {
		if _, err := admin.exec(ctx, "SET GLOBAL general_log = 1"); err != nil {
			t.Skipf("cannot switch the general log: %v", err)
		}
		undo = append(undo, "SET GLOBAL general_log = "+oldLog)
	}
	if _, err := admin.query(ctx, "SELECT NOW(6)", row[:1]); err != nil {
		t.Fatal(err)
	}
	since := string(asBytes(row[0]))

	rec := record(b)
	// A worker storing a new result and a STARTED→SUCCESS pair, a caller's
	// first and second polls and a forget; then Celery 5.6 sessions, with
	// COM_PINGs and the setup connection.
	w, err := b.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := success("g-log-1", []byte("\x00\\\n\r\x1a\"'\x80\xff"))
	e.Traceback = "line\r\n\ttab 'q' \"dq\" é"
	for _, m := range []*backends.TaskMeta{e, meta("g-log-2", backends.Started, startedResult), success("g-log-2", 5)} {
		if err := w.StoreResult(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	c, err := b.NewCaller(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitFor(ctx, "g-log-2", time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetTaskMeta(ctx, "g-log-missing"); err != nil {
		t.Fatal(err)
	}
	if err := c.Forget(ctx, "g-log-1"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	b56 := openTest(t, db, testOptions(backends.Celery56))
	b56.hook = b.hook
	w, err = b56.NewWorker(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*backends.TaskMeta{meta("g-log-3", backends.Started, startedResult), success("g-log-3", 5)} {
		if err := w.StoreResult(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	events := rec.takeEvents()

	// COM_QUIT has no reply: wait for the server to be done with the
	// connections before switching the log off.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		n, err := admin.queryInt(ctx, "SELECT COUNT(*) FROM information_schema.processlist WHERE db = '"+db+"'")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if _, err := admin.query(ctx, "SELECT @@global.general_log, @@global.log_output", row); err != nil {
		t.Fatal(err)
	}
	if string(asBytes(row[0])) != "1" || !strings.Contains(string(asBytes(row[1])), "TABLE") {
		t.Skip("another client switched the general log during the test")
	}
	restore()

	// What the server logged for the connections made to db.
	type logged struct{ cmd, arg string }
	var threads []int64
	byThread := map[int64][]logged{}
	q := "SELECT thread_id, command_type, argument FROM mysql.general_log WHERE thread_id IN " +
		"(SELECT thread_id FROM mysql.general_log WHERE command_type = 'Connect' AND argument LIKE '% on " + db + " using %' AND event_time >= '" + since + "')"
	rows, err := admin.qu.QueryContext(ctx, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]driver.Value, 3)
	for {
		if err := rows.Next(vals); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		id, _ := asInt(vals[0])
		if _, ok := byThread[id]; !ok {
			threads = append(threads, id)
		}
		byThread[id] = append(byThread[id], logged{string(asBytes(vals[1])), string(asBytes(vals[2]))})
	}
	rows.Close()

	// What the hook saw, as the server logs it.
	var want [][]logged
	for _, ev := range events {
		for len(want) < ev.conn {
			want = append(want, nil)
		}
		switch ev.cmd {
		case "Ping":
			continue // not logged
		case "Query":
			ev.stmt = asLogged(strings.Trim(ev.stmt, " \t\n\r"))
		}
		want[ev.conn-1] = append(want[ev.conn-1], logged{ev.cmd, ev.stmt})
	}
	if len(threads) != len(want) {
		t.Fatalf("the server logged %d connections to %s, the hook saw %d", len(threads), db, len(want))
	}
	queries := 0
	for i, th := range threads {
		got := byThread[th]
		if len(got) != len(want[i]) {
			t.Errorf("connection %d (thread %d): the server logged %d commands, the hook saw %d:\nserver: %q\nhook:   %q", i+1, th, len(got), len(want[i]), got, want[i])
			continue
		}
		for j := range got {
			g, w := got[j], want[i][j]
			if g.cmd != w.cmd || (g.cmd != "Connect" && g.arg != w.arg) {
				t.Errorf("connection %d command %d: server %s %s, hook %s %s", i+1, j+1, g.cmd, goQuote(g.arg), w.cmd, goQuote(w.arg))
			}
			if g.cmd == "Connect" && !strings.Contains(g.arg, " on "+db+" ") {
				t.Errorf("connection %d: %q", i+1, g.arg)
			}
			if g.cmd == "Query" {
				queries++
			}
		}
	}
	if queries < 50 {
		t.Errorf("only %d queries logged; the test did not exercise enough", queries)
	}
}
