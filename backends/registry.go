package backends

import (
	"context"
	"sort"
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
