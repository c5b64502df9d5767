package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"

	sqle "github.com/dolthub/go-mysql-server"
	"github.com/dolthub/go-mysql-server/memory"
	"github.com/dolthub/go-mysql-server/server"
	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"
	"github.com/dolthub/vitess/go/sqltypes"
	vtlog "github.com/dolthub/vitess/go/vt/log"
	querypb "github.com/dolthub/vitess/go/vt/proto/query"
	"github.com/sirupsen/logrus"
)

// MySQLVersion is the version the embedded MySQL announces in its handshake
// and returns for SELECT VERSION(). It names no MariaDB, so SQLAlchemy (and
// bench) pick the MySQL dialect: AUTO_INCREMENT keys, no sequences, and
// @@transaction_isolation rather than @@tx_isolation.
const MySQLVersion = "8.0.31"

// StartMySQL starts go-mysql-server on a free port of 127.0.0.1 with an
// empty in-memory database named database, and returns once it accepts
// connections. ctx bounds only the start; the server runs until
// Server.Close, which discards the data. Any user name and password are
// accepted; Server.URL names root with none. database must be a plain
// identifier (letters, digits, '_' and '$').
//
// The server differs from MySQL 8.0 in ways that keep it correct under
// Celery's traffic (see serialHandler, autocommitOnly and mysqlError):
//
//   - It runs one table statement at a time across all connections: each
//     query that may touch a table holds a server-wide lock while it runs
//     and while its rows are written to the client, so a client that stops
//     reading a large result stalls the others. The per-connection setup
//     (SET NAMES, the VERSION() and @@variable probes), COMMIT and ROLLBACK
//     run beside it (tableFree). Any number of connections may be open.
//   - Every statement is its own transaction: SET AUTOCOMMIT = 0, BEGIN and
//     START TRANSACTION are accepted and ignored, COMMIT and ROLLBACK do
//     nothing, and a write is visible to every connection once its
//     statement ends. Celery never relies on ROLLBACK undoing a write.
//   - Lookups scan: go-mysql-server's in-memory tables have no B-tree, and
//     every statement costs time in proportion to the rows in the table
//     (BenchmarkMySQLStoreResult: a store_result takes about 0.8 ms on an
//     empty celery_taskmeta and 16 ms with 5,000 rows).
//
// go-mysql-server logs through logrus's standard logger and Vitess's log
// package; the first call silences both for the whole process.
func StartMySQL(ctx context.Context, database string) (*Server, error) {
	if !identifier.MatchString(database) {
		return nil, fmt.Errorf("embedded: mysql: database name %q is not a plain identifier", database)
	}
	quietMySQL()

	db := memory.NewDatabase(database)
	db.EnablePrimaryKeyIndexes()
	pro := memory.NewDBProvider(db)
	engine := sqle.NewDefault(pro)

	l, err := listen(ctx)
	if err != nil {
		return nil, fmt.Errorf("embedded: mysql: %w", err)
	}
	tl := newConnTracker(l)
	addr := l.Addr().String()

	h := &serialHandler{}
	cfg := server.Config{
		Protocol: "tcp",
		Address:  addr,
		Listener: tl,
		Version:  MySQLVersion,
	}
	srv, err := server.NewServerWithHandler(cfg, engine, sql.NewContext, memory.NewSessionBuilder(pro), nil,
		func(inner mysql.Handler) (mysql.Handler, error) {
			h.Handler = inner
			return h, nil
		})
	if err != nil {
		tl.Close()
		engine.Close()
		return nil, fmt.Errorf("embedded: mysql: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Start()
	}()

	return &Server{
		URL:           fmt.Sprintf("db+mysql://root@%s/%s", addr, database),
		Addr:          addr,
		Product:       "go-mysql-server",
		Version:       moduleVersion("github.com/dolthub/go-mysql-server"),
		ServerVersion: MySQLVersion,
		close: func() error {
			err := srv.Close() // stops accepting; closes tl
			tl.Close()         // (again:) ends open connections
			<-done             // the accept loop has returned
			tl.wait()          // every connection's handler has returned
			// Engine.Close reports the context.Canceled it stops its
			// background threads with.
			if cerr := engine.Close(); err == nil && !errors.Is(cerr, context.Canceled) {
				err = cerr
			}
			return err
		},
	}, nil
}

// identifier is what StartMySQL accepts as a database name: it goes
// unquoted into SQL and into Server.URL.
var identifier = regexp.MustCompile(`^[A-Za-z0-9_$]{1,64}$`)

var quietMySQLOnce sync.Once

// quietMySQL stops go-mysql-server and Vitess from writing to stderr.
func quietMySQL() {
	quietMySQLOnce.Do(func() {
		logrus.SetOutput(io.Discard)
		logrus.SetLevel(logrus.PanicLevel)
		nop := func(...any) {}
		nopf := func(string, ...any) {}
		vtlog.Info, vtlog.Warning, vtlog.Error = nop, nop, nop
		vtlog.Infof, vtlog.Warningf, vtlog.Errorf = nopf, nopf, nopf
	})
}

// serialHandler runs the wrapped handler's commands one at a time, because
// go-mysql-server's in-memory tables are not safe for concurrent use
// (README, "Limitations of the in-memory database implementation"): with
// concurrent statements, TestMySQLConcurrentCelery loses rows and the race
// detector reports data races in the memory package.
type serialHandler struct {
	mysql.Handler
	mu sync.Mutex
}

func (h *serialHandler) ConnectionClosed(c *mysql.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.Handler.ConnectionClosed(c)
}

func (h *serialHandler) ComInitDB(c *mysql.Conn, schemaName string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Handler.ComInitDB(c, schemaName)
}

func (h *serialHandler) ComQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) error {
	query = autocommitOnly(query)
	if !tableFree.MatchString(query) {
		h.mu.Lock()
		defer h.mu.Unlock()
	}
	return mysqlError(h.Handler.ComQuery(ctx, c, query, callback))
}

// tableFree matches statements that touch no table, only the session's and
// the server's variables, which go-mysql-server guards itself: the
// per-connection setup every Celery connection sends (SET NAMES, the
// SELECT VERSION(), DATABASE() and @@variable probes) and, with every
// statement committed as it ends (autocommitOnly), COMMIT and ROLLBACK.
// These run without waiting for serialHandler's lock; they are 10 of the 11
// statements of a caller's poll.
var tableFree = regexp.MustCompile(`(?is)^\s*(` +
	`SET\s+NAMES\s+'?\w+'?(\s+COLLATE\s+'?\w+'?)?` +
	`|SET\s+autocommit\s*=\s*1` +
	`|SELECT\s+(@@[\w.]+|VERSION\(\)|DATABASE\(\))` +
	`|COMMIT|ROLLBACK` +
	`)\s*;?\s*$`)

func (h *serialHandler) ComMultiQuery(ctx context.Context, c *mysql.Conn, query string, callback mysql.ResultSpoolFn) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rest, err := h.Handler.ComMultiQuery(ctx, c, autocommitOnly(query), callback)
	return rest, mysqlError(err)
}

func (h *serialHandler) ComPrepare(ctx context.Context, c *mysql.Conn, query string, prepare *mysql.PrepareData) ([]*querypb.Field, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Handler.ComPrepare(ctx, c, query, prepare)
}

func (h *serialHandler) ComStmtExecute(ctx context.Context, c *mysql.Conn, prepare *mysql.PrepareData, callback func(*sqltypes.Result) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Handler.ComStmtExecute(ctx, c, prepare, callback)
}

func (h *serialHandler) ComResetConnection(c *mysql.Conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.Handler.ComResetConnection(c)
}

// mysqlError gives go-mysql-server errors that MySQL reports under a
// specific number that number.
//
// A value too long for its column (strict mode, as Celery meets with a
// pickle over BLOB's 65,535 bytes) comes out of go-mysql-server as 1105
// ER_UNKNOWN_ERROR, "string '<the whole value>' is too large for column
// '<type>'". MySQL answers 1406 ER_DATA_TOO_LONG, SQLSTATE 22001; so does
// this function, without echoing the value.
func mysqlError(err error) error {
	var se *mysql.SQLError
	if !errors.As(err, &se) || se.Num != mysql.ERUnknownError {
		return err
	}
	const pre, mid = "string '", "' is too large for column '"
	if i := strings.LastIndex(se.Message, mid); i >= 0 && strings.HasPrefix(se.Message, pre) {
		typ := strings.TrimSuffix(se.Message[i+len(mid):], "'")
		return mysql.NewSQLError(mysql.ERDataTooLong, mysql.SSDataTooLong,
			"Data too long for a column of type %s", typ)
	}
	return err
}

// transactionStart matches the statements that would make a transaction
// span several statements: turning autocommit off (PyMySQL's
// "SET AUTOCOMMIT = 0", MySQLdb's "SET autocommit=0"), BEGIN and START
// TRANSACTION. Each must be the whole query.
var transactionStart = regexp.MustCompile(`(?is)^\s*(` +
	`SET\s+(@@(SESSION\.|LOCAL\.)?|SESSION\s+|LOCAL\s+)?autocommit\s*:?=\s*(0|off|false)` +
	`|BEGIN(\s+WORK)?` +
	`|START\s+TRANSACTION(\s+READ\s+(WRITE|ONLY))?` +
	`)\s*;?\s*$`)

// autocommitOnly replaces a query that transactionStart matches with
// "SET autocommit = 1", so that every statement is its own transaction.
//
// go-mysql-server's memory sessions give a transaction a private copy of
// each table it writes, and COMMIT puts that copy back whole: when two
// transactions overlap, the later COMMIT discards the earlier one's rows.
// Celery's connections all run with autocommit off, and their transactions
// overlap all the time (a worker's SELECT, INSERT, UPDATE, COMMIT while
// callers poll), so rows went missing, the unique index's storage came
// apart and an index scan then never ended (TestMySQLConcurrentCelery hung).
// In autocommit mode each statement commits as it ends, and as
// serialHandler runs one statement at a time, no two transactions overlap.
//
// What clients see: SET AUTOCOMMIT = 0, BEGIN and START TRANSACTION
// succeed; @@autocommit stays 1; COMMIT and ROLLBACK succeed and change
// nothing, as every statement is committed already. A query that turns
// autocommit off together with something else ("SET autocommit=0,
// sql_mode=TRADITIONAL") is left alone, and brings the lost-rows problem back.
func autocommitOnly(query string) string {
	if transactionStart.MatchString(query) {
		return "SET autocommit = 1"
	}
	return query
}
