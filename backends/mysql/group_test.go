package mysql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/workloads"
)

// opStatements returns, per connection in order of appearance, the
// statements sent after the connection's setup (SET AUTOCOMMIT, SET NAMES
// and, where sent, the dialect probes).
func opStatements(b *backend, evs []event) [][]string {
	var order []int
	byConn := map[int][]string{}
	for _, e := range evs {
		if e.cmd != "Query" {
			continue
		}
		if _, ok := byConn[e.conn]; !ok {
			order = append(order, e.conn)
			byConn[e.conn] = []string{}
		}
		byConn[e.conn] = append(byConn[e.conn], e.stmt)
	}
	var out [][]string
	for _, c := range order {
		s := byConn[c]
		if len(s) >= 2 && s[0] == stmtAutocommit && s[1] == b.setNames {
			s = s[2:]
			if len(s) >= len(b.dialect.probes) && equalStrings(s[:len(b.dialect.probes)], b.dialect.probes) {
				s = s[len(b.dialect.probes):]
			}
		}
		out = append(out, s)
	}
	return out
}

// queries returns the statements of evs.
func queries(evs []event) []string {
	var out []string
	for _, e := range evs {
		if e.cmd == "Query" {
			out = append(out, e.stmt)
		}
	}
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestGroupSaveSQL checks GroupResult.save/restore/delete against §2.7:
// each a NullPool operation of the caller with, after the connection's
// setup, nextval + INSERT + COMMIT + ROLLBACK (MariaDB; MySQL has no
// nextval); SELECT … LIMIT 1 + ROLLBACK + ROLLBACK; DELETE + COMMIT +
// ROLLBACK; and the pickled GroupResult's size near Celery's (263 B for 3
// members).
func TestGroupSaveSQL(t *testing.T) {
	for _, v := range backends.Versions() {
		t.Run("celery"+v.String(), func(t *testing.T) {
			db := scratchDB(t)
			ctx := context.Background()
			b := openPrepared(t, db, testOptions(v))
			cs, err := b.NewCaller(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			c := cs.(*caller)
			if _, err := c.GetTaskMeta(ctx, "g-warm"); err != nil { // create_all, once
				t.Fatal(err)
			}
			rec := record(b)
			gid := "g-0000-4000-8000-000000000100"
			ids := []string{"g-0000-4000-8000-000000000000", "g-0000-4000-8000-000000000001", "g-0000-4000-8000-000000000002"}
			if err := c.SaveGroup(ctx, gid, ids); err != nil {
				t.Fatal(err)
			}
			got, err := c.RestoreGroup(ctx, gid)
			if err != nil || len(got) != 3 || got[2] != ids[2] {
				t.Fatalf("restore: %v, %v", got, err)
			}
			if err := c.DeleteGroup(ctx, gid); err != nil {
				t.Fatal(err)
			}
			if got, err := c.RestoreGroup(ctx, gid); err != nil || got != nil {
				t.Fatalf("restore after delete: %v, %v", got, err)
			}
			ops := opStatements(b, rec.takeEvents())
			if len(ops) != 4 {
				t.Fatalf("%d connections, want 4 (one per operation): %q", len(ops), ops)
			}
			sel := selectGroupPrefix + "'" + gid + "'" + selectGroupSuffix
			insert := "INSERT INTO celery_tasksetmeta (taskset_id, result, date_done) VALUES ('" + gid + "', '\x80\x05"
			wantSave := []string{insert, stmtCommit, stmtRollback}
			if b.dialect.sequences {
				insert = "INSERT INTO celery_tasksetmeta (id, taskset_id, result, date_done) VALUES ("
				wantSave = []string{stmtNextvalTaskset, insert, stmtCommit, stmtRollback}
			}
			if len(ops[0]) != len(wantSave) {
				t.Fatalf("save: %q", ops[0])
			}
			for i, w := range wantSave {
				if !strings.HasPrefix(ops[0][i], w) {
					t.Errorf("save statement %d: %q, want %q…", i, ops[0][i], w)
				}
			}
			want := [][]string{
				{sel, stmtRollback, stmtRollback},
				{deleteGroupPrefix + "'" + gid + "'", stmtCommit, stmtRollback},
				{sel, stmtRollback, stmtRollback},
			}
			for i, w := range want {
				if !equalStrings(ops[i+1], w) {
					t.Errorf("operation %d: %q\nwant %q", i+2, ops[i+1], w)
				}
			}
			// What was saved reads back, ids in order.
			if got := groupIDsOf(mustGroupPickle(t, b, gid, ids)); !equalStrings(got, ids) {
				t.Errorf("member ids read back: %q, want %q", got, ids)
			}
		})
	}
}

// TestChordUnlockSQL checks chord_unlock's runs against §2.8 and row L: on
// the worker-style connection, per member SELECT + ROLLBACK + ROLLBACK up to
// the first unready one; nothing stored.
func TestChordUnlockSQL(t *testing.T) {
	for _, v := range backends.Versions() {
		t.Run("celery"+v.String(), func(t *testing.T) {
			db := scratchDB(t)
			ctx := context.Background()
			b := openPrepared(t, db, testOptions(v))
			w := newTestWorker(t, b)
			cs, err := b.NewCaller(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			ids := []string{"g-0000-4000-8000-000000000000", "g-0000-4000-8000-000000000001", "g-0000-4000-8000-000000000002"}
			for _, id := range ids[:2] {
				if err := w.StoreResult(ctx, success(id, 2)); err != nil {
					t.Fatal(err)
				}
			}
			u, err := backends.OpenChordUnlocker(ctx, cs, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			rec := record(b)
			member := func(id string) []string {
				return []string{selectTaskPrefix(false) + "'" + id + "'", stmtRollback, stmtRollback}
			}
			var want []string
			ready, err := u.ChordUnlock(ctx, []string{ids[0], ids[2], ids[1]})
			if err != nil || ready {
				t.Fatalf("run 1: ready %v, %v; want not ready", ready, err)
			}
			if !b.createAtSetup() { // a 5.2 child's first operation checks the tables (row E)
				want = append(want, b.hasTable[0], b.hasTable[1], stmtCommit, stmtRollback)
			}
			want = append(append(want, member(ids[0])...), member(ids[2])...) // stops at the unready one
			if got := queries(rec.takeEvents()); !equalStrings(got, want) {
				t.Errorf("run 1:\n%q\nwant\n%q", got, want)
			}
			if err := w.StoreResult(ctx, success(ids[2], 2)); err != nil {
				t.Fatal(err)
			}
			rec.take()
			ready, err = u.ChordUnlock(ctx, ids)
			if err != nil || !ready {
				t.Fatalf("run 2: ready %v, %v; want ready", ready, err)
			}
			stmts := queries(rec.takeEvents())
			want = nil
			for _, id := range ids {
				want = append(want, member(id)...)
			}
			if !equalStrings(stmts, want) {
				t.Errorf("run 2:\n%q\nwant\n%q", stmts, want)
			}
		})
	}
}

// TestCleanupExpiredSQL checks backend_cleanup against §2.9: one
// transaction of two DELETEs by date_done, COMMIT, ROLLBACK, deleting
// exactly the rows done before the cutoff (the pre-filled ones and an old
// group), and neither the fresh results nor those without date_done.
func TestCleanupExpiredSQL(t *testing.T) {
	for _, v := range backends.Versions() {
		t.Run("celery"+v.String(), func(t *testing.T) {
			db := scratchDB(t)
			ctx := context.Background()
			b := openPrepared(t, db, testOptions(v))
			w := newTestWorker(t, b)
			// The fresh results are dated now, not at the goldens' capture
			// date: that one falls behind the cutoff as the calendar moves.
			for i, id := range []string{"g-fresh-1", "g-fresh-2", "g-fresh-3"} {
				m := success(id, i)
				m.DateDone = time.Now().UTC()
				if err := w.StoreResult(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.StoreResult(ctx, meta("g-started", backends.Started, nil)); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-48 * time.Hour)
			n, err := b.FillExpired(ctx, "g-0000-8000-", 2500, old)
			if err != nil || n != 2500 {
				t.Fatalf("FillExpired: %d, %v", n, err)
			}
			adminExec(t, "INSERT INTO `"+db+"`.celery_tasksetmeta (id, taskset_id, result, date_done) VALUES (999, 'g-oldgroup', NULL, '2000-01-01 00:00:00')")
			cs, err := b.NewCaller(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			var obs []string
			c := cs.(*caller)
			c.Obs = backends.ObserverFunc(func(op string, _ time.Time, _ time.Duration, err error) {
				if err == nil {
					obs = append(obs, op)
				}
			})
			rec := record(b)
			cutoff := time.Now().Add(-24 * time.Hour).Truncate(time.Microsecond)
			deleted, err := c.CleanupExpired(ctx, cutoff)
			if err != nil || deleted != 2501 {
				t.Fatalf("CleanupExpired: %d, %v; want 2501", deleted, err)
			}
			if len(obs) != 1 || obs[0] != backends.OpBackendCleanup {
				t.Errorf("observations %v", obs)
			}
			date := string(appendDate(nil, cutoff))
			want := []string{
				"DELETE FROM celery_taskmeta WHERE celery_taskmeta.date_done < " + date,
				"DELETE FROM celery_tasksetmeta WHERE celery_tasksetmeta.date_done < " + date,
				stmtCommit, stmtRollback,
			}
			ops := opStatements(b, rec.takeEvents())
			if len(ops) != 1 || !equalStrings(ops[0], want) {
				t.Errorf("statements %q\nwant %q", ops, want)
			}
			if got := queryString(t, db, "SELECT COUNT(*) FROM celery_taskmeta"); got != "4" {
				t.Errorf("%s results left, want the 4 fresh or unfinished ones", got)
			}
			if got := queryString(t, db, "SELECT COUNT(*) FROM celery_tasksetmeta"); got != "0" {
				t.Errorf("%s groups left, want 0", got)
			}
		})
	}
}

// TestWorkloadChordSQL runs the chord workload (N=5) on MariaDB/MySQL and
// checks row L: the worker's 6 stores (5 header + body) of 6 statements
// (5 with MySQL), no chord statements on the worker, and chord_unlock's
// runs of SELECT + ROLLBACK + ROLLBACK per member on its own connection,
// the last run reading all 5.
func TestWorkloadChordSQL(t *testing.T) {
	db := scratchDB(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	// 5.6 runs create_all on a connection of its own, so the pooled
	// connections carry only the operations.
	o := testOptions(backends.Celery56)
	o.IDPrefix = workloads.RunPrefix(seed)
	b := openPrepared(t, db, o)
	rec := record(b)
	m, err := workloads.Lookup("chord")
	if err != nil {
		t.Fatal(err)
	}
	wl := m.New()
	oc, err := workloads.Run(ctx, wl, b, workloads.RunOptions{Callers: 1, Workers: 1, Tasks: 1, Seed: seed,
		PollInterval: 500 * time.Millisecond, TaskTimeout: 10 * time.Second, ResultSizes: workloads.FixedSize(8)})
	if err != nil {
		t.Fatal(err)
	}
	if cl, ok := wl.(interface{ Close() error }); ok {
		cl.Close()
	}
	for _, op := range oc.Ops {
		if op.Errors > 0 {
			t.Errorf("op %s: %d errors: %v", op.Name, op.Errors, op.ErrorSamples)
		}
	}
	perStore := 6
	if !b.dialect.sequences {
		perStore = 5
	}
	var worker, unlock []string
	polls := 0
	for _, s := range opStatements(b, rec.takeEvents()) {
		inserts, selects := 0, 0
		for _, q := range s {
			if strings.HasPrefix(q, "INSERT INTO celery_taskmeta") {
				inserts++
			}
			if strings.HasPrefix(q, selectTaskPrefix(false)) {
				selects++
			}
		}
		switch {
		case inserts > 0:
			worker = s
		case selects > 1:
			unlock = s
		case selects == 1:
			polls++
		}
	}
	// chord_unlock is a task on a worker child: its runs (SELECT, ROLLBACK,
	// ROLLBACK per member read, the last run reading all 5) share the
	// worker's connection with the 6 stores, and no other connection reads
	// more than one task.
	if len(unlock) != 0 {
		t.Errorf("a connection other than the worker's ran chord_unlock: %q", unlock)
	}
	reads := -6 // every SELECT of the worker's but the 6 stores' own is a chord_unlock member read
	for _, q := range worker {
		if strings.HasPrefix(q, selectTaskPrefix(false)) {
			reads++
		}
	}
	if reads < 5 || len(worker) != 6*perStore+3*reads {
		t.Errorf("worker: %d statements, want the 6 stores (%d) and chord_unlock runs of SELECT+ROLLBACK+ROLLBACK (%d reads, at least 5): %q",
			len(worker), 6*perStore, reads, worker)
	}
	unlock = make([]string, 3*max(reads, 0))
	t.Logf("chord N=5 on %s: worker %d statements; chord_unlock %d statements (%d member reads); caller %d polls, one connection each",
		b.dialect.product(), len(worker), len(unlock), len(unlock)/3, polls)
}

// TestWorkloadGroupSQL runs the group workload (N=5) and checks §2.7: the
// worker's 5 stores of 6 statements (5 on MySQL), nothing group-level on
// the worker, and the caller joining member by member, each poll a
// connection of its own with one SELECT.
func TestWorkloadGroupSQL(t *testing.T) {
	db := scratchDB(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano())
	o := testOptions(backends.Celery56)
	o.IDPrefix = workloads.RunPrefix(seed)
	b := openPrepared(t, db, o)
	rec := record(b)
	m, err := workloads.Lookup("group")
	if err != nil {
		t.Fatal(err)
	}
	oc, err := workloads.Run(ctx, m.New(), b, workloads.RunOptions{Callers: 1, Workers: 1, Tasks: 1, Seed: seed,
		PollInterval: 100 * time.Millisecond, TaskTimeout: 10 * time.Second, ResultSizes: workloads.FixedSize(8)})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range oc.Ops {
		if op.Errors > 0 {
			t.Errorf("op %s: %d errors: %v", op.Name, op.Errors, op.ErrorSamples)
		}
	}
	perStore := 6
	if !b.dialect.sequences {
		perStore = 5
	}
	var worker []string
	polls := 0
	for _, s := range opStatements(b, rec.takeEvents()) {
		switch {
		case len(s) > 0 && strings.HasPrefix(s[0], selectTaskPrefix(false)) && len(s) == 3:
			polls++ // SELECT, ROLLBACK, ROLLBACK on a new connection
		case len(s) > 3 && strings.Contains(strings.Join(s, "\n"), "INSERT INTO celery_taskmeta"):
			worker = s
		}
	}
	if len(worker) != 5*perStore {
		t.Errorf("worker: %d statements, want %d", len(worker), 5*perStore)
	}
	if polls < 5 {
		t.Errorf("%d caller polls, want at least one per member", polls)
	}
	t.Logf("group N=5 on %s: worker %d statements; caller %d polls of 1 connection + 11 statements each", b.dialect.product(), len(worker), polls)
}

func mustGroupPickle(t *testing.T, b *backend, gid string, ids []string) []byte {
	t.Helper()
	p, err := b.groupPickle(gid, ids)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGroupPickleCelery checks the pickled GroupResult byte for byte
// against Celery 5.2.6's pickle.dumps(app.GroupResult(gid, [...]), 5)
// (Python 3.11; the same in 5.6.3, whose __reduce__s are unchanged): three
// members, a day's result_expires; two members with result_expires None;
// and 4,000 members (220 KB, several frames) with expires 1 day 1:01:01
// and a password in the URL, by length and SHA-256.
func TestGroupPickleCelery(t *testing.T) {
	const url = "db+mysql://root@127.0.0.1:3306/celery_bench"
	ids := make([]string, 4000)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
	}
	for _, tc := range []struct {
		name, url, gid string
		ids            []string
		expires        time.Duration
		hex            string // the whole pickle, or
		size           int    // its length and
		sha256         string // SHA-256
	}{
		{"3 members", url, "gid1", []string{"a1", "a2", "a3"}, 24 * time.Hour,
			"80059568010000000000008c0f63656c6572792e6170702e62617365948c115f756e7069636b6c655f617070617474729493948c0b47726f7570526573756c74948c0467696431945d942868028c0b4173796e63526573756c7494288c026131948c1463656c6572792e6261636b656e64732e62617365948c10756e7069636b6c655f6261636b656e649493948c1863656c6572792e6261636b656e64732e6461746162617365948c0f44617461626173654261636b656e64949394297d94288c056462757269948c286d7973716c3a2f2f726f6f74403132372e302e302e313a333330362f63656c6572795f62656e6368948c0765787069726573948c086461746574696d65948c0974696d6564656c74619493944b014b004b00879452948c0e656e67696e655f6f7074696f6e73947d9475879452944e4e4e74948694529468026806288c02613294681a4e4e4e74948694529468026806288c02613394681a4e4e4e749486945294658694869452942e",
			0, ""},
		{"expires None", url, "g-none", ids[:2], 0,
			"80059577010000000000008c0f63656c6572792e6170702e62617365948c115f756e7069636b6c655f617070617474729493948c0b47726f7570526573756c74948c06672d6e6f6e65945d942868028c0b4173796e63526573756c7494288c2430303030303030302d303030302d343030302d383030302d303030303030303030303030948c1463656c6572792e6261636b656e64732e62617365948c10756e7069636b6c655f6261636b656e649493948c1863656c6572792e6261636b656e64732e6461746162617365948c0f44617461626173654261636b656e64949394297d94288c056462757269948c286d7973716c3a2f2f726f6f74403132372e302e302e313a333330362f63656c6572795f62656e6368948c0765787069726573944e8c0e656e67696e655f6f7074696f6e73947d9475879452944e4e4e74948694529468026806288c2430303030303030312d303030302d343030302d383030302d3030303030303030303030309468154e4e4e749486945294658694869452942e",
			0, ""},
		{"4000 members", "db+mysql://bench:pw@127.0.0.1:3306/celery_bench", "g-big", ids, 90061 * time.Second,
			"", 220347, "1e4d11d01ed6bd1c3c1cc8645e2533cad492e0f0f87bb03a7acae584966b6777"},
	} {
		b := &backend{groupBackend: celeryBackendObject(tc.url, tc.expires)}
		p := mustGroupPickle(t, b, tc.gid, tc.ids)
		if tc.hex != "" {
			if got := hex.EncodeToString(p); got != tc.hex {
				t.Errorf("%s: pickle\n%s\nwant Celery's\n%s", tc.name, got, tc.hex)
			}
		} else if sum := sha256.Sum256(p); len(p) != tc.size || hex.EncodeToString(sum[:]) != tc.sha256 {
			t.Errorf("%s: pickle of %d B, SHA-256 %x; want Celery's %d B, %s", tc.name, len(p), sum, tc.size, tc.sha256)
		}
		if got := groupIDsOf(p); !equalStrings(got, tc.ids) {
			t.Errorf("%s: ids read back: %d, want %d", tc.name, len(got), len(tc.ids))
		}
	}
}
