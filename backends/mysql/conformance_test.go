package mysql

import (
	"context"
	"testing"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/backendtest"
)

// TestConformance runs the shared suite, every subtest in one scratch
// database of this test, through the registry as bench opens backends.
func TestConformance(t *testing.T) {
	needServer(t)
	db := scratchDB(t)
	backendtest.Run(t, func(t *testing.T, o backends.Options) backends.Backend {
		b, err := backends.Open(context.Background(), testURL(t, db).String(), o)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return b
	})
}
