package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/codec/pyjson"
)

type inspectOpts struct {
	format         string
	celery         string
	extended       bool
	connectTimeout time.Duration
}

func newInspectFlags() (*pflag.FlagSet, *inspectOpts) {
	o := &inspectOpts{}
	fs := pflag.NewFlagSet("inspect", pflag.ContinueOnError)
	fs.StringVar(&o.format, "format", "text", "output format: text or json")
	fs.StringVar(&o.celery, "celery", backends.DefaultVersion.String(), "Celery line to read as: "+versionList())
	fs.BoolVar(&o.extended, "result-extended", false, "read the result_extended columns too (SQL)")
	fs.DurationVar(&o.connectTimeout, "connect-timeout", 5*time.Second, "time allowed to connect")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: bench inspect URL TASK_ID... [flags]\n\nDecodes and prints what a backend holds for the given task ids, as Celery's\nget_task_meta reads it (a missing task is PENDING). It only reads.\n\nFlags:\n%s", fs.FlagUsages())
	}
	return fs, o
}

// inspectRecord is one task's record as inspect prints it in JSON.
type inspectRecord struct {
	TaskID    string          `json:"task_id"`
	Status    string          `json:"status"`
	Result    json.RawMessage `json:"result"` // the value as Python's json would write it
	Traceback *string         `json:"traceback"`
	DateDone  *string         `json:"date_done"` // ISO 8601 as Celery writes it
	GroupID   string          `json:"group_id,omitempty"`
	ParentID  string          `json:"parent_id,omitempty"`
}

func inspectCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs, o := newInspectFlags()
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() < 2 {
		return usagef("inspect takes a backend URL and at least one task id")
	}
	if o.format != "text" && o.format != "json" {
		return usagef("--format %q: use text or json", o.format)
	}
	v, ok := backends.ParseVersion(o.celery)
	if !ok {
		return usagef("--celery %q is not supported; use one of %s", o.celery, versionList())
	}
	bo := backends.DefaultOptions
	bo.Celery, bo.ResultExtended, bo.ConnectTimeout = v, o.extended, o.connectTimeout
	cctx, cancel := context.WithTimeout(ctx, o.connectTimeout)
	b, err := backends.Open(cctx, fs.Arg(0), bo)
	cancel()
	if err != nil {
		return usageError{err}
	}
	defer b.Close()
	c, err := b.NewCaller(ctx, backends.Discard)
	if err != nil {
		return usageError{err}
	}
	defer c.Close()
	var out []inspectRecord
	for _, id := range fs.Args()[1:] {
		m, err := c.GetTaskMeta(ctx, id)
		if err != nil {
			return fmt.Errorf("reading %s: %w", id, err)
		}
		rec, err := toRecord(m, v)
		if err != nil {
			return fmt.Errorf("reading %s: %w", id, err)
		}
		out = append(out, rec)
	}
	if o.format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, r := range out {
		fmt.Fprintf(stdout, "%s  %s  result=%s", r.TaskID, r.Status, r.Result)
		if r.DateDone != nil {
			fmt.Fprintf(stdout, "  date_done=%s", *r.DateDone)
		}
		if r.GroupID != "" {
			fmt.Fprintf(stdout, "  group_id=%s", r.GroupID)
		}
		if r.ParentID != "" {
			fmt.Fprintf(stdout, "  parent_id=%s", r.ParentID)
		}
		if r.Traceback != nil {
			fmt.Fprintf(stdout, "  traceback=%d bytes", len(*r.Traceback))
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

func toRecord(m *backends.TaskMeta, v backends.Version) (inspectRecord, error) {
	res, err := pyjson.Append(nil, m.Result)
	if err != nil {
		return inspectRecord{}, err
	}
	r := inspectRecord{TaskID: m.TaskID, Status: string(m.Status), Result: res, GroupID: m.GroupID, ParentID: m.ParentID}
	if m.Traceback != "" {
		tb := m.Traceback
		r.Traceback = &tb
	}
	if !m.DateDone.IsZero() {
		d := string(backends.AppendISODate(nil, m.DateDone, v))
		r.DateDone = &d
	}
	return r, nil
}
