package postgres

import (
	"net/url"

	"github.com/celery-bench/bench/backends/pgdialect"
)

// DefaultDatabase is the database bench uses when the URL names none.
const DefaultDatabase = "celery_bench"

// maintenanceDB is where Prepare and open connect before bench's database
// exists.
const maintenanceDB = pgdialect.MaintenanceDB

// config is what a Celery db+postgresql:// URL says.
type config = pgdialect.Config

// parseURL reads db+postgresql://user[:password]@host[:port]/database
// [?sslmode=…]. Errors show the URL with its password redacted.
func parseURL(u *url.URL) (config, error) {
	return pgdialect.ParseURL(u, "postgres", DefaultDatabase, nil, "sslmode")
}
