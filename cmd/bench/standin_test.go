package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/celery-bench/bench/backends/standin"
	"github.com/celery-bench/bench/results"
)

// TestRunEmbeddedMySQL runs the CLI end to end on the embedded MySQL that
// bench falls back to when nothing answers at 127.0.0.1:3306: the server
// startEmbeddedMySQL starts (defaultServers' own), and bench's MySQL
// backend against its URL.
func TestRunEmbeddedMySQL(t *testing.T) {
	ctx := context.Background()
	s, err := startEmbeddedMySQL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.embedded == nil || !strings.HasPrefix(s.URL, "db+mysql://root@127.0.0.1:") || !strings.HasSuffix(s.URL, "/celery_bench") {
		t.Fatalf("embedded server %+v", s)
	}
	var stdout, stderr bytes.Buffer
	code := bench(ctx, []string{"--backend", s.URL, "-d", "500ms", "--warmup", "100ms", "--progress", "0",
		"--seed", "7", "--format", "json"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr.String())
	}
	r, err := results.ReadJSON(strings.NewReader(stdout.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Results) != 1 {
		t.Fatalf("%d results, want 1", len(r.Results))
	}
	res := r.Results[0]
	if res.Server.Product != "MySQL" || res.Server.Version != standin.MySQLVersion {
		t.Errorf("server %+v, want MySQL %s", res.Server, standin.MySQLVersion)
	}
	for _, op := range []string{"roundtrip", "store_result"} {
		st, ok := res.Op(op)
		if !ok || st.Count() == 0 || st.Errors != 0 {
			t.Errorf("%s: %+v, want some and no errors", op, st)
		}
	}
}
