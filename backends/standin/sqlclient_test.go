package standin

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// This file holds a client that talks to MySQL as Celery's SQLAlchemy
// backend does through PyMySQL: text-protocol COM_QUERY only, values spelled
// into the SQL, no prepared statements, no BEGIN.

// sqlConn is one client connection.
type sqlConn struct {
	c driver.Conn
}

// dialSQL opens a connection to addr as root with no password, using
// database db ("" for none).
func dialSQL(ctx context.Context, addr, db string) (*sqlConn, error) {
	cfg := mysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = addr
	cfg.DBName = db
	cfg.Timeout = 5 * time.Second
	cn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	c, err := cn.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &sqlConn{c: c}, nil
}

func (c *sqlConn) Close() error { return c.c.Close() }

func (c *sqlConn) Ping(ctx context.Context) error { return c.c.(driver.Pinger).Ping(ctx) }

// sqlResult is what one statement returned, in a form two servers can be
// compared on.
type sqlResult struct {
	Cols     []string
	Rows     [][]string // NULL is "NULL"; []byte is shown with %q
	Affected int64
	InsertID int64
	Err      uint16 // MySQL error number, 0 for none
	ErrText  string
}

func (r sqlResult) String() string {
	if r.Err != 0 || r.ErrText != "" {
		return fmt.Sprintf("error %d (%s)", r.Err, r.ErrText)
	}
	if r.Cols != nil {
		return fmt.Sprintf("cols %q rows %q", r.Cols, r.Rows)
	}
	return fmt.Sprintf("affected %d insert_id %d", r.Affected, r.InsertID)
}

// equal reports whether a and b are the same answer, ignoring error texts.
func (r sqlResult) equal(o sqlResult) bool {
	if r.Err != 0 || o.Err != 0 || r.ErrText != "" || o.ErrText != "" {
		return r.Err == o.Err && (r.Err != 0 || r.ErrText == o.ErrText)
	}
	return fmt.Sprint(r.Cols, r.Rows, r.Affected, r.InsertID) == fmt.Sprint(o.Cols, o.Rows, o.Affected, o.InsertID)
}

// run sends query as one COM_QUERY. Statements that start with SELECT go
// through QueryerContext, the rest through ExecerContext; args are nil, so
// go-sql-driver sends the text unchanged.
func (c *sqlConn) run(ctx context.Context, query string) sqlResult {
	var res sqlResult
	if strings.HasPrefix(strings.TrimSpace(strings.ToUpper(query)), "SELECT") {
		rows, err := c.c.(driver.QueryerContext).QueryContext(ctx, query, nil)
		if err != nil {
			return errResult(err)
		}
		defer rows.Close()
		res.Cols = rows.Columns()
		res.Rows = [][]string{}
		vals := make([]driver.Value, len(res.Cols))
		for {
			err := rows.Next(vals)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return errResult(err)
			}
			row := make([]string, len(vals))
			for i, v := range vals {
				switch v := v.(type) {
				case nil:
					row[i] = "NULL"
				case []byte:
					row[i] = fmt.Sprintf("%q", v)
				default:
					row[i] = fmt.Sprint(v)
				}
			}
			res.Rows = append(res.Rows, row)
		}
		return res
	}
	r, err := c.c.(driver.ExecerContext).ExecContext(ctx, query, nil)
	if err != nil {
		return errResult(err)
	}
	res.Affected, _ = r.RowsAffected()
	res.InsertID, _ = r.LastInsertId()
	return res
}

func errResult(err error) sqlResult {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return sqlResult{Err: me.Number, ErrText: me.Message}
	}
	return sqlResult{ErrText: err.Error()}
}

// mustRun runs query and fails t if it returns an error.
func (c *sqlConn) mustRun(t testing.TB, ctx context.Context, query string) sqlResult {
	t.Helper()
	r := c.run(ctx, query)
	if r.Err != 0 || r.ErrText != "" {
		t.Fatalf("%s: %v", abbrev(query), r)
	}
	return r
}

// pymysqlEscape quotes b as PyMySQL's escape_bytes does for a BLOB value:
// the raw bytes inside '…', escaping only NUL, backslash, LF, CR, 0x1A and
// both quotes, and no _binary prefix.
func pymysqlEscape(b []byte) string {
	var s strings.Builder
	s.WriteByte('\'')
	for _, c := range b {
		switch c {
		case 0:
			s.WriteString(`\0`)
		case '\\':
			s.WriteString(`\\`)
		case '\n':
			s.WriteString(`\n`)
		case '\r':
			s.WriteString(`\r`)
		case 0x1a:
			s.WriteString(`\Z`)
		case '"':
			s.WriteString(`\"`)
		case '\'':
			s.WriteString(`\'`)
		default:
			s.WriteByte(c)
		}
	}
	s.WriteByte('\'')
	return s.String()
}

// abbrev shortens a statement for messages.
func abbrev(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 90 {
		q = q[:90] + "…"
	}
	return fmt.Sprintf("%q", q)
}
