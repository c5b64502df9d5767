package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"
)

// server is a backend server bench uses by default: the local one when it
// answers, an embedded stand-in otherwise.
type server struct {
	URL   string
	close func() error
}

func (s *server) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// defaultServers returns Redis and MySQL at their default local addresses,
// starting embedded in-process servers for those that do not answer.
func defaultServers(ctx context.Context, timeout time.Duration, stderr io.Writer) ([]*server, error) {
	var out []*server
	for _, d := range []struct {
		url, addr, name string
		start           func(context.Context) (*server, error)
	}{
		{DefaultRedisURL, "127.0.0.1:6379", "Redis", startEmbeddedRedis},
		{DefaultMySQLURL, "127.0.0.1:3306", "MySQL", startEmbeddedMySQL},
	} {
		if reachable(ctx, d.addr, min(timeout, time.Second)) {
			out = append(out, &server{URL: d.url})
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

func reachable(ctx context.Context, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Until the embedded servers land, fall back to the memory backend.
func startEmbeddedRedis(context.Context) (*server, error) { return &server{URL: "memory://"}, nil }
func startEmbeddedMySQL(context.Context) (*server, error) { return &server{URL: "memory://"}, nil }
