package ports

import (
	"context"
	"time"

	"github.com/orgstack/orgstack/domain"
)

// AuditCursor is a place in the newest-first order of audit events: the
// last event of a page (its time and ID). A page after it holds the events
// that come strictly after it in that order.
type AuditCursor struct {
	OccurredAt time.Time
	ID         string
}

// IsZero reports whether c names no place (the first page).
func (c AuditCursor) IsZero() bool { return c.ID == "" }

// AuditEventFilter selects audit events. Zero fields select everything.
type AuditEventFilter struct {
	// OrgID keeps one organization's events; "" keeps every event (the
	// platform's view: organizations' and users').
	OrgID string
	// OccurredAfter and OccurredBefore bound the time, exclusive.
	OccurredAfter, OccurredBefore time.Time
	ActorUserID                   string
	// Action is an exact action, or a prefix ending in "." ("member.").
	Action     string
	TargetType string
	TargetID   string
	// After continues the list after this cursor.
	After AuditCursor
	// Limit bounds the number of events returned (≥ 1).
	Limit int
}

// AuditEventRepository stores the audit log. Events are only ever
// appended; Append joins the caller's transaction (Repositories.AuditEvents
// inside RunInTx), so an event commits or rolls back with its change.
type AuditEventRepository interface {
	// Append stores one event. Errors: none of its own (a duplicate ID is an
	// internal error).
	Append(ctx context.Context, e *domain.AuditEvent) error
	// List returns up to f.Limit events matching f, newest first (by time,
	// then by ID), after f.After.
	List(ctx context.Context, f AuditEventFilter) ([]*domain.AuditEvent, error)
}

// AuditPruner deletes old audit events. Only the owner of the audit table
// may (the runtime role cannot change or delete events); stores offer it
// for the operator's `orgstack audit prune`.
type AuditPruner interface {
	// PruneAuditEvents deletes the events that occurred before t and returns
	// how many it deleted.
	PruneAuditEvents(ctx context.Context, before time.Time) (int64, error)
}

// RequestMeta is what the edge knows about the request a change came
// from: its ID, its trace ID and the client's address. The HTTP adapter
// attaches it; the audit log records it with every change.
type RequestMeta struct {
	RequestID string
	TraceID   string
	ClientIP  string
}

type requestMetaKey struct{}

// WithRequestMeta returns ctx carrying m.
func WithRequestMeta(ctx context.Context, m RequestMeta) context.Context {
	return context.WithValue(ctx, requestMetaKey{}, m)
}

// RequestMetaFrom returns the request metadata of ctx (zero when none).
func RequestMetaFrom(ctx context.Context) RequestMeta {
	m, _ := ctx.Value(requestMetaKey{}).(RequestMeta)
	return m
}

// AuditQuery is what a caller asks of the audit log: the filters of
// AuditEventFilter, a page size (1 to 100, default 20) and the opaque
// cursor of a previous page ("" for the first).
type AuditQuery struct {
	OccurredAfter, OccurredBefore time.Time
	ActorUserID                   string
	Action                        string
	TargetType                    string
	TargetID                      string
	// OrgID, for the platform's view only, keeps one organization's events.
	OrgID  string
	Size   int
	Cursor string
}

// AuditPage is one page of the audit log: no total, and the cursor of the
// next page ("" on the last).
type AuditPage struct {
	Items      []*domain.AuditEvent
	Size       int
	NextCursor string
}

// AuditLog reads the audit log.
type AuditLog interface {
	// List returns a page of the organization's events, newest first
	// (audit:read). Errors also: *domain.ValidationError naming the field
	// (a bad cursor, action or size).
	List(ctx context.Context, p Principal, org domain.OrgRef, q AuditQuery) (AuditPage, error)
	// ListAll is List over every organization and user, for platform
	// administrators (domain.ErrPlatformAdminRequired); q.OrgID keeps one
	// organization's events.
	ListAll(ctx context.Context, p Principal, q AuditQuery) (AuditPage, error)
	// Export calls fn with every event matching q (the cursor and size
	// ignored), newest first, reading them in bounded batches. Its checks
	// and errors are List's; it stops at fn's first error and returns it.
	Export(ctx context.Context, p Principal, org domain.OrgRef, q AuditQuery, fn func(*domain.AuditEvent) error) error
	// ExportAll is Export over ListAll's events.
	ExportAll(ctx context.Context, p Principal, q AuditQuery, fn func(*domain.AuditEvent) error) error
}
