package redis

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

// Celery's key prefixes (BaseKeyValueStoreBackend.task_keyprefix and
// group_keyprefix). The pub/sub channel of a task is its key.
const (
	taskKeyPrefix  = "celery-task-meta-"
	groupKeyPrefix = "celery-taskset-meta-"
)

// AppendMetaJSON appends m to dst as Celery stores it with the default JSON
// result serializer, byte for byte: the keys of Backend._get_result_meta in
// its order (status, result, traceback, children, date_done, then group_id
// and parent_id when set, then the result_extended fields name, args,
// kwargs, worker, retries and queue when m.Extended is set, and task_id
// last), written by json.dumps with its ", " and ": " separators and ASCII
// output. date_done is written in v's format (naive before 5.5, "+00:00"
// from 5.5 on) and is null when m.DateDone is zero; traceback is null when
// m.Traceback is ""; each child id becomes the AsyncResult tuple
// [["<id>", null], null], and no children give [].
//
// The result and the extended args and kwargs are encoded by package pyjson
// and must follow the value model of package py; any other Go type is an
// error. AppendMetaJSON does not retain m or dst.
//
// Note: a record stored outside any task context has "children": null in
// Celery; TaskMeta cannot say so, and a worker-run task (what bench
// simulates) always has a list.
func AppendMetaJSON(dst []byte, m *backends.TaskMeta, v backends.Version) ([]byte, error) {
	var err error
	dst = append(dst, `{"status": `...)
	dst = pyjson.AppendString(dst, string(m.Status))
	dst = append(dst, `, "result": `...)
	if dst, err = pyjson.Append(dst, m.Result); err != nil {
		return dst, fmt.Errorf("result: %w", err)
	}
	dst = append(dst, `, "traceback": `...)
	if m.Traceback == "" {
		dst = append(dst, "null"...)
	} else {
		dst = pyjson.AppendString(dst, m.Traceback)
	}
	dst = append(dst, `, "children": [`...)
	for i, id := range m.Children {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, "[["...)
		dst = pyjson.AppendString(dst, id)
		dst = append(dst, ", null], null]"...)
	}
	dst = append(dst, `], "date_done": `...)
	if m.DateDone.IsZero() {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '"')
		dst = backends.AppendISODate(dst, m.DateDone, v)
		dst = append(dst, '"')
	}
	if m.GroupID != "" {
		dst = append(dst, `, "group_id": `...)
		dst = pyjson.AppendString(dst, m.GroupID)
	}
	if m.ParentID != "" {
		dst = append(dst, `, "parent_id": `...)
		dst = pyjson.AppendString(dst, m.ParentID)
	}
	if e := m.Extended; e != nil {
		dst = append(dst, `, "name": `...)
		dst = pyjson.AppendString(dst, e.Name)
		dst = append(dst, `, "args": `...)
		if len(e.Args) == 0 {
			dst = append(dst, "[]"...)
		} else if dst, err = pyjson.Append(dst, e.Args); err != nil {
			return dst, fmt.Errorf("args: %w", err)
		}
		dst = append(dst, `, "kwargs": `...)
		if e.Kwargs == nil {
			dst = append(dst, "{}"...)
		} else if dst, err = pyjson.Append(dst, e.Kwargs); err != nil {
			return dst, fmt.Errorf("kwargs: %w", err)
		}
		dst = append(dst, `, "worker": `...)
		dst = pyjson.AppendString(dst, e.Worker)
		dst = append(dst, `, "retries": `...)
		dst = strconv.AppendInt(dst, int64(e.Retries), 10)
		dst = append(dst, `, "queue": `...)
		dst = pyjson.AppendString(dst, e.Queue)
	}
	dst = append(dst, `, "task_id": `...)
	dst = pyjson.AppendString(dst, m.TaskID)
	dst = append(dst, '}')
	return dst, nil
}

// ParseMetaJSON decodes a stored task record written by Celery's JSON
// result serializer (or by AppendMetaJSON). Unknown keys, such as the stamps
// of Celery 5.3+, are ignored. Numbers in the result follow pyjson.Decode
// (int64 when integral). "children": [] gives an empty, non-nil Children and
// null gives nil. A record with any result_extended key gets a non-nil
// Extended.
func ParseMetaJSON(data []byte) (*backends.TaskMeta, error) {
	v, err := pyjson.Decode(data)
	if err != nil {
		return nil, fmt.Errorf("task record is not JSON: %w", err)
	}
	d, ok := v.(py.Dict)
	if !ok {
		return nil, fmt.Errorf("task record is a JSON %s, not an object", kindOf(v))
	}
	m := &backends.TaskMeta{}
	ext := func() *backends.Extended {
		if m.Extended == nil {
			m.Extended = &backends.Extended{}
		}
		return m.Extended
	}
	for _, it := range d {
		var err error
		switch it.Key {
		case "status":
			var s string
			s, err = str(it.Value, false)
			m.Status = backends.State(s)
		case "result":
			m.Result = it.Value
		case "traceback":
			m.Traceback, err = str(it.Value, true)
		case "children":
			m.Children, err = children(it.Value)
		case "date_done":
			m.DateDone, err = dateDone(it.Value)
		case "group_id":
			m.GroupID, err = str(it.Value, true)
		case "parent_id":
			m.ParentID, err = str(it.Value, true)
		case "task_id":
			m.TaskID, err = str(it.Value, true)
		case "name":
			ext().Name, err = str(it.Value, true)
		case "args":
			switch a := it.Value.(type) {
			case []any:
				ext().Args = a
			case nil:
				ext()
			default:
				err = fmt.Errorf("is a JSON %s, not an array", kindOf(a))
			}
		case "kwargs":
			ext().Kwargs = it.Value
		case "worker":
			ext().Worker, err = str(it.Value, true)
		case "retries":
			switch n := it.Value.(type) {
			case int64:
				ext().Retries = int(n)
			case nil:
				ext()
			default:
				err = fmt.Errorf("is a JSON %s, not an integer", kindOf(n))
			}
		case "queue":
			ext().Queue, err = str(it.Value, true)
		}
		if err != nil {
			return nil, fmt.Errorf("task record key %q: %w", it.Key, err)
		}
	}
	if m.Status == "" {
		return nil, errors.New(`task record has no "status"`)
	}
	return m, nil
}

func str(v any, nullable bool) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case nil:
		if nullable {
			return "", nil
		}
	}
	return "", fmt.Errorf("is a JSON %s, not a string", kindOf(v))
}

// children reads a list of AsyncResult tuples ([[id, parent], children])
// back into their ids.
func children(v any) ([]string, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("is a JSON %s, not an array", kindOf(v))
	}
	ids := make([]string, 0, len(list))
	for i, c := range list {
		tup, ok := c.([]any)
		if ok && len(tup) == 2 {
			if head, ok := tup[0].([]any); ok && len(head) >= 1 {
				if id, ok := head[0].(string); ok {
					ids = append(ids, id)
					continue
				}
			}
		}
		return nil, fmt.Errorf("element %d is not an AsyncResult tuple [[id, parent], children]", i)
	}
	return ids, nil
}

// dateDone parses Python's datetime.isoformat(): naive (UTC, as Celery
// before 5.5 writes it) or with an offset, with or without microseconds.
func dateDone(v any) (time.Time, error) {
	s, err := str(v, true)
	if err != nil || s == "" {
		return time.Time{}, err
	}
	for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date", s)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case py.Dict:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// statusPrefix opens every value Celery's JSON serializer writes: status is
// the first key of the meta dict, and json.dumps keeps insertion order.
const statusPrefix = `{"status": "`

// stateOf returns the status of a stored or published task record.
//
// Fast path: a value that starts with {"status": " (every JSON value Celery
// writes, and every value AppendMetaJSON writes) has its state read from the
// first string, without decoding the rest and without allocating; state
// names are plain ASCII and never hold an escaped quote. Any other value is
// decoded in full by ParseMetaJSON, so a value in another shape is still
// read correctly, and a value that is not JSON at all (a pickle) is an
// error, as it is for a Celery configured with the JSON serializer.
func stateOf[T string | []byte](data T) (backends.State, error) {
	if len(data) > len(statusPrefix) && string(data[:len(statusPrefix)]) == statusPrefix {
		rest := data[len(statusPrefix):]
		for i := 0; i < len(rest); i++ {
			if rest[i] == '\\' {
				break
			}
			if rest[i] == '"' {
				return internState(rest[:i]), nil
			}
		}
	}
	m, err := ParseMetaJSON([]byte(data))
	if err != nil {
		return "", err
	}
	return m.Status, nil
}

// internState returns the State named by b without allocating for
// Celery's own states.
func internState[T string | []byte](b T) backends.State {
	switch string(b) {
	case "SUCCESS":
		return backends.Success
	case "FAILURE":
		return backends.Failure
	case "STARTED":
		return backends.Started
	case "PROGRESS":
		return backends.Progress
	case "RETRY":
		return backends.Retry
	case "REVOKED":
		return backends.Revoked
	case "PENDING":
		return backends.Pending
	}
	return backends.State(b)
}
