package memory

import (
	"context"
	"net/url"
	"testing"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/backendtest"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T, o backends.Options) backends.Backend {
		b, err := open(context.Background(), &url.URL{Scheme: "memory"}, o)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
