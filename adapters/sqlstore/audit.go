package sqlstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// auditEvents implements ports.AuditEventRepository.
type auditEvents struct{ c conn }

var (
	_ ports.AuditEventRepository = auditEvents{}
	_ ports.AuditPruner          = (*Store)(nil)
)

type auditEventModel struct {
	bun.BaseModel `bun:"table:audit_events,alias:a"`

	ID                 string `bun:"id,pk"`
	OccurredAt         dbTime `bun:"occurred_at"`
	OrgID              string `bun:"org_id,pk"` // "" for user events
	Action             string `bun:"action"`
	TargetType         string `bun:"target_type"`
	TargetID           string `bun:"target_id"`
	ActorKind          string `bun:"actor_kind"`
	ActorIssuer        string `bun:"actor_issuer"`
	ActorSubject       string `bun:"actor_subject"`
	ActorUserID        string `bun:"actor_user_id"`
	ActorPlatformAdmin bool   `bun:"actor_platform_admin"`
	Changes            string `bun:"changes"`
	RequestID          string `bun:"request_id"`
	TraceID            string `bun:"trace_id"`
	ClientIP           string `bun:"client_ip"`
}

// changeJSON is how one field change is stored.
type changeJSON struct {
	Field    string `json:"field"`
	Before   any    `json:"before,omitempty"`
	After    any    `json:"after,omitempty"`
	Redacted bool   `json:"redacted,omitempty"`
}

func auditFromDomain(e *domain.AuditEvent) (*auditEventModel, error) {
	cs := e.Changes()
	out := make([]changeJSON, len(cs))
	for i, c := range cs {
		out[i] = changeJSON{Field: c.Field, Before: c.Before, After: c.After, Redacted: c.Redacted}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: encode audit changes: %w", err)
	}
	a, t, req := e.Actor(), e.Target(), e.Request()
	m := &auditEventModel{
		ID: e.ID(), OccurredAt: newDBTime(e.OccurredAt()), Action: string(e.Action()),
		TargetType: t.Type, TargetID: t.ID,
		ActorKind: string(a.Kind), ActorIssuer: a.Issuer, ActorSubject: a.Subject, ActorUserID: a.UserID,
		ActorPlatformAdmin: a.PlatformAdmin, Changes: string(b),
		RequestID: req.RequestID, TraceID: req.TraceID, ClientIP: req.ClientIP, OrgID: e.OrgID(),
	}
	return m, nil
}

func (m *auditEventModel) toDomain() (*domain.AuditEvent, error) {
	var cs []changeJSON
	d := json.NewDecoder(bytes.NewReader([]byte(m.Changes)))
	d.UseNumber()
	if err := d.Decode(&cs); err != nil {
		return nil, fmt.Errorf("sqlstore: decode audit changes of %s: %w", m.ID, err)
	}
	changes := make([]domain.FieldChange, len(cs))
	for i, c := range cs {
		changes[i] = domain.FieldChange{Field: c.Field, Before: c.Before, After: c.After, Redacted: c.Redacted}
	}
	org := m.OrgID
	e, err := domain.UnmarshalAuditEvent(m.ID, m.OccurredAt.Time(),
		domain.Actor{Kind: domain.ActorKind(m.ActorKind), Issuer: m.ActorIssuer, Subject: m.ActorSubject, UserID: m.ActorUserID, PlatformAdmin: m.ActorPlatformAdmin},
		org, domain.AuditAction(m.Action), domain.Target{Type: m.TargetType, ID: m.TargetID}, changes,
		domain.RequestInfo{RequestID: m.RequestID, TraceID: m.TraceID, ClientIP: m.ClientIP})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: stored audit event %s: %w", m.ID, err)
	}
	return e, nil
}

// Append stores one event, in the caller's transaction when it runs in one.
func (r auditEvents) Append(ctx context.Context, e *domain.AuditEvent) error {
	m, err := auditFromDomain(e)
	if err != nil {
		return err
	}
	return r.c.tenant(ctx, orgScope(m.OrgID), func(ctx context.Context, c conn) error {
		_, err := c.db.NewInsert().Model(m).Exec(ctx)
		return translate(err, "append audit event", nil)
	})
}

// List returns up to f.Limit events matching f, newest first, after f.After.
// Scoped to f.OrgID; without one (the platform's view of every
// organization's and user's events: admin audit) it is a cross-tenant read.
func (r auditEvents) List(ctx context.Context, f ports.AuditEventFilter) ([]*domain.AuditEvent, error) {
	if f.OrgID != "" {
		return scopedValue(ctx, r.c, f.OrgID, func(ctx context.Context, c conn) ([]*domain.AuditEvent, error) {
			return auditEvents{c}.list(ctx, f)
		})
	}
	return crossValue(ctx, r.c, func(ctx context.Context, c conn) ([]*domain.AuditEvent, error) {
		return auditEvents{c}.list(ctx, f)
	})
}

func (r auditEvents) list(ctx context.Context, f ports.AuditEventFilter) ([]*domain.AuditEvent, error) {
	var ms []auditEventModel
	q := r.c.db.NewSelect().Model(&ms)
	if f.OrgID != "" {
		q = q.Where("a.org_id = ?", f.OrgID)
	}
	if !f.OccurredAfter.IsZero() {
		q = q.Where("a.occurred_at > ?", newDBTime(f.OccurredAfter))
	}
	if !f.OccurredBefore.IsZero() {
		q = q.Where("a.occurred_at < ?", newDBTime(f.OccurredBefore))
	}
	if f.ActorUserID != "" {
		q = q.Where("a.actor_user_id = ?", f.ActorUserID)
	}
	switch n := len(f.Action); {
	case n > 0 && f.Action[n-1] == '.':
		q = q.Where("substr(a.action, 1, ?) = ?", n, f.Action)
	case n > 0:
		q = q.Where("a.action = ?", f.Action)
	}
	if f.TargetType != "" {
		q = q.Where("a.target_type = ?", f.TargetType)
	}
	if f.TargetID != "" {
		q = q.Where("a.target_id = ?", f.TargetID)
	}
	if !f.After.IsZero() {
		at := newDBTime(f.After.OccurredAt)
		q = q.Where("(a.occurred_at < ? OR (a.occurred_at = ? AND a.id < ?))", at, at, f.After.ID)
	}
	limit := max(f.Limit, 1)
	err := q.OrderExpr("a.occurred_at DESC, a.id DESC").Limit(int64(limit)).Scan(ctx)
	if err != nil {
		return nil, translate(err, "list audit events", nil)
	}
	out := make([]*domain.AuditEvent, 0, len(ms))
	for i := range ms {
		e, err := ms[i].toDomain()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// PruneAuditEvents deletes the events that occurred before t, as the owner
// of the audit table. The immutability trigger refuses every DELETE, so the
// prune switches it off inside its own transaction: on PostgreSQL with
// ALTER TABLE ... DISABLE TRIGGER, which only the table's owner (or a
// superuser) may run, so a runtime role that does not own the table can
// never prune; the ALTER takes an exclusive lock on the table, so appends
// wait for the prune to commit, and no other transaction ever sees the
// trigger off. Row-level security is forced on audit_events, for the owner
// too, and a cross-tenant DELETE would delete nothing: the prune lifts the
// FORCE the same way, inside its transaction (the owner, without FORCE, is
// not subject to the policies), and restores it. On SQLite the delete trigger is dropped and created again in
// the same transaction.
func (s *Store) PruneAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		off, on := `ALTER TABLE audit_events DISABLE TRIGGER audit_events_immutable, NO FORCE ROW LEVEL SECURITY`,
			`ALTER TABLE audit_events ENABLE TRIGGER audit_events_immutable, FORCE ROW LEVEL SECURITY`
		if s.dialect == SQLite {
			off, on = `DROP TRIGGER audit_events_no_delete`, `CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events cannot be changed or deleted');
END`
		}
		if _, err := tx.ExecContext(ctx, off); err != nil {
			return fmt.Errorf("sqlstore: prune needs the owner of audit_events: %w", err)
		}
		res, err := tx.NewDelete().TableExpr("audit_events").Where("occurred_at < ?", newDBTime(before)).Exec(ctx)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, on)
		return err
	})
	return n, unavailable(err)
}
