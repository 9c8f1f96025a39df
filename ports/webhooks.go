package ports

import (
	"context"
	"errors"
	"time"

	"github.com/orgstack/orgstack/domain"
)

// WebhookFilter selects an organization's webhooks, newest first.
type WebhookFilter struct {
	OrgID string // required
	PageRequest
}

// WebhookRepository stores organizations' webhook endpoints. Every method
// is scoped to one organization.
type WebhookRepository interface {
	// Create stores a new endpoint. Errors: domain.ErrNotFound (no such
	// organization).
	Create(ctx context.Context, w *domain.Webhook) error
	// Get returns one endpoint. Errors: domain.ErrNotFound.
	Get(ctx context.Context, orgID, id string) (*domain.Webhook, error)
	// GetForUpdate is Get that locks the endpoint until the transaction
	// ends. It does not wait for a dispatcher delivering to the endpoint.
	GetForUpdate(ctx context.Context, orgID, id string) (*domain.Webhook, error)
	// Update stores w if the stored version is still prevVersion. Errors:
	// domain.ErrNotFound, domain.ErrVersionMismatch.
	Update(ctx context.Context, w *domain.Webhook, prevVersion int64) error
	// Delete removes the endpoint with its deliveries and attempts.
	// Errors: domain.ErrNotFound.
	Delete(ctx context.Context, orgID, id string) error
	// List returns a page of the organization's endpoints.
	List(ctx context.Context, f WebhookFilter) (Page[*domain.Webhook], error)
}

// OutboxEvent is one change, as webhooks tell it: written to the outbox in
// the transaction of the change, so that a committed change is always
// delivered and a rolled-back one never is.
type OutboxEvent struct {
	ID         string    // the event's ID: webhook-id and the body's id, stable across retries and replays
	OrgID      string    // the organization whose change it is
	Type       string    // an event type of domain.WebhookEventTypes
	OccurredAt time.Time // when the change happened
	Subject    string    // what changed, e.g. "members/<user ID>"
	// Data is the event's JSON-encodable data (never a secret).
	Data map[string]any
}

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID         string
	WebhookID  string
	OrgID      string
	EventID    string
	EventType  string
	Sequence   int64 // the event's per-organization sequence number
	Status     string
	Attempts   int
	NextAt     time.Time // when it is next tried (pending)
	CreatedAt  time.Time
	Subject    string
	OccurredAt time.Time
	Data       []byte // the event's data, JSON
	// AttemptLog is the latest attempts, oldest first (only from
	// ListDeliveries).
	AttemptLog []DeliveryAttempt
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // every retry failed
)

// DeliveryAttempt is one try to deliver.
type DeliveryAttempt struct {
	At         time.Time
	StatusCode int    // 0 when no response came
	ErrorClass string // "" on success; see WebhookSender
	Duration   time.Duration
	Excerpt    string // a short, cleaned start of the response body
}

// Claim is a dispatcher's hold on one endpoint: while it holds it no other
// dispatcher delivers to that endpoint.
type Claim struct {
	WebhookID string
	OrgID     string
	Token     string    // proves the hold when results are recorded
	Until     time.Time // the hold lapses then unless extended
}

// AttemptResult is the outcome of delivering the head delivery of a
// claimed endpoint.
type AttemptResult struct {
	Attempt DeliveryAttempt
	// Delivered is true on a 2xx answer.
	Delivered bool
	// RetryAt is when a failed delivery is tried again; zero when it has
	// no retry left (it becomes failed and the endpoint moves on).
	RetryAt time.Time
	// DisableEndpoint disables the endpoint (failing for too long); Disabled
	// is then the event that says so, enqueued in the same transaction, and
	// DisabledAudit its audit event, appended in it.
	DisableEndpoint bool
	Disabled        *OutboxEvent
	DisabledAudit   *domain.AuditEvent
}

// Outbox is the transactional outbox of webhook deliveries and the
// dispatchers' claims on endpoints.
type Outbox interface {
	// Enqueue writes one change event: it takes the organization's next
	// sequence number (held until the transaction ends, so sequence numbers
	// commit in order) and queues a delivery to each of the organization's
	// enabled endpoints subscribed to ev.Type. Call it inside the change's
	// transaction.
	Enqueue(ctx context.Context, ev OutboxEvent) error
	// Claim holds one enabled endpoint whose oldest pending delivery is due
	// at now, until now+lease, for owner; ok is false when none is due. On
	// PostgreSQL the candidate is picked FOR UPDATE SKIP LOCKED, so
	// dispatchers of several instances never claim the same endpoint; an
	// expired hold may be claimed again.
	Claim(ctx context.Context, now time.Time, lease time.Duration) (c Claim, ok bool, err error)
	// Pending returns up to limit pending deliveries of the claimed
	// endpoint, in sequence order, with the endpoint.
	Pending(ctx context.Context, c Claim, limit int) (*domain.Webhook, []Delivery, error)
	// Record stores the result of one attempt at delivery d of the claimed
	// endpoint and extends the hold to until. Errors: ErrClaimLost when the
	// hold has passed to another dispatcher.
	Record(ctx context.Context, c Claim, d Delivery, r AttemptResult, until time.Time) error
	// FailingSince returns since when the endpoint's deliveries have failed
	// without a success in between (zero when the last one succeeded).
	FailingSince(ctx context.Context, orgID, webhookID string) (time.Time, error)
	// Release gives the hold up.
	Release(ctx context.Context, c Claim) error
	// ListDeliveries returns a page of an endpoint's deliveries, newest
	// first, with their attempts.
	ListDeliveries(ctx context.Context, orgID, webhookID string, p PageRequest) (Page[Delivery], error)
	// Replay queues again one delivery's event to its endpoint (same event
	// ID, a new delivery). Errors: domain.ErrNotFound.
	Replay(ctx context.Context, orgID, webhookID, deliveryID string, now time.Time) (Delivery, error)
	// ReplaySince queues again every event delivered or queued to the
	// endpoint that occurred at or after since, and returns how many.
	ReplaySince(ctx context.Context, orgID, webhookID string, since, now time.Time) (int, error)
}

// SecretSealer encrypts the secrets the service keeps (webhook signing
// secrets) with the operator's key.
type SecretSealer interface {
	// Seal encrypts plain into text fit to store.
	Seal(plain string) (string, error)
	// Open decrypts what Seal returned.
	Open(sealed string) (string, error)
}

// WebhookRequest is one signed message to send.
type WebhookRequest struct {
	URL     string
	Headers map[string]string
	Body    []byte
}

// WebhookResponse is what came back.
type WebhookResponse struct {
	StatusCode int    // 0 when no response came
	ErrorClass string // "" when a response came; else policy, unreachable, timeout, too_large
	Excerpt    string // a short cleaned start of the body
}

// WebhookSender sends webhook messages through the guarded outbound
// client (its URL rules and address checks apply on every delivery).
type WebhookSender interface {
	Send(ctx context.Context, req WebhookRequest) WebhookResponse
}

// ErrClaimLost is Outbox.Record's answer when the dispatcher's hold on an
// endpoint lapsed and another dispatcher took it.
var ErrClaimLost = errors.New("the hold on the webhook endpoint was lost")

// WebhookCreated is a new endpoint with its signing secret, shown once.
type WebhookCreated struct {
	Webhook *domain.Webhook
	Secret  string
}

// Webhooks is the driving port of an organization's webhook endpoints.
// Reads need webhooks:read, changes webhooks:write. Errors of every method:
// those of authorization (ErrOrgContextRequired, domain.ErrNotFound,
// domain.ErrForbidden, ...); domain.ErrNotFound for an endpoint or delivery
// of another organization.
type Webhooks interface {
	// List returns a page of endpoints, newest first.
	List(ctx context.Context, p Principal, org domain.OrgRef, r PageRequest) (Page[*domain.Webhook], error)
	// Create registers an endpoint and returns its secret. Errors:
	// *domain.ValidationError, domain.ErrSecretKeyMissing.
	Create(ctx context.Context, p Principal, org domain.OrgRef, spec domain.WebhookSpec) (WebhookCreated, error)
	// Get returns one endpoint.
	Get(ctx context.Context, p Principal, org domain.OrgRef, id string) (*domain.Webhook, error)
	// Update changes an endpoint; ifVersion as for every change.
	// Errors: *domain.ValidationError, domain.ErrVersionMismatch,
	// domain.ErrPreconditionRequired.
	Update(ctx context.Context, p Principal, org domain.OrgRef, id string, c domain.WebhookChange, ifVersion int64) (*domain.Webhook, error)
	// Delete removes an endpoint with its deliveries.
	Delete(ctx context.Context, p Principal, org domain.OrgRef, id string, ifVersion int64) error
	// RotateSecret gives the endpoint a new secret and returns it; the old
	// one keeps signing for the overlap. Errors: as Update,
	// domain.ErrSecretKeyMissing.
	RotateSecret(ctx context.Context, p Principal, org domain.OrgRef, id string, ifVersion int64) (WebhookCreated, error)
	// Deliveries returns a page of the endpoint's deliveries, newest first.
	Deliveries(ctx context.Context, p Principal, org domain.OrgRef, id string, r PageRequest) (Page[Delivery], error)
	// Replay queues one delivery's event again.
	Replay(ctx context.Context, p Principal, org domain.OrgRef, id, deliveryID string) (Delivery, error)
	// ReplaySince queues again every event of the endpoint since a time.
	ReplaySince(ctx context.Context, p Principal, org domain.OrgRef, id string, since time.Time) (int, error)
}
