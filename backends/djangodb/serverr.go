package djangodb

import (
	"time"

	"github.com/celery-bench/bench/backends"
)

// serverMarking marks the errors the server returned (as the dialect
// recognises them) with backends.MarkServer before obs sees them, so that
// they count as server errors by kind.
type serverMarking struct {
	obs backends.Observer
	d   dialect
}

func (m serverMarking) Observe(op string, start time.Time, d time.Duration, err error) {
	if err != nil {
		err = m.d.markServer(err)
	}
	m.obs.Observe(op, start, d, err)
}
