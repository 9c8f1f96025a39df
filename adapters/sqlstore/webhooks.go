package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// webhooks implements ports.WebhookRepository. Event types and secrets are
// JSON columns; each endpoint has a row in webhook_claims, the dispatchers'
// hold, kept apart so that a delivery in progress never blocks a change.
type webhooks struct{ c conn }

var _ ports.WebhookRepository = webhooks{}

type sealedJSON struct {
	Sealed    string `json:"sealed"`
	ExpiresAt int64  `json:"expires_at_us,omitempty"`
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

func webhookColumns(w *domain.Webhook) (types, secrets string, err error) {
	s := w.Spec()
	t, err := json.Marshal(s.EventTypes)
	if err != nil {
		return "", "", err
	}
	var sj []sealedJSON
	for _, x := range w.Secrets() {
		sj = append(sj, sealedJSON{Sealed: x.Sealed, ExpiresAt: micros(x.ExpiresAt)})
	}
	b, err := json.Marshal(sj)
	return string(t), string(b), err
}

const webhookSelect = "id, org_id, url, event_types, description, enabled, disabled_reason, secrets, created_at, updated_at, version"

func scanWebhook(sc interface{ Scan(...any) error }) (*domain.Webhook, error) {
	var (
		id, orgID, url, types, desc, reason, secrets string
		enabled                                      bool
		created, updated                             dbTime
		version                                      int64
	)
	if err := sc.Scan(&id, &orgID, &url, &types, &desc, &enabled, &reason, &secrets, &created, &updated, &version); err != nil {
		return nil, err
	}
	spec := domain.WebhookSpec{URL: url, Description: desc}
	if err := json.Unmarshal([]byte(types), &spec.EventTypes); err != nil {
		return nil, fmt.Errorf("sqlstore: bad stored webhook event types: %w", err)
	}
	var sj []sealedJSON
	if err := json.Unmarshal([]byte(secrets), &sj); err != nil {
		return nil, fmt.Errorf("sqlstore: bad stored webhook secrets: %w", err)
	}
	ss := make([]domain.SealedSecret, len(sj))
	for i, x := range sj {
		ss[i] = domain.SealedSecret{Sealed: x.Sealed, ExpiresAt: fromMicros(x.ExpiresAt)}
	}
	return domain.UnmarshalWebhookFromDatabase(id, orgID, spec, enabled, reason, ss, created.Time(), updated.Time(), version), nil
}

// Create stores a new endpoint and its claim row.
func (r webhooks) Create(ctx context.Context, w *domain.Webhook) error {
	types, secrets, err := webhookColumns(w)
	if err != nil {
		return err
	}
	return r.c.tenantTx(ctx, w.OrgID(), func(ctx context.Context, c conn) error {
		_, err := c.db.ExecContext(ctx, `INSERT INTO webhooks (id, org_id, url, event_types, description, enabled, disabled_reason, secrets, created_at, updated_at, version)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.ID(), w.OrgID(), w.URL(), types, w.Spec().Description, w.Enabled(), w.DisabledReason(), secrets,
			newDBTime(w.CreatedAt()), newDBTime(w.UpdatedAt()), w.Version())
		if err != nil {
			return translate(err, "create webhook", nil)
		}
		_, err = c.db.ExecContext(ctx, "INSERT INTO webhook_claims (org_id, webhook_id, token, until_us) VALUES (?, ?, '', 0)", w.OrgID(), w.ID())
		return translate(err, "create webhook claim", nil)
	})
}

func (r webhooks) get(ctx context.Context, orgID, id string, lock bool) (*domain.Webhook, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, domain.ErrNotFound
	}
	return scopedValue(ctx, r.c, orgID, func(ctx context.Context, c conn) (*domain.Webhook, error) {
		return webhooks{c}.getScoped(ctx, orgID, id, lock)
	})
}

func (r webhooks) getScoped(ctx context.Context, orgID, id string, lock bool) (*domain.Webhook, error) {
	q := "SELECT " + webhookSelect + " FROM webhooks WHERE org_id = ? AND id = ?"
	if lock && r.c.pg {
		q += " FOR UPDATE"
	}
	rows, err := r.c.db.QueryContext(ctx, q, orgID, id)
	if err != nil {
		return nil, translate(err, "get webhook", nil)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, translate(err, "get webhook", nil)
		}
		return nil, domain.ErrNotFound
	}
	w, err := scanWebhook(rows)
	if err != nil {
		return nil, translate(err, "get webhook", nil)
	}
	return w, translate(rows.Close(), "get webhook", nil)
}

// Get returns one endpoint. Errors: domain.ErrNotFound.
func (r webhooks) Get(ctx context.Context, orgID, id string) (*domain.Webhook, error) {
	return r.get(ctx, orgID, id, false)
}

// GetForUpdate is Get that locks the endpoint's row.
func (r webhooks) GetForUpdate(ctx context.Context, orgID, id string) (*domain.Webhook, error) {
	return r.get(ctx, orgID, id, true)
}

// Update stores w if the stored version is still prevVersion. Enabling an
// endpoint clears its failure record and makes its pending deliveries due.
func (r webhooks) Update(ctx context.Context, w *domain.Webhook, prevVersion int64) error {
	types, secrets, err := webhookColumns(w)
	if err != nil {
		return err
	}
	return r.c.tenantTx(ctx, w.OrgID(), func(ctx context.Context, c conn) error {
		var wasEnabled bool
		res, err := c.db.QueryContext(ctx, "SELECT version, enabled FROM webhooks WHERE org_id = ? AND id = ?"+map[bool]string{true: " FOR UPDATE"}[c.pg], w.OrgID(), w.ID())
		if err != nil {
			return translate(err, "update webhook", nil)
		}
		var cur int64
		found := res.Next()
		if found {
			err = res.Scan(&cur, &wasEnabled)
		}
		_ = res.Close()
		switch {
		case err != nil:
			return translate(err, "update webhook", nil)
		case !found:
			return domain.ErrNotFound
		case cur != prevVersion:
			return domain.ErrVersionMismatch
		}
		_, err = c.db.ExecContext(ctx, `UPDATE webhooks SET url = ?, event_types = ?, description = ?, enabled = ?, disabled_reason = ?, secrets = ?, updated_at = ?, version = ?
WHERE org_id = ? AND id = ?`, w.URL(), types, w.Spec().Description, w.Enabled(), w.DisabledReason(), secrets, newDBTime(w.UpdatedAt()), w.Version(), w.OrgID(), w.ID())
		if err != nil {
			return translate(err, "update webhook", nil)
		}
		if w.Enabled() && !wasEnabled {
			_, err = c.db.ExecContext(ctx, "UPDATE webhooks SET failing_since = NULL WHERE org_id = ? AND id = ?", w.OrgID(), w.ID())
			if err == nil {
				_, err = c.db.ExecContext(ctx, "UPDATE webhook_deliveries SET next_at = ? WHERE org_id = ? AND webhook_id = ? AND status = 'pending'", micros(w.UpdatedAt()), w.OrgID(), w.ID())
			}
		}
		return translate(err, "update webhook", nil)
	})
}

// Delete removes the endpoint; its claim, deliveries and attempts cascade.
func (r webhooks) Delete(ctx context.Context, orgID, id string) error {
	if _, err := uuid.Parse(id); err != nil {
		return domain.ErrNotFound
	}
	return r.c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
		res, err := c.db.ExecContext(ctx, "DELETE FROM webhooks WHERE org_id = ? AND id = ?", orgID, id)
		return affectedOne(res, err, "delete webhook")
	})
}

// List returns a page of endpoints, newest first.
func (r webhooks) List(ctx context.Context, f ports.WebhookFilter) (ports.Page[*domain.Webhook], error) {
	return scopedValue(ctx, r.c, f.OrgID, func(ctx context.Context, c conn) (ports.Page[*domain.Webhook], error) {
		return webhooks{c}.list(ctx, f)
	})
}

func (r webhooks) list(ctx context.Context, f ports.WebhookFilter) (ports.Page[*domain.Webhook], error) {
	pr := f.Normalized()
	out := ports.Page[*domain.Webhook]{Items: []*domain.Webhook{}, Page: pr.Page, Size: pr.Size}
	if err := r.c.db.NewRaw("SELECT count(*) FROM webhooks WHERE org_id = ?", f.OrgID).Scan(ctx, &out.Total); err != nil {
		return out, translate(err, "list webhooks", nil)
	}
	order := "DESC"
	if len(pr.Sort) > 0 && !pr.Sort[0].Desc {
		order = "ASC"
	}
	rows, err := r.c.db.QueryContext(ctx, "SELECT "+webhookSelect+" FROM webhooks WHERE org_id = ? ORDER BY created_at "+order+", id "+order+" LIMIT ? OFFSET ?",
		f.OrgID, pr.Size, pr.Offset())
	if err != nil {
		return out, translate(err, "list webhooks", nil)
	}
	defer rows.Close()
	for rows.Next() {
		w, err := scanWebhook(rows)
		if err != nil {
			return out, translate(err, "list webhooks", nil)
		}
		out.Items = append(out.Items, w)
	}
	return out, translate(rows.Err(), "list webhooks", nil)
}

// outbox implements ports.Outbox.
type outbox struct{ c conn }

var _ ports.Outbox = outbox{}

// Enqueue writes ev and queues its deliveries. An organization without an
// enabled endpoint subscribed to ev.Type costs one read and writes nothing
// (no sequence number is taken: sequence numbers count stored events).
func (o outbox) Enqueue(ctx context.Context, ev ports.OutboxEvent) error {
	return o.c.tenantTx(ctx, ev.OrgID, func(ctx context.Context, c conn) error {
		rows, err := c.db.QueryContext(ctx, "SELECT id, event_types FROM webhooks WHERE org_id = ? AND enabled ORDER BY id", ev.OrgID)
		if err != nil {
			return translate(err, "enqueue event", nil)
		}
		var targets []string
		for rows.Next() {
			var id, types string
			if err := rows.Scan(&id, &types); err != nil {
				_ = rows.Close()
				return translate(err, "enqueue event", nil)
			}
			var pats []string
			if err := json.Unmarshal([]byte(types), &pats); err != nil {
				_ = rows.Close()
				return fmt.Errorf("sqlstore: bad stored webhook event types: %w", err)
			}
			for _, p := range pats {
				if domain.EventTypeMatches(p, ev.Type) {
					targets = append(targets, id)
					break
				}
			}
		}
		if err := rows.Close(); err != nil {
			return translate(err, "enqueue event", nil)
		}
		if len(targets) == 0 {
			return nil
		}
		var seq int64
		err = c.db.NewRaw(`INSERT INTO webhook_sequences (org_id, value) VALUES (?, 1)
ON CONFLICT (org_id) DO UPDATE SET value = webhook_sequences.value + 1 RETURNING value`, ev.OrgID).Scan(ctx, &seq)
		if err != nil {
			return translate(err, "enqueue event", nil)
		}
		data := ev.Data
		if data == nil {
			data = map[string]any{}
		}
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("sqlstore: event data: %w", err)
		}
		_, err = c.db.ExecContext(ctx, "INSERT INTO webhook_events (id, org_id, seq, type, subject, occurred_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)",
			ev.ID, ev.OrgID, seq, ev.Type, ev.Subject, newDBTime(ev.OccurredAt), string(b))
		if err != nil {
			return translate(err, "enqueue event", nil)
		}
		for _, id := range targets {
			if err := insertDelivery(ctx, c, id, ev.OrgID, ev.ID, seq, ev.OccurredAt); err != nil {
				return err
			}
		}
		return nil
	})
}

func insertDelivery(ctx context.Context, c conn, webhookID, orgID, eventID string, seq int64, now time.Time) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	_, err = c.db.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, org_id, event_id, seq, status, attempts, next_at, created_at)
VALUES (?, ?, ?, ?, ?, 'pending', 0, ?, ?)`, id.String(), webhookID, orgID, eventID, seq, micros(now), newDBTime(now))
	return translate(err, "queue delivery", nil)
}

// claimCandidates is how many endpoints a claim considers at once.
const claimCandidates = 16

// Claim holds the least recently held enabled endpoint whose head
// delivery is due. It is a cross-tenant path under row-level security: the
// due endpoints of every organization are read cross-tenant (a read, which
// cannot lock: SELECT … FOR UPDATE needs the UPDATE policy too), then each
// candidate, in order, is locked and claimed scoped to its own organization
// (FOR UPDATE SKIP LOCKED, the conditions checked again under the lock),
// the first that is still free and due wins. When every candidate is held
// by another dispatcher, there is nothing to claim this round.
func (o outbox) Claim(ctx context.Context, now time.Time, lease time.Duration) (ports.Claim, bool, error) {
	var (
		cl ports.Claim
		ok bool
	)
	const due = `w.enabled AND c.until_us < ?
AND (SELECT d.next_at FROM webhook_deliveries AS d WHERE d.webhook_id = c.webhook_id AND d.status = 'pending' ORDER BY d.seq, d.id LIMIT 1) <= ?`
	err := o.c.inTx(ctx, func(ctx context.Context, c conn) error {
		var cands []ports.Claim
		err := c.crossTenant(ctx, func(ctx context.Context, c conn) error {
			rows, err := c.db.QueryContext(ctx, `SELECT c.webhook_id, w.org_id FROM webhook_claims AS c JOIN webhooks AS w ON w.org_id = c.org_id AND w.id = c.webhook_id
WHERE `+due+`
ORDER BY c.until_us LIMIT ?`, micros(now), micros(now), claimCandidates)
			if err != nil {
				return translate(err, "claim webhook", nil)
			}
			defer rows.Close()
			for rows.Next() {
				var cd ports.Claim
				if err := rows.Scan(&cd.WebhookID, &cd.OrgID); err != nil {
					return translate(err, "claim webhook", nil)
				}
				cands = append(cands, cd)
			}
			return translate(rows.Err(), "claim webhook", nil)
		})
		if err != nil {
			return err
		}
		for _, cd := range cands {
			err := c.tenant(ctx, cd.OrgID, func(ctx context.Context, c conn) error {
				q := `SELECT c.webhook_id FROM webhook_claims AS c JOIN webhooks AS w ON w.org_id = c.org_id AND w.id = c.webhook_id
WHERE c.org_id = ? AND c.webhook_id = ? AND ` + due
				if c.pg {
					q += " FOR UPDATE OF c SKIP LOCKED"
				}
				rows, err := c.db.QueryContext(ctx, q, cd.OrgID, cd.WebhookID, micros(now), micros(now))
				if err != nil {
					return translate(err, "claim webhook", nil)
				}
				ok = rows.Next()
				if cerr := rows.Close(); cerr != nil || !ok {
					ok = false
					return translate(cerr, "claim webhook", nil)
				}
				cl = cd
				cl.Token = uuid.NewString()
				cl.Until = now.Add(lease)
				_, err = c.db.ExecContext(ctx, "UPDATE webhook_claims SET token = ?, until_us = ? WHERE org_id = ? AND webhook_id = ?", cl.Token, micros(cl.Until), cl.OrgID, cl.WebhookID)
				return translate(err, "claim webhook", nil)
			})
			if err != nil || ok {
				return err
			}
		}
		return nil
	})
	return cl, ok && err == nil, err
}

const deliverySelect = `d.id, d.webhook_id, d.org_id, d.event_id, e.type, d.seq, d.status, d.attempts, d.next_at, d.created_at, e.subject, e.occurred_at, e.data
FROM webhook_deliveries AS d JOIN webhook_events AS e ON e.org_id = d.org_id AND e.id = d.event_id`

func scanDelivery(sc interface{ Scan(...any) error }) (ports.Delivery, error) {
	var (
		d                 ports.Delivery
		next              int64
		created, occurred dbTime
		data              string
	)
	err := sc.Scan(&d.ID, &d.WebhookID, &d.OrgID, &d.EventID, &d.EventType, &d.Sequence, &d.Status, &d.Attempts, &next, &created, &d.Subject, &occurred, &data)
	d.NextAt, d.CreatedAt, d.OccurredAt, d.Data = fromMicros(next), created.Time(), occurred.Time(), []byte(data)
	return d, err
}

func queryDeliveries(ctx context.Context, c conn, q string, args ...any) ([]ports.Delivery, error) {
	rows, err := c.db.QueryContext(ctx, "SELECT "+deliverySelect+" "+q, args...)
	if err != nil {
		return nil, translate(err, "list deliveries", nil)
	}
	defer rows.Close()
	out := []ports.Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, translate(err, "list deliveries", nil)
		}
		out = append(out, d)
	}
	return out, translate(rows.Err(), "list deliveries", nil)
}

// Pending returns the claimed endpoint and its pending deliveries in order.
func (o outbox) Pending(ctx context.Context, cl ports.Claim, limit int) (*domain.Webhook, []ports.Delivery, error) {
	var (
		w  *domain.Webhook
		ds []ports.Delivery
	)
	err := o.c.tenant(ctx, cl.OrgID, func(ctx context.Context, c conn) error {
		var err error
		if w, err = (webhooks{c}).Get(ctx, cl.OrgID, cl.WebhookID); err != nil {
			return err
		}
		ds, err = queryDeliveries(ctx, c, "WHERE d.org_id = ? AND d.webhook_id = ? AND d.status = 'pending' ORDER BY d.seq, d.id LIMIT ?", cl.OrgID, cl.WebhookID, limit)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return w, ds, nil
}

// Record stores one attempt's result under the claim.
func (o outbox) Record(ctx context.Context, cl ports.Claim, d ports.Delivery, r ports.AttemptResult, until time.Time) error {
	return o.c.tenantTx(ctx, cl.OrgID, func(ctx context.Context, c conn) error {
		q := "SELECT token FROM webhook_claims WHERE org_id = ? AND webhook_id = ?"
		if c.pg {
			q += " FOR UPDATE"
		}
		var token string
		if err := c.db.NewRaw(q, cl.OrgID, cl.WebhookID).Scan(ctx, &token); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ports.ErrClaimLost
			}
			return translate(err, "record delivery", nil)
		}
		if token != cl.Token {
			return ports.ErrClaimLost
		}
		a := r.Attempt
		_, err := c.db.ExecContext(ctx, `INSERT INTO webhook_attempts (org_id, delivery_id, at, status_code, error_class, duration_us, excerpt) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			cl.OrgID, d.ID, newDBTime(a.At), a.StatusCode, a.ErrorClass, a.Duration.Microseconds(), a.Excerpt)
		if err != nil {
			return translate(err, "record delivery", nil)
		}
		status, next := ports.DeliveryPending, micros(r.RetryAt)
		switch {
		case r.Delivered:
			status, next = ports.DeliveryDelivered, 0
		case r.RetryAt.IsZero():
			status = ports.DeliveryFailed
		}
		if _, err := c.db.ExecContext(ctx, "UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_at = ? WHERE org_id = ? AND id = ?", status, next, cl.OrgID, d.ID); err != nil {
			return translate(err, "record delivery", nil)
		}
		if r.Delivered {
			_, err = c.db.ExecContext(ctx, "UPDATE webhooks SET failing_since = NULL WHERE org_id = ? AND id = ? AND failing_since IS NOT NULL", cl.OrgID, cl.WebhookID)
		} else {
			_, err = c.db.ExecContext(ctx, "UPDATE webhooks SET failing_since = ? WHERE org_id = ? AND id = ? AND failing_since IS NULL", micros(a.At), cl.OrgID, cl.WebhookID)
		}
		if err != nil {
			return translate(err, "record delivery", nil)
		}
		if r.DisableEndpoint {
			w, err := webhooks{c}.GetForUpdate(ctx, cl.OrgID, cl.WebhookID)
			if err != nil {
				return err
			}
			prev := w.Version()
			w.DisableForFailures(a.At)
			if err := (webhooks{c}).Update(ctx, w, prev); err != nil {
				return err
			}
			if r.DisabledAudit != nil {
				if err := (auditEvents{c}).Append(ctx, r.DisabledAudit); err != nil {
					return err
				}
			}
			if r.Disabled != nil {
				if err := (outbox{c}).Enqueue(ctx, *r.Disabled); err != nil {
					return err
				}
			}
		}
		_, err = c.db.ExecContext(ctx, "UPDATE webhook_claims SET until_us = ? WHERE org_id = ? AND webhook_id = ?", micros(until), cl.OrgID, cl.WebhookID)
		return translate(err, "record delivery", nil)
	})
}

// FailingSince returns since when the endpoint's deliveries fail (zero when
// they do not).
func (o outbox) FailingSince(ctx context.Context, orgID, webhookID string) (time.Time, error) {
	var v sql.NullInt64
	err := o.c.tenant(ctx, orgID, func(ctx context.Context, c conn) error {
		err := c.db.NewRaw("SELECT failing_since FROM webhooks WHERE org_id = ? AND id = ?", orgID, webhookID).Scan(ctx, &v)
		return translate(err, "read webhook failures", nil)
	})
	return fromMicros(v.Int64), err
}

// Release gives the hold up (only when it is still this claim's).
func (o outbox) Release(ctx context.Context, cl ports.Claim) error {
	return o.c.tenant(ctx, cl.OrgID, func(ctx context.Context, c conn) error {
		_, err := c.db.ExecContext(ctx, "UPDATE webhook_claims SET until_us = 0 WHERE org_id = ? AND webhook_id = ? AND token = ?", cl.OrgID, cl.WebhookID, cl.Token)
		return translate(err, "release webhook", nil)
	})
}

// ListDeliveries returns a page of an endpoint's deliveries, newest first,
// with their attempts.
func (o outbox) ListDeliveries(ctx context.Context, orgID, webhookID string, p ports.PageRequest) (ports.Page[ports.Delivery], error) {
	return scopedValue(ctx, o.c, orgID, func(ctx context.Context, c conn) (ports.Page[ports.Delivery], error) {
		return outbox{c}.listDeliveries(ctx, orgID, webhookID, p)
	})
}

func (o outbox) listDeliveries(ctx context.Context, orgID, webhookID string, p ports.PageRequest) (ports.Page[ports.Delivery], error) {
	pr := p.Normalized()
	out := ports.Page[ports.Delivery]{Items: []ports.Delivery{}, Page: pr.Page, Size: pr.Size}
	if err := o.c.db.NewRaw("SELECT count(*) FROM webhook_deliveries WHERE org_id = ? AND webhook_id = ?", orgID, webhookID).Scan(ctx, &out.Total); err != nil {
		return out, translate(err, "list deliveries", nil)
	}
	order := "DESC"
	if len(pr.Sort) > 0 && !pr.Sort[0].Desc {
		order = "ASC"
	}
	ds, err := queryDeliveries(ctx, o.c, "WHERE d.org_id = ? AND d.webhook_id = ? ORDER BY d.created_at "+order+", d.id "+order+" LIMIT ? OFFSET ?",
		orgID, webhookID, pr.Size, pr.Offset())
	if err != nil || len(ds) == 0 {
		out.Items = ds
		if ds == nil {
			out.Items = []ports.Delivery{}
		}
		return out, err
	}
	ids := make([]any, len(ds))
	idx := map[string]int{}
	for i, d := range ds {
		ids[i] = d.ID
		idx[d.ID] = i
	}
	rows, err := o.c.db.QueryContext(ctx, "SELECT delivery_id, at, status_code, error_class, duration_us, excerpt FROM webhook_attempts WHERE org_id = ? AND delivery_id IN (?"+
		strings.Repeat(", ?", len(ids)-1)+") ORDER BY id", append([]any{orgID}, ids...)...)
	if err != nil {
		return out, translate(err, "list attempts", nil)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id  string
			a   ports.DeliveryAttempt
			at  dbTime
			dur int64
		)
		if err := rows.Scan(&id, &at, &a.StatusCode, &a.ErrorClass, &dur, &a.Excerpt); err != nil {
			return out, translate(err, "list attempts", nil)
		}
		a.At, a.Duration = at.Time(), time.Duration(dur)*time.Microsecond
		ds[idx[id]].AttemptLog = append(ds[idx[id]].AttemptLog, a)
	}
	out.Items = ds
	return out, translate(rows.Err(), "list attempts", nil)
}

// Replay queues one delivery's event again.
func (o outbox) Replay(ctx context.Context, orgID, webhookID, deliveryID string, now time.Time) (ports.Delivery, error) {
	if _, err := uuid.Parse(deliveryID); err != nil {
		return ports.Delivery{}, domain.ErrNotFound
	}
	var out ports.Delivery
	err := o.c.tenantTx(ctx, orgID, func(ctx context.Context, c conn) error {
		ds, err := queryDeliveries(ctx, c, "WHERE d.org_id = ? AND d.webhook_id = ? AND d.id = ?", orgID, webhookID, deliveryID)
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			return domain.ErrNotFound
		}
		if err := insertDelivery(ctx, c, webhookID, orgID, ds[0].EventID, ds[0].Sequence, now); err != nil {
			return err
		}
		got, err := queryDeliveries(ctx, c, "WHERE d.org_id = ? AND d.webhook_id = ? AND d.event_id = ? ORDER BY d.id DESC LIMIT 1", orgID, webhookID, ds[0].EventID)
		if err == nil && len(got) == 1 {
			out = got[0]
		}
		return err
	})
	return out, err
}

// ReplaySince queues again every event of the endpoint since a time, once
// each, in sequence order.
func (o outbox) ReplaySince(ctx context.Context, orgID, webhookID string, since, now time.Time) (int, error) {
	n := 0
	err := o.c.tenantTx(ctx, orgID, func(ctx context.Context, c conn) error {
		n = 0
		rows, err := c.db.QueryContext(ctx, `SELECT DISTINCT e.id, e.seq FROM webhook_deliveries AS d JOIN webhook_events AS e ON e.org_id = d.org_id AND e.id = d.event_id
WHERE d.org_id = ? AND d.webhook_id = ? AND e.occurred_at >= ? ORDER BY e.seq`, orgID, webhookID, newDBTime(since))
		if err != nil {
			return translate(err, "replay deliveries", nil)
		}
		type ev struct {
			id  string
			seq int64
		}
		var evs []ev
		for rows.Next() {
			var e ev
			if err := rows.Scan(&e.id, &e.seq); err != nil {
				_ = rows.Close()
				return translate(err, "replay deliveries", nil)
			}
			evs = append(evs, e)
		}
		if err := rows.Close(); err != nil {
			return translate(err, "replay deliveries", nil)
		}
		for _, e := range evs {
			if err := insertDelivery(ctx, c, webhookID, orgID, e.id, e.seq, now); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
