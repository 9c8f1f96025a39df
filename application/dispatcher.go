package application

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// DefaultRetrySchedule is the wait before each retry of a failed delivery
// (the Standard Webhooks recommendation): about a day in all.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// DispatcherConfig configures a Dispatcher; zero values take the defaults.
type DispatcherConfig struct {
	// Source is the CloudEvents source of every event ("/orgstack" by default).
	Source string
	// RetrySchedule is the wait before each retry; a delivery whose every
	// retry failed is marked failed and the endpoint moves on.
	RetrySchedule []time.Duration
	// DisableAfter disables an endpoint whose deliveries have failed, with
	// no success, for this long (default 24h).
	DisableAfter time.Duration
	// PollInterval is how long an idle worker waits before looking for due
	// endpoints again (default 250ms).
	PollInterval time.Duration
	// Workers is how many endpoints one dispatcher serves at once (default 4).
	Workers int
	// Lease is how long a claim on an endpoint holds without being renewed
	// (default 60s); a dispatcher that dies loses its claims after it.
	Lease time.Duration
	// Batch is how many deliveries one claim sends at most (default 50).
	Batch int
	// OnError receives errors of the loop (nil ignores them).
	OnError func(error)
}

// Dispatcher delivers the outbox: each worker claims one endpoint at a
// time and sends its pending deliveries in sequence order. A failed
// delivery is retried with exponential backoff and jitter and holds back
// the endpoint's later deliveries until it succeeds or runs out of
// retries. Delivery is at least once: a dispatcher that stops between a
// send and its record sends again (the webhook-id is the same).
type Dispatcher struct {
	store  ports.Store
	sender ports.WebhookSender
	sealer ports.SecretSealer
	urls   ports.URLPolicy
	clock  ports.Clock
	ids    ports.IDGenerator
	cfg    DispatcherConfig
}

// NewDispatcher returns a dispatcher; Run starts it.
func NewDispatcher(store ports.Store, sender ports.WebhookSender, sealer ports.SecretSealer, urls ports.URLPolicy,
	clock ports.Clock, ids ports.IDGenerator, cfg DispatcherConfig) *Dispatcher {
	if cfg.Source == "" {
		cfg.Source = "/orgstack"
	}
	if len(cfg.RetrySchedule) == 0 {
		cfg.RetrySchedule = DefaultRetrySchedule
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = 24 * time.Hour
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 250 * time.Millisecond
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 60 * time.Second
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if urls == nil {
		urls = httpsOnly{}
	}
	return &Dispatcher{store: store, sender: sender, sealer: sealer, urls: urls, clock: clock, ids: ids, cfg: cfg}
}

// Run delivers until ctx ends, then returns once every worker is idle (an
// attempt in flight is abandoned with ctx and sent again later).
func (d *Dispatcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range d.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				worked, err := d.RunOnce(ctx)
				if err != nil && ctx.Err() == nil && d.cfg.OnError != nil {
					d.cfg.OnError(err)
				}
				if !worked {
					select {
					case <-ctx.Done():
					case <-time.After(d.cfg.PollInterval):
					}
				}
			}
		}()
	}
	wg.Wait()
}

// RunOnce claims one due endpoint and delivers its due deliveries; it
// reports whether there was one.
func (d *Dispatcher) RunOnce(ctx context.Context) (bool, error) {
	cl, ok, err := d.store.Outbox().Claim(ctx, d.clock.Now(), d.cfg.Lease)
	if err != nil || !ok {
		return false, err
	}
	err = d.deliver(ctx, cl)
	// The release must happen even when ctx ended; an unreleased claim
	// lapses after the lease anyway.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := d.store.Outbox().Release(rctx, cl); err == nil && ctx.Err() == nil {
		err = rerr
	}
	return true, err
}

func (d *Dispatcher) deliver(ctx context.Context, cl ports.Claim) error {
	w, ds, err := d.store.Outbox().Pending(ctx, cl, d.cfg.Batch)
	if err != nil {
		return err
	}
	for _, del := range ds {
		now := d.clock.Now()
		if del.NextAt.After(now) || !w.Enabled() {
			return nil // the head is waiting for its retry: later ones wait too
		}
		if now.After(cl.Until.Add(-d.cfg.Lease / 2)) {
			return nil // too close to the end of the hold to start a send
		}
		res := d.attempt(ctx, w, del)
		if ctx.Err() != nil {
			return ctx.Err() // abandoned: not recorded, sent again later
		}
		if !res.Delivered {
			if err := d.planRetry(ctx, w, del, &res); err != nil {
				return err
			}
		}
		until := d.clock.Now().Add(d.cfg.Lease)
		if err := d.store.Outbox().Record(ctx, cl, del, res, until); err != nil {
			return err
		}
		cl.Until = until
		if !res.Delivered && !res.RetryAt.IsZero() {
			return nil
		}
		if res.DisableEndpoint {
			return nil
		}
	}
	return nil
}

// planRetry fills in when a failed delivery is tried again and whether the
// endpoint has failed long enough to be disabled.
func (d *Dispatcher) planRetry(ctx context.Context, w *domain.Webhook, del ports.Delivery, res *ports.AttemptResult) error {
	now := res.Attempt.At
	if del.Attempts < len(d.cfg.RetrySchedule) {
		wait := d.cfg.RetrySchedule[del.Attempts]
		// ±20% jitter so that endpoints that failed together do not retry together.
		wait = time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		res.RetryAt = now.Add(wait)
	}
	since, err := d.store.Outbox().FailingSince(ctx, w.OrgID(), w.ID())
	if err != nil {
		return err
	}
	if !since.IsZero() && now.Sub(since) >= d.cfg.DisableAfter {
		res.DisableEndpoint = true
		// The service disables the endpoint on its own: an audit event with
		// the system actor, and the webhook event of it, both written in the
		// transaction that disables it.
		e, err := domain.NewAuditEvent(d.ids.NewID(), now, domain.SystemActor, w.OrgID(), domain.ActionWebhookDisabled, w.ID(),
			[]domain.FieldChange{
				{Field: "enabled", Before: true, After: false},
				{Field: "disabled_reason", Before: "", After: domain.WebhookDisabledByFailures},
				{Field: "failing_since", After: since.UTC().Format(time.RFC3339)},
			}, domain.RequestInfo{})
		if err != nil {
			return err
		}
		ev := outboxEvent(e)
		res.Disabled, res.DisabledAudit = &ev, e
	}
	return nil
}

// cloudEvent is the body of every message: a CloudEvents 1.0 event in the
// structured JSON form, with the organization's sequence number.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Time        string          `json:"time"`
	Subject     string          `json:"subject,omitempty"`
	Sequence    int64           `json:"sequence"`
	OrgID       string          `json:"organizationid"`
	DataType    string          `json:"datacontenttype"`
	Data        json.RawMessage `json:"data"`
}

// Message returns the body and Standard Webhooks headers of one delivery,
// signed at time now with every secret still signing.
func (d *Dispatcher) Message(w *domain.Webhook, del ports.Delivery, now time.Time) ([]byte, map[string]string, error) {
	body, err := json.Marshal(cloudEvent{
		SpecVersion: "1.0", ID: del.EventID, Source: d.cfg.Source, Type: del.EventType,
		Time: del.OccurredAt.UTC().Format(time.RFC3339Nano), Subject: del.Subject, Sequence: del.Sequence,
		OrgID: del.OrgID, DataType: "application/json", Data: json.RawMessage(del.Data),
	})
	if err != nil {
		return nil, nil, err
	}
	ts := now.Unix()
	var sigs []string
	for _, s := range w.SigningSecrets(now) {
		plain, err := d.sealer.Open(s.Sealed)
		if err != nil {
			continue
		}
		sig, err := domain.SignWebhook(plain, del.EventID, ts, body)
		if err != nil {
			continue
		}
		sigs = append(sigs, sig)
	}
	if len(sigs) == 0 {
		return nil, nil, errNoSecret
	}
	return body, map[string]string{
		"webhook-id":        del.EventID,
		"webhook-timestamp": strconv.FormatInt(ts, 10),
		"webhook-signature": strings.Join(sigs, " "),
		"Content-Type":      "application/json",
	}, nil
}

// attempt sends one delivery and reports how it went. The URL is checked
// against the policy again: the operator's rules may have changed.
func (d *Dispatcher) attempt(ctx context.Context, w *domain.Webhook, del ports.Delivery) ports.AttemptResult {
	start := d.clock.Now()
	res := ports.AttemptResult{Attempt: ports.DeliveryAttempt{At: start}}
	if err := d.urls.CheckURL(w.URL()); err != nil {
		res.Attempt.ErrorClass = "policy"
		return res
	}
	if d.sealer == nil {
		res.Attempt.ErrorClass = "no_secret"
		return res
	}
	body, headers, err := d.Message(w, del, start)
	if err != nil {
		res.Attempt.ErrorClass = "no_secret"
		if !errors.Is(err, errNoSecret) {
			res.Attempt.ErrorClass = "internal"
		}
		return res
	}
	resp := d.sender.Send(ctx, ports.WebhookRequest{URL: w.URL(), Headers: headers, Body: body})
	res.Attempt.Duration = d.clock.Now().Sub(start)
	res.Attempt.StatusCode, res.Attempt.ErrorClass, res.Attempt.Excerpt = resp.StatusCode, resp.ErrorClass, resp.Excerpt
	switch {
	case resp.ErrorClass != "":
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.Delivered = true
	default:
		res.Attempt.ErrorClass = "http_status"
	}
	return res
}
