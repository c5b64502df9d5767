// Package backends defines a Celery result backend as bench drives it, the
// sessions through which simulated workers and callers use it, and the
// registry of implementations keyed by URL scheme.
//
// A Backend is opened from a Celery result_backend URL. Each simulated Celery
// process gets its own session, with the connections that process would hold:
// a prefork worker child keeps one connection for its life (Worker); a caller
// (a web process that sends tasks and waits for them) has what Celery's
// client side opens (Caller). Sessions report the latency of every backend
// operation to an Observer, so the harness measures what the backend costs
// and nothing else.
package backends

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// A Backend is one result store. Its methods are safe for concurrent use;
// the sessions it hands out are not (each belongs to one goroutine).
type Backend interface {
	// Prepare readies the target for a run, before any session opens: it
	// creates bench's namespace if missing (a database and Celery's tables;
	// nothing on Redis) and returns an error wrapping ErrForeignData when
	// the target already holds Celery results whose ids do not start with
	// IDPrefix, unless Options.Force is set.
	Prepare(ctx context.Context) error
	// NewWorker opens the connection state of one simulated worker process.
	NewWorker(ctx context.Context, obs Observer) (Worker, error)
	// NewCaller opens the connection state of one simulated caller process.
	NewCaller(ctx context.Context, obs Observer) (Caller, error)
	// Cleanup deletes every result and group whose id starts with prefix
	// and returns how many records it deleted.
	Cleanup(ctx context.Context, prefix string) (int64, error)
	// Server describes the server behind the backend.
	Server() ServerInfo
	// Close releases the backend's own connections. Sessions must be closed
	// first.
	Close() error
}

// Worker is the backend side of one simulated Celery worker process (a
// prefork child). It is not safe for concurrent use.
type Worker interface {
	// StoreResult writes m as Backend.store_result does, reporting
	// OpStoreResult. It does not retain m.
	StoreResult(ctx context.Context, m *TaskMeta) error
	Close() error
}

// Caller is the backend side of one simulated caller process, which sends
// tasks and waits for their results one at a time, as a web process that runs
// task.delay(...).get() does. It is not safe for concurrent use.
type Caller interface {
	// OnTaskCall runs what Celery runs when the task is sent, before the
	// task reaches a worker (Redis: SUBSCRIBE to the result's channel, and
	// the subscription is confirmed before it returns).
	OnTaskCall(ctx context.Context, taskID string) error
	// WaitFor blocks as AsyncResult.get() does until the task is in a ready
	// state and returns that state. Backends that poll read every interval
	// (Celery's get(interval=0.5)); Redis ignores it, as Celery does.
	WaitFor(ctx context.Context, taskID string, interval time.Duration) (State, error)
	// Release runs what Celery runs when the AsyncResult is released
	// (Redis: one more UNSUBSCRIBE); a no-op elsewhere.
	Release(ctx context.Context, taskID string) error
	// GetTaskMeta reads and decodes the task's stored record. A task with no
	// record is reported as PENDING with a nil error, as Celery does.
	GetTaskMeta(ctx context.Context, taskID string) (*TaskMeta, error)
	// Forget deletes the task's result (AsyncResult.forget()).
	Forget(ctx context.Context, taskID string) error
	Close() error
}

// An Observer records the latency of backend operations. A session calls it
// only from the goroutine that uses the session, after each operation, with
// the operation's start time and duration and its error (nil on success).
type Observer interface {
	Observe(op string, start time.Time, d time.Duration, err error)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(op string, start time.Time, d time.Duration, err error)

// Observe calls f.
func (f ObserverFunc) Observe(op string, start time.Time, d time.Duration, err error) {
	f(op, start, d, err)
}

// Discard is an Observer that records nothing.
var Discard Observer = ObserverFunc(func(string, time.Time, time.Duration, error) {})

// ServerInfo describes a backend's server.
type ServerInfo struct {
	Product  string // "Redis", "MariaDB", "MySQL", "memory"
	Version  string // as the server reports it, "7.0.15"
	Embedded bool   // an in-process stand-in, not a real server
}

func (s ServerInfo) String() string {
	out := s.Product
	if s.Version != "" {
		out += " " + s.Version
	}
	if s.Embedded {
		out += " (embedded)"
	}
	return out
}

// Options are the Celery settings and harness settings a backend honours.
type Options struct {
	// Celery is the release line whose wire format is produced.
	Celery Version
	// ResultExpires is Celery's result_expires; 0 means None (Redis writes
	// plain SET without a TTL).
	ResultExpires time.Duration
	// ResultExtended is Celery's result_extended.
	ResultExtended bool
	// IDPrefix starts every task and group id bench writes; Prepare treats
	// any other Celery result as foreign.
	IDPrefix string
	// Force lets Prepare proceed on a target holding foreign results.
	Force bool
	// KeepForeign makes Prepare refuse a target holding foreign results
	// even with Force, on backends whose Celery cleanup (backend_cleanup)
	// deletes by age rather than by id: a workload that runs it would
	// delete results bench did not write.
	KeepForeign bool
	// CallerPool makes SQL callers poll over a pooled connection instead of
	// opening a new one per poll as a Celery caller outside a worker does.
	CallerPool bool
	// DjangoConnMaxAge is Django's CONN_MAX_AGE in django-db workers: 0
	// closes the connection at every task boundary, a negative value is
	// None (never closed by age).
	DjangoConnMaxAge time.Duration
	// ConnectTimeout bounds every connection attempt.
	ConnectTimeout time.Duration
	// DateDoneIndex chooses the index on the SQL tables' date_done, which
	// backend_cleanup's DELETE filters on: IndexAuto creates what the
	// Celery line (or django-celery-results) creates with a missing table
	// and leaves an existing table as it is; IndexYes and IndexNo create or
	// drop it, on new and existing tables alike.
	DateDoneIndex IndexChoice
}

// IndexChoice is Options.DateDoneIndex.
type IndexChoice int

const (
	IndexAuto IndexChoice = iota
	IndexYes
	IndexNo
)

// IndexChoices are the values ParseIndexChoice takes, in order.
var IndexChoices = []string{"auto", "yes", "no"}

func (c IndexChoice) String() string {
	if c < 0 || int(c) >= len(IndexChoices) {
		return fmt.Sprintf("IndexChoice(%d)", int(c))
	}
	return IndexChoices[c]
}

// ParseIndexChoice reads "auto", "yes" or "no".
func ParseIndexChoice(s string) (IndexChoice, error) {
	for i, v := range IndexChoices {
		if s == v {
			return IndexChoice(i), nil
		}
	}
	return IndexAuto, fmt.Errorf("want auto, yes or no, not %q", s)
}

// Resolve is whether the index is wanted, given what the line creates.
func (c IndexChoice) Resolve(lineDefault bool) bool {
	switch c {
	case IndexYes:
		return true
	case IndexNo:
		return false
	}
	return lineDefault
}

// DefaultOptions are Celery's defaults for the newest line.
var DefaultOptions = Options{
	Celery:         DefaultVersion,
	ResultExpires:  24 * time.Hour,
	ConnectTimeout: 5 * time.Second,
}

// ErrForeignData is wrapped by Prepare when the target holds Celery results
// that bench did not write.
var ErrForeignData = errors.New("target holds Celery results bench did not write")

// Meta describes a backend implementation for the registry.
type Meta struct {
	// Name is the short name shown by "bench list", "redis".
	Name string
	// Schemes are the URL schemes it serves, "redis", "rediss".
	Schemes []string
	// Description is one line for "bench list".
	Description string
	// DefaultURL is where the backend's server listens on a machine set up
	// as its defaults have it ("redis://127.0.0.1:6379/0"): the target of
	// the registry-driven tests, and of a run given no --backend.
	DefaultURL string
	// Open connects to the server named by u and verifies it answers,
	// within o.ConnectTimeout. Errors name the server (with the password
	// redacted) and the fix.
	Open func(ctx context.Context, u *url.URL, o Options) (Backend, error)
}

// MarkServer marks err as an error the server returned (an SQL error, say),
// for drivers whose error types say nothing of it by a method: the result
// has a ServerError() bool method, which package results recognises by
// interface when it counts errors by kind. Its message and chain are err's.
// A nil err stays nil.
func MarkServer(err error) error {
	if err == nil {
		return nil
	}
	return &serverError{err}
}

type serverError struct{ err error }

func (e *serverError) Error() string     { return e.err.Error() }
func (e *serverError) Unwrap() error     { return e.err }
func (e *serverError) ServerError() bool { return true }
