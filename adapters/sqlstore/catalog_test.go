package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/uptrace/bun/migrate"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// tenantKeysMigration is the migration that makes every key of a tenant
// table include the organization.
const tenantKeysMigration = "20261208000001"

// tenantTables are the tables sharded by organization, each with its
// distribution column: on Citus, create_distributed_table(table, column),
// all colocated, so that everything one organization owns lives on one node
// and a request touches one shard group.
var tenantTables = map[string]string{
	"organizations":      "id", // an organization's own ID is its org_id
	"memberships":        "org_id",
	"membership_roles":   "org_id",
	"roles":              "org_id",
	"role_grants":        "org_id",
	"permissions":        "org_id",
	"identity_providers": "org_id",
	"audit_events":       "org_id", // '' for user events: one shard holds them
	"idempotency_keys":   "org_id", // "" for a request that resolved no organization
	"webhooks":           "org_id",
	"webhook_claims":     "org_id",
	"webhook_sequences":  "org_id",
	"webhook_events":     "org_id",
	"webhook_deliveries": "org_id",
	"webhook_attempts":   "org_id",
}

// globalTables are the tables that are not sharded (Citus reference tables,
// copied to every node, or coordinator-only bookkeeping), each with the
// reason it is global. Keep this list short: a table here is written on
// every node.
var globalTables = map[string]string{
	"users":                       "a user (issuer, subject) belongs to no organization and is a member of many",
	"organization_slugs":          "slugs are unique across organizations: the one registry that makes them so",
	"identity_provider_audiences": "(issuer, audience) is unique across organizations: a token must name one organization",
	"identity_provider_changes":   "every instance polls provider changes of all organizations in one ordered stream",
	"identity_provider_counter":   "the one store-wide change counter behind identity_provider_changes",
	"bun_migrations":              "migration bookkeeping (coordinator only)",
	"bun_migration_locks":         "bun's migration lock table, created by its Init; unused (see MigrateUp)",
}

// tenantKeyViolations reads the catalog of the current schema and returns
// every breach of the sharding rules, sorted:
//   - every table is named in tenantTables or globalTables, and a tenant
//     table has its distribution column;
//   - a tenant table's primary key and every unique constraint or unique
//     index include the distribution column;
//   - a foreign key between tenant tables pairs the distribution columns
//     (colocated, so it can be checked on one node); a tenant table may
//     reference a global table (Citus allows references to reference
//     tables), but a global table never references a tenant table.
func tenantKeyViolations(ctx context.Context, t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, tb := range tables {
		_, tenant := tenantTables[tb]
		_, global := globalTables[tb]
		if tenant == global {
			out = append(out, fmt.Sprintf("table %s: name it in tenantTables (with its distribution column) or globalTables (with a reason)", tb))
		}
		if col, ok := tenantTables[tb]; ok {
			var n int
			err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns
WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`, tb, col).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				out = append(out, fmt.Sprintf("table %s: no distribution column %s", tb, col))
			}
		}
	}

	// Primary keys, unique constraints and unique indexes.
	rows, err = db.QueryContext(ctx, `SELECT c.relname, i.relname, ix.indisprimary,
       (SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(ix.indkey) WITH ORDINALITY AS k(attnum, n)
          JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = k.attnum)
FROM pg_index AS ix
JOIN pg_class AS c ON c.oid = ix.indrelid
JOIN pg_class AS i ON i.oid = ix.indexrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND ix.indisunique
ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	hasPK := map[string]bool{}
	for rows.Next() {
		var (
			tb, idx string
			primary bool
			cols    sql.NullString
		)
		if err := rows.Scan(&tb, &idx, &primary, &cols); err != nil {
			t.Fatal(err)
		}
		if primary {
			hasPK[tb] = true
		}
		col, ok := tenantTables[tb]
		if !ok {
			continue
		}
		if !slices.Contains(strings.Split(cols.String, ","), col) {
			kind := "unique index"
			if primary {
				kind = "primary key"
			}
			out = append(out, fmt.Sprintf("table %s: %s %s (%s) lacks %s", tb, kind, idx, cols.String, col))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for tb := range tenantTables {
		if slices.Contains(tables, tb) && !hasPK[tb] {
			out = append(out, fmt.Sprintf("table %s: no primary key", tb))
		}
	}

	// Foreign keys, as pairs of referencing=referenced columns.
	rows, err = db.QueryContext(ctx, `SELECT con.conname, c.relname, f.relname,
       (SELECT string_agg(a.attname || '=' || fa.attname, ',' ORDER BY k.n)
          FROM unnest(con.conkey, con.confkey) WITH ORDINALITY AS k(ck, fk, n)
          JOIN pg_attribute AS a ON a.attrelid = con.conrelid AND a.attnum = k.ck
          JOIN pg_attribute AS fa ON fa.attrelid = con.confrelid AND fa.attnum = k.fk)
FROM pg_constraint AS con
JOIN pg_class AS c ON c.oid = con.conrelid
JOIN pg_class AS f ON f.oid = con.confrelid
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE con.contype = 'f' AND n.nspname = current_schema()
ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, from, to, pairs string
		if err := rows.Scan(&name, &from, &to, &pairs); err != nil {
			t.Fatal(err)
		}
		fromCol, fromTenant := tenantTables[from]
		toCol, toTenant := tenantTables[to]
		switch {
		case !fromTenant && toTenant:
			out = append(out, fmt.Sprintf("table %s: foreign key %s from a global table to tenant table %s", from, name, to))
		case fromTenant && toTenant && !slices.Contains(strings.Split(pairs, ","), fromCol+"="+toCol):
			out = append(out, fmt.Sprintf("table %s: foreign key %s (%s) to %s does not pair %s=%s", from, name, pairs, to, fromCol, toCol))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestTenantKeys is the sharding-readiness check (Citus cannot be installed
// here): on the migrated PostgreSQL schema every tenant table is keyed by
// its organization and the global tables are the few named above. It also
// checks that the rules bite: the schema before the tenant-keys migration
// breaks them where we know it did.
func TestTenantKeys(t *testing.T) {
	ctx := t.Context()
	s := sqlstoretest.NewPostgres(t)
	if got := tenantKeyViolations(ctx, t, s.DB().DB); len(got) > 0 {
		t.Errorf("the schema is not ready to shard by organization:\n  %s", strings.Join(got, "\n  "))
	}
	if len(globalTables) > 8 {
		t.Errorf("%d global tables: each is copied to every node; keep them few", len(globalTables))
	}

	if _, err := s.MigrateDown(ctx); err != nil {
		t.Fatal(err)
	}
	migrateBefore(t, s, tenantKeysMigration)
	got := strings.Join(tenantKeyViolations(ctx, t, s.DB().DB), "\n")
	for _, want := range []string{
		"table roles: primary key roles_pkey (id) lacks org_id",
		"table permissions: primary key permissions_pkey (id) lacks org_id",
		"table organizations: unique index organizations_slug_key (slug) lacks id",
		"table identity_provider_audiences: foreign key identity_provider_audiences_org_id_fkey from a global table to tenant table identity_providers",
		"table organization_slugs", // missing before: not a violation, but not there either
	} {
		if want == "table organization_slugs" {
			if strings.Contains(got, want) {
				t.Errorf("the old schema already has %s", want)
			}
			continue
		}
		if !strings.Contains(got, want) {
			t.Errorf("the schema before %s: want the violation %q, got:\n%s", tenantKeysMigration, want, got)
		}
	}
}

// migrateBefore rolls every migration of s back, then applies the
// migrations older than id, from the source tree: the schema as the release
// before that migration left it.
func migrateBefore(t *testing.T, s *sqlstore.Store, id string) {
	t.Helper()
	ctx := t.Context()
	for {
		down, err := s.MigrateDown(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(down) == 0 {
			break
		}
	}
	dir := filepath.Join("migrations", string(s.Dialect()))
	fsys := fstest.MapFS{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() >= id {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		fsys[e.Name()] = &fstest.MapFile{Data: b}
	}
	ms := migrate.NewMigrations()
	if err := ms.Discover(fsys); err != nil {
		t.Fatal(err)
	}
	m := migrate.NewMigrator(s.DB(), ms, migrate.WithMarkAppliedOnSuccess(true))
	if err := m.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
}

// insertOldOrganization writes an organization as the schema before the
// tenant-keys migration stores it (no slug registry).
func insertOldOrganization(t *testing.T, s *sqlstore.Store, o *domain.Organization) {
	t.Helper()
	const layout = "2006-01-02T15:04:05.000000Z"
	_, err := s.DB().NewRaw(`INSERT INTO organizations (id, slug, name, status, metadata, created_at, updated_at, version)
VALUES (?, ?, ?, ?, '{}', ?, ?, ?)`, o.ID(), string(o.Slug()), o.Name(), o.Status().String(),
		o.CreatedAt().UTC().Format(layout), o.UpdatedAt().UTC().Format(layout), o.Version()).Exec(t.Context())
	if err != nil {
		t.Fatal(err)
	}
}

// insertOldUser stores u with the columns users had before the user
// lifecycle migration (no status, metadata or version).
func insertOldUser(t *testing.T, s *sqlstore.Store, u *domain.User) {
	t.Helper()
	const layout = "2006-01-02T15:04:05.000000Z"
	_, err := s.DB().NewRaw(`INSERT INTO users (id, issuer, subject, email, name, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?)`, u.ID(), u.Issuer(), u.Subject(), u.Email(), u.Name(),
		u.CreatedAt().UTC().Format(layout), u.UpdatedAt().UTC().Format(layout)).Exec(t.Context())
	if err != nil {
		t.Fatal(err)
	}
}

// TestTenantKeysMigrationKeepsData migrates a populated database from the
// schema before the tenant-keys migration and checks that every row
// survived and that the rules it moved (slug uniqueness, audience cleanup)
// still hold; then rolls it back and forward again.
func TestTenantKeysMigrationKeepsData(t *testing.T) {
	for _, tt := range []struct {
		name string
		open func(testing.TB) *sqlstore.Store
	}{
		{"sqlite", sqlstoretest.NewSQLiteFile},
		{"postgres", sqlstoretest.NewPostgres},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			s := tt.open(t)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.MigrateDown(ctx)
			must(err)
			migrateBefore(t, s, tenantKeysMigration)

			now := time.Date(2026, 11, 2, 3, 4, 5, 123456000, time.UTC)
			var orgs []*domain.Organization
			for i, slug := range []string{"acme", "globex"} {
				o, err := domain.NewOrganization(fmt.Sprintf("0190a5c4-0000-7000-8000-00000000000%d", i+1), slug, strings.ToUpper(slug), nil, now)
				must(err)
				insertOldOrganization(t, s, o)
				orgs = append(orgs, o)
			}
			u, err := domain.NewUser("0190a5c4-0000-7000-8000-0000000000aa", "https://idp.example", "alice", "a@example.com", "Alice", now)
			must(err)
			insertOldUser(t, s, u) // the schema of that release: no user lifecycle
			for _, o := range orgs {
				p, err := domain.NewCustomPermission("perm-"+o.ID(), o.ID(), "invoices:approve", "Approve", now)
				must(err)
				must(s.Permissions().Create(ctx, p))
				r, err := domain.NewRole("role-"+o.ID(), o.ID(), "approver", "Approver", "", []string{"invoices:approve", "members:read"}, now)
				must(err)
				must(s.Roles().Create(ctx, r))
				m, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner", "approver"}, now)
				must(err)
				must(s.Memberships().Create(ctx, m))
			}
			spec := domain.IdentityProviderSpec{
				Issuer: "https://login.acme.example", JWKSURL: "https://login.acme.example/keys",
				Audiences: []string{"orgstack", "orgstack-2"}, Algorithms: []string{"RS256"},
				Claims: domain.ClaimMappings{Subject: domain.ClaimPath{"sub"}},
			}
			idp, err := domain.NewIdentityProvider(orgs[0].ID(), spec, now)
			must(err)
			must(s.IdentityProviders().Create(ctx, idp))

			applied, err := s.MigrateUp(ctx)
			must(err)
			if len(applied) == 0 || !strings.HasPrefix(applied[0], tenantKeysMigration) {
				t.Fatalf("applied %v, want %s first", applied, tenantKeysMigration)
			}
			check := func(t *testing.T) {
				t.Helper()
				key, err := domain.ParsePermissionKey("invoices:approve")
				must(err)
				for _, o := range orgs {
					got, err := s.Organizations().GetByRef(ctx, domain.ParseOrgRef(string(o.Slug())))
					must(err)
					if got.ID() != o.ID() || !got.CreatedAt().Equal(o.CreatedAt()) || got.Name() != o.Name() {
						t.Errorf("organization %s: got %s %s %s", o.Slug(), got.ID(), got.Name(), got.CreatedAt())
					}
					r, err := s.Roles().Get(ctx, o.ID(), "approver")
					must(err)
					if r.ID() != "role-"+o.ID() || fmt.Sprint(r.Grants()) != "[invoices:approve members:read]" {
						t.Errorf("role of %s: got %s %v", o.Slug(), r.ID(), r.Grants())
					}
					p, err := s.Permissions().Get(ctx, o.ID(), key)
					must(err)
					if p.ID() != "perm-"+o.ID() || p.Description() != "Approve" {
						t.Errorf("permission of %s: got %s %q", o.Slug(), p.ID(), p.Description())
					}
					acc, facts, err := s.AccessAndCheckFacts(ctx, domain.ParseOrgRef(string(o.Slug())), u.Issuer(), u.Subject(),
						ports.CheckSubject{UserID: u.ID()}, key)
					must(err)
					if acc.Membership == nil || fmt.Sprint(acc.Membership.Roles()) != "[approver owner]" || len(acc.Roles) != 1 ||
						!facts.PermissionDefined || facts.Membership == nil {
						t.Errorf("access in %s: got %+v %+v", o.Slug(), acc, facts)
					}
				}
				p, err := s.IdentityProviders().Get(ctx, orgs[0].ID())
				must(err)
				if fmt.Sprint(p.Audiences()) != "[orgstack orgstack-2]" {
					t.Errorf("provider audiences: got %v", p.Audiences())
				}
			}
			check(t)

			// Slugs stay unique across organizations, through the registry.
			dup, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000003", "acme", "Another", nil, now)
			must(err)
			if err := s.Organizations().Create(ctx, dup); !errors.Is(err, domain.ErrSlugTaken) {
				t.Errorf("create with a taken slug: got %v, want ErrSlugTaken", err)
			}
			// Rolled back and forward again, the data is still there.
			down, err := s.MigrateDown(ctx)
			must(err)
			if len(down) != len(applied) {
				t.Fatalf("rolled back %v, want the group applied above (%v)", down, applied)
			}
			_, err = s.MigrateUp(ctx)
			must(err)
			check(t)

			// Renaming frees the old slug; deleting frees the new one and
			// removes the provider's audiences (no foreign key does it).
			o := orgs[0]
			slug := "acme-renamed"
			prev := o.Version()
			must(o.Apply(domain.OrganizationChanges{Slug: &slug}, now.Add(time.Minute)))
			must(s.Organizations().Update(ctx, o, prev))
			if _, err := s.Organizations().GetByRef(ctx, domain.ParseOrgRef("acme")); !errors.Is(err, domain.ErrNotFound) {
				t.Errorf("old slug after rename: got %v, want ErrNotFound", err)
			}
			must(s.Organizations().Create(ctx, dup)) // takes "acme"
			must(s.Organizations().Delete(ctx, o.ID()))
			var slugs, audiences int
			must(s.DB().NewRaw("SELECT count(*) FROM organization_slugs").Scan(ctx, &slugs))
			must(s.DB().NewRaw("SELECT count(*) FROM identity_provider_audiences").Scan(ctx, &audiences))
			if slugs != 2 || audiences != 0 {
				t.Errorf("after deleting %s: %d slugs, %d audiences; want 2, 0", o.ID(), slugs, audiences)
			}
			again, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000004", "acme-renamed", "Again", nil, now)
			must(err)
			must(s.Organizations().Create(ctx, again))
		})
	}
}

// TestHotPathPlansUseIndexes runs EXPLAIN on every hot-path statement
// against a PostgreSQL schema with enough rows (and statistics) for the
// planner to prefer indexes where they serve, and fails on a sequential scan
// of any table: the tenant-keys migration changed keys and indexes under
// these queries.
func TestHotPathPlansUseIndexes(t *testing.T) {
	ctx := t.Context()
	s := sqlstoretest.NewPostgres(t)
	db := s.DB().DB
	for _, stmt := range []string{
		`INSERT INTO organizations (id, slug, name, status, metadata, created_at, updated_at, version)
SELECT 'org-' || i, 'slug-' || i, 'Org ' || i, 'active', '{}', now(), now(), 1 FROM generate_series(1, 3000) AS i`,
		`INSERT INTO organization_slugs (slug, org_id) SELECT slug, id FROM organizations`,
		`INSERT INTO users (id, issuer, subject, email, name, created_at, updated_at)
SELECT 'user-' || i, 'iss', 'sub-' || i, '', '', now(), now() FROM generate_series(1, 3000) AS i`,
		`INSERT INTO memberships (org_id, user_id, status, joined_at, updated_at)
SELECT 'org-' || i, 'user-' || i, 'active', now(), now() FROM generate_series(1, 3000) AS i`,
		`INSERT INTO memberships (org_id, user_id, status, joined_at, updated_at)
SELECT 'org-1', 'user-' || i, 'active', now(), now() FROM generate_series(2, 3000) AS i`,
		`INSERT INTO roles (id, org_id, "key", name, description, created_at, updated_at)
SELECT 'role-' || i || '-' || k, 'org-' || i, 'role' || k, 'R', '', now(), now() FROM generate_series(1, 3000) AS i, generate_series(1, 2) AS k`,
		`INSERT INTO role_grants (org_id, role_key, position, grant_value)
SELECT org_id, "key", 0, 'members:read' FROM roles`,
		`INSERT INTO membership_roles (org_id, user_id, role_key) SELECT org_id, user_id, 'role1' FROM memberships`,
		`INSERT INTO permissions (id, org_id, "key", description, created_at, updated_at)
SELECT 'perm-' || i || '-' || k, 'org-' || i, 'things:do' || k, '', now(), now() FROM generate_series(1, 3000) AS i, generate_series(1, 2) AS k`,
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Arguments by meaning, in placeholder order; every hot statement's
	// arguments are text.
	values := map[string][]string{
		"access by id":                          {"org-7", "iss", "sub-7"},
		"access by slug":                        {"slug-7", "iss", "sub-7"},
		"check by user id":                      {"org-7", "things:do1", "org-7", "user-7"},
		"check by identity":                     {"org-7", "things:do1", "iss", "sub-7", "org-7"},
		"access and check by id":                {"org-7", "iss", "sub-7", "things:do1", "org-7", "user-7"},
		"access and check by slug":              {"slug-7", "iss", "sub-7", "things:do1", "slug-7", "user-7"},
		"access and check by identity":          {"org-7", "iss", "sub-7", "things:do1", "org-7", "iss", "sub-7"},
		"access and check by slug and identity": {"slug-7", "iss", "sub-7", "things:do1", "slug-7", "iss", "sub-7"},
	}
	placeholder := regexp.MustCompile(`\$(\d+)`)
	for name, q := range sqlstore.PostgresHotQueries() {
		t.Run(name, func(t *testing.T) {
			args, ok := values[name]
			if !ok {
				t.Fatalf("no arguments for %q", name)
			}
			if n := len(placeholder.FindAllString(q, -1)); n != len(args) {
				t.Fatalf("%d placeholders, %d arguments", n, len(args))
			}
			lit := placeholder.ReplaceAllStringFunc(q, func(m string) string {
				var i int
				fmt.Sscanf(m, "$%d", &i)
				return "'" + args[i-1] + "'"
			})
			rows, err := conn.QueryContext(ctx, "EXPLAIN "+lit)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "Seq Scan on") {
				t.Errorf("sequential scan in the plan:\n%s", text)
			}
		})
	}
}
