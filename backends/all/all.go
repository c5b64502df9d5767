// Package all registers every backend: import it for its side effects.
package all

import (
	_ "github.com/celery-bench/bench/backends/memory"
)
