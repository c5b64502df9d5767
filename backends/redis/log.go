package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/celery-bench/bench/backends"
)

// go-redis logs failed dials and pool trouble from its own goroutines; its
// messages go to bench's driver log (counted, the first kept), never raw
// to stderr. The errors themselves reach the operation that hit them.
func init() { goredis.SetLogger(driverLogger{}) }

type driverLogger struct{}

func (driverLogger) Printf(_ context.Context, format string, v ...any) {
	backends.LogDriver("go-redis: " + fmt.Sprintf(format, v...))
}
