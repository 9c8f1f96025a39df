package sqlstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
)

// TestEverySystemResourceIsReserved: a system resource added after the first
// schema must name the migration that reserves it, so that MigrateUp checks
// organizations' custom permissions and grants in it.
func TestEverySystemResourceIsReserved(t *testing.T) {
	t.Parallel()
	known := append(slices.Clone(sqlstore.InitialSystemResources), sqlstore.ReservedResources()...)
	for _, p := range domain.SystemPermissions() {
		if !slices.Contains(known, p.Key().Resource()) {
			t.Errorf("system resource %q is reserved by no migration (sqlstore.reservedResources)", p.Key().Resource())
		}
	}
}

// TestMigrationRefusesReservedResourceInUse: the migration that reserves
// identity_provider refuses to run while an organization has a custom
// permission or a grant in it, lists each, and runs once they are gone.
func TestMigrationRefusesReservedResourceInUse(t *testing.T) {
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
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			migrateBefore(t, s, "20261205000001")

			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			o, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000001", "acme", "Acme", nil, now)
			must(err)
			insertOldOrganization(t, s, o) // the schema of that release: no slug registry
			// Written directly: the domain of today refuses the reserved
			// resource, as it should.
			_, err = s.DB().ExecContext(ctx, `INSERT INTO permissions (id, org_id, "key", description, created_at, updated_at)
VALUES ('p1', ?, 'identity_provider:approve', '', '2026-01-02T03:04:05.000000Z', '2026-01-02T03:04:05.000000Z')`, o.ID())
			must(err)
			role, err := domain.NewRole("r1", o.ID(), "sso", "SSO", "", []string{"members:read"}, now)
			must(err)
			must(s.Roles().Create(ctx, role))
			_, err = s.DB().ExecContext(ctx, `INSERT INTO role_grants (org_id, role_key, position, grant_value) VALUES (?, 'sso', 1, 'identity_provider:*')`, o.ID())
			must(err)

			_, err = s.MigrateUp(ctx)
			var rerr *sqlstore.ReservedResourceError
			if !errors.As(err, &rerr) {
				t.Fatalf("MigrateUp: got %v, want *ReservedResourceError", err)
			}
			want := []string{"organization acme: permission identity_provider:approve", "organization acme: role sso grants identity_provider:*"}
			if !slices.Equal(rerr.Uses, want) {
				t.Errorf("uses = %q, want %q", rerr.Uses, want)
			}
			if !strings.Contains(err.Error(), "identity_provider:approve") {
				t.Errorf("message does not list the use: %v", err)
			}
			_, pending, err := s.MigrationStatus(ctx)
			must(err)
			if len(pending) == 0 {
				t.Fatal("the migration ran although it was refused")
			}

			_, err = s.DB().ExecContext(ctx, `DELETE FROM permissions WHERE "key" = 'identity_provider:approve'`)
			must(err)
			_, err = s.DB().ExecContext(ctx, `DELETE FROM role_grants WHERE grant_value = 'identity_provider:*'`)
			must(err)
			applied, err := s.MigrateUp(ctx)
			must(err)
			if len(applied) == 0 {
				t.Fatal("nothing applied once the uses were removed")
			}
		})
	}
}
