package backends

// What the client libraries (go-redis, go-sql-driver/mysql) log goes here
// instead of raw to stderr: counted, with the first messages kept, so a
// run reports it with its figures (-c 100000 once printed 103,000 go-redis
// lines).

import (
	"strings"
	"sync"
)

// MaxDriverLogSamples is how many distinct messages TakeDriverLog keeps.
const MaxDriverLogSamples = 5

var driverLog struct {
	mu      sync.Mutex
	n       int64
	samples []string
}

// LogDriver records one message a client library logged. Credentials in
// it are scrubbed.
func LogDriver(msg string) {
	msg = Scrub(strings.TrimSpace(msg))
	driverLog.mu.Lock()
	defer driverLog.mu.Unlock()
	driverLog.n++
	if len(driverLog.samples) < MaxDriverLogSamples {
		for _, s := range driverLog.samples {
			if s == msg {
				return
			}
		}
		driverLog.samples = append(driverLog.samples, msg)
	}
}

// TakeDriverLog returns how many messages the client libraries logged
// since the last call, with the first distinct ones, and starts over.
func TakeDriverLog() (n int64, samples []string) {
	driverLog.mu.Lock()
	defer driverLog.mu.Unlock()
	n, samples = driverLog.n, driverLog.samples
	driverLog.n, driverLog.samples = 0, nil
	return n, samples
}
