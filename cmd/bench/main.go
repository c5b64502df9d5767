// Command bench measures Celery result backends (Redis, MySQL/MariaDB) with
// the traffic Celery itself sends, and reports throughput and latency
// percentiles side by side. Run "bench --help" for the manual.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills the process at once
	}()
	os.Exit(bench(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
