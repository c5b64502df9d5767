package mysqldialect

import "testing"

func TestLiterals(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{string(AppendString(nil, "it's \"q\"\x00\n\r\x1a\\ü", false)), `'it\'s \"q\"\0\n\r\Z\\ü'`},
		{string(AppendString(nil, "it's \"q\"\\", true)), `'it''s "q"\'`},
		{string(AppendBytes(nil, []byte{0x80, 0, '\''}, false)), "'\x80\\0\\''"},
		{string(AppendLike(nil, `a%b_c\`, false)), `'a\\%b\\_c\\\\%'`},
		{string(AppendLike(nil, `a%b_c\`, true)), `'a\%b\_c\\%'`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}
