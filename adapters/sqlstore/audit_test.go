package sqlstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func appendOneEvent(t *testing.T, s *sqlstore.Store) *domain.AuditEvent {
	t.Helper()
	e, err := domain.NewAuditEvent("00000000-0000-7000-8000-000000000001", time.Now(), domain.SystemActor, "org-1",
		domain.ActionWebhookDisabled, "w1", nil, domain.RequestInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RunInTx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
		return r.AuditEvents().Append(ctx, e)
	}); err != nil {
		t.Fatal(err)
	}
	return e
}

// Nothing, not even a raw statement on the service's own connection, may
// change or delete an audit event: the table's triggers refuse.
func TestAuditEventsAreImmutable(t *testing.T) {
	stores := map[string]func(testing.TB) *sqlstore.Store{"sqlite": sqlstoretest.NewSQLite, "postgres": sqlstoretest.NewPostgres}
	for name, open := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			ctx := context.Background()
			appendOneEvent(t, s)
			stmts := []string{
				`UPDATE audit_events SET action = 'role.created'`,
				`DELETE FROM audit_events`,
			}
			if name == "postgres" {
				stmts = append(stmts, `TRUNCATE audit_events`)
			}
			for _, q := range stmts {
				_, err := s.DB().ExecContext(ctx, q)
				if err == nil || !strings.Contains(err.Error(), "audit events cannot be changed or deleted") {
					t.Errorf("%s: err = %v, want the trigger's refusal", q, err)
				}
			}
			got, err := s.AuditEvents().List(ctx, ports.AuditEventFilter{Limit: 10})
			if err != nil || len(got) != 1 || got[0].Action() != domain.ActionWebhookDisabled {
				t.Errorf("after the attempts: %v, %v; want the event unchanged", got, err)
			}
		})
	}
}

// A role that does not own audit_events (the runtime role once the service
// connects as a non-owner) can neither delete events nor switch the
// trigger off to prune them.
func TestAuditPruneNeedsTheOwner(t *testing.T) {
	s := sqlstoretest.NewPostgres(t)
	ctx := context.Background()
	appendOneEvent(t, s)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	role := "orgstack_audit_rt_" + hex.EncodeToString(b)
	db := s.DB()
	if _, err := db.ExecContext(ctx, `CREATE ROLE `+role+` NOLOGIN`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = db.ExecContext(context.Background(), `DROP OWNED BY `+role)
		_, _ = db.ExecContext(context.Background(), `DROP ROLE `+role)
	})
	var schema string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`GRANT USAGE ON SCHEMA "` + schema + `" TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON audit_events TO ` + role,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range []string{
		`DELETE FROM audit_events`,
		`ALTER TABLE audit_events DISABLE TRIGGER audit_events_immutable`,
		`SET LOCAL session_replication_role = replica`,
	} {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `SET LOCAL ROLE `+role); err != nil {
			t.Fatal(err)
		}
		// Scoped to the event's organization: under row-level security
		// an unscoped DELETE sees no row, so the trigger would not fire.
		if _, err := tx.ExecContext(ctx, `SELECT set_config('orgstack.org_id', 'org-1', true)`); err != nil {
			t.Fatal(err)
		}
		_, err = tx.ExecContext(ctx, q)
		_ = tx.Rollback()
		if err == nil {
			t.Errorf("%s as a non-owner: no error, want a refusal", q)
		}
	}
	// The owner prunes.
	n, err := s.PruneAuditEvents(ctx, time.Now().Add(time.Hour))
	if err != nil || n != 1 {
		t.Errorf("PruneAuditEvents as the owner = %d, %v; want 1, nil", n, err)
	}
}

// The migration that adds the audit log reserves the permission resource
// audit (audit:read): it refuses to run while an organization has a custom
// permission or a role grant in it, names each, and runs once they are gone.
func TestMigrationRefusesAuditResourceInUse(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *sqlstore.Store{"sqlite": sqlstoretest.NewSQLite, "postgres": sqlstoretest.NewPostgres} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			migrateBefore(t, s, "20261215000001")
			// Seed the uses directly: the domain of today refuses them.
			o, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000002", "acme", "Acme", nil, time.Now())
			must(err)
			must(s.Organizations().Create(ctx, o))
			_, err = s.DB().ExecContext(ctx, `INSERT INTO permissions (id, org_id, "key", description, created_at, updated_at)
VALUES ('p1', ?, 'audit:export', '', '2026-01-02T03:04:05.000000Z', '2026-01-02T03:04:05.000000Z')`, o.ID())
			must(err)
			role, err := domain.NewRole("r1", o.ID(), "auditor", "Auditor", "", []string{"members:read"}, time.Now())
			must(err)
			must(s.Roles().Create(ctx, role))
			_, err = s.DB().ExecContext(ctx, `INSERT INTO role_grants (org_id, role_key, position, grant_value) VALUES (?, 'auditor', 1, 'audit:*')`, o.ID())
			must(err)

			_, err = s.MigrateUp(ctx)
			var rerr *sqlstore.ReservedResourceError
			if !errors.As(err, &rerr) || rerr.Migration != "20261215000001" {
				t.Fatalf("MigrateUp: got %v, want *ReservedResourceError of 20261215000001", err)
			}
			want := []string{"organization acme: permission audit:export", "organization acme: role auditor grants audit:*"}
			if !slices.Equal(rerr.Uses, want) {
				t.Errorf("uses = %q, want %q", rerr.Uses, want)
			}
			_, err = s.DB().ExecContext(ctx, `DELETE FROM permissions WHERE "key" = 'audit:export'`)
			must(err)
			_, err = s.DB().ExecContext(ctx, `DELETE FROM role_grants WHERE grant_value = 'audit:*'`)
			must(err)
			applied, err := s.MigrateUp(ctx)
			must(err)
			if !slices.Contains(applied, "20261215000001_audit_events") {
				t.Fatalf("applied %v once the uses were removed", applied)
			}
		})
	}
}
