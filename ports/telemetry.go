package ports

import (
	"context"
	"sync/atomic"
	"time"
)

// The telemetry ports: what the edge and the use cases report for metrics
// and logs. Implementations (adapters/telemetry) must be cheap and safe for
// concurrent use; every label they derive comes from a closed set (a route
// template, a method, a status, a reason, a configured issuer), never from
// an organization, a subject or a raw path.

// RequestEvents receives every HTTP request the API serves.
type RequestEvents interface {
	// RequestStarted counts a request in flight; RequestDone ends it.
	RequestStarted()
	// RequestDone reports a finished request by its route template ("" for
	// no matching route), method, status and duration.
	RequestDone(route, method string, status int, elapsed time.Duration)
}

// AuthEvents receives failed authentications.
type AuthEvents interface {
	// AuthFailure reports a refused bearer token by its TokenReason, or
	// "missing" when no token was sent.
	AuthFailure(reason string)
}

// ReasonMissing is the AuthFailure reason of a request without a token.
const ReasonMissing = "missing"

// CheckEvents receives permission-check decisions.
type CheckEvents interface {
	// CheckDecision reports one answered check (a batch reports each).
	CheckDecision(allowed bool)
}

// KeyRefreshEvents receives the outcome of every key-set fetch.
type KeyRefreshEvents interface {
	// KeyRefresh reports one fetch of issuer's key set. issuer is an
	// operator-configured issuer, or "tenant" for every organization's own.
	KeyRefresh(issuer string, ok bool)
}

// TenantIssuerLabel is the KeyRefresh issuer of organizations' own
// identity providers: their URLs are tenant data, never a label.
const TenantIssuerLabel = "tenant"

// RequestNote collects, while a request is served, what the use cases learn
// about it that the edge logs: the organization it resolved to. The edge
// attaches one with WithRequestNote; the application fills it.
type RequestNote struct {
	orgID atomic.Pointer[string]
}

type requestNoteKey struct{}

// WithRequestNote returns ctx carrying n.
func WithRequestNote(ctx context.Context, n *RequestNote) context.Context {
	return context.WithValue(ctx, requestNoteKey{}, n)
}

// NoteOrganization records the resolved organization ID of the request ctx
// belongs to; without a note it does nothing.
func NoteOrganization(ctx context.Context, orgID string) {
	if n, _ := ctx.Value(requestNoteKey{}).(*RequestNote); n != nil {
		n.orgID.Store(&orgID)
	}
}

// OrgID returns the organization noted ("" when none).
func (n *RequestNote) OrgID() string {
	if p := n.orgID.Load(); p != nil {
		return *p
	}
	return ""
}
