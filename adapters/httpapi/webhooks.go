package httpapi

import (
	"net/http"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// webhookJSON is the webhook representation; it never carries a secret
// except on create and rotate-secret (secret).
type webhookJSON struct {
	ID             string    `json:"id"`
	OrgID          string    `json:"org_id"`
	URL            string    `json:"url"`
	EventTypes     []string  `json:"event_types"`
	Description    string    `json:"description"`
	Enabled        bool      `json:"enabled"`
	DisabledReason *string   `json:"disabled_reason"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	Version        int64     `json:"version"`
	Secret         string    `json:"secret,omitempty"`
}

func toWebhookJSON(w *domain.Webhook) webhookJSON {
	s := w.Spec()
	return webhookJSON{ID: w.ID(), OrgID: w.OrgID(), URL: s.URL, EventTypes: orEmpty(s.EventTypes), Description: s.Description,
		Enabled: w.Enabled(), DisabledReason: optString(w.DisabledReason()), CreatedAt: w.CreatedAt().UTC(), UpdatedAt: w.UpdatedAt().UTC(),
		Version: w.Version()}
}

// webhookRequest is the body of POST …/webhooks.
type webhookRequest struct {
	URL         string   `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description string   `json:"description"`
}

// webhookPatch is the body of PATCH …/webhooks/{webhookId}.
type webhookPatch struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	Description *string   `json:"description"`
	Enabled     *bool     `json:"enabled"`
}

// attemptJSON is one delivery attempt.
type attemptJSON struct {
	At         time.Time `json:"at"`
	StatusCode *int      `json:"status_code"`
	ErrorClass *string   `json:"error_class"`
	DurationMS int64     `json:"duration_ms"`
	Excerpt    string    `json:"response_excerpt"`
}

// deliveryJSON is one delivery of an event to an endpoint.
type deliveryJSON struct {
	ID          string        `json:"id"`
	WebhookID   string        `json:"webhook_id"`
	EventID     string        `json:"event_id"`
	EventType   string        `json:"event_type"`
	Sequence    int64         `json:"sequence"`
	Status      string        `json:"status"`
	NextAttempt *time.Time    `json:"next_attempt_at"`
	CreatedAt   time.Time     `json:"created_at"`
	Attempts    []attemptJSON `json:"attempts"`
}

func toDeliveryJSON(d ports.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, WebhookID: d.WebhookID, EventID: d.EventID, EventType: d.EventType, Sequence: d.Sequence,
		Status: d.Status, CreatedAt: d.CreatedAt.UTC(), Attempts: []attemptJSON{}}
	if d.Status == ports.DeliveryPending {
		out.NextAttempt = optTime(d.NextAt)
	}
	for _, a := range d.AttemptLog {
		aj := attemptJSON{At: a.At.UTC(), ErrorClass: optString(a.ErrorClass), DurationMS: a.Duration.Milliseconds(), Excerpt: a.Excerpt}
		if a.StatusCode != 0 {
			code := a.StatusCode
			aj.StatusCode = &code
		}
		out.Attempts = append(out.Attempts, aj)
	}
	return out
}

// listWebhooks handles GET …/webhooks.
func (s *server) listWebhooks(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.WebhookList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Webhooks.List(r.Context(), principal(r.Context()), orgRef(r), q.PageRequest)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toWebhookJSON)
}

// createWebhook handles POST …/webhooks: 201 with the secret, shown once.
func (s *server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var req webhookRequest
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.svc.Webhooks.Create(r.Context(), principal(r.Context()), orgRef(r),
		domain.WebhookSpec{URL: req.URL, EventTypes: req.EventTypes, Description: req.Description})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toWebhookJSON(c.Webhook)
	out.Secret = c.Secret
	w.Header().Set("Location", r.URL.Path+"/"+c.Webhook.ID())
	s.writeTagged(w, r, http.StatusCreated, c.Webhook.Version(), out)
}

// getWebhook handles GET …/webhooks/{webhookId}.
func (s *server) getWebhook(w http.ResponseWriter, r *http.Request) {
	wh, err := s.svc.Webhooks.Get(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "webhookId"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, wh.Version(), toWebhookJSON(wh))
}

// updateWebhook handles PATCH …/webhooks/{webhookId}; If-Match honoured.
func (s *server) updateWebhook(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req webhookPatch
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	wh, err := s.svc.Webhooks.Update(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "webhookId"),
		domain.WebhookChange{URL: req.URL, EventTypes: req.EventTypes, Description: req.Description, Enabled: req.Enabled}, version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeTagged(w, r, http.StatusOK, wh.Version(), toWebhookJSON(wh))
}

// deleteWebhook handles DELETE …/webhooks/{webhookId}; If-Match honoured.
func (s *server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.svc.Webhooks.Delete(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "webhookId"), version); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// rotateWebhookSecret handles POST …/webhooks/{webhookId}/rotate-secret;
// If-Match honoured. The new secret is in the answer, this once.
func (s *server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	version, err := s.ifMatch(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, err := s.svc.Webhooks.RotateSecret(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "webhookId"), version)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := toWebhookJSON(c.Webhook)
	out.Secret = c.Secret
	s.writeTagged(w, r, http.StatusOK, c.Webhook.Version(), out)
}

// listWebhookDeliveries handles GET …/webhooks/{webhookId}/deliveries.
func (s *server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	q, err := parseList(r, ports.WebhookList)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page, err := s.svc.Webhooks.Deliveries(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "webhookId"), q.PageRequest)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writePage(s, w, r, q, page, toDeliveryJSON)
}

// replayWebhookDelivery handles POST
// …/webhooks/{webhookId}/deliveries/{deliveryId}/replay: 202 with the new
// delivery of the same event.
func (s *server) replayWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	d, err := s.svc.Webhooks.Replay(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "webhookId"), pathVar(r, "deliveryId"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeData(w, r, http.StatusAccepted, toDeliveryJSON(d))
}

// replayRequest is the body of POST …/webhooks/{webhookId}/replay.
type replayRequest struct {
	Since *string `json:"since"`
}

// replayWebhook handles POST …/webhooks/{webhookId}/replay: every event
// since a time is queued again; 202 with how many.
func (s *server) replayWebhook(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	err := decodeJSON(w, r, &req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var since time.Time
	if req.Since != nil {
		since, err = time.Parse(time.RFC3339Nano, *req.Since)
	}
	if req.Since == nil || err != nil {
		s.writeError(w, r, domain.Invalid("since", "is required: an RFC 3339 time"))
		return
	}
	n, err := s.svc.Webhooks.ReplaySince(r.Context(), principal(r.Context()), orgRef(r), pathVar(r, "webhookId"), since)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeData(w, r, http.StatusAccepted, map[string]int{"queued": n})
}
