package httpapi

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// TestWebhookDeliveryDelay measures the delay from the commit of a change
// to its arrival at the receiver under a steady load, with the production
// poll interval (250 ms). It runs only when ORGSTACK_WEBHOOK_LOAD is set
// to "<events per second>x<seconds>" (for example 200x10), against the
// test database (PostgreSQL with ORGSTACK_TEST_POSTGRES_URL), and reports
// figures; it asserts only that every event arrived.
func TestWebhookDeliveryDelay(t *testing.T) {
	spec := os.Getenv("ORGSTACK_WEBHOOK_LOAD")
	if spec == "" {
		t.Skip("set ORGSTACK_WEBHOOK_LOAD=<events/s>x<seconds> to measure the delivery delay")
	}
	var rate, secs int
	if i := slices.Index([]byte(spec), 'x'); i > 0 {
		rate, _ = strconv.Atoi(spec[:i])
		secs, _ = strconv.Atoi(spec[i+1:])
	}
	if rate <= 0 || secs <= 0 {
		t.Fatalf("ORGSTACK_WEBHOOK_LOAD=%q: want <events/s>x<seconds>", spec)
	}
	w := newWebhookEnv(t)
	w.create(t, "member.*")
	// A second and third endpoint share the load, as several customers would.
	for _, p := range []string{"/b", "/c"} {
		res, body := w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": w.rc.srv.URL + p, "event_types": []string{"member.*"}})
		wantStatus(t, res, body, http.StatusCreated)
		w.rc.secrets = append(w.rc.secrets, data(t, body)["secret"].(string))
	}
	var mu sync.Mutex
	committed := map[string]time.Time{}
	arrived := map[string]time.Time{}
	w.rc.onReceive = func(path, id string) {
		mu.Lock()
		if _, ok := arrived[path+" "+id]; !ok {
			arrived[path+" "+id] = time.Now()
		}
		mu.Unlock()
	}
	w.dispatcher(t, application.DispatcherConfig{PollInterval: 250 * time.Millisecond})
	total := rate * secs
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	for i := 0; i < total; i++ {
		<-tick.C
		id := system.UUIDv7{}.NewID()
		err := w.Store.RunInTx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
			return r.Outbox().Enqueue(ctx, ports.OutboxEvent{ID: id, OrgID: w.org, Type: "member.updated", OccurredAt: time.Now(), Subject: "members/x", Data: map[string]any{"i": i}})
		})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		committed[id] = time.Now()
		mu.Unlock()
	}
	offered := time.Since(start)
	waitFor(t, "every event", func() bool { mu.Lock(); defer mu.Unlock(); return len(arrived) >= 3*total })
	var delays []time.Duration
	mu.Lock()
	for id, c := range committed {
		for _, p := range []string{"/hook", "/b", "/c"} {
			delays = append(delays, arrived[p+" "+id].Sub(c))
		}
	}
	mu.Unlock()
	slices.Sort(delays)
	q := func(p float64) time.Duration { return delays[int(p*float64(len(delays)-1))] }
	t.Logf("%d events at %d/s for %s (3 endpoints, one organization; per delivery): commit→receiver delay p50 %s p90 %s p99 %s max %s",
		total, rate, offered.Round(time.Millisecond), q(0.5).Round(time.Millisecond), q(0.9).Round(time.Millisecond), q(0.99).Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))
}

// TestWebhookOutboxWriteCost measures what the outbox adds to a change's
// transaction: an organization update alone, with Enqueue when the
// organization has no subscribed endpoint, and with one. Opt-in with
// ORGSTACK_WEBHOOK_WRITECOST=<n> (writes per case); it reports figures.
func TestWebhookOutboxWriteCost(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ORGSTACK_WEBHOOK_WRITECOST"))
	if n <= 0 {
		t.Skip("set ORGSTACK_WEBHOOK_WRITECOST=<writes per case> to measure the outbox's cost on a write")
	}
	w := newWebhookEnv(t)
	ctx := context.Background()
	run := func(name string, enqueue bool) {
		var d []time.Duration
		for i := 0; i < n; i++ {
			start := time.Now()
			err := w.Store.RunInTx(ctx, func(ctx context.Context, r ports.Repositories) error {
				o, err := r.Organizations().GetForUpdate(ctx, w.org)
				if err != nil {
					return err
				}
				prev := o.Version()
				name := "Org " + strconv.Itoa(i)
				if err := o.Apply(domain.OrganizationChanges{Name: &name}, time.Now()); err != nil {
					return err
				}
				if err := r.Organizations().Update(ctx, o, prev); err != nil {
					return err
				}
				if !enqueue {
					return nil
				}
				return r.Outbox().Enqueue(ctx, ports.OutboxEvent{ID: system.UUIDv7{}.NewID(), OrgID: w.org, Type: "organization.updated",
					OccurredAt: time.Now(), Subject: "organizations/" + w.org, Data: map[string]any{"name": name}})
			})
			if err != nil {
				t.Fatal(err)
			}
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		t.Logf("%-44s p50 %6s p99 %6s", name, d[len(d)/2].Round(10*time.Microsecond), d[len(d)*99/100].Round(10*time.Microsecond))
	}
	run("update alone", false)
	run("update + Enqueue, no subscribed endpoint", true)
	w.create(t, "organization.*")
	run("update + Enqueue, one subscribed endpoint", true)
}
