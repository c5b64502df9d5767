// Package all registers every backend: import it for its side effects.
package all

import (
	_ "github.com/celery-bench/bench/backends/djangodb"
	_ "github.com/celery-bench/bench/backends/memory"
	_ "github.com/celery-bench/bench/backends/mysql"
	_ "github.com/celery-bench/bench/backends/postgres"
	_ "github.com/celery-bench/bench/backends/redis"
)
