package mysql

import (
	"context"
	"testing"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/sqla"
)

// TestQueryRowText checks the row package sqla reads: every column as its
// text, an integer (which go-sql-driver returns as int64) as its decimal,
// NULL as nil and an empty string as empty but not nil, so that the
// flavour tells NULL (None) from ”.
func TestQueryRowText(t *testing.T) {
	needServer(t)
	b, err := openBackend(context.Background(), testURL(t, "x"), backends.DefaultOptions)
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.dial(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	var r sqla.Row
	for range 2 { // the second read reuses the row's buffers
		found, err := c.QueryRow(context.Background(), "SELECT 42, -7, NULL, '', 'x', CAST('b' AS BINARY)", 6, &r)
		if err != nil || !found {
			t.Fatalf("QueryRow: %v, %v", found, err)
		}
		want := []string{"42", "-7", "", "", "x", "b"}
		for i, w := range want {
			if got := string(r.Cols[i]); got != w {
				t.Errorf("column %d = %q, want %q", i, got, w)
			}
		}
		if r.Cols[2] != nil || r.Cols[3] == nil {
			t.Errorf("NULL and '' read as %#v and %#v, want nil and empty", r.Cols[2], r.Cols[3])
		}
		for i, w := range []int64{42, -7} {
			if n, ok := b.Int(r.Cols[i]); !ok || n != w {
				t.Errorf("Int(%q) = %d, %v", r.Cols[i], n, ok)
			}
		}
	}
	found, err := c.QueryRow(context.Background(), "SELECT 1 FROM DUAL WHERE 1 = 0", 1, &r)
	if err != nil || found {
		t.Errorf("no row: %v, %v", found, err)
	}
}

func TestInt(t *testing.T) {
	var b backend
	for _, tc := range []struct {
		in   string
		n    int64
		fine bool
	}{{"0", 0, true}, {"123456789012345678", 123456789012345678, true}, {"-5", -5, true},
		{"9223372036854775807", 9223372036854775807, true}, {"-9223372036854775808", -9223372036854775808, true},
		{"9223372036854775808", 0, false}, {"-9223372036854775809", 0, false}, {"", 0, false}, {"-", 0, false}, {"1x", 0, false}} {
		if n, ok := b.Int([]byte(tc.in)); n != tc.n || ok != tc.fine {
			t.Errorf("Int(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.fine)
		}
	}
}
