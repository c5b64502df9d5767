package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/celery-bench/bench/backends/standin"
)

// server is a backend server bench uses by default: the local one when it
// answers, an embedded stand-in otherwise.
type server struct {
	URL      string
	embedded *standin.Server // nil for a real server
	close    func() error
}

func (s *server) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// DefaultPostgresURL is PostgreSQL at its default local address; bench
// creates the database when it prepares the run.
const DefaultPostgresURL = "db+postgresql://postgres@127.0.0.1:5432/celery_bench"

// defaultServers returns Redis, MySQL and PostgreSQL at their default local
// addresses, starting embedded in-process servers for those that do not
// answer; a family with no stand-in (PostgreSQL) is named in one line and
// skipped.
func defaultServers(ctx context.Context, timeout time.Duration, stderr io.Writer) ([]*server, error) {
	var out []*server
	for _, d := range []struct {
		url, addr, name string
		start           func(context.Context) (*server, error)
	}{
		{DefaultRedisURL, "127.0.0.1:6379", "Redis", startEmbeddedRedis},
		{DefaultMySQLURL, "127.0.0.1:3306", "MySQL", startEmbeddedMySQL},
		{DefaultPostgresURL, "127.0.0.1:5432", "PostgreSQL", nil},
	} {
		if standin.Reachable(ctx, d.addr, min(timeout, time.Second)) {
			out = append(out, &server{URL: d.url})
			continue
		}
		if d.start == nil {
			fmt.Fprintf(stderr, "bench: no %s answers at %s and bench has no stand-in for it; skipping %s\n", d.name, d.addr, d.name)
			continue
		}
		s, err := d.start(ctx)
		if err != nil {
			for _, o := range out {
				o.Close()
			}
			return nil, usagef("no %s answers at %s and the embedded one did not start: %v", d.name, d.addr, err)
		}
		fmt.Fprintf(stderr, "bench: no %s answers at %s; using an embedded in-process server (figures not representative)\n", d.name, d.addr)
		out = append(out, s)
	}
	return out, nil
}

func startEmbeddedRedis(ctx context.Context) (*server, error) {
	s, err := standin.StartRedis(ctx)
	if err != nil {
		return nil, err
	}
	return &server{URL: s.URL, embedded: s, close: s.Close}, nil
}

func startEmbeddedMySQL(ctx context.Context) (*server, error) {
	u, _ := url.Parse(DefaultMySQLURL)
	s, err := standin.StartMySQL(ctx, strings.TrimPrefix(u.Path, "/"))
	if err != nil {
		return nil, err
	}
	return &server{URL: s.URL, embedded: s, close: s.Close}, nil
}
