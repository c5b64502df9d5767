package all_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/celery-bench/bench/backends"
	_ "github.com/celery-bench/bench/backends/all"
	"github.com/celery-bench/bench/backends/conformance"
)

// TestConformance runs the conformance suite on every registered backend,
// at its DefaultURL or at $BENCH_<NAME>_URL (BENCH_REDIS_URL, ...). A
// backend whose server does not answer is skipped, and is a failure under
// BENCH_REQUIRE_SERVERS=1. A new backend is tested by registering it.
func TestConformance(t *testing.T) {
	if len(backends.Registered()) < 2 {
		t.Fatalf("only %d backends registered", len(backends.Registered()))
	}
	for _, m := range backends.Registered() {
		t.Run(m.Name, func(t *testing.T) {
			url := m.DefaultURL
			if v := os.Getenv("BENCH_" + strings.ToUpper(m.Name) + "_URL"); v != "" {
				url = v
			}
			if url == "" {
				t.Fatalf("backend %s registers no DefaultURL to test it at", m.Name)
			}
			probe := backends.DefaultOptions
			probe.ConnectTimeout = 2 * time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			b, err := backends.Open(ctx, url, probe)
			cancel()
			if err != nil {
				if os.Getenv("BENCH_REQUIRE_SERVERS") == "1" {
					t.Fatalf("%s is required (BENCH_REQUIRE_SERVERS=1): %v", backends.Redact(url), err)
				}
				t.Skipf("%s does not answer (%v); BENCH_REQUIRE_SERVERS=1 makes this a failure", backends.Redact(url), err)
			}
			b.Close()
			conformance.Run(t, func(t *testing.T, o backends.Options) backends.Backend {
				b, err := backends.Open(context.Background(), url, o)
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				return b
			})
		})
	}
}
