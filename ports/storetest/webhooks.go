package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

func (f *fixture) webhook(o *domain.Organization, types ...string) *domain.Webhook {
	f.t.Helper()
	w, err := domain.NewWebhook(f.id(), o.ID(), domain.WebhookSpec{URL: "https://hooks.test/" + string(o.Slug()), EventTypes: types},
		domain.SealedSecret{Sealed: "sealed-1"}, f.now())
	must(f.t, err)
	must(f.t, f.s.Webhooks().Create(f.ctx, w))
	return w
}

func (f *fixture) outboxEvent(o *domain.Organization, typ string) ports.OutboxEvent {
	f.t.Helper()
	ev := ports.OutboxEvent{ID: f.id(), OrgID: o.ID(), Type: typ, OccurredAt: f.now(), Subject: "members/x", Data: map[string]any{"k": "v"}}
	must(f.t, f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error { return r.Outbox().Enqueue(ctx, ev) }))
	return ev
}

var webhookTests = []contract{
	{"CreateGetUpdateDelete", func(t *testing.T, f *fixture) {
		o := f.org("acme", "Acme")
		other := f.org("other", "Other")
		w := f.webhook(o, "member.*")
		got, err := f.s.Webhooks().Get(f.ctx, o.ID(), w.ID())
		must(t, err)
		if got.URL() != w.URL() || got.Version() != 1 || !got.Enabled() || len(got.Secrets()) != 1 || got.Secrets()[0].Sealed != "sealed-1" {
			t.Fatalf("got %v", got)
		}
		if _, err := f.s.Webhooks().Get(f.ctx, other.ID(), w.ID()); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("another organization's Get: %v, want ErrNotFound", err)
		}
		got.RotateSecret(domain.SealedSecret{Sealed: "sealed-2"}, time.Hour, f.now())
		must(t, f.s.Webhooks().Update(f.ctx, got, 1))
		if err := f.s.Webhooks().Update(f.ctx, got, 1); !errors.Is(err, domain.ErrVersionMismatch) {
			t.Fatalf("stale Update: %v", err)
		}
		again, err := f.s.Webhooks().Get(f.ctx, o.ID(), w.ID())
		must(t, err)
		if s := again.Secrets(); len(s) != 2 || s[0].Sealed != "sealed-2" || s[1].ExpiresAt.IsZero() {
			t.Fatalf("secrets after rotation: %+v", s)
		}
		page, err := f.s.Webhooks().List(f.ctx, ports.WebhookFilter{OrgID: o.ID(), PageRequest: ports.PageRequest{Page: 1, Size: 10}})
		must(t, err)
		if page.Total != 1 || len(page.Items) != 1 {
			t.Fatalf("list: %+v", page)
		}
		if err := f.s.Webhooks().Delete(f.ctx, other.ID(), w.ID()); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("another organization's Delete: %v", err)
		}
		must(t, f.s.Webhooks().Delete(f.ctx, o.ID(), w.ID()))
		if _, err := f.s.Webhooks().Get(f.ctx, o.ID(), w.ID()); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("Get after Delete: %v", err)
		}
	}},
	{"EnqueueFansOutInSequence", func(t *testing.T, f *fixture) {
		o := f.org("acme", "Acme")
		other := f.org("other", "Other")
		members := f.webhook(o, "member.*")
		all := f.webhook(o, "*")
		f.webhook(other, "*")
		f.outboxEvent(o, "member.added")
		f.outboxEvent(o, "role.created")
		f.outboxEvent(o, "member.removed")
		// A rolled-back change writes nothing.
		boom := errors.New("boom")
		err := f.s.RunInTx(f.ctx, func(ctx context.Context, r ports.Repositories) error {
			if err := r.Outbox().Enqueue(ctx, ports.OutboxEvent{ID: f.id(), OrgID: o.ID(), Type: "member.added", OccurredAt: f.now()}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		check := func(w *domain.Webhook, wantTypes []string, wantSeq []int64) {
			t.Helper()
			page, err := f.s.Outbox().ListDeliveries(f.ctx, o.ID(), w.ID(), ports.PageRequest{Page: 1, Size: 10, Sort: []ports.SortField{{Field: "created_at"}}})
			must(t, err)
			if len(page.Items) != len(wantTypes) {
				t.Fatalf("%d deliveries, want %d", len(page.Items), len(wantTypes))
			}
			for i, d := range page.Items {
				if d.EventType != wantTypes[i] || d.Sequence != wantSeq[i] || d.Status != ports.DeliveryPending {
					t.Fatalf("delivery %d: %s #%d %s, want %s #%d pending", i, d.EventType, d.Sequence, d.Status, wantTypes[i], wantSeq[i])
				}
			}
		}
		check(members, []string{"member.added", "member.removed"}, []int64{1, 3})
		check(all, []string{"member.added", "role.created", "member.removed"}, []int64{1, 2, 3})
	}},
	{"ClaimHoldsAnEndpointInOrder", func(t *testing.T, f *fixture) {
		o := f.org("acme", "Acme")
		w := f.webhook(o, "*")
		first := f.outboxEvent(o, "member.added")
		f.outboxEvent(o, "member.removed")
		now := time.Now()
		cl, ok, err := f.s.Outbox().Claim(f.ctx, now, time.Minute)
		must(t, err)
		if !ok || cl.WebhookID != w.ID() {
			t.Fatalf("claim: %+v %v", cl, ok)
		}
		if _, ok, err := f.s.Outbox().Claim(f.ctx, now, time.Minute); err != nil || ok {
			t.Fatalf("a held endpoint was claimed twice: %v %v", ok, err)
		}
		_, ds, err := f.s.Outbox().Pending(f.ctx, cl, 10)
		must(t, err)
		if len(ds) != 2 || ds[0].EventID != first.ID || string(ds[0].Data) != `{"k":"v"}` {
			t.Fatalf("pending: %+v", ds)
		}
		// A failed head with a retry later holds the endpoint back.
		must(t, f.s.Outbox().Record(f.ctx, cl, ds[0], ports.AttemptResult{Attempt: ports.DeliveryAttempt{At: now, StatusCode: 500, ErrorClass: "http_status"},
			RetryAt: now.Add(time.Hour)}, now.Add(time.Minute)))
		must(t, f.s.Outbox().Release(f.ctx, cl))
		if _, ok, err := f.s.Outbox().Claim(f.ctx, now, time.Minute); err != nil || ok {
			t.Fatalf("an endpoint whose head waits was claimed: %v %v", ok, err)
		}
		since, err := f.s.Outbox().FailingSince(f.ctx, o.ID(), w.ID())
		must(t, err)
		if !since.Equal(now.UTC().Truncate(time.Microsecond)) {
			t.Fatalf("failing since %v, want %v", since, now)
		}
		later := now.Add(2 * time.Hour)
		cl2, ok, err := f.s.Outbox().Claim(f.ctx, later, time.Minute)
		must(t, err)
		if !ok {
			t.Fatal("a due endpoint was not claimed")
		}
		// A record under a lost claim is refused.
		if err := f.s.Outbox().Record(f.ctx, cl, ds[0], ports.AttemptResult{Delivered: true}, later); !errors.Is(err, ports.ErrClaimLost) {
			t.Fatalf("record under a lost claim: %v", err)
		}
		must(t, f.s.Outbox().Record(f.ctx, cl2, ds[0], ports.AttemptResult{Attempt: ports.DeliveryAttempt{At: later, StatusCode: 204}, Delivered: true}, later))
		_, ds2, err := f.s.Outbox().Pending(f.ctx, cl2, 10)
		must(t, err)
		if len(ds2) != 1 || ds2[0].EventType != "member.removed" {
			t.Fatalf("pending after success: %+v", ds2)
		}
		if since, _ := f.s.Outbox().FailingSince(f.ctx, o.ID(), w.ID()); !since.IsZero() {
			t.Fatal("a success did not clear the failure")
		}
		n, err := f.s.Outbox().ReplaySince(f.ctx, o.ID(), w.ID(), time.Time{}, later)
		must(t, err)
		if n != 2 {
			t.Fatalf("replayed %d, want 2", n)
		}
		page, err := f.s.Outbox().ListDeliveries(f.ctx, o.ID(), w.ID(), ports.PageRequest{Page: 1, Size: 10})
		must(t, err)
		if page.Total != 4 {
			t.Fatalf("%d deliveries after replay, want 4", page.Total)
		}
		var attempts int
		for _, d := range page.Items {
			attempts += len(d.AttemptLog)
		}
		if attempts != 2 {
			t.Fatalf("%d attempts listed, want 2", attempts)
		}
	}},
}
