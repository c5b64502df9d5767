package djangodb

import (
	"errors"
	"time"

	"github.com/celery-bench/bench/backends"
	"github.com/go-sql-driver/mysql"
)

// serverMarking marks the errors the MySQL server returned (a
// *mysql.MySQLError in the chain) with backends.MarkServer before obs
// sees them, so that they count as server errors by kind.
type serverMarking struct{ obs backends.Observer }

func (m serverMarking) Observe(op string, start time.Time, d time.Duration, err error) {
	if err != nil {
		if _, ok := errors.AsType[*mysql.MySQLError](err); ok {
			err = backends.MarkServer(err)
		}
	}
	m.obs.Observe(op, start, d, err)
}
