package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/orgstack/orgstack/adapters/outbound"
	"github.com/orgstack/orgstack/adapters/secretbox"
	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/ports"
)

// testSealer is the secret box of the test environments (a fixed key).
func testSealer(t testing.TB) ports.SecretSealer {
	b, err := secretbox.New("test-secret-key-0123456789abcdef-0123456789")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verifySignature is a Standard Webhooks verifier written from the
// specification, independently of the service's signer: the signed content
// is id "." timestamp "." body, the key is the base64-decoded part of the
// secret after whsec_, and webhook-signature lists space-separated
// "v1,<base64 HMAC-SHA256>" signatures, any one of which may match.
func verifySignature(secret string, h http.Header, body []byte, now time.Time) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing Standard Webhooks headers")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("bad timestamp %q", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("timestamp outside tolerance")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, b64, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return fmt.Errorf("no signature matches")
}

// received is one message the receiver accepted.
type received struct {
	Path     string // which endpoint
	ID       string
	Type     string
	Sequence int64
	Sigs     int // how many signatures the header carried
}

// receiver is a webhook endpoint on loopback: it verifies every message
// with the secrets it is told, deduplicates by webhook-id, and can be made
// to fail (500) or to be down (connections cut).
type receiver struct {
	t   testing.TB
	srv *httptest.Server
	mu  sync.Mutex
	// secrets that verify (any one); set after the webhook is created
	secrets []string
	seen    map[string]bool
	got     []received // first receipt of each webhook-id, in arrival order
	dups    int
	bad     []string // verification failures
	mode    string   // "", "fail", "down"
	block   chan struct{}
	blocked chan struct{}
	// onReceive, when set, is told every verified webhook-id (under mu).
	onReceive func(path, id string)
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, seen: map[string]bool{}}
	rc.srv = httptest.NewTLSServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	mode, block, blocked := rc.mode, rc.block, rc.blocked
	rc.mu.Unlock()
	switch {
	case r.URL.Path == "/ok": // the endpoint that never fails
	case mode == "fail":
		http.Error(w, "receiver failing <b>\x00now</b>", http.StatusInternalServerError)
		return
	case mode == "down":
		if hj, ok := w.(http.Hijacker); ok {
			c, _, _ := hj.Hijack()
			_ = c.Close()
		}
		return
	}
	if block != nil {
		rc.mu.Lock()
		rc.block = nil
		rc.mu.Unlock()
		close(blocked)
		<-block // held until the test lets go (the dispatcher has died meanwhile)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var ok bool
	for _, s := range rc.secrets {
		if verifySignature(s, r.Header, body, time.Now()) == nil {
			ok = true
		}
	}
	if !ok {
		rc.bad = append(rc.bad, r.Header.Get("webhook-id"))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var ev struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Sequence int64  `json:"sequence"`
		Spec     string `json:"specversion"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != r.Header.Get("webhook-id") || ev.Spec != "1.0" {
		rc.bad = append(rc.bad, "body id differs from webhook-id")
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	if rc.onReceive != nil {
		rc.onReceive(r.URL.Path, ev.ID)
	}
	if rc.seen[ev.ID] {
		rc.dups++
	} else {
		rc.seen[ev.ID] = true
		rc.got = append(rc.got, received{Path: r.URL.Path, ID: ev.ID, Type: ev.Type, Sequence: ev.Sequence, Sigs: len(strings.Fields(r.Header.Get("webhook-signature")))})
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) setMode(m string) {
	rc.mu.Lock()
	rc.mode = m
	rc.mu.Unlock()
}

func (rc *receiver) setSecrets(s ...string) {
	rc.mu.Lock()
	rc.secrets = s
	rc.mu.Unlock()
}

func (rc *receiver) snapshot() ([]received, int, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received{}, rc.got...), rc.dups, append([]string{}, rc.bad...)
}

// waitFor polls cond until it holds or a generous bound passes (a bound
// against hanging, not a timing assertion).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// webhookEnv is an environment whose URL policy and dispatcher reach the
// loopback receiver.
type webhookEnv struct {
	*env
	rc    *receiver
	out   *outbound.Client
	owner string
	org   string
}

func newWebhookEnv(t *testing.T, opts ...envOption) *webhookEnv {
	rc := newReceiver(t)
	pool := x509.NewCertPool()
	pool.AddCert(rc.srv.Certificate())
	out, err := outbound.New(outbound.Config{Allow: []string{strings.TrimPrefix(rc.srv.URL, "https://")}, RootCAs: pool})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, append([]envOption{withURLPolicy(out)}, opts...)...)
	owner := e.token("wh-owner")
	org := e.createOrg(t, owner, "wh-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	return &webhookEnv{env: e, rc: rc, out: out, owner: owner, org: org}
}

func (w *webhookEnv) path(p string) string { return "/api/v1/organizations/" + w.org + p }

// create registers an endpoint for types and tells the receiver its secret.
func (w *webhookEnv) create(t *testing.T, types ...string) (id, secret string) {
	t.Helper()
	res, body := w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": w.rc.srv.URL + "/hook", "event_types": types})
	wantStatus(t, res, body, http.StatusCreated)
	d := data(t, body)
	secret = d["secret"].(string)
	w.rc.setSecrets(secret)
	return d["id"].(string), secret
}

// dispatcher starts a dispatcher on the environment's store until the
// returned stop is called (or the test ends).
func (w *webhookEnv) dispatcher(t *testing.T, cfg application.DispatcherConfig) (stop func()) {
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond,
			200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond, 200 * time.Millisecond}
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	if cfg.Lease == 0 {
		cfg.Lease = 10 * time.Second
	}
	d := application.NewDispatcher(w.Store, w.out, testSealer(t), w.out, system.Clock{}, system.UUIDv7{}, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// enqueue writes n change events of type typ in n transactions, as a change
// would.
func (w *webhookEnv) enqueue(t testing.TB, typ string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		err := w.Store.RunInTx(context.Background(), func(ctx context.Context, r ports.Repositories) error {
			return r.Outbox().Enqueue(ctx, ports.OutboxEvent{ID: system.UUIDv7{}.NewID(), OrgID: w.org, Type: typ,
				OccurredAt: time.Now(), Subject: "members/x", Data: map[string]any{"i": i}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// wantInOrder checks that the receiver got exactly want distinct events,
// each verified, in increasing sequence order per endpoint.
func wantInOrder(t *testing.T, rc *receiver, want int) []received {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d events", want), func() bool { got, _, _ := rc.snapshot(); return len(got) >= want })
	got, _, bad := rc.snapshot()
	if len(bad) > 0 {
		t.Fatalf("unverified messages: %v", bad)
	}
	if len(got) != want {
		t.Fatalf("got %d distinct events, want %d", len(got), want)
	}
	last := map[string]int64{}
	for i, g := range got {
		if g.Sequence <= last[g.Path] {
			t.Fatalf("event %d (%s) has sequence %d after %d: out of order", i, g.Path, g.Sequence, last[g.Path])
		}
		last[g.Path] = g.Sequence
	}
	return got
}

func TestWebhookLifecycle(t *testing.T) {
	w := newWebhookEnv(t)
	res, body := w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": w.rc.srv.URL + "/hook", "event_types": []string{"member.*", "webhook.updated"}, "description": "CRM"})
	wantStatus(t, res, body, http.StatusCreated)
	d := data(t, body)
	id, secret := d["id"].(string), d["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q is not whsec_", secret)
	}
	if raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); err != nil || len(raw) < 24 {
		t.Fatalf("secret is not base64 of random bytes: %v", err)
	}
	if res.Header.Get("ETag") != `"1"` || res.Header.Get("Location") == "" {
		t.Fatalf("ETag %q Location %q", res.Header.Get("ETag"), res.Header.Get("Location"))
	}

	res, body = w.do(t, http.MethodGet, w.path("/webhooks/"+id), w.owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	if strings.Contains(string(body), secret) || strings.Contains(string(body), "secret") {
		t.Fatalf("GET shows the secret: %s", body)
	}
	res, _ = w.do(t, http.MethodGet, w.path("/webhooks/"+id), w.owner, nil, "If-None-Match", `"1"`)
	wantStatus(t, res, nil, http.StatusNotModified)

	res, body = w.do(t, http.MethodGet, w.path("/webhooks?page=1&size=10"), w.owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	if l := listData(t, body); len(l) != 1 || strings.Contains(string(body), secret) {
		t.Fatalf("list = %s", body)
	}

	// If-Match: a stale tag is 412.
	res, body = w.do(t, http.MethodPatch, w.path("/webhooks/"+id), w.owner, obj{"description": "x"}, "If-Match", `"7"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = w.do(t, http.MethodPatch, w.path("/webhooks/"+id), w.owner, obj{"description": "Sales CRM"}, "If-Match", `"1"`)
	wantStatus(t, res, body, http.StatusOK)
	if data(t, body)["version"].(float64) != 2 {
		t.Fatalf("version after PATCH: %s", body)
	}

	// Bad input names the field.
	res, body = w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": "ftp://x", "event_types": []string{"nope.created"}})
	p := wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")
	if f := problemFields(p); !strings.Contains(strings.Join(f, ","), "/url") || !strings.Contains(strings.Join(f, ","), "/event_types/0") {
		t.Fatalf("fields %v", f)
	}
	// The URL policy applies on write: plain http is refused.
	res, body = w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": "http://127.0.0.1:1/x", "event_types": []string{"*"}})
	wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")

	// Rotation shows a new secret once; during the overlap both sign.
	res, body = w.do(t, http.MethodPost, w.path("/webhooks/"+id+"/rotate-secret"), w.owner, nil, "If-Match", `"1"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = w.do(t, http.MethodPost, w.path("/webhooks/"+id+"/rotate-secret"), w.owner, nil, "If-Match", `"2"`)
	wantStatus(t, res, body, http.StatusOK)
	next := data(t, body)["secret"].(string)
	if next == secret || !strings.HasPrefix(next, "whsec_") {
		t.Fatal("rotation did not give a new secret")
	}
	w.rc.setSecrets(secret) // the receiver still knows only the old secret
	w.dispatcher(t, application.DispatcherConfig{})
	w.enqueue(t, "member.added", 1)
	// webhook.updated (the PATCH) and member.added, in that order.
	got := wantInOrder(t, w.rc, 2)
	if got[0].Type != "webhook.updated" || got[1].Type != "member.added" || got[1].Sigs != 2 {
		t.Fatalf("during the overlap: %+v, want two signatures", got)
	}
	w.rc.setSecrets(next)
	w.enqueue(t, "member.removed", 1)
	wantInOrder(t, w.rc, 3)

	// Deliveries list attempts; a replay re-sends the same webhook-id.
	res, body = w.do(t, http.MethodGet, w.path("/webhooks/"+id+"/deliveries"), w.owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	ds := listData(t, body)
	if len(ds) != 3 {
		t.Fatalf("deliveries: %s", body)
	}
	first := ds[2].(obj)
	if first["status"] != "delivered" || len(first["attempts"].([]any)) != 1 {
		t.Fatalf("delivery: %v", first)
	}
	res, body = w.do(t, http.MethodPost, w.path("/webhooks/"+id+"/deliveries/"+first["id"].(string)+"/replay"), w.owner, nil)
	wantStatus(t, res, body, http.StatusAccepted)
	if data(t, body)["event_id"] != first["event_id"] {
		t.Fatalf("replay changed the event ID: %s", body)
	}
	waitFor(t, "the replay", func() bool { _, dups, _ := w.rc.snapshot(); return dups == 1 })
	res, body = w.do(t, http.MethodPost, w.path("/webhooks/"+id+"/replay"), w.owner, obj{"since": time.Now().Add(-time.Hour)})
	wantStatus(t, res, body, http.StatusAccepted)
	if data(t, body)["queued"].(float64) != 3 {
		t.Fatalf("replay since: %s", body)
	}
	waitFor(t, "the replays", func() bool { _, dups, _ := w.rc.snapshot(); return dups == 4 })
	res, body = w.do(t, http.MethodPost, w.path("/webhooks/"+id+"/replay"), w.owner, obj{})
	wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")

	// Secrets never appear in the logs.
	for _, entry := range w.Logs.All() {
		line := entry.Message + fmt.Sprint(entry.ContextMap())
		if strings.Contains(line, strings.TrimPrefix(secret, "whsec_")) || strings.Contains(line, strings.TrimPrefix(next, "whsec_")) {
			t.Fatalf("a secret is in the log: %s", line)
		}
	}

	res, body = w.do(t, http.MethodDelete, w.path("/webhooks/"+id), w.owner, nil, "If-Match", `"1"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = w.do(t, http.MethodDelete, w.path("/webhooks/"+id), w.owner, nil, "If-Match", `"3"`)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = w.do(t, http.MethodGet, w.path("/webhooks/"+id), w.owner, nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
}

func TestWebhookRequiresSecretKey(t *testing.T) {
	w := newWebhookEnv(t, withoutSecretKey())
	res, body := w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": w.rc.srv.URL, "event_types": []string{"*"}})
	wantProblem(t, res, body, http.StatusConflict, "secret_key_missing")
}

func TestWebhookAccess(t *testing.T) {
	w := newWebhookEnv(t)
	id, _ := w.create(t, "*")
	member := w.token("wh-member")
	w.addMember(t, w.owner, w.org, "wh-member", "member")
	admin := w.token("wh-admin")
	w.addMember(t, w.owner, w.org, "wh-admin", "admin")
	other := w.token("wh-other")
	otherOrg := w.createOrg(t, other, "wh-other-"+strconv.FormatInt(time.Now().UnixNano(), 36))
	res, body := w.do(t, http.MethodGet, w.path("/webhooks/"+id+"/deliveries"), w.owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	routes := []struct{ method, path, body string }{
		{"GET", "/webhooks", ""},
		{"POST", "/webhooks", `{"url":"` + w.rc.srv.URL + `","event_types":["*"]}`},
		{"GET", "/webhooks/{id}", ""},
		{"PATCH", "/webhooks/{id}", `{"description":"x"}`},
		{"DELETE", "/webhooks/{id}", ""},
		{"POST", "/webhooks/{id}/rotate-secret", ""},
		{"GET", "/webhooks/{id}/deliveries", ""},
		{"POST", "/webhooks/{id}/replay", `{"since":"2020-01-01T00:00:00Z"}`},
		{"POST", "/webhooks/{id}/deliveries/00000000-0000-7000-8000-000000000000/replay", ""},
	}
	for _, rt := range routes {
		p := strings.ReplaceAll(rt.path, "{id}", id)
		var b any
		if rt.body != "" {
			b = rt.body
		}
		// No token: 401, in both forms.
		res, body := w.do(t, rt.method, w.path(p), "", b)
		wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
		res, body = w.do(t, rt.method, "/api/v1"+p, "", b)
		wantProblem(t, res, body, http.StatusUnauthorized, "unauthenticated")
		// A member lacks webhooks:read and webhooks:write: 403.
		res, body = w.do(t, rt.method, w.path(p), member, b)
		wantProblem(t, res, body, http.StatusForbidden, "forbidden")
		// The token form, bound to the organization, reaches the same thing.
		if rt.method == "GET" {
			res, body = w.do(t, rt.method, "/api/v1"+p, w.token("wh-admin", withOrg(w.org)), nil)
			wantStatus(t, res, body, http.StatusOK)
			res, body = w.do(t, rt.method, w.path(p), admin, nil)
			wantStatus(t, res, body, http.StatusOK)
		}
		// Another tenant naming this tenant's webhook in its own organization: 404.
		if strings.Contains(rt.path, "{id}") {
			res, body = w.do(t, rt.method, "/api/v1/organizations/"+otherOrg+p, other, b)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
			res, body = w.do(t, rt.method, "/api/v1"+p, w.token("wh-other", withOrg(otherOrg)), b)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
		}
		// And naming this organization: 404 (not a member).
		res, body = w.do(t, rt.method, w.path(p), other, b)
		wantProblem(t, res, body, http.StatusNotFound, "not_found")
	}
}

// TestWebhookDeliveryAtLeastOnceInOrder delivers through failures of the
// receiver (errors, then connections cut), a dispatcher killed with a
// delivery in flight, and two dispatchers racing on one database: every
// event arrives, verified, at least once, and the first receipts are in
// sequence order.
func TestWebhookDeliveryAtLeastOnceInOrder(t *testing.T) {
	w := newWebhookEnv(t)
	w.create(t, "member.*")

	// Committed while no dispatcher runs (an instance died between commit
	// and delivery): delivered once one starts.
	w.enqueue(t, "member.added", 5)
	w.enqueue(t, "role.created", 2) // not subscribed
	stop := w.dispatcher(t, application.DispatcherConfig{})
	wantInOrder(t, w.rc, 5)

	// The receiver fails, then is down; events queue behind the retrying head.
	w.rc.setMode("fail")
	w.enqueue(t, "member.updated", 5)
	waitFor(t, "a failed attempt", func() bool { return w.attempts(t) > 5 })
	w.rc.setMode("down")
	w.enqueue(t, "member.removed", 5)
	waitFor(t, "attempts while down", func() bool { return w.attempts(t) > 8 })
	w.rc.setMode("")
	wantInOrder(t, w.rc, 15)

	// Kill the dispatcher with a delivery in flight, before it is recorded.
	w.rc.mu.Lock()
	w.rc.block, w.rc.blocked = make(chan struct{}), make(chan struct{})
	block, blocked := w.rc.block, w.rc.blocked
	w.rc.mu.Unlock()
	w.enqueue(t, "member.added", 3)
	<-blocked
	go func() { time.Sleep(50 * time.Millisecond); close(block) }()
	stop()
	// Two dispatchers (two instances) on the same database take over.
	w.dispatcher(t, application.DispatcherConfig{Workers: 3})
	w.dispatcher(t, application.DispatcherConfig{Workers: 3})
	w.enqueue(t, "member.added", 20)
	wantInOrder(t, w.rc, 38)
	_, dups, _ := w.rc.snapshot()
	t.Logf("duplicates received (deduplicated by webhook-id): %d", dups)
}

// attempts counts the recorded attempts of the environment's endpoints.
func (w *webhookEnv) attempts(t testing.TB) int {
	var n int
	scanAll(t, w.Store, "SELECT count(*) FROM webhook_attempts", nil, &n)
	return n
}

// TestWebhookAutoDisable: an endpoint failing for longer than DisableAfter
// is disabled and webhook.disabled, with a system actor, is enqueued; a
// second endpoint subscribed to it hears it.
func TestWebhookAutoDisable(t *testing.T) {
	w := newWebhookEnv(t)
	failing, secret := w.create(t, "member.*")
	// A second, healthy endpoint hears webhook.* events.
	res, body := w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": w.rc.srv.URL + "/ok", "event_types": []string{"webhook.disabled"}})
	wantStatus(t, res, body, http.StatusCreated)
	w.rc.setSecrets(secret, data(t, body)["secret"].(string))
	w.rc.setMode("fail")
	w.dispatcher(t, application.DispatcherConfig{DisableAfter: 100 * time.Millisecond,
		RetrySchedule: []time.Duration{30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond, 30 * time.Millisecond}})
	w.enqueue(t, "member.added", 2)
	got := wantInOrder(t, w.rc, 1)
	if got[0].Type != "webhook.disabled" {
		t.Fatalf("the healthy endpoint got %q, want webhook.disabled", got[0].Type)
	}
	res, body = w.do(t, http.MethodGet, w.path("/webhooks/"+failing), w.owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	if d := data(t, body); d["enabled"] != false || d["disabled_reason"] != "failing" {
		t.Fatalf("not disabled: %s", body)
	}
	var n int
	scanAll(t, w.Store, "SELECT count(*) FROM webhook_events WHERE type = 'webhook.disabled' AND data LIKE '%\"system\"%'", nil, &n)
	if n != 1 {
		t.Fatalf("%d webhook.disabled events with a system actor, want 1", n)
	}
	// Re-enabling resumes the pending deliveries, in order.
	w.rc.setMode("")
	res, body = w.do(t, http.MethodPatch, w.path("/webhooks/"+failing), w.owner, obj{"enabled": true})
	wantStatus(t, res, body, http.StatusOK)
	wantInOrder(t, w.rc, 3)
}

// TestWebhookURLCheckedOnDelivery: a URL that passes the rules on write but
// reaches a refused address (loopback, not on the allow-list) is refused
// by the guarded client on every delivery, and the attempt says policy.
func TestWebhookURLCheckedOnDelivery(t *testing.T) {
	w := newWebhookEnv(t)
	res, body := w.do(t, http.MethodPost, w.path("/webhooks"), w.owner, obj{"url": "https://127.0.0.1:1/in", "event_types": []string{"member.*"}})
	wantStatus(t, res, body, http.StatusCreated)
	id := data(t, body)["id"].(string)
	w.dispatcher(t, application.DispatcherConfig{})
	w.enqueue(t, "member.added", 1)
	var attempt obj
	waitFor(t, "an attempt", func() bool {
		res, body := w.do(t, http.MethodGet, w.path("/webhooks/"+id+"/deliveries"), w.owner, nil)
		wantStatus(t, res, body, http.StatusOK)
		if a := listData(t, body)[0].(obj)["attempts"].([]any); len(a) > 0 {
			attempt = a[0].(obj)
			return true
		}
		return false
	})
	if attempt["error_class"] != "policy" || attempt["status_code"] != nil {
		t.Fatalf("attempt %v, want error_class policy", attempt)
	}
}

// TestWebhookCrashedHoldLapses: an instance killed while it holds an
// endpoint (kill -9: no release) leaves the hold behind; once its lease
// lapses another instance takes the endpoint and delivers everything.
func TestWebhookCrashedHoldLapses(t *testing.T) {
	w := newWebhookEnv(t)
	w.create(t, "member.*")
	w.enqueue(t, "member.added", 3)
	cl, ok, err := w.Store.Outbox().Claim(context.Background(), time.Now(), 300*time.Millisecond)
	if err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	_ = cl // the "crashed" instance never records nor releases
	w.dispatcher(t, application.DispatcherConfig{})
	w.enqueue(t, "member.added", 2)
	wantInOrder(t, w.rc, 5)
}
