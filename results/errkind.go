package results

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// An ErrorKind is the broad cause of a failed operation, what an operator
// acts on: a timeout (the server or the network was too slow), a lost or
// refused connection, an error the server returned, or anything else.
type ErrorKind uint8

// The kinds, in the order the formats print them.
const (
	KindTimeout ErrorKind = iota
	KindConnection
	KindServer
	KindOther
	NumErrorKinds = iota
)

var kindNames = [NumErrorKinds]string{"timeout", "connection", "server", "other"}

func (k ErrorKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseErrorKind returns the kind named s ("timeout", "connection",
// "server", "other").
func ParseErrorKind(s string) (ErrorKind, bool) {
	for i, n := range kindNames {
		if n == s {
			return ErrorKind(i), true
		}
	}
	return 0, false
}

// A ServerError is what a backend marks the errors its server returned with
// (an error reply, an SQL error): results recognises it by this method,
// without importing the backends or their drivers.
type ServerError interface {
	error
	ServerError() bool
}

// Markers of the drivers' own server errors, recognised by method: go-redis
// marks every error reply with RedisError(), pgx's *pgconn.PgError has
// SQLState().
type (
	redisError interface {
		error
		RedisError()
	}
	sqlStateError interface {
		error
		SQLState() string
	}
	timeoutError interface {
		error
		Timeout() bool
	}
)

// connMessages are what drivers say of a lost connection in errors that
// wrap no network error: go-redis's and go-sql-driver/mysql's
// (mysql.ErrInvalidConn is "invalid connection").
var connMessages = []string{
	"connection refused", "broken pipe", "connection reset", "invalid connection",
	"bad connection", "use of closed network connection", "unexpected eof", "client is closed",
}

// ClassifyError returns the kind of err (KindOther for nil). A timeout wins
// over everything else (a deadline hit while the server was answering is
// still a timeout); then an error the server returned; then a connection
// that failed; the rest is other. It allocates only for errors it can only
// tell by their message.
func ClassifyError(err error) ErrorKind {
	if err == nil {
		return KindOther
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return KindTimeout
	}
	if t, ok := errors.AsType[timeoutError](err); ok && t.Timeout() {
		return KindTimeout
	}
	if s, ok := errors.AsType[ServerError](err); ok && s.ServerError() {
		return KindServer
	}
	if _, ok := errors.AsType[redisError](err); ok {
		return KindServer
	}
	if _, ok := errors.AsType[sqlStateError](err); ok {
		return KindServer
	}
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return KindConnection
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return KindConnection // *net.DNSError, *net.AddrError: not reached
	}
	for _, target := range connErrors {
		if errors.Is(err, target) {
			return KindConnection
		}
	}
	msg := strings.ToLower(err.Error())
	if strings.Contains(msg, "pool timeout") {
		return KindTimeout // go-redis's ErrPoolTimeout: no connection free in time
	}
	for _, m := range connMessages {
		if strings.Contains(msg, m) {
			return KindConnection
		}
	}
	return KindOther
}

var connErrors = []error{
	syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNABORTED,
	io.EOF, io.ErrUnexpectedEOF, net.ErrClosed, driver.ErrBadConn,
}

// ErrorKinds counts an op's errors by kind, indexed by ErrorKind.
type ErrorKinds [NumErrorKinds]int64

// Total is the sum over the kinds.
func (k *ErrorKinds) Total() int64 {
	var n int64
	for _, c := range k {
		n += c
	}
	return n
}

// Add adds o's counts to k's.
func (k *ErrorKinds) Add(o *ErrorKinds) {
	for i := range k {
		k[i] += o[i]
	}
}

// String lists the kinds with errors in kind order, "timeout 12,
// connection 3"; "" when none.
func (k *ErrorKinds) String() string {
	var b strings.Builder
	for i, c := range k {
		if c == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(kindNames[i] + " " + Count(c))
	}
	return b.String()
}

// asMap is the file form: kind name → count, kinds without errors left out;
// nil when none.
func (k *ErrorKinds) asMap() map[string]int64 {
	var m map[string]int64
	for i, c := range k {
		if c != 0 {
			if m == nil {
				m = map[string]int64{}
			}
			m[kindNames[i]] = c
		}
	}
	return m
}

// kindsFromMap reads the file form. A kind this version does not know
// (from a later one) counts as other, so that the kinds still sum to the
// errors.
func kindsFromMap(m map[string]int64) (ErrorKinds, error) {
	var k ErrorKinds
	for name, c := range m {
		if c < 0 {
			return k, fmt.Errorf("error_kinds: %s count %d must not be negative", name, c)
		}
		i, ok := ParseErrorKind(name)
		if !ok {
			i = KindOther
		}
		k[i] += c
	}
	return k, nil
}
