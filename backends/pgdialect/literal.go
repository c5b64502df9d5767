package pgdialect

import (
	"encoding/hex"
	"strconv"
	"time"

	"github.com/celery-bench/bench/backends"
)

// Values are rendered as psycopg2 2.9 renders parameters on the client
// (its adapters, with standard_conforming_strings on): strings quoted with
// ' doubled and nothing else escaped; bytes as '\x<hex>'::bytea; naive
// datetimes as 'YYYY-MM-DDTHH:MM:SS[.ffffff]'::timestamp, aware ones with
// '+00:00'::timestamptz; None as NULL; integers bare.

// AppendString appends s as a psycopg2 str literal.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			dst = append(dst, '\'')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '\'')
}

// AppendBytes appends b as psycopg2's Binary adapter writes it.
func AppendBytes(dst, b []byte) []byte {
	dst = append(dst, `'\x`...)
	dst = hex.AppendEncode(dst, b)
	return append(dst, "'::bytea"...)
}

// AppendDate appends t as psycopg2 renders a datetime: naive (aware false)
// or with the +00:00 offset of UTC (a datetime aware in UTC, as Django's
// timezone.now() under USE_TZ=True); NULL for the zero time. The fraction
// is left out when the microseconds are 0 (isoformat).
func AppendDate(dst []byte, t time.Time, aware bool) []byte {
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

// AppendInt appends n in decimal.
func AppendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// AppendLike appends a LIKE pattern (backslash, PostgreSQL's default
// escape) matching every string that starts with prefix.
func AppendLike(dst []byte, prefix string) []byte {
	return AppendString(dst, backends.LikePrefix(prefix))
}

// TextDate parses a timestamp column's text output ("2006-01-02
// 15:04:05.123"), or a timestamptz's in a UTC session ("…+00").
func TextDate(b []byte) (time.Time, bool) {
	s := string(b)
	if n := len(s); n > 3 && s[n-3] == '+' && s[n-2:] == "00" {
		s = s[:n-3]
	}
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", s, time.UTC)
	return t, err == nil
}

// TextBytes decodes a bytea column's text (hex output: "\x…").
func TextBytes(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != '\\' || b[1] != 'x' {
		return nil, false
	}
	out := make([]byte, hex.DecodedLen(len(b)-2))
	if _, err := hex.Decode(out, b[2:]); err != nil {
		return nil, false
	}
	return out, true
}

// TextInt parses an integer column's text.
func TextInt(b []byte) (int64, bool) {
	n, err := strconv.ParseInt(string(b), 10, 64)
	return n, err == nil
}
