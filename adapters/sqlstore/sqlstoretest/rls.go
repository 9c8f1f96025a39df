package sqlstoretest

import (
	"context"
	"database/sql"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
)

// RLS is a PostgreSQL schema set up as a production deployment with
// row-level security is: an owner role that is not a superuser migrated
// it, and the service connects as a runtime role that owns nothing, is no
// superuser and has no BYPASSRLS, granted by sqlstore.GrantRuntime.
type RLS struct {
	// Runtime is the store the service would use (the runtime role).
	Runtime *sqlstore.Store
	// Owner is the store the migrations ran through (the owner role).
	Owner *sqlstore.Store
	// RuntimeRole and OwnerRole are the two roles' names.
	RuntimeRole, OwnerRole string
	// RuntimeURL is the runtime role's URL of the schema.
	RuntimeURL string
}

// NewPostgresRLS creates both roles (random names; superusers bypass
// row-level security, so the test must not connect as one) and a schema
// owned by the owner role in the ORGSTACK_TEST_POSTGRES_URL database,
// migrates it as the owner and grants the runtime role. The schema and the
// roles are dropped when the test ends. It skips the test when the variable
// is unset.
func NewPostgresRLS(t testing.TB) RLS {
	t.Helper()
	r, ownerURL := EmptyPostgresRLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r.Owner = open(t, ownerURL)
	if err := r.Owner.GrantRuntime(ctx, r.RuntimeRole); err != nil {
		t.Fatalf("sqlstoretest: %v", err)
	}
	rt, err := sqlstore.Open(ctx, r.RuntimeURL)
	if err != nil {
		t.Fatalf("sqlstoretest: open as %s: %v", r.RuntimeRole, err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Errorf("sqlstoretest: close: %v", err)
		}
	})
	r.Runtime = rt
	return r
}

// EmptyPostgresRLS is NewPostgresRLS without the stores: the roles and an
// empty schema owned by the owner role, not migrated; it returns the
// owner's URL of the schema.
func EmptyPostgresRLS(t testing.TB) (r RLS, ownerURL string) {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		t.Skip(PostgresURLEnv + " is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("sqlstoretest: open %s: %v", PostgresURLEnv, err)
	}
	suffix := randomHex(t, 6)
	r = RLS{RuntimeRole: "orgstack_rt_" + suffix, OwnerRole: "orgstack_owner_" + suffix}
	exec := func(q string) {
		t.Helper()
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatalf("sqlstoretest: %s: %v", q, err)
		}
	}
	exec("CREATE ROLE " + r.OwnerRole + " LOGIN NOSUPERUSER NOBYPASSRLS")
	exec("CREATE ROLE " + r.RuntimeRole + " LOGIN NOSUPERUSER NOBYPASSRLS")
	// Registered first, so it runs last: after the schema (and with it
	// every grant to the roles) is gone.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, role := range []string{r.RuntimeRole, r.OwnerRole} {
			if _, err := admin.ExecContext(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
				t.Errorf("sqlstoretest: drop role %s: %v", role, err)
			}
		}
		_ = admin.Close()
	})
	u, err := url.Parse(schemaURL(t, base))
	if err != nil {
		t.Fatal(err)
	}
	exec("ALTER SCHEMA " + u.Query().Get("search_path") + " OWNER TO " + r.OwnerRole)
	u.User = url.User(r.OwnerRole)
	ownerURL = u.String()
	u.User = url.User(r.RuntimeRole)
	r.RuntimeURL = u.String()
	return r, ownerURL
}
