package mysql

import (
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
)

// go-sql-driver/mysql logs connection trouble ("[mysql] ... unexpected
// EOF"); it goes to bench's driver log, not raw to stderr.
func init() { _ = mysql.SetLogger(driverLogger{}) }

type driverLogger struct{}

func (driverLogger) Print(v ...any) { backends.LogDriver("go-sql-driver/mysql: " + fmt.Sprint(v...)) }
