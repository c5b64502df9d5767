package backends

import "testing"

func TestLikePrefix(t *testing.T) {
	for prefix, want := range map[string]string{
		"":         `%`,
		"celery-":  `celery-%`,
		`a%b_c\`:   `a\%b\_c\\%`,
		`\\%%__ü`:  `\\\\\%\%\_\_ü%`,
		"it's \"q": "it's \"q%",
	} {
		if got := LikePrefix(prefix); got != want {
			t.Errorf("LikePrefix(%q) = %q, want %q", prefix, got, want)
		}
	}
}
