package backends

// Backend URLs: parsing them for the registry, keeping their credentials
// out of every output, and reading a password from a file or an
// environment variable so that it never appears on a command line.

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
)

// Query parameters that bench resolves itself, for every backend, before
// the backend sees the URL: the password is read from the named file (its
// first line) or environment variable and put into the URL's user info,
// and the parameter is removed. ps then shows the file's path or the
// variable's name, never the password.
const (
	ParamPasswordFile = "password_file"
	ParamPasswordEnv  = "password_env"
)

// redacted replaces every credential in a displayed URL.
const redacted = "xxxxx"

// secretParam reports whether a query parameter's value is a credential.
// password_file and password_env name where a password is, not the
// password, and stay visible.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	if n == ParamPasswordFile || n == ParamPasswordEnv {
		return false
	}
	for _, s := range []string{"pass", "pwd", "secret", "token", "credential", "auth"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Lookup returns the implementation serving the scheme of rawURL and the
// parsed URL, with any password_file or password_env parameter resolved
// into its user info. A URL must be scheme://…; errors show it redacted.
func Lookup(rawURL string) (Meta, *url.URL, error) {
	RememberURLSecrets(rawURL)
	shown := Redact(rawURL)
	u, err := url.Parse(rawURL)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("backend URL %q does not parse: %v", shown, cleanURLError(err))
	}
	if u.Scheme == "" {
		return Meta{}, nil, fmt.Errorf("backend URL %q has no scheme; use one of %s", shown, strings.Join(Schemes(), ", "))
	}
	m, ok := registry[u.Scheme]
	if !ok {
		return Meta{}, nil, fmt.Errorf("unknown backend scheme %q in %q; use one of %s", u.Scheme, shown, strings.Join(Schemes(), ", "))
	}
	// db+mysql:root:pw@host/x parses as an opaque URL whose host is empty,
	// which a driver would take for localhost: refuse it for every scheme.
	if u.Opaque != "" || !strings.HasPrefix(rawURL[len(u.Scheme)+1:], "//") {
		return Meta{}, nil, fmt.Errorf("backend URL %q must start with %s:// (as in %s://user@host:port/...)", shown, u.Scheme, u.Scheme)
	}
	if err := resolvePassword(u); err != nil {
		return Meta{}, nil, fmt.Errorf("backend URL %q: %w", shown, err)
	}
	return m, u, nil
}

// resolvePassword replaces password_file and password_env by the password
// they name, set in u's user info, and records it for Scrub.
func resolvePassword(u *url.URL) error {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || (!q.Has(ParamPasswordFile) && !q.Has(ParamPasswordEnv)) {
		return nil // the backend reports a query that does not parse
	}
	if q.Has(ParamPasswordFile) && q.Has(ParamPasswordEnv) {
		return fmt.Errorf("give %s or %s, not both", ParamPasswordFile, ParamPasswordEnv)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return fmt.Errorf("give the password in the URL or in %s/%s, not both", ParamPasswordFile, ParamPasswordEnv)
		}
	}
	var pw string
	if path := q.Get(ParamPasswordFile); q.Has(ParamPasswordFile) {
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return fmt.Errorf("%s %s: %v", ParamPasswordFile, path, err)
		}
		pw, _, _ = strings.Cut(string(b), "\n")
		pw = strings.TrimSuffix(pw, "\r")
	} else {
		name := q.Get(ParamPasswordEnv)
		v, ok := os.LookupEnv(name)
		if !ok || name == "" {
			return fmt.Errorf("%s=%s: the environment variable is not set", ParamPasswordEnv, name)
		}
		pw = v
	}
	if pw == "" {
		return errors.New("the password it names is empty")
	}
	user := ""
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, pw)
	q.Del(ParamPasswordFile)
	q.Del(ParamPasswordEnv)
	u.RawQuery = q.Encode()
	rememberSecret(pw)
	return nil
}

// Redact returns rawURL with every credential replaced by "xxxxx": the
// password of the user info and the value of every query parameter that
// holds one (password=, and the like). A string that is not a well-formed
// URL loses everything between its scheme and its last '@'. The user's
// spelling of the rest is kept.
func Redact(rawURL string) string {
	out := rawURL
	u, err := url.Parse(rawURL)
	wellFormed := err == nil && u.Opaque == "" &&
		!strings.Contains(u.Path, "@") && !strings.Contains(u.RawQuery, "@") && !strings.Contains(u.Fragment, "@")
	if wellFormed && u.User != nil {
		if _, has := u.User.Password(); has {
			// Cut at the authority's last '@', as url.Parse did.
			rest := rawURL[len(u.Scheme)+3:]
			if end := strings.IndexAny(rest, "/?#"); end >= 0 {
				rest = rest[:end]
			}
			at := strings.LastIndex(rest, "@")
			user := rest[:at]
			if i := strings.IndexByte(user, ':'); i >= 0 {
				user = user[:i]
			}
			out = rawURL[:len(u.Scheme)+3] + user + ":" + redacted + rawURL[len(u.Scheme)+3+at:]
		}
	} else if !wellFormed {
		if at := strings.LastIndex(rawURL, "@"); at >= 0 {
			start := 0
			if i := strings.Index(rawURL, "://"); i >= 0 && i < at {
				start = i + 3
			} else if i := strings.IndexByte(rawURL, ':'); i >= 0 && i < at {
				start = i + 1
			}
			out = rawURL[:start] + redacted + rawURL[at:]
		}
	}
	return redactQuery(out)
}

// RedactURL is Redact for a parsed URL, built from its parts so that the
// result parses back to the same URL but for the credentials (a '@' in a
// query or fragment is not taken for the user info's end).
func RedactURL(u *url.URL) string {
	c := *u
	if c.User != nil {
		if _, has := c.User.Password(); has {
			c.User = url.UserPassword(c.User.Username(), redacted)
		}
	}
	if c.RawQuery != "" {
		c.RawQuery = redactQuery("?" + c.RawQuery)[1:]
	}
	return c.String()
}

// redactQuery replaces the values of secret query parameters, keeping the
// order and spelling of the others.
func redactQuery(s string) string {
	i := strings.IndexByte(s, '?')
	if i < 0 {
		return s
	}
	frag := ""
	q := s[i+1:]
	if j := strings.IndexByte(q, '#'); j >= 0 {
		q, frag = q[:j], q[j:]
	}
	parts := strings.Split(q, "&")
	for k, p := range parts {
		name, _, hasValue := strings.Cut(p, "=")
		if un, err := url.QueryUnescape(name); err == nil {
			name = un
		}
		if hasValue && secretParam(name) {
			parts[k] = p[:strings.IndexByte(p, '=')+1] + redacted
		}
	}
	return s[:i+1] + strings.Join(parts, "&") + frag
}

// cleanURLError drops url.Error's echo of the raw URL, which may hold a password.
func cleanURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// secrets are the passwords of every URL bench has looked up, so that
// Scrub can take them out of messages a driver composed.
var secrets struct {
	sync.Mutex
	list []string
}

// minScrubbed is the shortest secret Scrub replaces: a shorter one would
// match ordinary text, and is kept out of output by Redact alone.
const minScrubbed = 4

func rememberSecret(s string) {
	if len(s) < minScrubbed {
		return
	}
	secrets.Lock()
	defer secrets.Unlock()
	for _, have := range secrets.list {
		if have == s {
			return
		}
	}
	secrets.list = append(secrets.list, s)
	// Longest first, so that a secret containing another goes whole.
	sort.Slice(secrets.list, func(i, j int) bool { return len(secrets.list[i]) > len(secrets.list[j]) })
}

// RememberURLSecrets records the credentials in rawURL (the user info's
// password, secret query parameters, escaped and unescaped) for Scrub.
func RememberURLSecrets(rawURL string) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Opaque != "" {
		// Whatever stands between the scheme and the last '@'.
		if at := strings.LastIndex(rawURL, "@"); at >= 0 {
			head := rawURL[:at]
			if i := strings.Index(head, "://"); i >= 0 {
				head = head[i+3:]
			} else if i := strings.IndexByte(head, ':'); i >= 0 {
				head = head[i+1:]
			}
			if _, pw, ok := strings.Cut(head, ":"); ok {
				rememberSecret(pw)
			}
		}
		return
	}
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			rememberSecret(pw)
			rememberSecret(url.UserPassword("", pw).String()[1:]) // as escaped in the URL
		}
	}
	if q, err := url.ParseQuery(u.RawQuery); err == nil {
		for name, vs := range q {
			if secretParam(name) {
				for _, v := range vs {
					rememberSecret(v)
					rememberSecret(url.QueryEscape(v))
				}
			}
		}
	}
}

// Scrub returns s with every password bench has seen in a backend URL (or
// read through password_file or password_env) replaced by "xxxxx". It is
// for text bench did not compose itself, such as a driver's error message.
func Scrub(s string) string {
	secrets.Lock()
	defer secrets.Unlock()
	for _, sec := range secrets.list {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}
