package application

import (
	"context"
	"errors"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

var _ ports.Webhooks = (*WebhookService)(nil)

// DefaultSecretOverlap is how long a replaced webhook secret keeps signing.
const DefaultSecretOverlap = 24 * time.Hour

// WebhookService implements ports.Webhooks: organizations' webhook
// endpoints. Every change to an endpoint is itself an event (webhook.*)
// enqueued in the change's transaction.
type WebhookService struct {
	auth    *authorizer
	urls    ports.URLPolicy    // nil: https only
	sealer  ports.SecretSealer // nil: endpoints cannot be created (ErrSecretKeyMissing)
	overlap time.Duration
}

// checkURL applies the outbound policy to an endpoint's URL.
func (s *WebhookService) checkURL(raw string) error {
	pol := s.urls
	if pol == nil {
		pol = httpsOnly{}
	}
	if err := pol.CheckURL(raw); err != nil {
		return domain.Invalid("url", "must be an https URL (plain http only for a host:port the operator allows)")
	}
	return nil
}

// The audited fields of an endpoint: its settings, never its secrets (a
// rotation records the field "secret", redacted).
var webhookFields = []string{"url", "event_types", "description", "enabled", "disabled_reason"}

func webhookRecord(w *domain.Webhook) map[string]any {
	sp := w.Spec()
	return map[string]any{"url": sp.URL, "event_types": append([]string{}, sp.EventTypes...), "description": sp.Description,
		"enabled": w.Enabled(), "disabled_reason": w.DisabledReason()}
}

// List returns a page of the organization's endpoints (webhooks:read).
func (s *WebhookService) List(ctx context.Context, p ports.Principal, org domain.OrgRef, r ports.PageRequest) (ports.Page[*domain.Webhook], error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksRead, read)
	if err != nil {
		return ports.Page[*domain.Webhook]{}, err
	}
	return s.auth.store.Webhooks().List(ctx, ports.WebhookFilter{OrgID: acc.org.ID(), PageRequest: normalizePage(r)})
}

// Create registers an endpoint (webhooks:write) and returns it with its
// secret, which is shown this once.
func (s *WebhookService) Create(ctx context.Context, p ports.Principal, org domain.OrgRef, spec domain.WebhookSpec) (ports.WebhookCreated, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksWrite, write)
	if err != nil {
		return ports.WebhookCreated{}, err
	}
	if err := spec.Validate(); err != nil {
		return ports.WebhookCreated{}, err
	}
	if err := s.checkURL(spec.URL); err != nil {
		return ports.WebhookCreated{}, err
	}
	if s.sealer == nil {
		return ports.WebhookCreated{}, domain.ErrSecretKeyMissing
	}
	secret := domain.NewWebhookSecret()
	sealed, err := s.sealer.Seal(secret)
	if err != nil {
		return ports.WebhookCreated{}, err
	}
	now := s.auth.clock.Now()
	w, err := domain.NewWebhook(s.auth.ids.NewID(), acc.org.ID(), spec, domain.SealedSecret{Sealed: sealed}, now)
	if err != nil {
		return ports.WebhookCreated{}, err
	}
	err = s.auth.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		if err := r.Webhooks().Create(ctx, w); err != nil {
			return err
		}
		return s.auth.record(ctx, r, change{actorOf(p, acc.user.ID()), w.OrgID(), domain.ActionWebhookCreated, w.ID(),
			domain.Snapshot(webhookFields, webhookRecord(w), true)})
	})
	if err != nil {
		return ports.WebhookCreated{}, err
	}
	return ports.WebhookCreated{Webhook: w, Secret: secret}, nil
}

// Get returns one endpoint (webhooks:read).
func (s *WebhookService) Get(ctx context.Context, p ports.Principal, org domain.OrgRef, id string) (*domain.Webhook, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksRead, read)
	if err != nil {
		return nil, err
	}
	return s.auth.store.Webhooks().Get(ctx, acc.org.ID(), id)
}

// change runs one change of an endpoint in a transaction that locks it,
// checks ifVersion and enqueues the event typ tells.
func (s *WebhookService) change(ctx context.Context, p ports.Principal, org domain.OrgRef, id string, ifVersion int64, typ domain.AuditAction,
	fn func(w *domain.Webhook, now time.Time) error) (*domain.Webhook, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksWrite, write)
	if err != nil {
		return nil, err
	}
	var out *domain.Webhook
	err = s.auth.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		w, err := r.Webhooks().GetForUpdate(ctx, acc.org.ID(), id)
		if err != nil {
			return err
		}
		prev := w.Version()
		if err := checkVersion(ifVersion, prev); err != nil {
			return err
		}
		now := s.auth.clock.Now()
		before := webhookRecord(w)
		if err := fn(w, now); err != nil {
			return err
		}
		out = w
		if w.Version() == prev {
			return nil
		}
		if err := r.Webhooks().Update(ctx, w, prev); err != nil {
			return err
		}
		changes := domain.Diff(webhookFields, before, webhookRecord(w))
		if typ == domain.ActionWebhookSecretRotated {
			changes = append(changes, domain.FieldChange{Field: "secret", Redacted: true})
		}
		return s.auth.record(ctx, r, change{actorOf(p, acc.user.ID()), w.OrgID(), typ, w.ID(), changes})
	})
	return out, err
}

// Update changes an endpoint (webhooks:write). A new URL is checked
// against the outbound policy.
func (s *WebhookService) Update(ctx context.Context, p ports.Principal, org domain.OrgRef, id string, c domain.WebhookChange, ifVersion int64) (*domain.Webhook, error) {
	return s.change(ctx, p, org, id, ifVersion, domain.ActionWebhookUpdated, func(w *domain.Webhook, now time.Time) error {
		if err := w.Apply(c, now); err != nil {
			return err
		}
		if c.URL != nil {
			return s.checkURL(*c.URL)
		}
		return nil
	})
}

// RotateSecret gives the endpoint a new secret (webhooks:write); the old
// one signs beside it for the overlap.
func (s *WebhookService) RotateSecret(ctx context.Context, p ports.Principal, org domain.OrgRef, id string, ifVersion int64) (ports.WebhookCreated, error) {
	if s.sealer == nil {
		if _, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksWrite, write); err != nil {
			return ports.WebhookCreated{}, err
		}
		return ports.WebhookCreated{}, domain.ErrSecretKeyMissing
	}
	secret := domain.NewWebhookSecret()
	sealed, err := s.sealer.Seal(secret)
	if err != nil {
		return ports.WebhookCreated{}, err
	}
	w, err := s.change(ctx, p, org, id, ifVersion, domain.ActionWebhookSecretRotated, func(w *domain.Webhook, now time.Time) error {
		w.RotateSecret(domain.SealedSecret{Sealed: sealed}, s.overlap, now)
		return nil
	})
	if err != nil {
		return ports.WebhookCreated{}, err
	}
	return ports.WebhookCreated{Webhook: w, Secret: secret}, nil
}

// Delete removes an endpoint (webhooks:write) with its deliveries.
func (s *WebhookService) Delete(ctx context.Context, p ports.Principal, org domain.OrgRef, id string, ifVersion int64) error {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksWrite, write)
	if err != nil {
		return err
	}
	return s.auth.store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
		w, err := r.Webhooks().GetForUpdate(ctx, acc.org.ID(), id)
		if err != nil {
			return err
		}
		if err := checkVersion(ifVersion, w.Version()); err != nil {
			return err
		}
		if err := r.Webhooks().Delete(ctx, acc.org.ID(), id); err != nil {
			return err
		}
		return s.auth.record(ctx, r, change{actorOf(p, acc.user.ID()), w.OrgID(), domain.ActionWebhookDeleted, w.ID(),
			domain.Snapshot(webhookFields, webhookRecord(w), false)})
	})
}

// Deliveries returns a page of an endpoint's deliveries (webhooks:read).
func (s *WebhookService) Deliveries(ctx context.Context, p ports.Principal, org domain.OrgRef, id string, r ports.PageRequest) (ports.Page[ports.Delivery], error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksRead, read)
	if err != nil {
		return ports.Page[ports.Delivery]{}, err
	}
	if _, err := s.auth.store.Webhooks().Get(ctx, acc.org.ID(), id); err != nil {
		return ports.Page[ports.Delivery]{}, err
	}
	return s.auth.store.Outbox().ListDeliveries(ctx, acc.org.ID(), id, normalizePage(r))
}

// Replay queues one delivery's event again (webhooks:write), with the same
// event ID (webhook-id).
func (s *WebhookService) Replay(ctx context.Context, p ports.Principal, org domain.OrgRef, id, deliveryID string) (ports.Delivery, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksWrite, write)
	if err != nil {
		return ports.Delivery{}, err
	}
	return s.auth.store.Outbox().Replay(ctx, acc.org.ID(), id, deliveryID, s.auth.clock.Now())
}

// ReplaySince queues again every event of the endpoint that occurred at or
// after since (webhooks:write) and returns how many.
func (s *WebhookService) ReplaySince(ctx context.Context, p ports.Principal, org domain.OrgRef, id string, since time.Time) (int, error) {
	acc, err := s.auth.authorize(ctx, p, org, domain.PermWebhooksWrite, write)
	if err != nil {
		return 0, err
	}
	if _, err := s.auth.store.Webhooks().Get(ctx, acc.org.ID(), id); err != nil {
		return 0, err
	}
	return s.auth.store.Outbox().ReplaySince(ctx, acc.org.ID(), id, since, s.auth.clock.Now())
}

// errNoSecret is a stored secret that cannot be opened (a changed key).
var errNoSecret = errors.New("no webhook secret could be opened with the configured key")
