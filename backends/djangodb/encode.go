package djangodb

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/py"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

// The json serializer's content type and encoding (encode_content).
const (
	contentType     = "application/json"
	contentEncoding = "utf-8"
)

// taskRow is one TaskResult as store_result fills it.
type taskRow struct {
	taskID, status                 string
	result, meta                   string // serializer text
	traceback                      string
	hasTraceback                   bool
	taskName, taskArgs, taskKwargs string
	worker                         string
	extended                       bool
}

// encodeTask is DatabaseBackend._store_result's field preparation.
func (b *backend) encodeTask(m *backends.TaskMeta, scratch []byte) (taskRow, []byte, error) {
	r := taskRow{taskID: m.TaskID, status: string(m.Status)}
	var err error
	scratch, err = pyjson.Append(scratch[:0], m.Result)
	if err != nil {
		return r, scratch, fmt.Errorf("django-db: encoding the result of %s: %w", m.TaskID, err)
	}
	r.result = string(scratch)
	// {'children': current_task_children(request)}: each child as
	// AsyncResult.as_tuple(), ((id, None), None).
	children := make([]any, len(m.Children))
	for i, id := range m.Children {
		children[i] = []any{[]any{id, nil}, nil}
	}
	scratch, err = pyjson.Append(scratch[:0], py.Dict{{Key: "children", Value: children}})
	if err != nil {
		return r, scratch, err
	}
	r.meta = string(scratch)
	// 2.4's _get_extended_properties overrides traceback with None unless
	// result_extended is on.
	if e := m.Extended; e != nil && b.opts.ResultExtended {
		r.extended = true
		r.taskName = e.Name
		r.worker = e.Worker
		r.taskArgs = string(pyjson.AppendString(nil, reprArgs(e.Args)))
		r.taskKwargs = string(pyjson.AppendString(nil, reprValue(e.Kwargs)))
		r.traceback, r.hasTraceback = m.Traceback, m.Traceback != ""
	}
	return r, scratch, nil
}

// reprArgs is Python's repr of the args tuple (Celery's argsrepr).
func reprArgs(args []any) string {
	if len(args) == 1 {
		return "(" + reprValue(args[0]) + ",)"
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = reprValue(a)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// reprValue is repr() of the simple values bench passes as arguments.
func reprValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case string:
		if strings.Contains(v, "'") && !strings.Contains(v, `"`) {
			return `"` + v + `"`
		}
		return "'" + strings.ReplaceAll(strings.ReplaceAll(v, `\`, `\\`), "'", `\'`) + "'"
	case py.Dict:
		parts := make([]string, len(v))
		for i, it := range v {
			parts[i] = reprValue(it.Key) + ": " + reprValue(it.Value)
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case []any:
		parts := make([]string, len(v))
		for i, a := range v {
			parts[i] = reprValue(a)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// appendTaskValues appends the 14 values of r (model order, no id) with
// the two dates, separated as INSERT's VALUES list or UPDATE's SET list.
func (b *backend) appendTaskValues(s []byte, r *taskRow, created, done string, set bool) []byte {
	for i := 1; i < nTaskColumns; i++ {
		if i > 1 {
			s = append(s, ", "...)
		}
		if set {
			s = append(s, b.t.setTask[i]...)
		}
		switch i {
		case colTaskID:
			s = b.appendString(s, r.taskID)
		case colPeriodic:
			s = append(s, "NULL"...)
		case colTaskName:
			s = b.appendNullString(s, r.taskName, !r.extended || r.taskName == "")
		case colTaskArgs:
			s = b.appendNullString(s, r.taskArgs, !r.extended)
		case colTaskKwargs:
			s = b.appendNullString(s, r.taskKwargs, !r.extended)
		case colStatus:
			s = b.appendString(s, r.status)
		case colWorker:
			s = b.appendNullString(s, r.worker, !r.extended || r.worker == "")
		case colContentType:
			s = b.appendString(s, contentType)
		case colContentEncoding:
			s = b.appendString(s, contentEncoding)
		case colResult:
			s = b.appendString(s, r.result)
		case colDateCreated:
			s = append(s, created...)
		case colDateDone:
			s = append(s, done...)
		case colTraceback:
			s = b.appendNullString(s, r.traceback, !r.hasTraceback)
		case colMeta:
			s = b.appendString(s, r.meta)
		}
	}
	return s
}
