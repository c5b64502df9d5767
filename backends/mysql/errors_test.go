package mysql

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
)

func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	u, _ := url.Parse("db+mysql://root:secret@" + addr + "/celery_bench")
	start := time.Now()
	_, err = backends.Open(context.Background(), u.String(), backends.DefaultOptions)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	want := "mysql: cannot connect to " + addr + ": connection refused (is MySQL/MariaDB running? check host and port in --backend)"
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("error does not wrap ECONNREFUSED: %#v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Error("the error shows the password")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestConnectTimeout(t *testing.T) {
	// A server that accepts and never says anything.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	o := backends.DefaultOptions
	o.ConnectTimeout = 200 * time.Millisecond
	start := time.Now()
	_, err = backends.Open(context.Background(), "db+mysql://root@"+l.Addr().String()+"/", o)
	if err == nil || !strings.Contains(err.Error(), "no answer within 200ms (is MySQL/MariaDB running?") {
		t.Errorf("error = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 200ms ConnectTimeout", d)
	}

	// A cancelled context wins over the timeout, and is wrapped.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	o.ConnectTimeout = 10 * time.Second
	_, err = backends.Open(ctx, "db+mysql://root@"+l.Addr().String()+"/", o)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error after cancel = %v, want one wrapping context.Canceled", err)
	}
}

func TestAccessDenied(t *testing.T) {
	needServer(t)
	u := testURL(t, "celery_bench")
	u.User = url.UserPassword("bench_no_such_user", "wrong-secret")
	_, err := backends.Open(context.Background(), u.String(), backends.DefaultOptions)
	if err == nil {
		t.Fatal("Open succeeded")
	}
	prefix := `mysql: ` + u.Host + ` rejected user "bench_no_such_user" (Error 1045 (28000): Access denied for user 'bench_no_such_user'@`
	if !strings.HasPrefix(err.Error(), prefix) || !strings.HasSuffix(err.Error(), "): check the user and password in --backend") {
		t.Errorf("error:\n got %s\nwant %s…): check the user and password in --backend", err, prefix)
	}
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1045 {
		t.Errorf("error does not wrap the server's 1045: %#v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret") {
		t.Error("the error shows the password")
	}
}

func TestUnknownDatabase(t *testing.T) {
	needServer(t)
	b := openTest(t, "celery_bench_test_"+runID+"_never_created", testOptions(backends.Celery52))
	_, err := b.NewWorker(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), `has no database "celery_bench_test_`) {
		t.Errorf("NewWorker on a missing database = %v", err)
	}
}
