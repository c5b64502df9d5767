package standin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// MySQLVersion is the version the embedded MySQL announces in its handshake
// and returns for SELECT VERSION(). It names no MariaDB, so SQLAlchemy (and
// bench) pick the MySQL dialect: AUTO_INCREMENT keys, no sequences, and
// @@transaction_isolation rather than @@tx_isolation.
const MySQLVersion = "8.0.31"

// mysqlProduct is Server.Product for the embedded MySQL.
const mysqlProduct = "bench-mysql-standin"

// StartMySQL starts the embedded MySQL on a free port of 127.0.0.1 with an
// empty database named database, and returns once it accepts connections.
// ctx bounds only the start; the server runs until Server.Close, which
// discards the data. Any user name and password are accepted; Server.URL
// names root with none. database must be a plain identifier (letters,
// digits, '_' and '$').
//
// The server is a small MySQL of its own (this package, standard library
// only): MySQL 8.0's wire protocol, text COM_QUERY, and the statements
// Celery's SQLAlchemy backend sends through PyMySQL (and so bench's mysql
// backend): the dialect probes, SET, BEGIN/COMMIT/ROLLBACK, CREATE
// DATABASE/TABLE/INDEX, information_schema.tables and .columns, and
// single-table SELECT, INSERT, UPDATE and DELETE with WHERE conditions of
// =, <, LIKE, IN, IS NULL, AND, OR and NOT. A statement it does not know
// gets an ERR packet naming it. It differs from MySQL 8.0 in these ways:
//
//   - Transactions are serialised: the first statement of a transaction
//     that touches a table waits until no other connection's transaction
//     has; a transaction then runs alone until it commits or rolls back
//     (with autocommit on, until its statement ends), and a wait longer
//     than 50 s (innodb_lock_wait_timeout) fails with 1205. So a client
//     that leaves a transaction open stalls the others, where InnoDB would
//     let them read. Statements that touch no table (SET, the VERSION(),
//     DATABASE() and @@variable probes) never wait. ROLLBACK undoes, and a
//     failed statement changes nothing.
//   - Rows live in Go maps keyed by the primary key, with one map per
//     UNIQUE column, so the lookups Celery makes (task_id = '…', id = N)
//     cost the same whatever the table holds (BenchmarkMySQLStoreResult);
//     other conditions (cleanup by prefix or by date_done) scan the table.
//   - Text columns compare case-insensitively but not accent-insensitively
//     (utf8mb4_0900_ai_ci would do both); a failed INSERT uses up no
//     AUTO_INCREMENT value.
//   - A table needs a PRIMARY KEY of one INTEGER column; column types are
//     INTEGER, VARCHAR(n), TEXT, BLOB and DATETIME[(fsp)]; there are no
//     joins, GROUP BY, subqueries or prepared statements.
//
// What MySQL 8.0 does and Celery meets is kept: strict mode (a BLOB over
// 65,535 bytes fails with 1406), DATETIME rounding of fractions, 1062 for a
// duplicate task_id, backslash escapes in string literals (unless the
// session sets NO_BACKSLASH_ESCAPES), and rows affected as CLIENT_FOUND_ROWS
// asks.
func StartMySQL(ctx context.Context, database string) (*Server, error) {
	if !plainIdentifier(database) {
		return nil, fmt.Errorf("embedded: mysql: database name %q is not a plain identifier", database)
	}
	s := &mysqlServer{
		version:  MySQLVersion,
		lockWait: lockWaitTimeout,
		txLock:   make(chan struct{}, 1),
		done:     make(chan struct{}),
		dbs:      map[string]*mysqlDB{database: {name: database, tables: map[string]*table{}}},
	}
	l, err := listen(ctx)
	if err != nil {
		return nil, fmt.Errorf("embedded: mysql: %w", err)
	}
	tl := newConnTracker(l)
	addr := l.Addr().String()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		s.acceptLoop(tl)
	}()
	return &Server{
		URL:           fmt.Sprintf("db+mysql://root@%s/%s", addr, database),
		Addr:          addr,
		Product:       mysqlProduct,
		Version:       moduleVersion("github.com/celery-bench/bench"),
		ServerVersion: MySQLVersion,
		close: func() error {
			close(s.done)     // wakes connections waiting for the lock
			err := tl.Close() // stops accepting; ends open connections
			<-accepted
			tl.wait() // every connection's handler has returned
			return err
		},
	}, nil
}

// acceptLoop serves each connection on a goroutine of its own until the
// listener closes.
func (s *mysqlServer) acceptLoop(l net.Listener) {
	var ids atomic.Uint32
	for {
		c, err := l.Accept()
		if err != nil {
			select {
			case <-s.done:
				return
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. out of file descriptors
			continue
		}
		go s.serve(c, ids.Add(1))
	}
}

// plainIdentifier reports whether s is what StartMySQL accepts as a
// database name, 1 to 64 of A-Z, a-z, 0-9, '_' and '$': it goes unquoted
// into SQL and into Server.URL.
func plainIdentifier(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
