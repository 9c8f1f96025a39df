package bootstrap

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/adapters/devissuer"
	"github.com/orgstack/orgstack/adapters/jwks"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/domain"
	"github.com/orgstack/orgstack/ports"
)

// tenantIdP is an organization's own identity provider for tests: a plain
// http server on loopback serving a JWKS at /jwks; its issuer is its URL.
type tenantIdP struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newTenantIdP(t *testing.T) *tenantIdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	set, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": "tenant-1", "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(set)
	}))
	t.Cleanup(srv.Close)
	return &tenantIdP{srv: srv, key: key}
}

func (p *tenantIdP) issuer() string   { return p.srv.URL }
func (p *tenantIdP) hostPort() string { return strings.TrimPrefix(p.srv.URL, "http://") }

// token signs a token of the provider for sub with extra claims.
func (p *tenantIdP) token(t *testing.T, sub string, extra map[string]any) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": p.issuer(), "aud": "orgstack-tenant", "sub": sub,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "tenant-1"
	raw, err := tok.SignedString(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sharedDatabaseURL is one database for several instances: a fresh
// PostgreSQL schema when ORGSTACK_TEST_POSTGRES_URL is set, else an SQLite
// file.
func sharedDatabaseURL(t *testing.T) string {
	if base := os.Getenv(sqlstoretest.PostgresURLEnv); base != "" {
		return emptyPostgresSchema(t, base)
	}
	return "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
}

// TestProviderChangesReachEveryInstance: two serve instances on one
// database. An organization's provider PUT through instance A is honoured
// by B's verifier within a poll interval (default 2 s), and its DELETE
// likewise; the member JIT made stays after the DELETE.
func TestProviderChangesReachEveryInstance(t *testing.T) {
	signer, err := devissuer.LoadOrCreate(filepath.Join(t.TempDir(), "dev.key"))
	if err != nil {
		t.Fatal(err)
	}
	op := newJWKSServer(t, signer)
	idp := newTenantIdP(t)
	env := map[string]string{
		"ORGSTACK_DATABASE_URL": sharedDatabaseURL(t),
		"ORGSTACK_OIDC_ISSUER":  devissuer.Issuer, "ORGSTACK_JWKS_URL": op.URL, "ORGSTACK_AUDIENCE": devissuer.Audience,
		"ORGSTACK_OUTBOUND_ALLOW": idp.hostPort(),
	}
	a := startServe(t, env)
	b := startServe(t, env)

	owner, err := signer.Mint(devissuer.TokenRequest{Subject: "owner"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	org := want(t, a, "POST", "/api/v1/organizations", owner, `{"slug":"acme","name":"Acme"}`, 201, "")
	other := want(t, a, "POST", "/api/v1/organizations", owner, `{"slug":"globex","name":"Globex"}`, 201, "")
	orgPath := "/api/v1/organizations/" + org["id"].(string)
	alice := idp.token(t, "alice", nil)
	want(t, b, "GET", "/api/v1/me", alice, "", 401, "wrong_issuer")

	// Plain http only for a host:port on ORGSTACK_OUTBOUND_ALLOW.
	res, problem := call(t, a, "PUT", orgPath+"/identity-provider", owner,
		`{"issuer":"http://idp.acme.example","audiences":["orgstack-tenant"],"algorithms":["RS256"]}`)
	if res.StatusCode != 400 || problem["code"] != "validation_failed" || !strings.Contains(mustJSON(problem), `"/issuer"`) {
		t.Errorf("http issuer not on the allow-list: %d %v", res.StatusCode, problem)
	}
	body := `{"issuer":"` + idp.issuer() + `","jwks_url":"` + idp.issuer() + `/jwks","audiences":["orgstack-tenant"],"algorithms":["RS256"],"jit":{"enabled":true}}`
	want(t, a, "PUT", orgPath+"/identity-provider", owner, body, 201, "")
	put := time.Now()
	waitFor(t, 10*time.Second, func() bool {
		res, _ := call(t, b, "GET", "/api/v1/me", alice, "")
		return res.StatusCode != 401
	})
	t.Logf("PUT through A honoured by B after %v", time.Since(put).Round(10*time.Millisecond))
	// Token form: the provider's organization; JIT made alice a member.
	if _, page := call(t, b, "GET", "/api/v1/members", alice, ""); !strings.Contains(mustJSON(page), `"alice"`) {
		t.Errorf("the provider's token acts on its organization: %v", page)
	}
	want(t, b, "GET", "/api/v1/organizations/"+other["id"].(string), alice, "", 403, "")

	want(t, a, "DELETE", orgPath+"/identity-provider", owner, "", 204, "")
	del := time.Now()
	waitFor(t, 10*time.Second, func() bool {
		res, _ := call(t, b, "GET", "/api/v1/me", alice, "")
		return res.StatusCode == 401
	})
	t.Logf("DELETE through A honoured by B after %v", time.Since(del).Round(10*time.Millisecond))
	want(t, b, "GET", "/api/v1/me", alice, "", 401, "wrong_issuer")
	res, page := call(t, a, "GET", orgPath+"/members", owner, "")
	if res.StatusCode != 200 || !strings.Contains(mustJSON(page), `"alice"`) {
		t.Errorf("the provider's member stays after the DELETE: %d %v", res.StatusCode, page)
	}
}

// waitFor polls cond every 50 ms until it holds, failing after limit.
func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v", limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTenantSyncKeepsTheLastSetWhileTheDatabaseIsDown: a poll that cannot
// read the database keeps the issuers it had and logs once per outage; an
// operator's issuer registered as an organization's is skipped.
func TestTenantSyncKeepsTheLastSetWhileTheDatabaseIsDown(t *testing.T) {
	ctx := context.Background()
	store := sqlstoretest.New(t)
	app := application.New(application.Deps{Store: store, Clock: system.Clock{}, IDs: system.UUIDv7{}})
	admin := ports.Principal{Issuer: "https://op.example", Subject: "root", PlatformAdmin: true}
	var orgs []*domain.Organization
	for _, slug := range []string{"acme", "globex"} {
		o, err := app.Organizations.Create(ctx, admin, ports.CreateOrganization{Slug: slug, Name: slug})
		if err != nil {
			t.Fatal(err)
		}
		orgs = append(orgs, o)
	}
	spec := func(iss string) domain.IdentityProviderSpec {
		return domain.IdentityProviderSpec{Issuer: iss, Discovery: true, Audiences: []string{"x"}, Algorithms: []string{"RS256"}}
	}
	if _, _, err := app.IdentityProviders.Put(ctx, admin, domain.OrgRefByID(orgs[0].ID()), spec("https://idp.acme.example"), 0); err != nil {
		t.Fatal(err)
	}
	// Stored before the operator configured this issuer.
	if _, _, err := app.IdentityProviders.Put(ctx, admin, domain.OrgRefByID(orgs[1].ID()), spec("https://op.example"), 0); err != nil {
		t.Fatal(err)
	}
	vctx, cancel := context.WithCancel(ctx)
	defer cancel()
	opKeys := httptest.NewServer(http.NotFoundHandler())
	defer opKeys.Close()
	iss, err := jwks.NewIssuers(vctx, []jwks.Config{{Issuer: "https://op.example", Audience: "x", JWKSURL: opKeys.URL}}, jwks.IssuersOptions{})
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	ts := newTenantSync(store.IdentityProviders(), iss, zap.New(core))
	if err := ts.poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := iss.TenantStatus(orgs[0].ID()); !ok {
		t.Fatal("the stored provider is not served")
	}
	if _, ok := iss.TenantStatus(orgs[1].ID()); ok {
		t.Error("a provider with an operator's issuer is served")
	}
	if logs.FilterMessage("organization identity provider not served").Len() != 1 {
		t.Errorf("skipped provider not logged once: %v", logs.All())
	}
	_ = store.Close()
	for range 3 {
		if err := ts.poll(ctx); err == nil {
			t.Fatal("a poll of a closed database succeeded")
		}
	}
	if _, ok := iss.TenantStatus(orgs[0].ID()); !ok {
		t.Error("the last set was dropped while the database is down")
	}
	if n := logs.FilterMessage("cannot read organizations' identity providers; keeping the last set").Len(); n != 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
}
