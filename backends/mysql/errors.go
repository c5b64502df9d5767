package mysql

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/celery-bench/bench/backends"
	"github.com/celery-bench/bench/backends/mysqldialect"
)

// connError is a failed connection attempt: a one-line message naming the
// problem and the fix, wrapping the driver's or the network's error.
type connError struct {
	msg string
	err error
}

func (e *connError) Error() string { return e.msg }
func (e *connError) Unwrap() error { return e.err }

const hintUnreachable = mysqldialect.HintUnreachable

// connectError explains why Connect failed. ctx is the caller's context,
// dctx the one bounded by ConnectTimeout.
func (b *backend) connectError(ctx, dctx context.Context, err error) error {
	addr := b.cfg.Addr
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("mysql: connecting to %s: %w", addr, cerr)
	}
	if errors.Is(dctx.Err(), context.DeadlineExceeded) {
		return &connError{fmt.Sprintf("mysql: cannot connect to %s: no answer within %v %s", addr, b.opts.ConnectTimeout, hintUnreachable), err}
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		var msg string
		switch me.Number {
		case 1045, 1698: // ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR (MariaDB's unix_socket users)
			msg = fmt.Sprintf("mysql: %s rejected user %q (%v): check the user and password in --backend", addr, b.cfg.User, me)
		case 1044: // ER_DBACCESS_DENIED_ERROR
			msg = fmt.Sprintf("mysql: %s denied user %q the database %q (%v): grant access or name another database in --backend", addr, b.cfg.User, b.cfg.Database, me)
		case 1049: // ER_BAD_DB_ERROR
			msg = fmt.Sprintf("mysql: %s has no database %q (%v): check the database name in --backend (bench creates it when it prepares a run)", addr, b.cfg.Database, me)
		case 1130: // ER_HOST_NOT_PRIVILEGED
			msg = fmt.Sprintf("mysql: %s does not let this host in (%v): grant user %q access from this host", addr, me, b.cfg.User)
		default:
			msg = fmt.Sprintf("mysql: %s refused the connection (%v)", addr, me)
		}
		return &connError{msg, err}
	}
	reason := backends.DialReason(err)
	return &connError{fmt.Sprintf("mysql: cannot connect to %s: %s %s", addr, reason, hintUnreachable), err}
}
