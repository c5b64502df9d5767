package pgdialect

import (
	"testing"
	"time"
)

func TestLiterals(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 22, 8, 10, 538885000, time.UTC)
	for got, want := range map[string]string{
		string(AppendString(nil, "it's")):                               `'it''s'`,
		string(AppendString(nil, `a\b"c`)):                              `'a\b"c'`,
		string(AppendDate(nil, t0, true)):                               `'2026-12-01T22:08:10.538885+00:00'::timestamptz`,
		string(AppendDate(nil, t0.Truncate(time.Second), false)):        `'2026-12-01T22:08:10'::timestamp`,
		string(AppendDate(nil, time.Time{}, true)):                      `NULL`,
		string(AppendBytes(nil, []byte{0x80, 0x05})):                    `'\x8005'::bytea`,
		string(AppendLike(nil, "a_b%")):                                 `'a\_b\%%'`,
		string(AppendDate(nil, t0.In(time.FixedZone("x", 3600)), true)): `'2026-12-01T22:08:10.538885+00:00'::timestamptz`,
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
	for _, s := range []string{"2026-12-01 22:08:10.538885", "2026-12-01 22:08:10.538885+00"} {
		if d, ok := TextDate([]byte(s)); !ok || !d.Equal(t0) {
			t.Errorf("TextDate(%q) = %v, %v", s, d, ok)
		}
	}
	if _, ok := TextDate([]byte("2026-12-01 23:08:10+01")); ok {
		t.Error("TextDate accepted an offset other than +00")
	}
}
