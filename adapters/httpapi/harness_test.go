package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/orgstack/orgstack/adapters/jwks"
	"github.com/uptrace/bun"

	"github.com/orgstack/orgstack/adapters/sqlstore"
	"github.com/orgstack/orgstack/adapters/sqlstore/sqlstoretest"
	"github.com/orgstack/orgstack/adapters/system"
	"github.com/orgstack/orgstack/application"
	"github.com/orgstack/orgstack/ports"
)

// The test identity provider: tokens are RS256 JWTs signed with testKey and
// verified by the real jwks.Issuers (as serve wires it) against a local
// JWKS endpoint.
const (
	testIssuer     = "https://issuer.orgstack.test"
	testAudience   = "orgstack-test"
	testKID        = "test-key-1"
	testAdminClaim = "orgstack_platform_admin"
	testAdminValue = "true"
)

// exchangeHook, when set, is called with every request env.do makes and its
// response (openapi_test.go validates them against the OpenAPI document).
var exchangeHook func(t testing.TB, req *http.Request, reqBody []byte, res *http.Response, resBody []byte)

var (
	keyOnce sync.Once
	testKey *rsa.PrivateKey
	keyErr  error
)

// signingKey returns the RSA key of the test identity provider, made once
// per test binary.
func signingKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	keyOnce.Do(func() { testKey, keyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	return testKey
}

// jwksJSON is the public key set of k.
func jwksJSON(k *rsa.PrivateKey) []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": testKID, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	}}})
	return body
}

// env is one fully wired API on a fresh store: the real application, the
// real JWKS verifier and the real router, served over HTTP.
type env struct {
	Store    *sqlstore.Store
	App      *application.App
	Verifier *jwks.Issuers
	Handler  http.Handler
	Server   *httptest.Server
	Logs     *observer.ObservedLogs
	key      *rsa.PrivateKey
	// tenantIss is the issuer URL of an organization's own provider for
	// tests: an https server on loopback serving the test key set at /jwks,
	// trusted by the verifier's tenant client (see registerProvider).
	tenantIss string
}

// envOption adjusts how newEnv builds the environment.
type envOption func(*envConfig)

type envConfig struct {
	store     func(testing.TB) *sqlstore.Store
	limits    *RateLimits
	proxies   []netip.Prefix
	appConfig application.Config
	urls      ports.URLPolicy // nil: https only
	noSealer  bool            // no ORGSTACK_SECRET_KEY
	readiness map[string]func(context.Context) error
	idp       func(keySet []byte) http.Handler
	publicURL string
	options   []func(*Options)
	wrap      func(http.Handler) http.Handler
	log       *zap.Logger // nil: an observer (env.Logs)
}

// withOptions adjusts the handler's Options (telemetry sinks, CORS).
// withURLPolicy sets the application's URL policy (webhook URLs).
func withURLPolicy(p ports.URLPolicy) envOption { return func(c *envConfig) { c.urls = p } }

// withoutSecretKey runs the application as serve without ORGSTACK_SECRET_KEY.
func withoutSecretKey() envOption { return func(c *envConfig) { c.noSealer = true } }

func withOptions(f func(*Options)) envOption {
	return func(c *envConfig) { c.options = append(c.options, f) }
}

// withWrap wraps the handler as bootstrap does (the tracing middleware).
func withWrap(f func(http.Handler) http.Handler) envOption {
	return func(c *envConfig) { c.wrap = f }
}

// withLogger sends the handler's logs to log instead of env.Logs.
func withLogger(log *zap.Logger) envOption {
	return func(c *envConfig) { c.log = log }
}

// withPublicURL sets Options.PublicURL (ORGSTACK_PUBLIC_URL).
func withPublicURL(u string) envOption {
	return func(c *envConfig) { c.publicURL = u }
}

// withIdP serves the test identity provider's JWKS endpoint with the
// handler h returns for the key set (to make it fail, hang or change).
func withIdP(h func(keySet []byte) http.Handler) envOption {
	return func(c *envConfig) { c.idp = h }
}

// withRestrictedCreation lets only platform admins create organizations.
func withRestrictedCreation() envOption {
	return func(c *envConfig) { c.appConfig.RestrictOrgCreation = true }
}

// withLimiter limits each caller with l.
func withLimiter(l ports.RateLimiter) envOption {
	return withLimits(Limiters{Principal: l})
}

// withLimits applies l (organization limits included).
func withLimits(l Limiters) envOption {
	return func(c *envConfig) { c.limits = NewRateLimits(l, nil) }
}

// withTrustedProxies sets Options.TrustedProxies.
func withTrustedProxies(p ...netip.Prefix) envOption {
	return func(c *envConfig) { c.proxies = p }
}

// withStore runs the environment on the store open returns instead of
// sqlstoretest.New's.
func withStore(open func(testing.TB) *sqlstore.Store) envOption {
	return func(c *envConfig) { c.store = open }
}

// withReadiness adds a readiness check to /readyz.
func withReadiness(name string, fn func(context.Context) error) envOption {
	return func(c *envConfig) { c.readiness[name] = fn }
}

// newEnv builds the real stack: sqlstoretest store (SQLite in memory, or
// PostgreSQL when ORGSTACK_TEST_POSTGRES_URL is set), application.New, a
// jwks.Issuers against a local JWKS server, and NewHandler behind an
// httptest server. Everything is closed by t.Cleanup.
func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	cfg := envConfig{store: sqlstoretest.New, readiness: map[string]func(context.Context) error{}}
	for _, o := range opts {
		o(&cfg)
	}
	key := signingKey(t)
	keySet := jwksJSON(key)
	var idpHandler http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(keySet)
	})
	if cfg.idp != nil {
		idpHandler = cfg.idp(keySet)
	}
	idp := httptest.NewServer(idpHandler)
	t.Cleanup(idp.Close)

	tenantIdP := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(keySet)
	}))
	t.Cleanup(tenantIdP.Close)

	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	verifier, err := jwks.NewIssuers(ctx, []jwks.Config{{
		JWKSURL: idp.URL, Issuer: testIssuer, Audience: testAudience,
		AdminClaim: testAdminClaim, AdminValue: testAdminValue,
	}}, jwks.IssuersOptions{TenantHTTPClient: tenantIdP.Client()})
	if err != nil {
		t.Fatal(err)
	}

	store := cfg.store(t)
	if cfg.appConfig.OperatorIssuers == nil {
		cfg.appConfig.OperatorIssuers = []string{testIssuer} // as bootstrap passes it
	}
	var orgLimiter ports.OrganizationLimiter
	if cfg.limits != nil {
		orgLimiter = cfg.limits
	}
	var sealer ports.SecretSealer
	if !cfg.noSealer {
		sealer = testSealer(t)
	}
	app := application.New(application.Deps{
		OrgLimiter: orgLimiter, URLPolicy: cfg.urls, Sealer: sealer,
		Store: store, Clock: system.Clock{}, IDs: system.UUIDv7{}, Config: cfg.appConfig, Verifier: verifier,
		ProviderStatuses: verifier, ProviderTokens: verifier,
	})
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	if cfg.log != nil {
		log = cfg.log
	}
	readiness := map[string]func(context.Context) error{
		"database": store.Ping,
		"jwks": func(context.Context) error {
			if !verifier.Ready() {
				return errors.New("no key set loaded")
			}
			return nil
		},
	}
	for name, fn := range cfg.readiness {
		readiness[name] = fn
	}
	o := Options{Verifier: verifier, Logger: log, Readiness: readiness, RateLimits: cfg.limits, TrustedProxies: cfg.proxies,
		PublicURL: cfg.publicURL, AuthorizationServers: []string{testIssuer},
		Idempotency: &Idempotency{Store: store, Sealer: sealer}}
	for _, f := range cfg.options {
		f(&o)
	}
	h := NewHandler(Services{
		Organizations: app.Organizations, Me: app.Me, Members: app.Members, Users: app.Users,
		Roles: app.Roles, Permissions: app.Permissions, Checks: app.Checks, TokenChecks: app.TokenChecks,
		IdentityProviders: app.IdentityProviders, Audit: app.Audit, Webhooks: app.Webhooks,
	}, o)
	if cfg.wrap != nil {
		h = cfg.wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{Store: store, App: app, Verifier: verifier, Handler: h, Server: srv, Logs: logs, key: key, tenantIss: tenantIdP.URL}
}

// tokenOpt adds or changes claims of a test token.
type tokenOpt func(jwt.MapClaims)

// withOrg binds the token to an organization (ID or slug).
func withOrg(ref string) tokenOpt { return func(c jwt.MapClaims) { c["org_id"] = ref } }

// withAdmin makes the caller a platform administrator.
func withAdmin() tokenOpt { return func(c jwt.MapClaims) { c[testAdminClaim] = testAdminValue } }

// withEmail sets the email claim.
func withEmail(e string) tokenOpt { return func(c jwt.MapClaims) { c["email"] = e } }

// withName sets the name claim.
func withName(n string) tokenOpt { return func(c jwt.MapClaims) { c["name"] = n } }

// withClaim sets any claim; a nil value removes it.
func withClaim(name string, v any) tokenOpt {
	return func(c jwt.MapClaims) {
		if v == nil {
			delete(c, name)
			return
		}
		c[name] = v
	}
}

// token mints a valid RS256 access token for subject sub from the test
// identity provider.
func (e *env) token(sub string, opts ...tokenOpt) string {
	return e.sign(claimsFor(sub, opts...), testKID, e.key)
}

// claimsFor returns the claims of a valid access token for subject sub,
// changed by opts.
func claimsFor(sub string, opts ...tokenOpt) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": sub,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// sign signs claims with key under kid (RS256).
func (e *env) sign(c jwt.MapClaims, kid string, key *rsa.PrivateKey) string {
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		panic(err) // signing with a valid RSA key cannot fail
	}
	return s
}

// do sends one request to the API and returns the response (body already
// read and closed) and its body. token "" sends no Authorization header.
// body: nil sends none, a string or []byte is sent raw, anything else as
// JSON; a body gets Content-Type application/json unless headers set one.
// headers are name, value pairs, added (so a repeated name sends the header
// twice).
func (e *env) do(t testing.TB, method, path, token string, body any, headers ...string) (*http.Response, []byte) {
	t.Helper()
	var reqBody []byte
	switch b := body.(type) {
	case nil:
	case string:
		reqBody = []byte(b)
	case []byte:
		reqBody = b
	default:
		var err error
		if reqBody, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if len(headers)%2 != 0 {
		t.Fatalf("headers must be name, value pairs: %q", headers)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	if body != nil && req.Header.Get("Content-Type") == "" && !hasHeader(headers, "Content-Type") {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := e.Server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	resBody, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if exchangeHook != nil {
		exchangeHook(t, req, reqBody, res, resBody)
	}
	return res, resBody
}

func hasHeader(headers []string, name string) bool {
	for i := 0; i < len(headers); i += 2 {
		if strings.EqualFold(headers[i], name) {
			return true
		}
	}
	return false
}

// obj is a decoded JSON object.
type obj = map[string]any

// decodeJSONBody decodes body into a value of type T or fails the test.
func decodeJSONBody[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return v
}

// data returns the "data" object of a success body.
func data(t testing.TB, body []byte) obj {
	t.Helper()
	d, ok := decodeJSONBody[obj](t, body)["data"].(obj)
	if !ok {
		t.Fatalf("no data object in %s", body)
	}
	return d
}

// listData returns the "data" array of a list body.
func listData(t testing.TB, body []byte) []any {
	t.Helper()
	d, ok := decodeJSONBody[obj](t, body)["data"].([]any)
	if !ok {
		t.Fatalf("no data array in %s", body)
	}
	return d
}

// wantStatus fails the test unless res has status want.
func wantStatus(t testing.TB, res *http.Response, body []byte, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, body)
	}
}

// wantProblem checks that res is an application/problem+json response with
// status and code, carrying every member a problem must have, and returns it.
func wantProblem(t testing.TB, res *http.Response, body []byte, status int, code string) obj {
	t.Helper()
	wantStatus(t, res, body, status)
	if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	p := decodeJSONBody[obj](t, body)
	if p["code"] != code {
		t.Errorf("code %v, want %s: %s", p["code"], code, body)
	}
	if p["type"] != ProblemTypeBase+code {
		t.Errorf("type %v, want %s", p["type"], ProblemTypeBase+code)
	}
	if p["status"] != float64(status) {
		t.Errorf("status member %v, want %d", p["status"], status)
	}
	for _, m := range []string{"title", "detail", "request_id"} {
		if s, _ := p[m].(string); s == "" {
			t.Errorf("problem member %s missing: %s", m, body)
		}
	}
	if p["request_id"] != res.Header.Get("X-Request-ID") {
		t.Errorf("request_id %v != X-Request-ID %q", p["request_id"], res.Header.Get("X-Request-ID"))
	}
	return p
}

// problemFields returns the pointer (or parameter) of each errors[] item.
func problemFields(p obj) []string {
	var out []string
	items, _ := p["errors"].([]any)
	for _, it := range items {
		m, _ := it.(obj)
		if s, ok := m["pointer"].(string); ok {
			out = append(out, s)
		} else if s, ok := m["parameter"].(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// createOrg creates an organization as the caller of tok and returns its ID.
func (e *env) createOrg(t testing.TB, tok, slug string) string {
	t.Helper()
	res, body := e.do(t, http.MethodPost, "/api/v1/organizations", tok, obj{"slug": slug, "name": "Org " + slug})
	wantStatus(t, res, body, http.StatusCreated)
	return data(t, body)["id"].(string)
}

// userID returns the user ID of the caller of tok (creating the user record).
func (e *env) userID(t testing.TB, tok string) string {
	t.Helper()
	res, body := e.do(t, http.MethodGet, "/api/v1/me", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	return data(t, body)["id"].(string)
}

// addMember makes subject sub (of the test issuer) a member of orgID with
// roles, as the caller of tok, and returns the member's user ID.
func (e *env) addMember(t testing.TB, tok, orgID, sub string, roles ...string) string {
	t.Helper()
	res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+orgID+"/members", tok,
		obj{"subject": sub, "roles": roles})
	wantStatus(t, res, body, http.StatusCreated)
	return data(t, body)["user_id"].(string)
}

// scanAll runs the read-only query q on s's database and scans its row into
// dest, reading every organization's rows: on PostgreSQL the transaction
// sets orgstack.cross_tenant = 'read', so that a test's own unfiltered
// check still sees the rows when the store runs under row-level security
// (ORGSTACK_TEST_POSTGRES_RLS=1) instead of passing vacuously.
func scanAll(t testing.TB, s *sqlstore.Store, q string, args []any, dest ...any) {
	t.Helper()
	ctx := context.Background()
	err := s.DB().RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		if s.Dialect() == sqlstore.Postgres {
			if _, err := tx.ExecContext(ctx, "SELECT set_config('orgstack.cross_tenant', 'read', true)"); err != nil {
				return err
			}
		}
		return tx.NewRaw(q, args...).Scan(ctx, dest...)
	})
	if err != nil {
		t.Fatal(err)
	}
}
