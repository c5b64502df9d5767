package backends_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/celery-bench/bench/backends"
	_ "github.com/celery-bench/bench/backends/all"
)

var urlSeeds = []string{
	"redis://127.0.0.1:6379/0",
	"redis://:s3cret@127.0.0.1:6379/0",
	"rediss://user:p%40ss@h:6380/1?ssl_cert_reqs=required",
	"db+mysql://root:hunter22@127.0.0.1:3306/celery_bench?charset=utf8mb4",
	"db+mysql://root@localhost/celery",
	"memory://",
	"redis://:pa ss@host/0",
	"redis://u:p@[::1",
	"mongodb://x",
	"redis://h/x@y",
	"://:secret@",
	"",
}

// rawPassword returns the password of a URL's user info as written in it
// (still escaped), or "": whatever follows the first ':' of the text between
// "://" and the last '@' of the authority (of the whole string when it does
// not parse, as Redact's fallback hides all of that).
func rawPassword(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return ""
	}
	rest := s[i+3:]
	if _, err := url.Parse(s); err == nil {
		if k := strings.IndexAny(rest, "/?#"); k >= 0 {
			rest = rest[:k]
		}
	}
	j := strings.LastIndex(rest, "@")
	if j < 0 {
		return ""
	}
	_, p, _ := strings.Cut(rest[:j], ":")
	return p
}

// leaks reports whether out shows the password of in the way an echoed URL
// would: ":PASSWORD@". ("xxxxx" is the redaction itself.)
func leaks(in, out string) bool {
	p := rawPassword(in)
	return p != "" && p != "xxxxx" && strings.Contains(out, ":"+p+"@")
}

// FuzzRedact checks that Redact never returns the password of its input,
// and that a URL with no '@' and no query (so neither user info nor a
// password parameter, nor a malformed one Redact cuts conservatively)
// comes back unchanged.
func FuzzRedact(f *testing.F) {
	for _, s := range urlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := backends.Redact(s)
		if leaks(s, r) {
			t.Fatalf("Redact(%q) = %q shows the password %q", s, r, rawPassword(s))
		}
		if u, err := url.Parse(s); err == nil && !strings.Contains(s, "@") && u.RawQuery == "" && !u.ForceQuery && r != s {
			t.Fatalf("Redact(%q) = %q changed a URL without user info", s, r)
		}
	})
}

// FuzzLookup checks that Lookup does not panic, that its errors never show
// the URL's password, and that what it accepts has a registered scheme.
func FuzzLookup(f *testing.F) {
	for _, s := range urlSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, u, err := backends.Lookup(s)
		if err != nil {
			if leaks(s, err.Error()) {
				t.Fatalf("Lookup(%q): error %q shows the password %q", s, err, rawPassword(s))
			}
			return
		}
		if u == nil || m.Open == nil {
			t.Fatalf("Lookup(%q) accepted it without a URL or an implementation", s)
		}
		found := false
		for _, sc := range backends.Schemes() {
			found = found || sc == u.Scheme+"://"
		}
		if !found {
			t.Fatalf("Lookup(%q) accepted scheme %q, not one of %v", s, u.Scheme, backends.Schemes())
		}
	})
}
