package domain

import (
	"reflect"
	"slices"
	"strings"
	"time"
)

// The audit log answers "who changed what, when, and from where" for every
// change to an organization, its members, roles, permissions, identity
// provider and webhooks, and to users. Each change writes exactly one audit
// event, in the same transaction as the change itself: a refused change
// leaves no event, a committed one always has its event. Events are never
// changed afterwards; old ones are only pruned by the operator.
//
// Events name people by their user ID only. Personal fields (a user's
// email, name and metadata) and secrets (a provider's or webhook's secret)
// never appear in an event: when they change, the event says which fields
// changed, with their values left out.

// AuditAction names what a change did, as "<target type>.<verb>". The
// catalogue below is the only set of actions; webhook event types are the
// same names, so a subscriber hears of exactly the changes the audit log
// records.
type AuditAction string

// The catalogue of audit actions (and webhook event types).
const (
	ActionOrganizationCreated AuditAction = "organization.created"
	ActionOrganizationUpdated AuditAction = "organization.updated"
	ActionOrganizationDeleted AuditAction = "organization.deleted"

	ActionMemberAdded         AuditAction = "member.added"
	ActionMemberRolesChanged  AuditAction = "member.roles_changed"
	ActionMemberStatusChanged AuditAction = "member.status_changed"
	ActionMemberUpdated       AuditAction = "member.updated" // roles and status in one change
	ActionMemberRemoved       AuditAction = "member.removed"

	ActionRoleCreated AuditAction = "role.created"
	ActionRoleUpdated AuditAction = "role.updated"
	ActionRoleDeleted AuditAction = "role.deleted"

	ActionPermissionCreated AuditAction = "permission.created"
	ActionPermissionUpdated AuditAction = "permission.updated"
	ActionPermissionDeleted AuditAction = "permission.deleted"

	ActionIdentityProviderCreated AuditAction = "identity_provider.created"
	ActionIdentityProviderUpdated AuditAction = "identity_provider.updated"
	ActionIdentityProviderDeleted AuditAction = "identity_provider.deleted"

	ActionUserCreated     AuditAction = "user.created"
	ActionUserUpdated     AuditAction = "user.updated"
	ActionUserDeactivated AuditAction = "user.deactivated"
	ActionUserActivated   AuditAction = "user.activated"
	ActionUserErased      AuditAction = "user.erased"

	ActionWebhookCreated       AuditAction = "webhook.created"
	ActionWebhookUpdated       AuditAction = "webhook.updated"
	ActionWebhookDeleted       AuditAction = "webhook.deleted"
	ActionWebhookSecretRotated AuditAction = "webhook.secret_rotated"
	ActionWebhookDisabled      AuditAction = "webhook.disabled"
)

var auditActions = []AuditAction{
	ActionOrganizationCreated, ActionOrganizationUpdated, ActionOrganizationDeleted,
	ActionMemberAdded, ActionMemberRolesChanged, ActionMemberStatusChanged, ActionMemberUpdated, ActionMemberRemoved,
	ActionRoleCreated, ActionRoleUpdated, ActionRoleDeleted,
	ActionPermissionCreated, ActionPermissionUpdated, ActionPermissionDeleted,
	ActionIdentityProviderCreated, ActionIdentityProviderUpdated, ActionIdentityProviderDeleted,
	ActionUserCreated, ActionUserUpdated, ActionUserDeactivated, ActionUserActivated, ActionUserErased,
	ActionWebhookCreated, ActionWebhookUpdated, ActionWebhookDeleted, ActionWebhookSecretRotated, ActionWebhookDisabled,
}

// AuditActions returns the whole catalogue, in a stable order.
func AuditActions() []AuditAction { return slices.Clone(auditActions) }

// IsAuditAction reports whether a is in the catalogue.
func IsAuditAction(a AuditAction) bool { return slices.Contains(auditActions, a) }

// TargetType is the kind of thing the action changed: the part of the
// action before the dot ("member" for member.roles_changed).
func (a AuditAction) TargetType() string {
	t, _, _ := strings.Cut(string(a), ".")
	return t
}

// OrgScoped reports whether events of the action belong to an organization.
// Only user actions are global (users are shared by organizations).
func (a AuditAction) OrgScoped() bool { return a.TargetType() != "user" }

// ActorKind says who made a change.
type ActorKind string

// The actor kinds.
const (
	// ActorUser is a person (or client) acting with a token.
	ActorUser ActorKind = "user"
	// ActorIdentityProvider is a change an identity provider's claims made:
	// just-in-time membership and role sync, refreshed user claims.
	ActorIdentityProvider ActorKind = "identity_provider"
	// ActorSystem is a change the service made on its own (a webhook
	// disabled after failing for long, say).
	ActorSystem ActorKind = "system"
)

// Actor is who made a change: for a user, the token's issuer and subject,
// the user's ID and whether a platform administrator acted; for an
// identity provider, the issuer and the subject whose token it was.
type Actor struct {
	Kind          ActorKind
	Issuer        string
	Subject       string
	UserID        string
	PlatformAdmin bool
}

// SystemActor is the actor of changes the service makes on its own.
var SystemActor = Actor{Kind: ActorSystem}

// problem returns what is wrong with the actor ("" when nothing is).
func (a Actor) problem() string {
	switch a.Kind {
	case ActorUser, ActorIdentityProvider:
		if a.Issuer == "" || a.Subject == "" {
			return "a " + string(a.Kind) + " actor needs an issuer and a subject"
		}
	case ActorSystem:
		if a.Issuer != "" || a.Subject != "" || a.UserID != "" || a.PlatformAdmin {
			return "the system actor names no one"
		}
	default:
		return "unknown actor kind"
	}
	return ""
}

// FieldChange is one changed field: its value before and after the change
// (nil when it had none: a creation has no before, a deletion no after).
// Values are plain data: text, numbers, booleans, lists and maps of them.
// A redacted change says only that the field changed.
type FieldChange struct {
	Field    string
	Before   any
	After    any
	Redacted bool
}

// RequestInfo is where a change came from: the request's ID, its trace ID
// and the client's address, when it came through the API.
type RequestInfo struct {
	RequestID string
	TraceID   string
	ClientIP  string
}

// Target is what a change was made to: its type (the action's) and ID.
type Target struct {
	Type string
	ID   string
}

// AuditEvent is one recorded change. It is immutable.
type AuditEvent struct {
	id         string
	occurredAt time.Time
	actor      Actor
	orgID      string
	action     AuditAction
	target     Target
	changes    []FieldChange
	request    RequestInfo
}

// secretField reports whether a field holds a secret: its name says so.
func secretField(f string) bool {
	f = strings.ToLower(f)
	return strings.Contains(f, "secret") || strings.Contains(f, "password") || strings.Contains(f, "private_key")
}

// personalField reports whether a field of a target type holds personal
// data: a user's email, name and metadata.
func personalField(targetType, f string) bool {
	if targetType != "user" && targetType != "member" {
		return false
	}
	switch strings.ToLower(f) {
	case "email", "name", "metadata":
		return true
	}
	return false
}

// NewAuditEvent records one change made by actor to target in orgID (""
// for user actions, which belong to no organization). The time is kept to
// the microsecond. Secret and personal fields among changes are redacted
// here, whatever the caller passed, so no event ever holds them. Errors:
// *ValidationError when the ID or time is missing, the action is not in
// the catalogue, the target type is not the action's, the target ID is
// missing, the organization is missing for an organization action, or the
// actor is incomplete.
func NewAuditEvent(id string, at time.Time, actor Actor, orgID string, action AuditAction, targetID string, changes []FieldChange, req RequestInfo) (*AuditEvent, error) {
	var fe []FieldError
	if id == "" {
		fe = append(fe, FieldError{Field: "id", Detail: "is required"})
	}
	if at.IsZero() {
		fe = append(fe, FieldError{Field: "occurred_at", Detail: "is required"})
	}
	if !IsAuditAction(action) {
		fe = append(fe, FieldError{Field: "action", Detail: "is not in the catalogue of audit actions"})
	}
	if targetID == "" {
		fe = append(fe, FieldError{Field: "target_id", Detail: "is required"})
	}
	if action.OrgScoped() && orgID == "" {
		fe = append(fe, FieldError{Field: "organization_id", Detail: "is required for this action"})
	}
	if !action.OrgScoped() && orgID != "" {
		fe = append(fe, FieldError{Field: "organization_id", Detail: "user actions belong to no organization"})
	}
	if d := actor.problem(); d != "" {
		fe = append(fe, FieldError{Field: "actor", Detail: d})
	}
	if len(fe) > 0 {
		return nil, &ValidationError{Fields: fe}
	}
	tt := action.TargetType()
	cs := make([]FieldChange, 0, len(changes))
	for _, c := range changes {
		if c.Redacted || secretField(c.Field) || personalField(tt, c.Field) {
			c = FieldChange{Field: c.Field, Redacted: true}
		}
		cs = append(cs, c)
	}
	return &AuditEvent{
		id: id, occurredAt: at.UTC().Truncate(time.Microsecond), actor: actor, orgID: orgID,
		action: action, target: Target{Type: tt, ID: targetID}, changes: cs, request: req,
	}, nil
}

// UnmarshalAuditEvent rebuilds a stored event. It applies the same rules
// as NewAuditEvent, so a stored event that breaks them is refused.
func UnmarshalAuditEvent(id string, at time.Time, actor Actor, orgID string, action AuditAction, target Target, changes []FieldChange, req RequestInfo) (*AuditEvent, error) {
	e, err := NewAuditEvent(id, at, actor, orgID, action, target.ID, changes, req)
	if err != nil {
		return nil, err
	}
	if target.Type != e.target.Type {
		return nil, Invalid("target_type", "is not the action's target type")
	}
	return e, nil
}

// ID returns the event's ID (UUIDv7: IDs grow with time).
func (e *AuditEvent) ID() string { return e.id }

// OccurredAt returns when the change was made.
func (e *AuditEvent) OccurredAt() time.Time { return e.occurredAt }

// Actor returns who made the change.
func (e *AuditEvent) Actor() Actor { return e.actor }

// OrgID returns the organization changed ("" for user actions).
func (e *AuditEvent) OrgID() string { return e.orgID }

// Action returns what the change did.
func (e *AuditEvent) Action() AuditAction { return e.action }

// Target returns what the change was made to.
func (e *AuditEvent) Target() Target { return e.target }

// Changes returns the changed fields.
func (e *AuditEvent) Changes() []FieldChange { return slices.Clone(e.changes) }

// Request returns where the change came from.
func (e *AuditEvent) Request() RequestInfo { return e.request }

// Diff returns the changes between before and after, two flat records of
// the same fields (field name to value), in the order of fields: only the
// fields whose values differ, compared as plain data.
func Diff(fields []string, before, after map[string]any) []FieldChange {
	var out []FieldChange
	for _, f := range fields {
		b, a := before[f], after[f]
		if sameValue(b, a) {
			continue
		}
		out = append(out, FieldChange{Field: f, Before: b, After: a})
	}
	return out
}

// Snapshot returns a change per field of a record that was created (before
// nil) or deleted (after nil).
func Snapshot(fields []string, rec map[string]any, created bool) []FieldChange {
	out := make([]FieldChange, 0, len(fields))
	for _, f := range fields {
		v, ok := rec[f]
		if !ok {
			continue
		}
		if created {
			out = append(out, FieldChange{Field: f, After: v})
		} else {
			out = append(out, FieldChange{Field: f, Before: v})
		}
	}
	return out
}

func sameValue(a, b any) bool { return reflect.DeepEqual(a, b) }
