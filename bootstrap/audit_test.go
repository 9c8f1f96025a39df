package bootstrap

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func TestParseCutoff(t *testing.T) {
	now := time.Date(2026, 12, 15, 12, 0, 0, 0, time.UTC)
	good := map[string]time.Time{
		"2026-01-02T03:04:05Z": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		"2160h":                now.Add(-2160 * time.Hour),
		"90d":                  now.Add(-90 * 24 * time.Hour),
	}
	for v, want := range good {
		got, err := parseCutoff(v, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseCutoff(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"", "-1h", "0s", "yesterday", "d", "1.5d", "-3d"} {
		if _, err := parseCutoff(v, now); err == nil {
			t.Errorf("parseCutoff(%q) accepted", v)
		}
	}
}

// `orgstack audit prune` deletes old events through the store's owner-only
// path and keeps newer ones.
func TestAuditPruneCommand(t *testing.T) {
	path := t.TempDir() + "/audit.db"
	dbURL := "sqlite:" + path
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	old, _ := domain.NewAuditEvent("00000000-0000-7000-8000-000000000001", time.Now().Add(-100*24*time.Hour), domain.SystemActor, "o", domain.ActionWebhookDisabled, "w", nil, domain.RequestInfo{})
	recent, _ := domain.NewAuditEvent("00000000-0000-7000-8000-000000000002", time.Now(), domain.SystemActor, "o", domain.ActionWebhookDisabled, "w", nil, domain.RequestInfo{})
	if err := s.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.AuditEvents().Append(ctx, old); err != nil {
			return err
		}
		return r.AuditEvents().Append(ctx, recent)
	}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	stdout, stderr, code := runCLI(t, map[string]string{"ORGSTACK_DATABASE_URL": dbURL}, "audit", "prune", "--before", "90d")
	if code != 0 || !strings.Contains(stdout, "pruned 1 audit events") {
		t.Fatalf("audit prune: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	s, err = sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	es, err := s.AuditEvents().List(ctx, ports.AuditEventFilter{Limit: 10})
	if err != nil || len(es) != 1 || es[0].ID() != recent.ID() {
		t.Errorf("after prune: %v, %v; want only the recent event", es, err)
	}
	if _, _, code := runCLI(t, map[string]string{"ORGSTACK_DATABASE_URL": dbURL}, "audit", "prune"); code == 0 {
		t.Error("audit prune without --before succeeded")
	}
}
