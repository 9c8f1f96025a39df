package sqlstore_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
)

// TestWebhooksMigrationRefusesReservedResourceInUse: an organization that
// defined a custom permission, or granted a pattern, in the resource
// webhooks before it was reserved stops the upgrade, which lists each use.
func TestWebhooksMigrationRefusesReservedResourceInUse(t *testing.T) {
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
			migrateBefore(t, s, "20261218000001")

			now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			o, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000001", "acme", "Acme", nil, now)
			must(err)
			must(s.Organizations().Create(ctx, o))
			_, err = s.DB().ExecContext(ctx, `INSERT INTO permissions (id, org_id, "key", description, created_at, updated_at)
VALUES ('p1', ?, 'webhooks:deliver', '', '2026-01-02T03:04:05.000000Z', '2026-01-02T03:04:05.000000Z')`, o.ID())
			must(err)
			role, err := domain.NewRole("r1", o.ID(), "hooks", "Hooks", "", []string{"members:read"}, now)
			must(err)
			must(s.Roles().Create(ctx, role))
			_, err = s.DB().ExecContext(ctx, `INSERT INTO role_grants (org_id, role_key, position, grant_value) VALUES (?, 'hooks', 1, 'webhooks:*')`, o.ID())
			must(err)

			_, err = s.MigrateUp(ctx)
			var rerr *sqlstore.ReservedResourceError
			if !errors.As(err, &rerr) {
				t.Fatalf("MigrateUp: got %v, want *ReservedResourceError", err)
			}
			want := []string{"organization acme: permission webhooks:deliver", "organization acme: role hooks grants webhooks:*"}
			if !slices.Equal(rerr.Uses, want) {
				t.Errorf("uses = %q, want %q", rerr.Uses, want)
			}
			_, pending, err := s.MigrationStatus(ctx)
			must(err)
			if !slices.Contains(pending, "20261218000001_webhooks") {
				t.Fatalf("pending = %v: the migration ran although it was refused", pending)
			}
			// Once the organization renames what it defined, the upgrade runs.
			_, err = s.DB().ExecContext(ctx, `DELETE FROM role_grants WHERE org_id = ?`, o.ID())
			must(err)
			_, err = s.DB().ExecContext(ctx, `DELETE FROM permissions WHERE org_id = ?`, o.ID())
			must(err)
			_, err = s.MigrateUp(ctx)
			must(err)
		})
	}
}
