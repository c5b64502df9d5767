package backends

import (
	"strconv"
	"time"
)

// State is a Celery task state (celery.states).
type State string

// The states bench writes and reads. PENDING is never stored: it is what a
// backend reports for a task it holds nothing for.
const (
	Pending  State = "PENDING"
	Started  State = "STARTED"
	Progress State = "PROGRESS" // a custom state written by update_state
	Retry    State = "RETRY"
	Success  State = "SUCCESS"
	Failure  State = "FAILURE"
	Revoked  State = "REVOKED"
)

// Ready reports whether s is one of Celery's READY_STATES (SUCCESS, FAILURE,
// REVOKED): a caller stops waiting and date_done is set.
func (s State) Ready() bool { return s == Success || s == Failure || s == Revoked }

// TaskMeta is the result record of one task, as Celery's
// Backend._get_result_meta builds it. Backends encode it in their own wire
// format; a backend never retains a *TaskMeta passed to it.
type TaskMeta struct {
	TaskID string
	Status State
	// Result is the task's return value, the exception record of a FAILURE or
	// RETRY, the meta dict of update_state, or {"pid", "hostname"} for
	// STARTED, in the value model of package py.
	Result any
	// Traceback is the formatted traceback of a FAILURE or RETRY; "" stands
	// for None.
	Traceback string
	// Children are the ids of tasks this task sent; a task run by a worker
	// with no children stores [] ("children": []).
	Children []string
	// DateDone is when the task reached a ready state; the zero time stands
	// for None (non-ready states).
	DateDone time.Time
	// GroupID is set for group and chord members; "" leaves the key out.
	GroupID string
	// ParentID is set for chained tasks, chord bodies and the re-run after a
	// retry; "" leaves the key out.
	ParentID string
	// Extended holds the result_extended fields; nil when it is off.
	Extended *Extended
}

// Extended holds the fields result_extended=True adds to a result record.
type Extended struct {
	Name    string // task name, "tasks.add"
	Args    []any  // positional arguments
	Kwargs  any    // keyword arguments, a py.Dict ({} when none)
	Worker  string // worker hostname, the -n value
	Retries int
	Queue   string // delivery_info["routing_key"], "celery"
}

// Version is the Celery release line whose wire format a backend produces.
type Version struct{ Major, Minor int }

// The Celery lines bench reproduces. Their differences are listed in the
// reference captures: 5.5+ writes a timezone-aware date_done, 5.6 sends an
// extra UNSUBSCRIBE on forget and a MySQL COM_PING on every pooled checkout.
var (
	Celery52 = Version{5, 2}
	Celery56 = Version{5, 6}
	// DefaultVersion is the newest line.
	DefaultVersion = Celery56
)

// Versions lists the supported lines, oldest first.
func Versions() []Version { return []Version{Celery52, Celery56} }

// ParseVersion parses "5.2" or "5.6".
func ParseVersion(s string) (Version, bool) {
	for _, v := range Versions() {
		if v.String() == s {
			return v, true
		}
	}
	return Version{}, false
}

func (v Version) String() string { return strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) }

// AtLeast reports whether v is major.minor or newer.
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// AppendISODate appends t as Python's datetime.isoformat() writes Celery's
// date_done: naive UTC "2006-01-02T15:04:05.000000" before 5.5, and with the
// "+00:00" offset of app.timezone (UTC) from 5.5 on. The fraction is left out
// when the microseconds are 0, as Python does.
func AppendISODate(dst []byte, t time.Time, v Version) []byte {
	t = t.UTC()
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	dst = appendMicros(dst, t)
	if v.AtLeast(5, 5) {
		dst = append(dst, "+00:00"...)
	}
	return dst
}

// AppendSQLDate appends t as PyMySQL renders a datetime parameter:
// "2006-01-02 15:04:05.000000", without the fraction when the microseconds
// are 0, and without any timezone offset.
func AppendSQLDate(dst []byte, t time.Time) []byte {
	t = t.UTC()
	dst = t.AppendFormat(dst, "2006-01-02 15:04:05")
	return appendMicros(dst, t)
}

func appendMicros(dst []byte, t time.Time) []byte {
	us := t.Nanosecond() / 1000
	if us == 0 {
		return dst
	}
	dst = append(dst, '.')
	for d := 100000; d > 0; d /= 10 {
		dst = append(dst, byte('0'+us/d%10))
	}
	return dst
}
