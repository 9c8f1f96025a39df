package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
	"github.com/orgstack/orgstack/ports/storetest"
)

// rlsMigration is the migration that puts the tenant tables under
// row-level security.
const rlsMigration = "20261219000001"

// rlsExempt are the tables with an organization column that are not under
// row-level security, each with the reason: global registries read before
// the organization is known, holding no tenant data beyond the key they
// map. Keep it short; a new tenant table calls orgstack_tenant_rls in its
// migration instead (see README, "Row-level security").
var rlsExempt = map[string]string{
	"organization_slugs":          "the slug registry: resolves a slug to its organization before the organization is known (slug resolution)",
	"identity_provider_audiences": "(issuer, audience) routing of a token to its organization, before the organization is known",
	"identity_provider_changes":   "the change feed every instance polls across organizations (org_id and a counter only)",
}

// rlsViolations reads the catalog of the current schema and returns every
// table that holds tenant rows (an org_id column, or a tenant table of
// tenantTables) without row-level security enabled and forced and the
// tenant_isolation policy on its organization column, unless rlsExempt
// names it; sorted.
func rlsViolations(ctx context.Context, t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, `SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       EXISTS (SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped),
       coalesce((SELECT string_agg(p.policyname || ':' || p.cmd || ':' || coalesce(p.qual, '') || ':' || coalesce(p.with_check, ''), E'\n')
                 FROM pg_policies AS p WHERE p.schemaname = n.nspname AND p.tablename = c.relname), '')
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var (
			tb              string
			enabled, forced bool
			hasOrgID        bool
			policies        string
		)
		if err := rows.Scan(&tb, &enabled, &forced, &hasOrgID, &policies); err != nil {
			t.Fatal(err)
		}
		col, tenant := tenantTables[tb]
		if !tenant && hasOrgID {
			col, tenant = "org_id", true
		}
		if _, ok := rlsExempt[tb]; ok || !tenant {
			continue
		}
		if !enabled || !forced {
			out = append(out, fmt.Sprintf("table %s: row-level security enabled=%v forced=%v", tb, enabled, forced))
		}
		want := fmt.Sprintf("(%s = NULLIF(current_setting('orgstack.org_id'::text, true), ''::text))", col)
		if !strings.Contains(policies, "tenant_isolation:ALL:"+want+":"+want) {
			out = append(out, fmt.Sprintf("table %s: no tenant_isolation policy on %s (call orgstack_tenant_rls('%s', '%s') in its migration); has %q",
				tb, col, tb, col, policies))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRowLevelSecurityCatalog fails for any table holding tenant rows that
// is not under row-level security, and checks that it bites: before the
// row-level security migration every tenant table is reported.
func TestRowLevelSecurityCatalog(t *testing.T) {
	ctx := t.Context()
	s := sqlstoretest.NewPostgres(t)
	if got := rlsViolations(ctx, t, s.DB().DB); len(got) > 0 {
		t.Errorf("tenant tables without row-level security:\n  %s", strings.Join(got, "\n  "))
	}
	for tb := range rlsExempt {
		if _, ok := globalTables[tb]; !ok {
			t.Errorf("rlsExempt names %s, which is not a global table", tb)
		}
	}

	if _, err := s.MigrateDown(ctx); err != nil {
		t.Fatal(err)
	}
	migrateBefore(t, s, rlsMigration)
	got := strings.Join(rlsViolations(ctx, t, s.DB().DB), "\n")
	for tb := range tenantTables {
		if !strings.Contains(got, "table "+tb+": row-level security enabled=false forced=false") {
			t.Errorf("the schema before %s: want %s reported, got:\n%s", rlsMigration, tb, got)
		}
	}
	// A new table with an org_id column is caught even if nobody lists it.
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE rls_probe (org_id text NOT NULL, x int)"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(rlsViolations(ctx, t, s.DB().DB), "\n"); !strings.Contains(got, "table rls_probe: row-level security enabled=false") {
		t.Errorf("a new org_id table is not reported:\n%s", got)
	}
}

// TestContractPostgresRLS runs the whole contract suite through a store
// connected as a runtime role that is neither superuser nor owner, so that
// row-level security applies to every statement the store sends.
func TestContractPostgresRLS(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ports.Store {
		env := sqlstoretest.NewPostgresRLS(t)
		return ownerPrunes{Store: env.Runtime, owner: env.Owner}
	})
}

// ownerPrunes is the runtime store whose audit pruning runs as the owner,
// as `orgstack audit prune` does (ORGSTACK_MIGRATE_DATABASE_URL): the
// runtime role may only read and append audit events.
type ownerPrunes struct {
	*sqlstore.Store
	owner *sqlstore.Store
}

func (s ownerPrunes) PruneAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	return s.owner.PruneAuditEvents(ctx, before)
}

// TestRowLevelSecurity proves the policies through the store's own
// connections: a deliberately unfiltered query sees nothing unless the
// transaction set an organization, and then only that organization's rows;
// an unset (NULL) or empty setting fails closed; a write of another
// organization's row is refused; the cross-tenant setting reads but cannot
// write; the owner obeys too (FORCE).
func TestRowLevelSecurity(t *testing.T) {
	ctx := t.Context()
	env := sqlstoretest.NewPostgresRLS(t)
	rt := env.Runtime
	rt.SetMaxConns(1) // every statement below on the one pooled connection
	now := time.Date(2026, 12, 19, 10, 0, 0, 0, time.UTC)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u, err := domain.NewUser("0190a5c4-0000-7000-8000-0000000000aa", "https://idp.example", "alice", "a@example.com", "Alice", now)
	must(err)
	must(rt.Users().Create(ctx, u))
	var orgs []string
	for i, slug := range []string{"acme", "globex"} {
		o, err := domain.NewOrganization(fmt.Sprintf("0190a5c4-0000-7000-8000-00000000000%d", i+1), slug, slug, nil, now)
		must(err)
		must(rt.Organizations().Create(ctx, o))
		m, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner"}, now)
		must(err)
		must(rt.Memberships().Create(ctx, m))
		p, err := domain.NewCustomPermission("perm-"+slug, o.ID(), "invoices:approve", "", now)
		must(err)
		must(rt.Permissions().Create(ctx, p))
		orgs = append(orgs, o.ID())
	}
	a, b := orgs[0], orgs[1]
	key, err := domain.ParsePermissionKey("invoices:approve")
	must(err)

	orgIDs := func(t *testing.T, q interface {
		QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	}, table string) []string {
		t.Helper()
		col := "org_id"
		if table == "organizations" {
			col = "id"
		}
		rows, err := q.QueryContext(ctx, "SELECT "+col+" FROM "+table+" ORDER BY 1")
		must(err)
		defer rows.Close()
		out := []string{}
		for rows.Next() {
			var id string
			must(rows.Scan(&id))
			out = append(out, id)
		}
		must(rows.Err())
		return out
	}
	tables := []string{"organizations", "memberships", "membership_roles", "permissions"}
	inTx := func(t *testing.T, db *sql.DB, setup string, fn func(tx *sql.Tx)) {
		t.Helper()
		tx, err := db.BeginTx(ctx, nil)
		must(err)
		defer func() { _ = tx.Rollback() }()
		if setup != "" {
			_, err := tx.ExecContext(ctx, setup)
			must(err)
		}
		fn(tx)
	}

	t.Run("unfiltered query sees nothing", func(t *testing.T) {
		// After the store's own scoped transactions ran on this very
		// connection (the setting they left is '' now, not NULL).
		_, err := rt.Memberships().Get(ctx, a, u.ID())
		must(err)
		acc, facts, err := rt.AccessAndCheckFacts(ctx, domain.ParseOrgRef("acme"), u.Issuer(), u.Subject(), ports.CheckSubject{UserID: u.ID()}, key)
		must(err)
		if acc.Org == nil || acc.Org.ID() != a || acc.Membership == nil || !facts.PermissionDefined || facts.Membership == nil {
			t.Errorf("the hot path by slug through the runtime role: %+v %+v", acc, facts)
		}
		for _, tb := range tables {
			if got := orgIDs(t, rt.DB().DB, tb); len(got) != 0 {
				t.Errorf("SELECT FROM %s without WHERE, no organization set: got %v", tb, got)
			}
		}
	})
	t.Run("the organization set reads its rows only", func(t *testing.T) {
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '"+a+"', true)", func(tx *sql.Tx) {
			for _, tb := range tables {
				got := orgIDs(t, tx, tb)
				if len(got) == 0 || slices.ContainsFunc(got, func(id string) bool { return id != a }) {
					t.Errorf("%s scoped to A: got %v", tb, got)
				}
			}
		})
		// Transaction-local: gone after the transaction.
		if got := orgIDs(t, rt.DB().DB, "memberships"); len(got) != 0 {
			t.Errorf("after the scoped transaction: got %v", got)
		}
	})
	t.Run("NULL and empty fail closed", func(t *testing.T) {
		c, err := pgx.Connect(ctx, env.RuntimeURL)
		must(err)
		defer c.Close(context.Background())
		var isNull bool
		must(c.QueryRow(ctx, "SELECT current_setting('orgstack.org_id', true) IS NULL").Scan(&isNull))
		if !isNull {
			t.Fatal("a new session: the setting is not NULL")
		}
		var n int
		must(c.QueryRow(ctx, "SELECT count(*) FROM memberships").Scan(&n))
		if n != 0 {
			t.Errorf("setting NULL: %d memberships visible", n)
		}
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '', true)", func(tx *sql.Tx) {
			for _, tb := range tables {
				if got := orgIDs(t, tx, tb); len(got) != 0 {
					t.Errorf("setting '': %s shows %v", tb, got)
				}
			}
		})
	})
	t.Run("writes of another organization refused", func(t *testing.T) {
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '"+a+"', true)", func(tx *sql.Tx) {
			_, err := tx.ExecContext(ctx, `INSERT INTO permissions (id, org_id, "key", description, created_at, updated_at)
VALUES ('perm-x', $1, 'things:do', '', now(), now())`, b)
			if err == nil || !strings.Contains(err.Error(), "row-level security") {
				t.Errorf("insert into B scoped to A: got %v, want a row-level security violation", err)
			}
		})
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '"+a+"', true)", func(tx *sql.Tx) {
			_, err := tx.ExecContext(ctx, `UPDATE permissions SET org_id = $1 WHERE org_id = $2`, b, a)
			if err == nil || !strings.Contains(err.Error(), "row-level security") {
				t.Errorf("moving A's row to B: got %v, want a row-level security violation", err)
			}
		})
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '"+a+"', true)", func(tx *sql.Tx) {
			res, err := tx.ExecContext(ctx, `DELETE FROM permissions WHERE org_id = $1`, b)
			must(err)
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("deleting B's rows scoped to A: %d deleted", n)
			}
		})
		// Through the repositories: B's row is still there.
		if _, err := rt.Permissions().Get(ctx, b, key); err != nil {
			t.Errorf("B's permission after the refused writes: %v", err)
		}
	})
	t.Run("cross-tenant read cannot write", func(t *testing.T) {
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.cross_tenant', 'read', true)", func(tx *sql.Tx) {
			if got := orgIDs(t, tx, "memberships"); !slices.Equal(got, []string{a, b}) {
				t.Errorf("cross-tenant read: got %v", got)
			}
			res, err := tx.ExecContext(ctx, `UPDATE permissions SET description = 'x'`)
			must(err)
			if n, _ := res.RowsAffected(); n != 0 {
				t.Errorf("cross-tenant update: %d rows changed", n)
			}
			_, err = tx.ExecContext(ctx, `INSERT INTO permissions (id, org_id, "key", description, created_at, updated_at)
VALUES ('perm-y', $1, 'things:do', '', now(), now())`, b)
			if err == nil || !strings.Contains(err.Error(), "row-level security") {
				t.Errorf("cross-tenant insert: got %v, want a row-level security violation", err)
			}
		})
	})
	t.Run("rows of no organization: the sentinel only", func(t *testing.T) {
		actor := domain.Actor{Kind: domain.ActorUser, Issuer: u.Issuer(), Subject: u.Subject(), UserID: u.ID()}
		userEv, err := domain.NewAuditEvent("0190a5c4-0000-7000-8000-0000000000e1", now, actor, "", domain.ActionUserUpdated, u.ID(), nil, domain.RequestInfo{})
		must(err)
		orgEv, err := domain.NewAuditEvent("0190a5c4-0000-7000-8000-0000000000e2", now, actor, a, domain.ActionRoleCreated, "r", nil, domain.RequestInfo{})
		must(err)
		must(rt.AuditEvents().Append(ctx, userEv))
		must(rt.AuditEvents().Append(ctx, orgEv))
		for _, tb := range []string{"audit_events", "idempotency_keys"} {
			if got := orgIDs(t, rt.DB().DB, tb); len(got) != 0 {
				t.Errorf("%s, no organization set: got %v", tb, got)
			}
			inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '', true)", func(tx *sql.Tx) {
				if got := orgIDs(t, tx, tb); len(got) != 0 {
					t.Errorf("%s, setting '': got %v", tb, got)
				}
			})
		}
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '-', true)", func(tx *sql.Tx) {
			if got := orgIDs(t, tx, "audit_events"); !slices.Equal(got, []string{""}) {
				t.Errorf("audit_events, the no-organization sentinel: got %v, want only the user's event", got)
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (org_id, scope, fingerprint, status, content_type, location, etag, body, created_at, expires_at)
VALUES ($1, '\x01', '\x01', 200, '', '', '', '\x', 0, 0)`, a)
			if err == nil || !strings.Contains(err.Error(), "row-level security") {
				t.Errorf("an organization's key written under the sentinel: got %v", err)
			}
		})
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '"+a+"', true)", func(tx *sql.Tx) {
			if got := orgIDs(t, tx, "audit_events"); !slices.Equal(got, []string{a}) {
				t.Errorf("audit_events scoped to A: got %v", got)
			}
		})
		// The platform's view (admin audit) is a cross-tenant read.
		es, err := rt.AuditEvents().List(ctx, ports.AuditEventFilter{Limit: 10})
		must(err)
		if len(es) != 2 {
			t.Errorf("admin audit list: %d events, want 2", len(es))
		}
	})
	t.Run("audit events are append-only for the runtime role", func(t *testing.T) {
		if _, err := rt.PruneAuditEvents(ctx, now.Add(time.Hour)); err == nil {
			t.Error("the runtime role pruned audit events")
		}
		inTx(t, rt.DB().DB, "SELECT set_config('orgstack.org_id', '"+a+"', true)", func(tx *sql.Tx) {
			_, err := tx.ExecContext(ctx, "DELETE FROM audit_events")
			if err == nil || !strings.Contains(err.Error(), "permission denied") {
				t.Errorf("runtime DELETE FROM audit_events: got %v, want permission denied", err)
			}
		})
	})
	t.Run("the owner obeys too", func(t *testing.T) {
		if got := orgIDs(t, env.Owner.DB().DB, "memberships"); len(got) != 0 {
			t.Errorf("the owner, no organization set: got %v", got)
		}
	})
	t.Run("the runtime role owns nothing and cannot lift the policies", func(t *testing.T) {
		_, err := rt.DB().ExecContext(ctx, "ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY")
		if err == nil {
			t.Error("the runtime role altered a table")
		}
		var superuser, bypass bool
		must(rt.DB().QueryRowContext(ctx, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").Scan(&superuser, &bypass))
		if superuser || bypass {
			t.Errorf("runtime role: superuser=%v bypassrls=%v", superuser, bypass)
		}
	})
	t.Run("grant refuses a role that bypasses row-level security", func(t *testing.T) {
		err := env.Owner.GrantRuntime(ctx, "postgres")
		if err == nil || !strings.Contains(err.Error(), "bypasses row-level security") {
			t.Errorf("grant to postgres: got %v", err)
		}
	})
	t.Run("grants", func(t *testing.T) {
		var privs string
		must(rt.DB().QueryRowContext(ctx, `SELECT string_agg(privilege_type, ',' ORDER BY privilege_type)
FROM information_schema.role_table_grants WHERE grantee = current_user AND table_schema = current_schema() AND table_name = 'bun_migrations'`).Scan(&privs))
		if privs != sqlstore.RuntimePrivileges["bun_migrations"] {
			t.Errorf("runtime privileges on bun_migrations: %q", privs)
		}
		// The runtime role reads the migration status (serve does at start)
		// without the CREATE privilege bun's Init would need. (The lock
		// holds a connection of its own.)
		rt.SetMaxConns(2)
		_, pending, err := rt.MigrationStatus(ctx)
		must(err)
		if len(pending) != 0 {
			t.Errorf("pending: %v", pending)
		}
	})
}

// BenchmarkAccessAndCheckFactsRLS is the check's one statement (and its
// scoping, one round trip) through a role under row-level security.
func BenchmarkAccessAndCheckFactsRLS(b *testing.B) {
	ctx := b.Context()
	s := sqlstoretest.NewPostgresRLS(b).Runtime
	now := time.Now()
	u, err := domain.NewUser("0190a5c4-0000-7000-8000-0000000000aa", "https://idp.example", "alice", "", "", now)
	if err != nil {
		b.Fatal(err)
	}
	o, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000001", "acme", "Acme", nil, now)
	if err != nil {
		b.Fatal(err)
	}
	m, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner"}, now)
	if err != nil {
		b.Fatal(err)
	}
	for _, err := range []error{s.Users().Create(ctx, u), s.Organizations().Create(ctx, o), s.Memberships().Create(ctx, m)} {
		if err != nil {
			b.Fatal(err)
		}
	}
	key, err := domain.ParsePermissionKey("members:read")
	if err != nil {
		b.Fatal(err)
	}
	ref := domain.ParseOrgRef(o.ID())
	b.ReportAllocs()
	for b.Loop() {
		acc, _, err := s.AccessAndCheckFacts(ctx, ref, u.Issuer(), u.Subject(), ports.CheckSubject{UserID: u.ID()}, key)
		if err != nil || acc.Membership == nil {
			b.Fatal(acc, err)
		}
	}
}

// TestRowLevelSecurityPoolerModes: in the pooler-safe modes (the batch runs
// in the URL's mode; simple_protocol sends it as one multi-statement query)
// the hot paths still scope their transaction, through a role under
// row-level security, and leave nothing set behind.
func TestRowLevelSecurityPoolerModes(t *testing.T) {
	env := sqlstoretest.NewPostgresRLS(t)
	ctx := t.Context()
	now := time.Now()
	u, err := domain.NewUser("0190a5c4-0000-7000-8000-0000000000aa", "https://idp.example", "alice", "", "", now)
	if err != nil {
		t.Fatal(err)
	}
	o, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000001", "acme", "Acme", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	m, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{env.Runtime.Users().Create(ctx, u), env.Runtime.Organizations().Create(ctx, o), env.Runtime.Memberships().Create(ctx, m)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	key, err := domain.ParsePermissionKey("members:read")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"cache_describe", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			s, err := sqlstore.Open(ctx, env.RuntimeURL+"&default_query_exec_mode="+mode)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.SetMaxConns(1)
			for _, ref := range []string{o.ID(), "acme"} {
				acc, facts, err := s.AccessAndCheckFacts(ctx, domain.ParseOrgRef(ref), u.Issuer(), u.Subject(), ports.CheckSubject{UserID: u.ID()}, key)
				if err != nil || acc.Org == nil || acc.Membership == nil || facts.Membership == nil {
					t.Errorf("check in %s: %+v %+v %v", ref, acc, facts, err)
				}
				acc, err = s.LoadAccess(ctx, domain.ParseOrgRef(ref), u.Issuer(), u.Subject())
				if err != nil || acc.Membership == nil {
					t.Errorf("access in %s: %+v %v", ref, acc, err)
				}
			}
			if _, err := s.CheckFacts(ctx, o.ID(), ports.CheckSubject{UserID: "nobody"}, key); err != nil {
				t.Error(err)
			}
			var n int
			if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM memberships").Scan(&n); err != nil || n != 0 {
				t.Errorf("unfiltered after the hot paths: %d, %v", n, err)
			}
		})
	}
}
