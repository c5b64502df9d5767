package mysql

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
)

// serverMarked is what package results recognises as a server error.
type serverMarked interface {
	error
	ServerError() bool
}

// TestServerErrorMarked: a store the server refuses (a result too long for
// its column, Error 1406) fails with the driver's *mysql.MySQLError marked
// as the server's, both as returned and as observed; a refused connection
// is not marked.
func TestServerErrorMarked(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	b := openPrepared(t, db, testOptions(backends.Celery52))
	var observed error
	w, err := b.NewWorker(context.Background(), backends.ObserverFunc(func(op string, _ time.Time, _ time.Duration, err error) {
		if op == backends.OpStoreResult {
			observed = err
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	err = w.StoreResult(context.Background(), success("g-too-long", strings.Repeat("x", 70000)))
	if _, ok := errors.AsType[*mysql.MySQLError](err); !ok {
		t.Fatalf("store of a 70 kB result: %v, want the server's error", err)
	}
	for what, e := range map[string]error{"returned": err, "observed": observed} {
		if s, ok := errors.AsType[serverMarked](e); !ok || !s.ServerError() {
			t.Errorf("%s error %q is not marked as the server's", what, e)
		}
		if e == nil || e.Error() != err.Error() {
			t.Errorf("%s error %q: the mark changed the message %q", what, e, err)
		}
	}
	if _, ok := errors.AsType[serverMarked](markServer(errors.New("mysql: invalid connection"))); ok {
		t.Error("a connection error is marked as the server's")
	}
}
