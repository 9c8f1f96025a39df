package bootstrap

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/domain"
)

// checkRuntimeStore opens the runtime role's store on a migrated, granted
// schema and checks that the service works through it under row-level
// security: the status reads current, an organization is written and read
// back, and an unfiltered query sees nothing.
func checkRuntimeStore(t *testing.T, runtimeURL string) {
	t.Helper()
	ctx := t.Context()
	s, err := sqlstore.Open(ctx, runtimeURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, pending, err := s.MigrationStatus(ctx); err != nil || len(pending) != 0 {
		t.Fatalf("status through the runtime role: pending %v, %v", pending, err)
	}
	o, err := domain.NewOrganization("0190a5c4-0000-7000-8000-000000000001", "acme", "Acme", nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Organizations().Create(ctx, o); err != nil {
		t.Fatalf("create through the runtime role: %v", err)
	}
	if got, err := s.Organizations().GetByRef(ctx, domain.ParseOrgRef("acme")); err != nil || got.ID() != o.ID() {
		t.Fatalf("read back by slug: %v, %v", got, err)
	}
	var n int
	if err := s.DB().QueryRowContext(ctx, "SELECT count(*) FROM organizations").Scan(&n); err != nil || n != 0 {
		t.Errorf("unfiltered count through the runtime role: %d, %v", n, err)
	}
}

// TestMigrateWithOwnerURL: `orgstack migrate up` runs with
// ORGSTACK_MIGRATE_DATABASE_URL (the owner) and grants
// ORGSTACK_RUNTIME_DB_ROLE, the role of ORGSTACK_DATABASE_URL, which owns
// nothing.
func TestMigrateWithOwnerURL(t *testing.T) {
	r, ownerURL := sqlstoretest.EmptyPostgresRLS(t)
	env := map[string]string{
		"ORGSTACK_MIGRATE_DATABASE_URL": ownerURL,
		"ORGSTACK_DATABASE_URL":         r.RuntimeURL,
		"ORGSTACK_RUNTIME_DB_ROLE":      r.RuntimeRole,
	}
	cmd := newRootCommand(env, "orgstack")
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"migrate", "up"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("migrate up: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "applied 20260101000001") || !strings.Contains(out.String(), "granted the service's privileges to "+r.RuntimeRole) {
		t.Errorf("migrate up output:\n%s", out.String())
	}
	checkRuntimeStore(t, r.RuntimeURL)
}

// TestServeAutoMigratesWithOwnerURL: serve's auto-migration goes through
// the owner URL and grants the runtime role, while the service's own store
// is the runtime role's.
func TestServeAutoMigratesWithOwnerURL(t *testing.T) {
	r, ownerURL := sqlstoretest.EmptyPostgresRLS(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	s := settings{DatabaseURL: r.RuntimeURL, MigrateURL: ownerURL, RuntimeDBRole: r.RuntimeRole}
	store, err := openStore(ctx, r.RuntimeURL, s)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	err = ensureSchemaWith(ctx, store, s, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "schema is behind") {
		t.Fatalf("without auto-migration: got %v, want the schema-behind error", err)
	}
	s.AutoMigrate = true
	if err := ensureSchemaWith(ctx, store, s, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	checkRuntimeStore(t, r.RuntimeURL)
}

func TestRuntimeRoleNeedsOwnerURL(t *testing.T) {
	c, err := LoadConfig(map[string]string{"ORGSTACK_DATABASE_URL": "postgres://rt@db/orgstack", "ORGSTACK_RUNTIME_DB_ROLE": "rt"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validateDatabaseURL(); err == nil || !strings.Contains(err.Error(), "ORGSTACK_MIGRATE_DATABASE_URL") {
		t.Errorf("got %v", err)
	}
}
