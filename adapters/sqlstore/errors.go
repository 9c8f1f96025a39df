package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/orgstack/orgstack/domain"
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

// translate maps a database error to a domain error: no rows → ErrNotFound,
// a unique violation → conflict (the sentinel the caller names), a foreign
// key violation (a referenced organization or user is missing) →
// ErrNotFound. Anything else is wrapped as an internal error with op.
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
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}
