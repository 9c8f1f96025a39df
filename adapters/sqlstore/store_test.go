package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
	"github.com/orgstack/orgstack/ports/storetest"
)

func TestContractSQLiteMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ports.Store { return sqlstoretest.NewSQLite(t) })
}

func TestContractSQLiteFile(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ports.Store { return sqlstoretest.NewSQLiteFile(t) })
}

func TestContractPostgres(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) ports.Store { return sqlstoretest.NewPostgres(t) })
}

func TestOpenRejectsUnknownURLs(t *testing.T) {
	tests := []string{"", "mysql://localhost/db", "sqlite:", "file:x.db", "postgres://%zz"}
	for _, give := range tests {
		s, err := sqlstore.Open(context.Background(), give)
		if err == nil {
			_ = s.Close()
			t.Errorf("Open(%q): got no error", give)
		}
	}
}

func TestOpenSQLiteFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "x.db")
	s, err := sqlstore.Open(ctx, "sqlite:"+path+"?_pragma=cache_size(-2000)")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var fk int
	var mode string
	if err := s.DB().QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if fk != 1 || mode != "wal" {
		t.Errorf("pragmas: got foreign_keys=%d journal_mode=%s, want 1 wal", fk, mode)
	}
	if s.Dialect() != sqlstore.SQLite {
		t.Errorf("dialect: got %s, want sqlite", s.Dialect())
	}
}

func TestMigrations(t *testing.T) {
	for _, tt := range []struct {
		name string
		open func(testing.TB) *sqlstore.Store
	}{
		{"sqlite", sqlstoretest.NewSQLite},
		{"postgres", sqlstoretest.NewPostgres},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := tt.open(t) // migrated
			applied, pending, err := s.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(applied) == 0 || len(pending) != 0 {
				t.Fatalf("status after up: applied %v pending %v", applied, pending)
			}
			again, err := s.MigrateUp(ctx)
			if err != nil || len(again) != 0 {
				t.Fatalf("second up: got %v, %v; want nothing", again, err)
			}
			down, err := s.MigrateDown(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(down, reversed(applied)) {
				t.Errorf("down: got %v, want %v", down, reversed(applied))
			}
			applied2, pending2, err := s.MigrationStatus(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(applied2) != 0 || !slices.Equal(pending2, applied) {
				t.Errorf("status after down: applied %v pending %v", applied2, pending2)
			}
			if err := s.Ping(ctx); err != nil {
				t.Fatal(err)
			}
			up, err := s.MigrateUp(ctx)
			if err != nil || !slices.Equal(up, applied) {
				t.Fatalf("up again: got %v, %v; want %v", up, err, applied)
			}
		})
	}
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// TestPostgresHotPathsArePrepared checks that LoadAccess and CheckFacts run
// as statements prepared once per connection (pgx statement cache), not
// re-planned from interpolated text on every call.
func TestPostgresHotPathsArePrepared(t *testing.T) {
	s := sqlstoretest.NewPostgres(t)
	ctx := context.Background()
	s.DB().SetMaxOpenConns(1) // so the check below sees the same connection
	for range 3 {
		if _, err := s.LoadAccess(ctx, domain.ParseOrgRef("acme"), "iss", "sub"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CheckFacts(ctx, "org", ports.CheckSubject{UserID: "u"}, domain.PermMembersRead); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	err := s.DB().QueryRowContext(ctx,
		`SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM (SELECT 1 AS one) AS x%'`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("prepared hot-path statements: got %d, want 2", n)
	}
}

// TestMigrationRemovesDanglingReferences applies the schema as it was
// before the cleanup migration, leaves a membership naming a deleted custom
// role and a role granting a deleted custom permission by name (what the
// delete-while-assigning races left), and checks that migrating up removes
// exactly those references.
func TestMigrationRemovesDanglingReferences(t *testing.T) {
	for _, tt := range []struct {
		name string
		open func(testing.TB) *sqlstore.Store
	}{
		{"sqlite", sqlstoretest.NewSQLite},
		{"postgres", sqlstoretest.NewPostgres},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s := tt.open(t)
			if _, err := s.MigrateDown(ctx); err != nil {
				t.Fatal(err)
			}
			// The initial migration only, from the source tree.
			dir := filepath.Join("migrations", string(s.Dialect()))
			fsys := fstest.MapFS{}
			for _, suffix := range []string{".tx.up.sql", ".tx.down.sql"} {
				name := "20260101000001_initial" + suffix
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				fsys[name] = &fstest.MapFile{Data: b}
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

			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			o, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000001", "acme", "Acme", nil, now)
			must(err)
			insertOldOrganization(t, s, o) // the schema of that release: no slug registry
			u, err := domain.NewUser("0190a5c4-0000-7000-8000-000000000002", "iss", "alice", "", "", now)
			must(err)
			insertOldUser(t, s, u) // the schema of that release: no user lifecycle
			for _, key := range []string{"invoices:approve", "invoices:void"} {
				p, err := domain.NewCustomPermission("id-"+key, o.ID(), key, "", now)
				must(err)
				must(s.Permissions().Create(ctx, p))
			}
			for _, r := range []struct {
				key    string
				grants []string
			}{
				{"kept", []string{"invoices:approve", "invoices:void", "invoices:*", "*", "members:read"}},
				{"gone", nil},
			} {
				role, err := domain.NewRole("id-"+r.key, o.ID(), r.key, r.key, "", r.grants, now)
				must(err)
				must(s.Roles().Create(ctx, role))
			}
			ms1, err := domain.NewMembership(o.ID(), u.ID(), []string{"owner", "kept", "gone"}, now)
			must(err)
			must(s.Memberships().Create(ctx, ms1))
			// What the races left: rows deleted under a concurrent reference.
			_, err = s.DB().ExecContext(ctx, `DELETE FROM roles WHERE "key" = 'gone'`)
			must(err)
			_, err = s.DB().ExecContext(ctx, `DELETE FROM permissions WHERE "key" = 'invoices:void'`)
			must(err)

			applied, err := s.MigrateUp(ctx)
			must(err)
			if len(applied) == 0 {
				t.Fatal("no migration applied after the initial one")
			}
			got, err := s.Memberships().Get(ctx, o.ID(), u.ID())
			must(err)
			if keys := fmt.Sprint(got.Roles()); keys != "[kept owner]" {
				t.Errorf("membership roles after migration: got %s, want [kept owner]", keys)
			}
			kept, err := s.Roles().Get(ctx, o.ID(), "kept")
			must(err)
			var grants []string
			for _, g := range kept.Grants() {
				grants = append(grants, g.String())
			}
			if g := strings.Join(grants, ","); g != "invoices:approve,invoices:*,*,members:read" {
				t.Errorf("grants after migration: got %s, want invoices:approve,invoices:*,*,members:read", g)
			}
		})
	}
}

// TestPostgresSessionBoundsWaits: every PostgreSQL connection starts with a
// statement_timeout (a startup parameter) unless the URL sets one.
func TestPostgresSessionBoundsWaits(t *testing.T) {
	base := sqlstoretest.PostgresSchemaURL(t)
	tests := []struct{ name, url, want string }{
		{"default", base, sqlstore.DefaultStatementTimeout},
		{"set in the URL", base + "&statement_timeout=0", "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sqlstoretest.Open(t, tt.url)
			var got string
			if err := s.DB().NewRaw("SHOW statement_timeout").Scan(t.Context(), &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("statement_timeout = %q, want %q", got, tt.want)
			}
		})
	}
}
