package backends

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

var registry = map[string]Meta{} // by scheme

// Register adds a backend implementation. It is called from init functions;
// a scheme registered twice is a programming error and panics.
func Register(m Meta) {
	for _, s := range m.Schemes {
		if _, dup := registry[s]; dup {
			panic("backends: scheme registered twice: " + s)
		}
		registry[s] = m
	}
}

// Registered returns every registered implementation once, sorted by name.
func Registered() []Meta {
	seen := map[string]bool{}
	var out []Meta
	for _, m := range registry {
		if !seen[m.Name] {
			seen[m.Name] = true
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the implementation serving the scheme of rawURL, and the
// parsed URL.
func Lookup(rawURL string) (Meta, *url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Meta{}, nil, fmt.Errorf("backend URL %q does not parse: %v", Redact(rawURL), cleanURLError(err))
	}
	if u.Scheme == "" {
		return Meta{}, nil, fmt.Errorf("backend URL %q has no scheme; use one of %s", Redact(rawURL), strings.Join(Schemes(), ", "))
	}
	m, ok := registry[u.Scheme]
	if !ok {
		return Meta{}, nil, fmt.Errorf("unknown backend scheme %q in %q; use one of %s", u.Scheme, Redact(rawURL), strings.Join(Schemes(), ", "))
	}
	return m, u, nil
}

// Open opens the backend named by rawURL.
func Open(ctx context.Context, rawURL string, o Options) (Backend, error) {
	m, u, err := Lookup(rawURL)
	if err != nil {
		return nil, err
	}
	return m.Open(ctx, u, o)
}

// Schemes returns every registered scheme as "scheme://", sorted.
func Schemes() []string {
	var out []string
	for s := range registry {
		out = append(out, s+"://")
	}
	sort.Strings(out)
	return out
}

// Redact returns rawURL with any password replaced by "xxxxx". Strings that
// do not parse are returned with everything between "://" and "@" hidden.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil {
		if u.User == nil {
			return rawURL // nothing to hide; keep the user's spelling
		}
		return u.Redacted()
	}
	if i := strings.Index(rawURL, "://"); i >= 0 {
		if j := strings.LastIndex(rawURL, "@"); j > i {
			return rawURL[:i+3] + "xxxxx" + rawURL[j:]
		}
	}
	return rawURL
}

// cleanURLError drops url.Error's echo of the raw URL, which may hold a password.
func cleanURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
