package backends

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testScheme registers a backend for the URL tests only.
func init() {
	Register(Meta{Name: "urltest", Schemes: []string{"urltest", "db+urltest"},
		Open: func(context.Context, *url.URL, Options) (Backend, error) { return nil, nil }})
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// nothing to hide: the user's spelling stays
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"},
		{"redis://user@host/0", "redis://user@host/0"},
		{"memory://", "memory://"},
		// the user info's password
		{"redis://:s3cret@host:6379/0", "redis://:xxxxx@host:6379/0"},
		{"db+mysql://root:s3cret@db:3306/x", "db+mysql://root:xxxxx@db:3306/x"},
		{"db+mysql://root:s%40cret@db/x", "db+mysql://root:xxxxx@db/x"},
		// query parameters that carry one, in their place and spelling
		{"redis://host/0?password=s3cret", "redis://host/0?password=xxxxx"},
		{"redis://host/0?socket_timeout=1&password=s3cret&db=2", "redis://host/0?socket_timeout=1&password=xxxxx&db=2"},
		{"redis://host/0?PASSWORD=s3cret", "redis://host/0?PASSWORD=xxxxx"},
		{"x://h/?passwd=a&pwd=b&token=c&api_secret=d&auth=e", "x://h/?passwd=xxxxx&pwd=xxxxx&token=xxxxx&api_secret=xxxxx&auth=xxxxx"},
		{"redis://:a@host/0?password=b", "redis://:xxxxx@host/0?password=xxxxx"},
		// where a password is read from stays visible
		{"redis://host/0?password_file=/run/pw&x=1", "redis://host/0?password_file=/run/pw&x=1"},
		{"redis://host/0?password_env=REDIS_PW", "redis://host/0?password_env=REDIS_PW"},
		// not URLs: everything from the scheme to the last '@'
		{"db+mysql:root:s3cret@db.internal:3307/x", "db+mysql:xxxxx@db.internal:3307/x"},
		{"redis://:p@ss/word@host/0", "redis://xxxxx@host/0"},
		{"redis://:s3cret@ho st/0", "redis://xxxxx@ho st/0"},
		{"root:s3cret@host", "root:xxxxx@host"},
		{"%zz://u:s3cret@h", "%zz://xxxxx@h"},
	} {
		if got := Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestLookupRefusesURLsWithoutSlashes(t *testing.T) {
	for _, raw := range []string{
		"db+urltest:root:s3cret@db.internal:3307/x",
		"urltest:host:6379",
		"urltest:/host/0",
		"urltest:",
	} {
		_, _, err := Lookup(raw)
		if err == nil {
			t.Errorf("Lookup(%q) accepted it", raw)
			continue
		}
		if !strings.Contains(err.Error(), "must start with") {
			t.Errorf("Lookup(%q): %v, want a must start with scheme:// error", raw, err)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Lookup(%q) error shows the password: %v", raw, err)
		}
	}
	if _, u, err := Lookup("urltest://root@h:1/x"); err != nil || u.Host != "h:1" {
		t.Errorf("Lookup of a good URL: %v, %v", u, err)
	}
}

func TestPasswordFromFileAndEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	if err := os.WriteFile(file, []byte("fr0m-the-file\nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BENCH_TEST_PW", "fr0m-the-env")

	_, u, err := Lookup("urltest://root@h/x?password_file=" + url.QueryEscape(file) + "&keep=1")
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); pw != "fr0m-the-file" || u.User.Username() != "root" {
		t.Errorf("password_file: user info %v", u.User)
	}
	if q := u.Query(); q.Has(ParamPasswordFile) || q.Get("keep") != "1" {
		t.Errorf("password_file: query left %q", u.RawQuery)
	}
	_, u, err = Lookup("urltest://h/x?password_env=BENCH_TEST_PW")
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); pw != "fr0m-the-env" || u.RawQuery != "" {
		t.Errorf("password_env: user info %v, query %q", u.User, u.RawQuery)
	}
	// What was read is scrubbed from text bench did not compose.
	if got := Scrub("driver said: bad password fr0m-the-file and fr0m-the-env"); got != "driver said: bad password xxxxx and xxxxx" {
		t.Errorf("Scrub = %q", got)
	}

	for raw, want := range map[string]string{
		"urltest://h/x?password_file=" + filepath.Join(dir, "none"): "no such file",
		"urltest://h/x?password_env=BENCH_TEST_UNSET_PW":            "not set",
		"urltest://:inline@h/x?password_env=BENCH_TEST_PW":          "not both",
		"urltest://h/x?password_env=BENCH_TEST_PW&password_file=/x": "not both",
	} {
		_, _, err := Lookup(raw)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Lookup(%q): %v, want an error saying %q", raw, err, want)
		}
	}
}

func TestScrubRemembersURLSecrets(t *testing.T) {
	RememberURLSecrets("redis://:pa%2Fss-word1@h/0?password=qu3ry-pass")
	RememberURLSecrets("db+mysql:root:0paque-pw@h/x")
	RememberURLSecrets("redis://:ab@h/0") // too short to scrub safely: Redact alone keeps it out
	got := Scrub("a pa/ss-word1 b pa%2Fss-word1 c qu3ry-pass d 0paque-pw e ab")
	if want := "a xxxxx b xxxxx c xxxxx d xxxxx e ab"; got != want {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
}
