package jwks

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/orgstack/orgstack/ports"
)

const issA, issB, issT = "https://idp.test/realms/acme", "https://other.test", "https://tenant.test"

func claimsFor(iss string, extra map[string]any) map[string]any {
	c := baseClaims()
	c["iss"] = iss
	for k, v := range extra {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// TestIssuerPolicy: each per-issuer rule and claim-mapping shape, one token
// each, against one verifier per row.
func TestIssuerPolicy(t *testing.T) {
	ks := newKeyServer(t, defaultKeys()...)
	old := time.Now().Add(-2 * time.Hour).Unix()
	hdr := func(typ string) map[string]any { h := baseHeader(); h["typ"] = typ; return h }
	tests := []struct {
		name   string
		cfg    func(*Config)
		header map[string]any
		claims map[string]any
		want   *ports.Principal
		reason ports.TokenReason
	}{
		{name: "second audience accepted", cfg: func(c *Config) { c.Audience = "api://x"; c.Audiences = []string{testAud} },
			want: &ports.Principal{Subject: "u1", OrgClaim: "A"}},
		{name: "no listed audience", cfg: func(c *Config) { c.Audience = "api://x"; c.Audiences = []string{"api://y"} },
			reason: ports.ReasonWrongAudience},
		{name: "typ at+jwt required and present", cfg: func(c *Config) { c.RequiredType = "at+jwt" },
			want: &ports.Principal{Subject: "u1", OrgClaim: "A"}},
		{name: "typ with application/ prefix and case", cfg: func(c *Config) { c.RequiredType = "at+jwt" },
			header: hdr("Application/AT+JWT"), want: &ports.Principal{Subject: "u1", OrgClaim: "A"}},
		{name: "typ JWT refused", cfg: func(c *Config) { c.RequiredType = "at+jwt" }, header: hdr("JWT"),
			reason: ports.ReasonWrongType},
		{name: "typ missing refused", cfg: func(c *Config) { c.RequiredType = "at+jwt" },
			header: map[string]any{"alg": "RS256", "kid": "k1"}, reason: ports.ReasonWrongType},
		{name: "max age, fresh", cfg: func(c *Config) { c.MaxAge = time.Hour },
			want: &ports.Principal{Subject: "u1", OrgClaim: "A"}},
		{name: "max age, too old", cfg: func(c *Config) { c.MaxAge = time.Hour },
			claims: map[string]any{"iat": old, "nbf": old}, reason: ports.ReasonTooOld},
		{name: "max age, no iat", cfg: func(c *Config) { c.MaxAge = time.Hour },
			claims: map[string]any{"iat": nil}, reason: ports.ReasonTooOld},
		{name: "old token without max age", claims: map[string]any{"iat": old, "nbf": old},
			want: &ports.Principal{Subject: "u1", OrgClaim: "A"}},
		{name: "required hd present", cfg: func(c *Config) { c.RequiredClaims = []ClaimValue{{ClaimPath{"hd"}, "example.com"}} },
			claims: map[string]any{"hd": "example.com"}, want: &ports.Principal{Subject: "u1", OrgClaim: "A"}},
		{name: "required hd other", cfg: func(c *Config) { c.RequiredClaims = []ClaimValue{{ClaimPath{"hd"}, "example.com"}} },
			claims: map[string]any{"hd": "evil.com"}, reason: ports.ReasonMissingClaim},
		{name: "required tid missing", cfg: func(c *Config) { c.RequiredClaims = []ClaimValue{{ClaimPath{"tid"}, "t-1"}} },
			reason: ports.ReasonMissingClaim},
		{name: "nested organization (Keycloak-like)", cfg: func(c *Config) { c.OrgPath = ClaimPath{"organization", "id"} },
			claims: map[string]any{"organization": map[string]any{"id": "B"}}, want: &ports.Principal{Subject: "u1", OrgClaim: "B"}},
		{name: "namespaced claim with dots is one key", cfg: func(c *Config) { c.OrgPath = ClaimPath{"https://example.com/org"} },
			claims: map[string]any{"https://example.com/org": "C"}, want: &ports.Principal{Subject: "u1", OrgClaim: "C"}},
		{name: "dotted key is not split", cfg: func(c *Config) { c.OrgPath = ClaimPath{"a.b"} },
			claims: map[string]any{"a": map[string]any{"b": "X"}}, want: &ports.Principal{Subject: "u1"}},
		{name: "organization array of one", cfg: func(c *Config) { c.OrgPath = ClaimPath{"orgs"} },
			claims: map[string]any{"orgs": []string{"D"}}, want: &ports.Principal{Subject: "u1", OrgClaim: "D"}},
		{name: "organization array of two", cfg: func(c *Config) { c.OrgPath = ClaimPath{"orgs"} },
			claims: map[string]any{"orgs": []string{"D", "E"}}, reason: ports.ReasonAmbiguousOrganization},
		{name: "organization object", cfg: func(c *Config) { c.OrgPath = ClaimPath{"orgs"} },
			claims: map[string]any{"orgs": map[string]any{"D": true}}, reason: ports.ReasonAmbiguousOrganization},
		{name: "organization claim off", cfg: func(c *Config) { c.OrgClaimOff = true },
			claims: map[string]any{"org_id": []string{"D", "E"}}, want: &ports.Principal{Subject: "u1"}},
		{name: "admin in realm_access.roles", cfg: func(c *Config) { c.AdminPath, c.AdminValue = ClaimPath{"realm_access", "roles"}, "admin" },
			claims: map[string]any{"realm_access": map[string]any{"roles": []string{"user", "admin"}}},
			want:   &ports.Principal{Subject: "u1", OrgClaim: "A", PlatformAdmin: true}},
		{name: "admin value absent", cfg: func(c *Config) { c.AdminPath, c.AdminValue = ClaimPath{"realm_access", "roles"}, "admin" },
			claims: map[string]any{"realm_access": map[string]any{"roles": []string{"user"}}},
			want:   &ports.Principal{Subject: "u1", OrgClaim: "A"}},
		{name: "subject, email, name mapped", cfg: func(c *Config) {
			c.SubjectPath, c.EmailPath, c.NamePath = ClaimPath{"oid"}, ClaimPath{"upn"}, ClaimPath{"profile", "display"}
		},
			claims: map[string]any{"oid": "o-9", "upn": "a@x.test", "profile": map[string]any{"display": "Ada"}},
			want:   &ports.Principal{Subject: "o-9", OrgClaim: "A", Email: "a@x.test", Name: "Ada"}},
		{name: "mapped subject missing", cfg: func(c *Config) { c.SubjectPath = ClaimPath{"oid"} },
			reason: ports.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(ks.URL)
			cfg.AdminClaim, cfg.AdminValue = "", ""
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			v := newVerifier(t, cfg)
			got, err := v.Verify(t.Context(), sign(t, token{header: tt.header, claims: claimsFor(issA, tt.claims)}))
			if tt.want == nil {
				if reasonOf(err) != tt.reason {
					t.Fatalf("reason = %q, want %q (%v)", reasonOf(err), tt.reason, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			want := *tt.want
			want.Issuer = issA
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("principal = %+v, want %+v", got, want)
			}
		})
	}
}

// TestIssuersRouting: a token is verified by the issuer its iss names, with
// that issuer's keys only; an unknown issuer is wrong_issuer without any
// request to any key server.
func TestIssuersRouting(t *testing.T) {
	k := testKeys()
	ksA := newKeyServer(t, rsaJWK("k1", &k.k1.PublicKey))
	ksB := newKeyServer(t, rsaJWK("k1", &k.k2.PublicKey)) // same kid, another key
	cfgA := testConfig(ksA.URL)
	cfgB := testConfig(ksB.URL)
	cfgB.Issuer = issB
	m, err := NewIssuers(t.Context(), []Config{cfgA, cfgB}, IssuersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !m.Ready() {
		t.Fatal("not ready with both providers up")
	}
	hitsA, hitsB := ksA.hits.Load(), ksB.hits.Load()
	tests := []struct {
		name   string
		tok    token
		want   string // issuer of the principal, or ""
		reason ports.TokenReason
	}{
		{name: "A with A's key", tok: token{claims: claimsFor(issA, nil)}, want: issA},
		{name: "B with B's key", tok: token{claims: claimsFor(issB, nil), key: k.k2}, want: issB},
		{name: "B signed with A's key", tok: token{claims: claimsFor(issB, nil)}, reason: ports.ReasonBadSignature},
		{name: "unknown issuer", tok: token{claims: claimsFor("https://evil.test", nil)}, reason: ports.ReasonWrongIssuer},
		{name: "unknown issuer, unknown kid", tok: token{claims: claimsFor("https://evil.test", nil),
			header: map[string]any{"alg": "RS256", "kid": "nope"}}, reason: ports.ReasonWrongIssuer},
		{name: "issuer prefix is not a match", tok: token{claims: claimsFor(issA+"/", nil)}, reason: ports.ReasonWrongIssuer},
		{name: "no iss", tok: token{claims: claimsFor(issA, map[string]any{"iss": nil})}, reason: ports.ReasonWrongIssuer},
		{name: "iss not a string", tok: token{claims: claimsFor(issA, map[string]any{"iss": 7})}, reason: ports.ReasonMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := m.Verify(t.Context(), sign(t, tt.tok))
			if tt.want != "" {
				if err != nil || p.Issuer != tt.want {
					t.Fatalf("got %+v, %v; want issuer %s", p, err, tt.want)
				}
				return
			}
			if reasonOf(err) != tt.reason {
				t.Fatalf("reason = %q, want %q (%v)", reasonOf(err), tt.reason, err)
			}
		})
	}
	if _, err := m.Verify(t.Context(), "a.b"); reasonOf(err) != ports.ReasonMalformed {
		t.Errorf("two segments: %v", err)
	}
	if got := ksA.hits.Load() - hitsA + ksB.hits.Load() - hitsB; got > 1 {
		// "B signed with A's key" may not fetch (kid known); the others never.
		t.Errorf("%d key-set requests during the table, want at most 1", got)
	}
	// An unknown issuer alone costs no request at all.
	before := ksA.hits.Load() + ksB.hits.Load()
	for range 20 {
		_, _ = m.Verify(t.Context(), sign(t, token{claims: claimsFor("https://evil.test", nil),
			header: map[string]any{"alg": "RS256", "kid": "fresh"}}))
	}
	if after := ksA.hits.Load() + ksB.hits.Load(); after != before {
		t.Errorf("unknown issuer caused %d key-set requests", after-before)
	}
}

// TestIssuersReadiness: ready while any operator issuer has keys; a tenant
// issuer never counts either way.
func TestIssuersReadiness(t *testing.T) {
	up := newKeyServer(t, defaultKeys()...)
	down, _ := counter(t)
	cfgDown := testConfig(down.URL)
	cfgUp := testConfig(up.URL)
	cfgUp.Issuer = issB

	only, err := NewIssuers(t.Context(), []Config{cfgDown}, IssuersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tcfg := testConfig(up.URL)
	tcfg.Issuer = issT
	if err := only.SetTenantIssuers([]TenantIssuer{{OrgID: "org-1", Config: tcfg}}); err != nil {
		t.Fatal(err)
	}
	if _, err := only.Verify(t.Context(), sign(t, token{claims: claimsFor(issT, nil)})); err != nil {
		t.Fatalf("tenant token: %v", err)
	}
	if only.Ready() {
		t.Error("ready with the only operator issuer down (a tenant issuer with keys must not count)")
	}
	both, err := NewIssuers(t.Context(), []Config{cfgDown, cfgUp}, IssuersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !both.Ready() {
		t.Error("not ready with one of two operator issuers up")
	}
	st := both.Status()
	if len(st) != 2 || st[0].KeysLoaded || st[0].LastError != ErrorHTTPStatus || !st[1].KeysLoaded || st[1].LastRefresh.IsZero() {
		t.Errorf("status = %+v", st)
	}
}

// TestTenantIssuers: SetTenantIssuers replaces the set atomically; tokens
// are bound to the organization, never admin, carry the mapped values;
// keys load on first use and stop when idle; operator issuers win.
func TestTenantIssuers(t *testing.T) {
	op := newKeyServer(t, defaultKeys()...)
	tks := newKeyServer(t, defaultKeys()...)
	var clientUsed atomic.Bool
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		clientUsed.Store(true)
		return http.DefaultTransport.RoundTrip(r)
	})}
	opCfg := testConfig(op.URL)
	m, err := NewIssuers(t.Context(), []Config{opCfg}, IssuersOptions{TenantHTTPClient: client, TenantIdle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tcfg := Config{Issuer: issT, Audience: testAud, JWKSURL: tks.URL, RoleClaim: ClaimPath{"groups"},
		AdminClaim: "platform_roles", AdminValue: "admin"}
	if err := m.SetTenantIssuers([]TenantIssuer{{OrgID: "org-1", Config: tcfg}}); err != nil {
		t.Fatal(err)
	}
	if tks.hits.Load() != 0 {
		t.Fatal("a tenant key set was fetched at registration")
	}
	if st, ok := m.TenantStatus("org-1"); !ok || st.Active || st.KeysLoaded {
		t.Errorf("status before first use = %+v, %v", st, ok)
	}
	tok := sign(t, token{claims: claimsFor(issT, map[string]any{"org_id": []string{"X", "Y"},
		"platform_roles": "admin", "groups": []string{"eng", "ops"}})})
	p, err := m.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	want := ports.Principal{Issuer: issT, Subject: "u1", ProviderOrgID: "org-1", MappedValues: []string{"eng", "ops"}}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("principal = %+v, want %+v", p, want)
	}
	if !clientUsed.Load() {
		t.Error("the injected tenant HTTP client was not used")
	}
	if st, _ := m.TenantStatus("org-1"); !st.Active || !st.KeysLoaded || st.LastRefresh.IsZero() {
		t.Errorf("status after use = %+v", st)
	}
	// A string role claim.
	p, _ = m.Verify(t.Context(), sign(t, token{claims: claimsFor(issT, map[string]any{"groups": "eng"})}))
	if !reflect.DeepEqual(p.MappedValues, []string{"eng"}) {
		t.Errorf("string role claim: %v", p.MappedValues)
	}
	// Idle: the refresh stops; the key set loads again on the next token.
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, _ := m.TenantStatus("org-1")
		if !st.Active {
			if !st.KeysLoaded || st.LastRefresh.IsZero() {
				t.Errorf("idle status lost its history: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("tenant issuer never went idle")
		}
		time.Sleep(20 * time.Millisecond)
	}
	hits := tks.hits.Load()
	time.Sleep(300 * time.Millisecond)
	if tks.hits.Load() != hits {
		t.Error("an idle tenant issuer kept fetching")
	}
	if _, err := m.Verify(t.Context(), tok); err != nil || tks.hits.Load() == hits {
		t.Errorf("after idle: %v, hits %d→%d", err, hits, tks.hits.Load())
	}
	// Refused: operator issuer, duplicate, missing organization; nothing changes.
	for name, list := range map[string][]TenantIssuer{
		"operator issuer": {{OrgID: "org-2", Config: Config{Issuer: issA, Audience: testAud, JWKSURL: tks.URL}}},
		"twice":           {{OrgID: "org-1", Config: tcfg}, {OrgID: "org-2", Config: tcfg}},
		"no organization": {{Config: tcfg}},
		"HS256":           {{OrgID: "org-1", Config: Config{Issuer: issT, Audience: testAud, Algorithms: []string{"HS256"}}}},
	} {
		if err := m.SetTenantIssuers(list); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := m.Verify(t.Context(), tok); err != nil {
		t.Errorf("a refused SetTenantIssuers changed the set: %v", err)
	}
	// An operator token is never bound.
	if p, err := m.Verify(t.Context(), sign(t, token{claims: claimsFor(issA, nil)})); err != nil || p.ProviderOrgID != "" {
		t.Errorf("operator token: %+v, %v", p, err)
	}
	// Removing the tenant issuer: its tokens become wrong_issuer.
	if err := m.SetTenantIssuers(nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Verify(t.Context(), tok); reasonOf(err) != ports.ReasonWrongIssuer {
		t.Errorf("removed tenant issuer: %v", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestIssuerErrorClasses: the status of a failing issuer names the class of
// its failure, never the error text.
func TestIssuerErrorClasses(t *testing.T) {
	notFound, _ := counter(t)
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	t.Cleanup(garbage.Close)
	empty := newKeyServer(t)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": "https://someone-else.test", "jwks_uri": "http://127.0.0.1:1/"})
	}))
	t.Cleanup(other.Close)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	m, err := NewIssuers(t.Context(), []Config{testConfig(newKeyServer(t, defaultKeys()...).URL)}, IssuersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  Config
		want ErrorClass
	}{
		{"status 404", Config{JWKSURL: notFound.URL}, ErrorHTTPStatus},
		{"not a key set", Config{JWKSURL: garbage.URL}, ErrorInvalidResponse},
		{"no usable key", Config{JWKSURL: empty.URL}, ErrorNoUsableKey},
		{"connection refused", Config{JWKSURL: closed.URL}, ErrorUnreachable},
		{"discovery names another issuer", Config{Issuer: other.URL}, ErrorIssuerMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Issuer == "" {
				cfg.Issuer = issT
			}
			cfg.Audience = testAud
			if err := m.SetTenantIssuers([]TenantIssuer{{OrgID: "org-1", Config: cfg}}); err != nil {
				t.Fatal(err)
			}
			_, err := m.Verify(t.Context(), sign(t, token{claims: claimsFor(cfg.Issuer, nil)}))
			if reasonOf(err) != ports.ReasonKeysUnavailable {
				t.Errorf("token: %v, want keys_unavailable", err)
			}
			st, _ := m.TenantStatus("org-1")
			if st.LastError != tt.want || st.KeysLoaded || st.OrgID != "org-1" {
				t.Errorf("status = %+v, want class %q", st, tt.want)
			}
			if !m.Ready() {
				t.Error("a failing tenant issuer made the verifier not ready")
			}
		})
	}
}

// TestSetTenantIssuersConcurrently: replacing the set while tokens are
// verified is safe (run with -race).
func TestSetTenantIssuersConcurrently(t *testing.T) {
	ks := newKeyServer(t, defaultKeys()...)
	m, err := NewIssuers(t.Context(), []Config{testConfig(ks.URL)}, IssuersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tcfg := Config{Issuer: issT, Audience: testAud, JWKSURL: ks.URL}
	tok := sign(t, token{claims: claimsFor(issT, nil)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 50 {
			list := []TenantIssuer{{OrgID: "org-1", Config: tcfg}}
			if i%2 == 1 {
				list = nil
			}
			if err := m.SetTenantIssuers(list); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 200 {
		if _, err := m.Verify(t.Context(), tok); err != nil && reasonOf(err) != ports.ReasonWrongIssuer {
			t.Fatalf("unexpected: %v", err)
		}
	}
	<-done
}
