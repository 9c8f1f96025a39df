package introspection

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/ports"
)

const (
	testIssuer = "https://idp.test"
	testAud    = "https://api.orgstack.test"
)

// endpoint is an RFC 7662 endpoint for tests: it checks the request as a
// provider would and answers from answers[token] (else active: false).
type endpoint struct {
	t       *testing.T
	srv     *httptest.Server
	calls   atomic.Int64
	mu      sync.Mutex
	answers map[string]map[string]any
	status  atomic.Int64 // when not 0, answer this HTTP status
	delay   time.Duration
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{t: t, answers: map[string]map[string]any{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	time.Sleep(e.delay)
	id, secret, ok := r.BasicAuth()
	if r.Method != http.MethodPost || !ok || id != "orgstack%3Aapi" || secret != "s%26cret" ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if s := e.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	_ = r.ParseForm()
	if r.PostForm.Get("token_type_hint") != "access_token" {
		e.t.Errorf("token_type_hint %q", r.PostForm.Get("token_type_hint"))
	}
	e.mu.Lock()
	a, ok := e.answers[r.PostForm.Get("token")]
	e.mu.Unlock()
	if !ok {
		a = map[string]any{"active": false}
	}
	_ = json.NewEncoder(w).Encode(a)
}

func (e *endpoint) set(token string, a map[string]any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.answers[token] = a
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newVerifier(t *testing.T, e *endpoint, c *clock, edit func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Endpoint: e.srv.URL, Issuer: testIssuer, Audiences: []string{testAud},
		ClientID: "orgstack:api", ClientSecret: "s&cret", Now: c.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func active(now time.Time, extra map[string]any) map[string]any {
	a := map[string]any{"active": true, "iss": testIssuer, "aud": testAud, "sub": "alice",
		"client_id": "app", "token_type": "Bearer", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		if v == nil {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	return a
}

// TestVerifyMapsAnActiveAnswer: credentials go in Basic authentication,
// form-encoded; aud may be a string or an array; claims map to the
// principal through configured (nested) paths.
func TestVerifyMapsAnActiveAnswer(t *testing.T) {
	e := newEndpoint(t)
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	v := newVerifier(t, e, c, func(cfg *Config) {
		cfg.OrgClaim = []string{"https://orgstack.test/claims", "org"}
		cfg.AdminClaim, cfg.AdminValue = []string{"roles"}, "platform-admin"
	})
	e.set("tok-a", active(c.now, map[string]any{"aud": []any{"other", testAud}, "email": "a@x.test", "name": "Alice",
		"https://orgstack.test/claims": map[string]any{"org": "acme"}, "roles": []any{"platform-admin"}}))
	p, err := v.Verify(context.Background(), "tok-a")
	if err != nil {
		t.Fatal(err)
	}
	want := ports.Principal{Issuer: testIssuer, Subject: "alice", Email: "a@x.test", Name: "Alice", OrgClaim: "acme", PlatformAdmin: true}
	if p.Issuer != want.Issuer || p.Subject != want.Subject || p.Email != want.Email || p.Name != want.Name ||
		p.OrgClaim != want.OrgClaim || p.PlatformAdmin != want.PlatformAdmin {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	// No iss in the answer: the configured issuer, since we asked it.
	e.set("tok-b", active(c.now, map[string]any{"iss": nil}))
	if p, err := v.Verify(context.Background(), "tok-b"); err != nil || p.Issuer != testIssuer || p.OrgClaim != "" {
		t.Fatalf("without iss: got %+v, %v", p, err)
	}
	// A client_credentials token without sub, with the subject taken from client_id.
	v2 := newVerifier(t, e, c, func(cfg *Config) { cfg.SubjectClaim = []string{"client_id"} })
	e.set("tok-c", active(c.now, map[string]any{"sub": nil}))
	if p, err := v2.Verify(context.Background(), "tok-c"); err != nil || p.Subject != "app" {
		t.Fatalf("subject from client_id: got %+v, %v", p, err)
	}
}

// TestVerifyRefusals: each unacceptable answer has its reason.
func TestVerifyRefusals(t *testing.T) {
	e := newEndpoint(t)
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	v := newVerifier(t, e, c, nil)
	now := c.now
	tests := []struct {
		name string
		give map[string]any // nil: unknown to the endpoint
		want ports.TokenReason
	}{
		{"unknown token", nil, ports.ReasonInactive},
		{"inactive", map[string]any{"active": false, "sub": "alice"}, ports.ReasonInactive},
		{"another issuer", active(now, map[string]any{"iss": "https://evil.test"}), ports.ReasonWrongIssuer},
		{"another audience", active(now, map[string]any{"aud": "https://other.test"}), ports.ReasonWrongAudience},
		{"no audience", active(now, map[string]any{"aud": nil}), ports.ReasonWrongAudience},
		{"audience array without ours", active(now, map[string]any{"aud": []any{"a", "b"}}), ports.ReasonWrongAudience},
		{"expired", active(now, map[string]any{"exp": now.Add(-time.Minute).Unix()}), ports.ReasonExpired},
		{"not yet valid", active(now, map[string]any{"nbf": now.Add(time.Hour).Unix()}), ports.ReasonNotYetValid},
		{"issued in the future", active(now, map[string]any{"iat": now.Add(time.Hour).Unix()}), ports.ReasonNotYetValid},
		{"exp not a number", active(now, map[string]any{"exp": "soon"}), ports.ReasonMalformed},
		{"no sub", active(now, map[string]any{"sub": nil}), ports.ReasonMalformed},
		{"sub with NUL", active(now, map[string]any{"sub": "al\x00ice"}), ports.ReasonMalformed},
		{"sub not text", active(now, map[string]any{"sub": 42}), ports.ReasonMalformed},
		{"DPoP token", active(now, map[string]any{"token_type": "DPoP"}), ports.ReasonMalformed},
		{"key-bound token", active(now, map[string]any{"cnf": map[string]any{"jkt": "x"}}), ports.ReasonMalformed},
		{"org claim with two values", active(now, map[string]any{"org_id": []any{"a", "b"}}), ports.ReasonAmbiguousOrganization},
		{"org claim not a string", active(now, map[string]any{"org_id": 42}), ports.ReasonAmbiguousOrganization},
		{"org claim not text", active(now, map[string]any{"org_id": "a\x00b"}), ports.ReasonMalformed},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := "refused-" + string(rune('a'+i))
			if tt.give != nil {
				e.set(tok, tt.give)
			}
			_, err := v.Verify(context.Background(), tok)
			var te *ports.TokenError
			if !errors.As(err, &te) || te.Reason != tt.want {
				t.Fatalf("got %v, want reason %s", err, tt.want)
			}
			if ports.IsUnavailable(err) || strings.Contains(err.Error(), tok) {
				t.Errorf("error %q: unavailable or contains the token", err)
			}
		})
	}
}

// TestNotATokenMakesNoCall: what cannot be a bearer token is refused
// before any call.
func TestNotATokenMakesNoCall(t *testing.T) {
	e := newEndpoint(t)
	v := newVerifier(t, e, &clock{now: time.Now()}, nil)
	for _, give := range []string{"", "a b", "tok\x00", "é", "===", strings.Repeat("a", MaxTokenSize+1)} {
		_, err := v.Verify(context.Background(), give)
		var te *ports.TokenError
		if !errors.As(err, &te) || te.Reason != ports.ReasonMalformed {
			t.Errorf("%q: got %v, want malformed", give, err)
		}
	}
	if n := e.calls.Load(); n != 0 {
		t.Fatalf("%d calls, want none", n)
	}
}

// TestCache: an accepted answer is reused until min(exp, CacheTTL), a
// refusal for RefusalTTL; a new call happens only after.
func TestCache(t *testing.T) {
	e := newEndpoint(t)
	c := &clock{now: time.Unix(1_800_000_000, 0)}
	v := newVerifier(t, e, c, func(cfg *Config) { cfg.Leeway = time.Second })
	ctx := context.Background()
	e.set("long", active(c.now, nil))                                                       // exp in 1 h: cached 5 min
	e.set("short", active(c.now, map[string]any{"exp": c.now.Add(2 * time.Minute).Unix()})) // cached 2 min
	calls := func() int64 { return e.calls.Load() }
	for range 3 {
		if _, err := v.Verify(ctx, "long"); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, "short"); err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(ctx, "unknown"); err == nil {
			t.Fatal("unknown token accepted")
		}
	}
	if n := calls(); n != 3 {
		t.Fatalf("%d calls for 3 tokens asked 3 times, want 3", n)
	}
	c.add(11 * time.Second) // the refusal is forgotten
	_, _ = v.Verify(ctx, "unknown")
	if n := calls(); n != 4 {
		t.Fatalf("after 11 s: %d calls, want 4 (the refusal asked again)", n)
	}
	c.add(2 * time.Minute) // "short" has expired, "long" is still cached
	_, errShort := v.Verify(ctx, "short")
	_, errLong := v.Verify(ctx, "long")
	if n := calls(); n != 5 || errLong != nil {
		t.Fatalf("after 2 min: %d calls (want 5), long: %v", n, errLong)
	}
	var te *ports.TokenError
	if !errors.As(errShort, &te) || te.Reason != ports.ReasonExpired {
		t.Fatalf("short after exp: %v, want expired", errShort)
	}
	c.add(3 * time.Minute) // 5 min 11 s: "long" is asked again
	_, _ = v.Verify(ctx, "long")
	if n := calls(); n != 6 {
		t.Fatalf("after 5 min: %d calls, want 6", n)
	}
}

// TestConcurrentCallsShareOne: requests with the same token at the same
// time make one call.
func TestConcurrentCallsShareOne(t *testing.T) {
	e := newEndpoint(t)
	e.delay = 100 * time.Millisecond
	c := &clock{now: time.Now()}
	v := newVerifier(t, e, c, nil)
	e.set("tok", active(c.now, nil))
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), "tok"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("%d calls, want 1", n)
	}
}

// TestCallsAreBounded: beyond the rate bound a token is 503-class
// introspection_unavailable, without a call; cached tokens still pass.
func TestCallsAreBounded(t *testing.T) {
	e := newEndpoint(t)
	c := &clock{now: time.Now()}
	v := newVerifier(t, e, c, func(cfg *Config) { cfg.Rate, cfg.Burst = 0.001, 2 })
	for _, tok := range []string{"t1", "t2", "t3"} {
		e.set(tok, active(c.now, nil))
	}
	ctx := context.Background()
	for _, tok := range []string{"t1", "t2"} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	_, err := v.Verify(ctx, "t3")
	var te *ports.TokenError
	if !errors.As(err, &te) || te.Reason != ports.ReasonIntrospectionUnavailable || !ports.IsUnavailable(err) {
		t.Fatalf("over the bound: %v, want introspection_unavailable wrapping UnavailableError", err)
	}
	if n := e.calls.Load(); n != 2 {
		t.Fatalf("%d calls, want 2", n)
	}
	if _, err := v.Verify(ctx, "t1"); err != nil {
		t.Fatalf("a cached token over the bound: %v", err)
	}
}

// TestEndpointFailures: down, refusing our credentials, failing or
// answering nonsense is introspection_unavailable (503), never cached, and
// never logs the token.
func TestEndpointFailures(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	e := newEndpoint(t)
	c := &clock{now: time.Now()}
	const tok = "secret-opaque-token"
	e.set(tok, active(c.now, nil))
	ctx := context.Background()
	wantUnavailable := func(t *testing.T, v *Verifier) {
		t.Helper()
		_, err := v.Verify(ctx, tok)
		var te *ports.TokenError
		if !errors.As(err, &te) || te.Reason != ports.ReasonIntrospectionUnavailable || !ports.IsUnavailable(err) {
			t.Fatalf("got %v, want introspection_unavailable", err)
		}
		if strings.Contains(err.Error(), tok) {
			t.Fatalf("error %q contains the token", err)
		}
	}
	t.Run("bad credentials", func(t *testing.T) {
		v := newVerifier(t, e, c, func(cfg *Config) { cfg.ClientSecret = "wrong"; cfg.Logger = zap.New(core) })
		wantUnavailable(t, v)
	})
	t.Run("server error, then recovery", func(t *testing.T) {
		v := newVerifier(t, e, c, func(cfg *Config) { cfg.Logger = zap.New(core) })
		e.status.Store(http.StatusBadGateway)
		wantUnavailable(t, v)
		e.status.Store(0)
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatalf("after recovery: %v (the failure must not be cached)", err)
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }))
		defer bad.Close()
		v := newVerifier(t, e, c, func(cfg *Config) { cfg.Endpoint = bad.URL })
		wantUnavailable(t, v)
	})
	t.Run("no active member", func(t *testing.T) {
		bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"sub":"alice"}`)) }))
		defer bad.Close()
		v := newVerifier(t, e, c, func(cfg *Config) { cfg.Endpoint = bad.URL })
		wantUnavailable(t, v)
	})
	t.Run("down", func(t *testing.T) {
		down := httptest.NewServer(http.NotFoundHandler())
		down.Close()
		v := newVerifier(t, e, c, func(cfg *Config) { cfg.Endpoint = down.URL; cfg.Logger = zap.New(core) })
		wantUnavailable(t, v)
	})
	t.Run("slow", func(t *testing.T) {
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(2 * time.Second):
			}
		}))
		defer slow.Close()
		v := newVerifier(t, e, c, func(cfg *Config) { cfg.Endpoint = slow.URL; cfg.Timeout = 100 * time.Millisecond })
		wantUnavailable(t, v)
	})
	if logs.Len() == 0 {
		t.Error("endpoint failures were not logged")
	}
	for _, l := range logs.All() {
		b, _ := json.Marshal(l.ContextMap())
		if strings.Contains(l.Message+string(b), tok) {
			t.Errorf("log line contains the token: %s %s", l.Message, b)
		}
	}
}

// TestNewRefusesAnIncompleteConfig.
func TestNewRefusesAnIncompleteConfig(t *testing.T) {
	ok := Config{Endpoint: "https://idp.test/introspect", Issuer: testIssuer, Audiences: []string{testAud}, ClientID: "c", ClientSecret: "s"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"relative endpoint", func(c *Config) { c.Endpoint = "/introspect" }, "endpoint"},
		{"no issuer", func(c *Config) { c.Issuer = "" }, "issuer"},
		{"no audience", func(c *Config) { c.Audiences = nil }, "audience"},
		{"no secret", func(c *Config) { c.ClientSecret = "" }, "client secret"},
		{"cache over 5 min", func(c *Config) { c.CacheTTL = 6 * time.Minute }, "cache TTL"},
		{"admin claim without value", func(c *Config) { c.AdminClaim = []string{"roles"} }, "admin value"},
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tt := range tests {
		cfg := ok
		tt.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error about %q", tt.name, err, tt.want)
		}
	}
}
