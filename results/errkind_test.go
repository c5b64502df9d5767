package results_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"database/sql/driver"

	"github.com/alicebob/miniredis/v2"
	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/results"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	goredis "github.com/redis/go-redis/v9"
)

// closedAddr is a loopback address nothing listens on any more.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// peerClosed returns what reading from a connection whose peer closed
// gives: io.EOF, or with reset the ECONNRESET of an RST.
func peerClosed(t *testing.T, reset bool) error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if reset {
		s.(*net.TCPConn).SetLinger(0)
		c.Write([]byte("x")) // unread data: the close sends RST
		time.Sleep(20 * time.Millisecond)
	}
	s.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if err == nil {
		t.Fatal("read from a closed peer succeeded")
	}
	return err
}

func TestClassifyError(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	deadline := ctx.Err()

	// A read past its deadline: a *net.OpError whose Timeout() is true.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(-time.Second))
	_, readTimeout := c.Read(make([]byte, 1))

	_, refused := net.Dial("tcp", closedAddr(t))
	_, dialTimeout := (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	_, epipe := w.Write([]byte("x"))
	w.Close()

	_, short := io.ReadFull(strings.NewReader("ab"), make([]byte, 4))

	mr := miniredis.RunT(t)
	rc := goredis.NewClient(&goredis.Options{Addr: mr.Addr()})
	defer rc.Close()
	redisReply := rc.Do(context.Background(), "NOSUCHCOMMAND").Err()
	rcDown := goredis.NewClient(&goredis.Options{Addr: closedAddr(t), MaxRetries: -1})
	defer rcDown.Close()
	redisDown := rcDown.Get(context.Background(), "k").Err()

	cases := []struct {
		name string
		err  error
		want results.ErrorKind
	}{
		{"context deadline", deadline, results.KindTimeout},
		{"wrapped context deadline", fmt.Errorf("redis: GET: %w", deadline), results.KindTimeout},
		{"read deadline", readTimeout, results.KindTimeout},
		{"os.ErrDeadlineExceeded", fmt.Errorf("x: %w", os.ErrDeadlineExceeded), results.KindTimeout},
		{"dial past deadline", dialTimeout, results.KindTimeout},
		{"connection refused", refused, results.KindConnection},
		{"wrapped connection refused", fmt.Errorf("redis: store_result: %w", refused), results.KindConnection},
		{"peer closed (EOF)", peerClosed(t, false), results.KindConnection},
		{"peer reset", peerClosed(t, true), results.KindConnection},
		{"broken pipe", epipe, results.KindConnection},
		{"unexpected EOF", short, results.KindConnection},
		{"driver.ErrBadConn", fmt.Errorf("django-db: %w", driver.ErrBadConn), results.KindConnection},
		{"mysql.ErrInvalidConn", fmt.Errorf("mysql: %w", mysql.ErrInvalidConn), results.KindConnection},
		{"go-redis against a closed port", redisDown, results.KindConnection},
		{"go-redis pool timeout", fmt.Errorf("redis: GET: %w", goredis.ErrPoolTimeout), results.KindTimeout},
		{"go-redis closed client", fmt.Errorf("redis: GET: %w", goredis.ErrClosed), results.KindConnection},
		{"connection reset by message", errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer"), results.KindConnection},
		{"go-redis error reply", redisReply, results.KindServer},
		{"marked MySQL error", fmt.Errorf("mysql: %w", backends.MarkServer(&mysql.MySQLError{Number: 1213, Message: "Deadlock found"})), results.KindServer},
		{"PostgreSQL error", fmt.Errorf("postgres: %w", &pgconn.PgError{Code: "40001", Message: "could not serialize"}), results.KindServer},
		{"marked server error past its deadline", backends.MarkServer(deadline), results.KindTimeout},
		{"unmarked MySQL error", &mysql.MySQLError{Number: 1213, Message: "Deadlock found"}, results.KindOther},
		{"decoding", errors.New(`task record has no "status"`), results.KindOther},
		{"unsupported", backends.ErrUnsupported, results.KindOther},
	}
	for _, tc := range cases {
		if tc.err == nil {
			t.Fatalf("%s: the error to classify is nil", tc.name)
		}
		if got := results.ClassifyError(tc.err); got != tc.want {
			t.Errorf("%s: ClassifyError(%T %q) = %v, want %v", tc.name, tc.err, tc.err, got, tc.want)
		}
	}
}

func TestErrorKindsString(t *testing.T) {
	var k results.ErrorKinds
	if s := k.String(); s != "" {
		t.Errorf("no errors: %q", s)
	}
	k[results.KindConnection] = 3
	k[results.KindTimeout] = 12
	if s, want := k.String(), "timeout 12, connection 3"; s != want {
		t.Errorf("String() = %q, want %q", s, want)
	}
	if k.Total() != 15 {
		t.Errorf("Total() = %d", k.Total())
	}
	for i := range results.NumErrorKinds {
		n := results.ErrorKind(i).String()
		if got, ok := results.ParseErrorKind(n); !ok || got != results.ErrorKind(i) {
			t.Errorf("ParseErrorKind(%q) = %v, %v", n, got, ok)
		}
	}
}
