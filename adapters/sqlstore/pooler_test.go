package sqlstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
	"github.com/orgstack/orgstack/ports/storetest"
)

// poolerModes are the pgx query modes that need no named prepared statement
// kept on a session, so they work behind PgBouncer in transaction mode.
var poolerModes = []string{"exec", "simple_protocol", "cache_describe"}

// TestContractPostgresPoolerModes runs the whole store contract on
// PostgreSQL with default_query_exec_mode=exec and =simple_protocol in the
// URL: the store passes the mode through to pgx and runs every statement in
// it, the hot paths included. (cache_describe, the third pooler-safe mode,
// is covered by TestPoolerModesPrepareNothing; the whole suite costs about
// a minute of CPU per mode.)
func TestContractPostgresPoolerModes(t *testing.T) {
	if os.Getenv(sqlstoretest.PostgresURLEnv) == "" {
		t.Skip(sqlstoretest.PostgresURLEnv + " is not set")
	}
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) ports.Store {
				return sqlstoretest.Open(t, sqlstoretest.PostgresSchemaURL(t)+"&default_query_exec_mode="+mode)
			})
		})
	}
}

// TestPoolerModesPrepareNothing: with a pooler-safe mode in the URL the hot
// paths and lists leave no named prepared statement on the connection
// (which, behind a transaction-mode pooler, would belong to another
// client's session), while the default mode does prepare them (see
// TestPostgresHotPathsArePrepared).
func TestPoolerModesPrepareNothing(t *testing.T) {
	base := sqlstoretest.PostgresSchemaURL(t)
	for _, mode := range poolerModes {
		t.Run(mode, func(t *testing.T) {
			s := sqlstoretest.Open(t, base+"&default_query_exec_mode="+mode)
			ctx := context.Background()
			s.DB().SetMaxOpenConns(1) // so the check below sees the same connection
			exercise(t, ctx, s)
			var n int
			if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM pg_prepared_statements`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("prepared statements on the connection: got %d, want 0", n)
			}
		})
	}
}

func exercise(t *testing.T, ctx context.Context, s *sqlstore.Store) {
	t.Helper()
	for range 3 {
		if _, err := s.LoadAccess(ctx, domain.ParseOrgRef("acme"), "iss", "sub"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckFacts(ctx, "org", ports.CheckSubject{UserID: "u"}, domain.PermMembersRead); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.AccessAndCheckFacts(ctx, domain.ParseOrgRef("acme"), "iss", "sub",
			ports.CheckSubject{UserID: "u"}, domain.PermMembersRead); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Memberships().List(ctx, ports.MemberFilter{OrgID: "org", PageRequest: ports.PageRequest{Page: 1, Size: 50}}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInvalidQueryExecModeIsRefused: a mode pgx does not know fails Open
// instead of falling back silently.
func TestInvalidQueryExecModeIsRefused(t *testing.T) {
	base := sqlstoretest.PostgresSchemaURL(t)
	if s, err := sqlstore.Open(t.Context(), base+"&default_query_exec_mode=bogus"); err == nil {
		_ = s.Close()
		t.Fatal("Open accepted default_query_exec_mode=bogus")
	}
}
