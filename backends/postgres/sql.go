package postgres

import (
	"encoding/hex"
	"strconv"
	"time"

	"github.com/celery-bench/bench/backends/sqla"
)

// Values are rendered as psycopg2 2.9 renders parameters on the client
// (its adapters, with standard_conforming_strings on): strings quoted with
// ' doubled and nothing else escaped; bytes as '\x<hex>'::bytea; naive
// datetimes as 'YYYY-MM-DDTHH:MM:SS[.ffffff]'::timestamp, aware ones with
// '+00:00'::timestamptz; None as NULL; integers bare.

// appendString appends s as a psycopg2 str literal.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			dst = append(dst, '\'')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '\'')
}

// appendNullString appends s, or NULL when s is "" (None).
func appendNullString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "NULL"...)
	}
	return appendString(dst, s)
}

// appendBytes appends b as psycopg2's Binary adapter writes it.
func appendBytes(dst, b []byte) []byte {
	dst = append(dst, `'\x`...)
	dst = hex.AppendEncode(dst, b)
	return append(dst, "'::bytea"...)
}

// appendNullBytes appends b, or NULL when b is nil.
func appendNullBytes(dst, b []byte) []byte {
	if b == nil {
		return append(dst, "NULL"...)
	}
	return appendBytes(dst, b)
}

// appendDate appends t as psycopg2 renders a datetime: naive (aware false)
// or with the +00:00 offset of UTC; NULL for the zero time.
func appendDate(dst []byte, t time.Time, aware bool) []byte {
	if t.IsZero() {
		return append(dst, "NULL"...)
	}
	t = t.UTC()
	dst = append(dst, '\'')
	dst = t.AppendFormat(dst, "2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		dst = append(dst, '.')
		for d := 100000; d > 0; d /= 10 {
			dst = append(dst, byte('0'+us/d%10))
		}
	}
	if aware {
		return append(dst, "+00:00'::timestamptz"...)
	}
	return append(dst, "'::timestamp"...)
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// insertTaskPrefix is the INSERT of a new Task up to its first value after
// the id: the id comes from the sequence, written inline.
func insertTaskPrefix(extended bool) string {
	n := sqla.NBaseColumns
	if extended {
		n = sqla.NExtendedColumns
	}
	s := "INSERT INTO celery_taskmeta ("
	for i, c := range sqla.TaskColumns[:n] {
		if i > 0 {
			s += ", "
		}
		s += c
	}
	return s + ") VALUES (nextval('task_id_sequence'), "
}

const insertTaskSuffix = ") RETURNING celery_taskmeta.id"

// Text values of the result rows (text format).

// textDate parses a timestamp column's text ("2006-01-02 15:04:05.123").
func textDate(b []byte) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", string(b), time.UTC)
	return t, err == nil
}

// textBytes decodes a bytea column's text (hex output: "\x…").
func textBytes(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != '\\' || b[1] != 'x' {
		return nil, false
	}
	out := make([]byte, hex.DecodedLen(len(b)-2))
	if _, err := hex.Decode(out, b[2:]); err != nil {
		return nil, false
	}
	return out, true
}

func textInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}
