package domain

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits of a webhook.
const (
	MaxWebhookEventTypes = 50
	MaxWebhookURL        = MaxProviderURL
	// WebhookSecretBytes is how many random bytes a signing secret has.
	WebhookSecretBytes = 32
	// WebhookSecretPrefix starts every signing secret as shown to people
	// (the Standard Webhooks format: whsec_ and the base64 of the bytes).
	WebhookSecretPrefix = "whsec_"
)

// WebhookEventTypes returns, sorted, the event types a webhook may
// subscribe to: the audit log's actions on an organization's things (one
// catalogue: every change an organization sees in its audit log can be
// heard through a webhook). User actions (user.*) belong to no
// organization and are not delivered; organization.created happens before
// an organization can have a webhook.
func WebhookEventTypes() []string {
	var out []string
	for _, a := range auditActions {
		if a.OrgScoped() && a != ActionOrganizationCreated {
			out = append(out, string(a))
		}
	}
	slices.Sort(out)
	return out
}

// ValidateEventTypePattern checks one entry of a webhook's event types:
// an event type of the catalogue ("member.added"), a prefix ending in ".*"
// that some catalogued type starts with ("member.*"), or "*" (everything).
func ValidateEventTypePattern(p string) error {
	cat := WebhookEventTypes()
	switch {
	case p == "*":
		return nil
	case strings.HasSuffix(p, ".*"):
		prefix := strings.TrimSuffix(p, "*")
		if len(prefix) > 1 && slices.ContainsFunc(cat, func(t string) bool { return strings.HasPrefix(t, prefix) }) {
			return nil
		}
	case slices.Contains(cat, p):
		return nil
	}
	return Invalid("", "must be an event type of the catalogue, a prefix such as member.*, or *")
}

// EventTypeMatches reports whether event type t is selected by pattern p
// (see ValidateEventTypePattern).
func EventTypeMatches(p, t string) bool {
	switch {
	case p == "*":
		return true
	case strings.HasSuffix(p, ".*"):
		return strings.HasPrefix(t, strings.TrimSuffix(p, "*"))
	}
	return p == t
}

// WebhookSpec is what an organization sets on a webhook.
type WebhookSpec struct {
	URL         string
	EventTypes  []string // patterns; see ValidateEventTypePattern
	Description string
}

// Validate checks every rule of the spec and returns a *ValidationError
// naming each broken field ("url", "event_types/2", ...). Whether the URL
// may be reached (https, the operator's allow-list, the addresses it
// resolves to) is the outbound policy's rule, checked by the application
// on write and again on every delivery.
func (s WebhookSpec) Validate() error {
	var fe fieldErrors
	fe.add("url", validateTenantURL(s.URL, true))
	if len(s.EventTypes) < 1 || len(s.EventTypes) > MaxWebhookEventTypes {
		fe.add("event_types", Invalid("", "must list 1 to %d event types", MaxWebhookEventTypes))
	}
	for i, p := range s.EventTypes {
		f := "event_types/" + strconv.Itoa(i)
		if err := ValidateEventTypePattern(p); err != nil {
			fe.add(f, err)
		} else if slices.Index(s.EventTypes, p) < i {
			fe.add(f, Invalid("", "is listed twice"))
		}
	}
	fe.add("description", validateDescription(s.Description))
	return fe.err()
}

// SealedSecret is a signing secret as stored: encrypted with the
// operator's secret key. The model never sees a secret in clear except
// when it is made (NewWebhookSecret) to be shown once.
type SealedSecret struct {
	Sealed string
	// ExpiresAt is when a replaced secret stops signing; zero for the
	// current secret.
	ExpiresAt time.Time
}

// NewWebhookSecret returns a new random signing secret in the Standard
// Webhooks format: whsec_ followed by the base64 of WebhookSecretBytes
// random bytes.
func NewWebhookSecret() string {
	b := make([]byte, WebhookSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// SignWebhook returns the Standard Webhooks signature of one message:
// "v1," and the base64 of HMAC-SHA256, keyed with the secret's bytes, over
// id "." timestamp (Unix seconds) "." body.
func SignWebhook(secret, id string, timestamp int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, WebhookSecretPrefix))
	if err != nil || !strings.HasPrefix(secret, WebhookSecretPrefix) {
		return "", fmt.Errorf("webhook secret is not in the whsec_ format")
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(timestamp, 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// Webhook is an organization's webhook endpoint: a URL that hears about
// the organization's changes of the subscribed event types, each signed
// with the endpoint's secret. A disabled endpoint keeps its pending
// deliveries and hears nothing new until it is enabled again. The version
// grows by one with every change, for If-Match.
type Webhook struct {
	id             string
	orgID          string
	spec           WebhookSpec
	enabled        bool
	disabledReason string
	secrets        []SealedSecret // the current one first
	createdAt      time.Time
	updatedAt      time.Time
	version        int64
}

// NewWebhook creates an enabled endpoint at version 1 signing with the
// sealed secret. It returns a *ValidationError naming every invalid field.
func NewWebhook(id, orgID string, spec WebhookSpec, secret SealedSecret, now time.Time) (*Webhook, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec.EventTypes = slices.Clone(spec.EventTypes)
	secret.ExpiresAt = time.Time{}
	return &Webhook{id: id, orgID: orgID, spec: spec, enabled: true, secrets: []SealedSecret{secret},
		createdAt: now, updatedAt: now, version: 1}, nil
}

// UnmarshalWebhookFromDatabase rebuilds an endpoint from storage, skipping
// the rules. For storage adapters only.
func UnmarshalWebhookFromDatabase(id, orgID string, spec WebhookSpec, enabled bool, disabledReason string,
	secrets []SealedSecret, createdAt, updatedAt time.Time, version int64) *Webhook {
	spec.EventTypes = slices.Clone(spec.EventTypes)
	return &Webhook{id: id, orgID: orgID, spec: spec, enabled: enabled, disabledReason: disabledReason,
		secrets: slices.Clone(secrets), createdAt: createdAt, updatedAt: updatedAt, version: version}
}

// WebhookChange is a partial update; nil fields stay as they are.
type WebhookChange struct {
	URL         *string
	EventTypes  *[]string
	Description *string
	Enabled     *bool
}

// Apply validates the change and, when valid, applies it and increments
// the version (an empty change keeps it). Enabling an endpoint clears its
// disabled reason; disabling it by hand records "disabled by a person".
// It changes nothing when the change is invalid.
func (w *Webhook) Apply(c WebhookChange, now time.Time) error {
	spec := w.spec
	spec.EventTypes = slices.Clone(spec.EventTypes)
	if c.URL != nil {
		spec.URL = *c.URL
	}
	if c.EventTypes != nil {
		spec.EventTypes = slices.Clone(*c.EventTypes)
	}
	if c.Description != nil {
		spec.Description = *c.Description
	}
	if err := spec.Validate(); err != nil {
		return err
	}
	if c.URL == nil && c.EventTypes == nil && c.Description == nil && c.Enabled == nil {
		return nil
	}
	w.spec = spec
	if c.Enabled != nil && *c.Enabled != w.enabled {
		w.enabled = *c.Enabled
		w.disabledReason = ""
		if !w.enabled {
			w.disabledReason = WebhookDisabledByUser
		}
	}
	w.updatedAt = now
	w.version++
	return nil
}

// Reasons an endpoint is disabled.
const (
	WebhookDisabledByUser     = "disabled_by_user"
	WebhookDisabledByFailures = "failing" // the system disabled it after failing for long
)

// DisableForFailures disables the endpoint because its deliveries kept
// failing since the given time; the system does this, not a person.
func (w *Webhook) DisableForFailures(now time.Time) {
	w.enabled = false
	w.disabledReason = WebhookDisabledByFailures
	w.updatedAt = now
	w.version++
}

// RotateSecret makes next the signing secret. The secret it replaces keeps
// signing, beside the new one, until now+overlap, so that receivers can
// switch without losing a message; secrets replaced earlier stop at once.
func (w *Webhook) RotateSecret(next SealedSecret, overlap time.Duration, now time.Time) {
	prev := w.secrets[0]
	prev.ExpiresAt = now.Add(overlap)
	next.ExpiresAt = time.Time{}
	w.secrets = []SealedSecret{next}
	if overlap > 0 {
		w.secrets = append(w.secrets, prev)
	}
	w.updatedAt = now
	w.version++
}

// SigningSecrets returns the sealed secrets that sign at time now: the
// current one first, then a replaced one still in its overlap.
func (w *Webhook) SigningSecrets(now time.Time) []SealedSecret {
	out := []SealedSecret{}
	for _, s := range w.secrets {
		if s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt) {
			out = append(out, s)
		}
	}
	return out
}

// Secrets returns every stored secret (for storage adapters).
func (w *Webhook) Secrets() []SealedSecret { return slices.Clone(w.secrets) }

// Subscribes reports whether the endpoint hears event type t.
func (w *Webhook) Subscribes(t string) bool {
	return slices.ContainsFunc(w.spec.EventTypes, func(p string) bool { return EventTypeMatches(p, t) })
}

// ID returns the endpoint's identifier.
func (w *Webhook) ID() string { return w.id }

// OrgID returns the organization the endpoint belongs to.
func (w *Webhook) OrgID() string { return w.orgID }

// Spec returns a copy of the URL, event types and description.
func (w *Webhook) Spec() WebhookSpec {
	s := w.spec
	s.EventTypes = slices.Clone(s.EventTypes)
	return s
}

// URL returns the endpoint's URL.
func (w *Webhook) URL() string { return w.spec.URL }

// Enabled reports whether the endpoint receives events.
func (w *Webhook) Enabled() bool { return w.enabled }

// DisabledReason says why a disabled endpoint is disabled ("" when enabled).
func (w *Webhook) DisabledReason() string { return w.disabledReason }

// CreatedAt returns the creation time.
func (w *Webhook) CreatedAt() time.Time { return w.createdAt }

// UpdatedAt returns the time of the last change.
func (w *Webhook) UpdatedAt() time.Time { return w.updatedAt }

// Version returns the version number, which changes on every update.
func (w *Webhook) Version() int64 { return w.version }

// String describes the endpoint for logs, without its secrets.
func (w *Webhook) String() string { return fmt.Sprintf("webhook %s of %s", w.id, w.orgID) }
