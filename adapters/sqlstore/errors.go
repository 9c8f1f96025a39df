package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// violation is the class of a database constraint error.
type violation int

const (
	noViolation violation = iota
	uniqueViolation
	foreignKeyViolation
)

// classify returns the constraint class of err, decided by error code, never
// by message text: SQLSTATE 23505/23503 on PostgreSQL, the extended result
// codes SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY/FOREIGNKEY on SQLite.
func classify(err error) violation {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505":
			return uniqueViolation
		case "23503":
			return foreignKeyViolation
		}
		return noViolation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		switch liteErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return uniqueViolation
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return foreignKeyViolation
		}
	}
	return noViolation
}

// unreachable reports whether err means the database cannot be reached or
// did not answer in time, decided by type and code, never by message text:
// a failed connect (refused, reset, timed out), a broken connection, the
// context deadline passing (while waiting for a pooled connection or for an
// answer), or one of the SQLSTATEs of an unavailable server: class 08
// (connection exception), 57P01-57P05 (shutdown, cannot connect now, idle
// session timeout), 53300 (too many connections) and 57014 (query canceled,
// which is statement_timeout).
func unreachable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false // the caller went away; the database may be fine
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		c := pgErr.Code
		return strings.HasPrefix(c, "08") || strings.HasPrefix(c, "57P") || c == "53300" || c == "57014"
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// unavailable returns err as a *ports.UnavailableError when it means the
// database cannot be reached, and err unchanged otherwise (domain errors
// included).
func unavailable(err error) error {
	if err == nil || ports.IsUnavailable(err) || !unreachable(err) {
		return err
	}
	return &ports.UnavailableError{Dependency: "database", Err: err}
}

// translate maps a database error to a domain error: no rows → ErrNotFound,
// a unique violation → conflict (the sentinel the caller names), a foreign
// key violation (a referenced organization or user is missing) →
// ErrNotFound, a database that cannot be reached → *ports.UnavailableError.
// Anything else is wrapped as an internal error with op.
func translate(err error, op string, conflict error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return domain.ErrNotFound
	}
	switch classify(err) {
	case uniqueViolation:
		if conflict != nil {
			return conflict
		}
	case foreignKeyViolation:
		return domain.ErrNotFound
	}
	if unreachable(err) {
		return &ports.UnavailableError{Dependency: "database", Err: fmt.Errorf("sqlstore: %s: %w", op, err)}
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}
