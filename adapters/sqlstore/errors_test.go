package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// TestTranslateUnavailable: connection-class errors become a
// *ports.UnavailableError, decided by type and SQLSTATE; everything else
// keeps its meaning, whatever its message says.
func TestTranslateUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.AddrError{Err: "x"}}
	tests := []struct {
		name string
		give error
		want bool
	}{
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"net.OpError", refused, true},
		{"pgconn.ConnectError", &pgconn.ConnectError{}, true},
		{"deadline while acquiring", fmt.Errorf("acquire: %w", context.DeadlineExceeded), true},
		{"bad connection", driver.ErrBadConn, true},
		{"08006 connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"08001 cannot connect", &pgconn.PgError{Code: "08001"}, true},
		{"57P01 admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"57P03 cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"53300 too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"57014 statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"23505 unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"42P01 undefined table", &pgconn.PgError{Code: "42P01", Message: "connection refused"}, false},
		{"message text alone", errors.New("connection refused: timeout"), false},
		{"client cancelled", context.Canceled, false},
		{"no rows", sql.ErrNoRows, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := translate(tt.give, "op", domain.ErrSlugTaken)
			if got := ports.IsUnavailable(err); got != tt.want {
				t.Errorf("translate(%v) = %v; unavailable %v, want %v", tt.give, err, got, tt.want)
			}
			if got := ports.IsUnavailable(unavailable(tt.give)); got != tt.want {
				t.Errorf("unavailable(%v): %v, want %v", tt.give, got, tt.want)
			}
		})
	}
	if err := unavailable(domain.ErrLastOwner); err != domain.ErrLastOwner { //nolint:errorlint // identity is the point
		t.Errorf("unavailable(domain error) = %v, want it unchanged", err)
	}
}
