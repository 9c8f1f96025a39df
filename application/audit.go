package application

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// change is one audit event about to be recorded: who did what to which
// target, in which organization ("" for user actions), and the changed
// fields.
type change struct {
	actor   domain.Actor
	orgID   string
	action  domain.AuditAction
	target  string
	changes []domain.FieldChange
}

// record is the one seam through which every change records its audit
// events: it is called inside the change's RunInTx with the transaction's
// repositories, after the change's own writes, so the events commit or
// roll back with it. The request's ID, trace ID and client address come
// from the context (ports.RequestMetaFrom). Anything else every change must
// write in the same transaction (an outbox row for webhooks) belongs here.
func (az *authorizer) record(ctx context.Context, r ports.Repositories, cs ...change) error {
	meta := ports.RequestMetaFrom(ctx)
	req := domain.RequestInfo{RequestID: meta.RequestID, TraceID: meta.TraceID, ClientIP: meta.ClientIP}
	now := az.clock.Now()
	for _, c := range cs {
		e, err := domain.NewAuditEvent(az.ids.NewID(), now, c.actor, c.orgID, c.action, c.target, c.changes, req)
		if err != nil {
			return err
		}
		if err := r.AuditEvents().Append(ctx, e); err != nil {
			return err
		}
		// Integrators hear of every organization's change through its
		// webhooks: the same event, in the same transaction (the outbox).
		if e.OrgID() != "" {
			if err := r.Outbox().Enqueue(ctx, outboxEvent(e)); err != nil {
				return err
			}
		}
	}
	return nil
}

// outboxEvent is the webhook event of an audit event: the same ID (a
// receiver's webhook-id is the audit event's ID), type and time, and the
// audit event's public part as data, shaped as the audit log's API shows
// it (personal and secret values are already redacted).
func outboxEvent(e *domain.AuditEvent) ports.OutboxEvent {
	a, t, rq := e.Actor(), e.Target(), e.Request()
	changes := make([]any, 0, len(e.Changes()))
	for _, c := range e.Changes() {
		changes = append(changes, map[string]any{"field": c.Field, "before": c.Before, "after": c.After, "redacted": c.Redacted})
	}
	return ports.OutboxEvent{
		ID: e.ID(), OrgID: e.OrgID(), Type: string(e.Action()), OccurredAt: e.OccurredAt(), Subject: t.Type + "/" + t.ID,
		Data: map[string]any{
			"action": string(e.Action()),
			"actor": map[string]any{"type": string(a.Kind), "issuer": nullable(a.Issuer), "subject": nullable(a.Subject),
				"user_id": nullable(a.UserID), "platform_admin": a.PlatformAdmin},
			"target":  map[string]any{"type": t.Type, "id": t.ID},
			"changes": changes,
			"request": map[string]any{"request_id": nullable(rq.RequestID), "trace_id": nullable(rq.TraceID), "client_ip": nullable(rq.ClientIP)},
		},
	}
}

// nullable is v, or nil (JSON null) when v is empty.
func nullable(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// actorOf is the actor of a change a caller makes with a token.
func actorOf(p ports.Principal, userID string) domain.Actor {
	return domain.Actor{Kind: domain.ActorUser, Issuer: p.Issuer, Subject: p.Subject, UserID: userID, PlatformAdmin: p.PlatformAdmin}
}

// providerActor is the actor of a change an identity provider's claims
// make (just-in-time membership, refreshed claims).
func providerActor(p ports.Principal, userID string) domain.Actor {
	return domain.Actor{Kind: domain.ActorIdentityProvider, Issuer: p.Issuer, Subject: p.Subject, UserID: userID}
}

// The audited fields of each aggregate, as plain values. Personal fields
// are named so that the event says they changed; the domain redacts their
// values.
var (
	orgFields      = []string{"slug", "name", "metadata", "status"}
	memberFields   = []string{"roles", "status"}
	roleFields     = []string{"key", "name", "description", "permissions"}
	permFields     = []string{"key", "description"}
	userFields     = []string{"issuer", "email", "name"}
	providerFields = []string{"issuer", "jwks_url", "discovery", "audiences", "algorithms", "leeway_seconds",
		"required_typ", "max_token_age_seconds", "required_claims", "claims", "jit_enabled", "jit_role_claim",
		"jit_role_mapping", "jit_default_role"}
)

func orgRecord(o *domain.Organization) map[string]any {
	return map[string]any{"slug": string(o.Slug()), "name": o.Name(), "metadata": o.Metadata(), "status": o.Status().String()}
}

func memberRecord(m *domain.Membership) map[string]any {
	return map[string]any{"roles": roleStrings(m.Roles()), "status": m.Status().String()}
}

func roleRecord(r *domain.Role) map[string]any {
	gs := make([]string, 0, len(r.Grants()))
	for _, g := range r.Grants() {
		gs = append(gs, g.String())
	}
	return map[string]any{"key": string(r.Key()), "name": r.Name(), "description": r.Description(), "permissions": gs}
}

func permRecord(p *domain.Permission) map[string]any {
	return map[string]any{"key": p.Key().String(), "description": p.Description()}
}

// userRecord names a user's personal fields only when they hold a value
// (the domain redacts them).
func userRecord(u *domain.User) map[string]any {
	out := map[string]any{"issuer": u.Issuer()}
	if u.Email() != "" {
		out["email"] = "set"
	}
	if u.Name() != "" {
		out["name"] = "set"
	}
	return out
}

func providerRecord(p *domain.IdentityProvider) map[string]any {
	s := p.Spec()
	rc := make([]string, 0, len(s.RequiredClaims))
	for _, c := range s.RequiredClaims {
		rc = append(rc, c.Claim.String()+"="+c.Value)
	}
	mapping := make(map[string][]string, len(s.JIT.RoleMapping))
	for k, v := range s.JIT.RoleMapping {
		mapping[k] = roleStrings(v)
	}
	return map[string]any{
		"issuer": s.Issuer, "jwks_url": s.JWKSURL, "discovery": s.Discovery,
		"audiences": append([]string{}, s.Audiences...), "algorithms": append([]string{}, s.Algorithms...),
		"leeway_seconds": int64(s.Leeway / time.Second), "required_typ": s.RequiredTyp,
		"max_token_age_seconds": int64(s.MaxTokenAge / time.Second), "required_claims": rc,
		"claims":      map[string]string{"subject": s.Claims.Subject.String(), "email": s.Claims.Email.String(), "name": s.Claims.Name.String()},
		"jit_enabled": s.JIT.Enabled, "jit_role_claim": s.JIT.RoleClaim.String(),
		"jit_role_mapping": mapping, "jit_default_role": string(s.JIT.DefaultRole),
	}
}

// memberAction is the action of a membership update: which of roles and
// status changed.
func memberAction(before, after *domain.Membership) domain.AuditAction {
	roles := !slices.Equal(before.Roles(), after.Roles())
	status := before.Status() != after.Status()
	switch {
	case roles && status:
		return domain.ActionMemberUpdated
	case status:
		return domain.ActionMemberStatusChanged
	}
	return domain.ActionMemberRolesChanged
}

var _ ports.AuditLog = (*AuditService)(nil)

// AuditService implements ports.AuditLog.
type AuditService struct {
	auth *authorizer
}

// Audit list bounds.
const (
	defaultAuditSize = 20
	maxAuditSize     = 100
	exportBatch      = 500
	maxAuditFilter   = 200
)

// List returns a page of the organization's events (audit:read).
func (s *AuditService) List(ctx context.Context, p ports.Principal, org domain.OrgRef, q ports.AuditQuery) (ports.AuditPage, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermAuditRead, read)
	if err != nil {
		return ports.AuditPage{}, err
	}
	q.OrgID = acc.org.ID()
	return s.page(ctx, q)
}

// ListAll returns a page of every event, for platform administrators.
func (s *AuditService) ListAll(ctx context.Context, p ports.Principal, q ports.AuditQuery) (ports.AuditPage, error) {
	if !p.PlatformAdmin {
		return ports.AuditPage{}, domain.ErrPlatformAdminRequired
	}
	return s.page(ctx, q)
}

// Export calls fn with every event of the organization matching q.
func (s *AuditService) Export(ctx context.Context, p ports.Principal, org domain.OrgRef, q ports.AuditQuery, fn func(*domain.AuditEvent) error) error {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermAuditRead, read)
	if err != nil {
		return err
	}
	q.OrgID = acc.org.ID()
	return s.export(ctx, q, fn)
}

// ExportAll calls fn with every event matching q, for platform
// administrators.
func (s *AuditService) ExportAll(ctx context.Context, p ports.Principal, q ports.AuditQuery, fn func(*domain.AuditEvent) error) error {
	if !p.PlatformAdmin {
		return domain.ErrPlatformAdminRequired
	}
	return s.export(ctx, q, fn)
}

func (s *AuditService) page(ctx context.Context, q ports.AuditQuery) (ports.AuditPage, error) {
	f, err := auditFilter(q)
	if err != nil {
		return ports.AuditPage{}, err
	}
	size := q.Size
	if size == 0 {
		size = defaultAuditSize
	}
	if size < 1 || size > maxAuditSize {
		return ports.AuditPage{}, domain.Invalid("size", "must be 1 to %d", maxAuditSize)
	}
	if f.After, err = decodeCursor(q.Cursor); err != nil {
		return ports.AuditPage{}, err
	}
	f.Limit = size + 1
	es, err := s.auth.store.AuditEvents().List(ctx, f)
	if err != nil {
		return ports.AuditPage{}, err
	}
	out := ports.AuditPage{Items: es, Size: size}
	if len(es) > size {
		out.Items = es[:size]
		out.NextCursor = encodeCursor(es[size-1])
	}
	return out, nil
}

// export reads the events in batches of exportBatch, each after the last
// of the one before: memory stays bounded whatever the log's size.
func (s *AuditService) export(ctx context.Context, q ports.AuditQuery, fn func(*domain.AuditEvent) error) error {
	f, err := auditFilter(q)
	if err != nil {
		return err
	}
	f.Limit = exportBatch
	for {
		es, err := s.auth.store.AuditEvents().List(ctx, f)
		if err != nil {
			return err
		}
		for _, e := range es {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(es) < exportBatch {
			return nil
		}
		last := es[len(es)-1]
		f.After = ports.AuditCursor{OccurredAt: last.OccurredAt(), ID: last.ID()}
	}
}

// auditFilter checks the filters of q and turns them into a store filter.
func auditFilter(q ports.AuditQuery) (ports.AuditEventFilter, error) {
	var fe []domain.FieldError
	if a := q.Action; a != "" {
		if strings.HasSuffix(a, ".") {
			if !slices.ContainsFunc(domain.AuditActions(), func(x domain.AuditAction) bool { return strings.HasPrefix(string(x), a) }) {
				fe = append(fe, domain.FieldError{Field: "action", Detail: "no audit action starts with this prefix"})
			}
		} else if !domain.IsAuditAction(domain.AuditAction(a)) {
			fe = append(fe, domain.FieldError{Field: "action", Detail: "must be an audit action, or a prefix ending in '.'"})
		}
	}
	if t := q.TargetType; t != "" && !slices.ContainsFunc(domain.AuditActions(), func(x domain.AuditAction) bool { return x.TargetType() == t }) {
		fe = append(fe, domain.FieldError{Field: "target_type", Detail: "is not a target type of any audit action"})
	}
	for _, v := range []struct{ field, value string }{
		{"actor_user_id", q.ActorUserID}, {"target_id", q.TargetID}, {"organization_id", q.OrgID},
	} {
		if !domain.IsKeyText(v.value) || utf8.RuneCountInString(v.value) > maxAuditFilter {
			fe = append(fe, domain.FieldError{Field: v.field, Detail: "must be at most " + strconv.Itoa(maxAuditFilter) + " bytes of text without control characters"})
		}
	}
	if len(fe) > 0 {
		return ports.AuditEventFilter{}, &domain.ValidationError{Fields: fe}
	}
	return ports.AuditEventFilter{
		OrgID: q.OrgID, OccurredAfter: q.OccurredAfter, OccurredBefore: q.OccurredBefore,
		ActorUserID: q.ActorUserID, Action: q.Action, TargetType: q.TargetType, TargetID: q.TargetID,
	}, nil
}

// A cursor is the last event of a page, "<unix microseconds>.<event ID>",
// in unpadded base64url: opaque to clients, checked when it comes back.
func encodeCursor(e *domain.AuditEvent) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(e.OccurredAt().UnixMicro(), 10) + "." + e.ID()))
}

var errBadCursor = domain.Invalid("cursor", "is not a cursor this list returned")

func decodeCursor(c string) (ports.AuditCursor, error) {
	if c == "" {
		return ports.AuditCursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return ports.AuditCursor{}, errBadCursor
	}
	us, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(us, 10, 64)
	if !ok || err != nil || n < 0 || id == "" || !domain.IsKeyText(id) || utf8.RuneCountInString(id) > maxAuditFilter {
		return ports.AuditCursor{}, errBadCursor
	}
	return ports.AuditCursor{OccurredAt: time.UnixMicro(n).UTC(), ID: id}, nil
}
