package bootstrap

// End to end with a real, independent OpenID provider: node oidc-provider
// (.ci/idp, installed by .ci/run with npm ci from its lockfile). Tokens are
// obtained as a client application would (client_credentials at /token),
// and OrgStack runs its real serve wiring (SQLite, real JWKS verifier, real
// introspection verifier, real router). Skipped unless
// ORGSTACK_TEST_OIDC_PROVIDER_DIR names the installed .ci/idp folder.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/orgstack/orgstack/adapters/introspection"
	"github.com/orgstack/orgstack/ports"
)

const e2eAudience = "https://api.orgstack.test"

// oidcProvider is one running oidc-provider process.
type oidcProvider struct {
	issuer string
	cmd    *exec.Cmd
}

// startOIDCProvider starts .ci/idp/idp.mjs on a free port with env (see
// the header of idp.mjs) and waits until it listens. It is killed at the
// end of the test.
func startOIDCProvider(t *testing.T, env map[string]string) *oidcProvider {
	t.Helper()
	dir := os.Getenv("ORGSTACK_TEST_OIDC_PROVIDER_DIR")
	if dir == "" {
		t.Skip("ORGSTACK_TEST_OIDC_PROVIDER_DIR is not set (.ci/run installs .ci/idp and sets it)")
	}
	// The free port may be taken by another test before node binds it: a
	// provider that exits before it is ready is started again on another.
	var lastErr string
	for attempt := 0; attempt < 3; attempt++ {
		p, errText := tryStartOIDCProvider(t, dir, env)
		if p != nil {
			return p
		}
		lastErr = errText
	}
	t.Fatalf("oidc-provider did not start: %s", lastErr)
	return nil
}

// tryStartOIDCProvider starts one provider process and waits until it is
// ready (nil and the reason when it exits or stays silent for 20 s).
func tryStartOIDCProvider(t *testing.T, dir string, env map[string]string) (*oidcProvider, string) {
	t.Helper()
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command("node", "idp.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "IDP_PORT="+port)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr // start-up warnings; shown only when it fails
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start oidc-provider: %v", err)
	}
	p := &oidcProvider{cmd: cmd}
	ready := make(chan string, 1)
	exited := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- issuer
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		close(exited) // stdout closes when the process exits
	}()
	select {
	case p.issuer = <-ready:
		t.Cleanup(p.stop)
		t.Logf("oidc-provider %s ready in %v", p.issuer, time.Since(start).Round(time.Millisecond))
		return p, ""
	case <-exited:
		_ = cmd.Wait()
		return nil, "exited before it was ready: " + lastLine(stderr.String())
	case <-time.After(20 * time.Second):
		p.stop()
		return nil, "not ready within 20 s: " + lastLine(stderr.String())
	}
}

// lastLine is the last non-empty line of s, for failure messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// stop kills the provider (idempotent).
func (p *oidcProvider) stop() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
	}
}

// token obtains an access token for client as a client application does:
// client_credentials at the token endpoint, client_secret_basic.
func (p *oidcProvider) token(t *testing.T, client string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"orgs:read"}, "resource": {e2eAudience}}
	req, _ := http.NewRequest(http.MethodPost, p.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, client+"-secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token for %s: HTTP %d, %v", client, res.StatusCode, err)
	}
	return body.AccessToken
}

// revoke revokes client's token at the provider (RFC 7009).
func (p *oidcProvider) revoke(t *testing.T, client, token string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.issuer+"/token/revocation", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(client, client+"-secret")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("revoke: HTTP %d", res.StatusCode)
	}
}

// startServe runs the real serve wiring on SQLite with env added to a
// minimal configuration, and returns its base URL.
func startServe(t *testing.T, env map[string]string) string {
	t.Helper()
	return startServeWith(t, env, nil)
}

// startServeWith is startServe with adjust applied to the settings (nil for
// none).
func startServeWith(t *testing.T, env map[string]string, adjust func(*settings)) string {
	t.Helper()
	addr := freeAddr(t)
	all := map[string]string{
		"ORGSTACK_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "e2e.db"),
		"ORGSTACK_AUTO_MIGRATE": "true", "ORGSTACK_HTTP_ADDR": addr,
	}
	for k, v := range env {
		all[k] = v
	}
	c, err := LoadConfig(all)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.validateServe(); err != nil {
		t.Fatal(err)
	}
	s, err := servingSettings(c, all)
	if err != nil {
		t.Fatal(err)
	}
	if adjust != nil {
		adjust(&s)
	}
	app := fx.New(appOptions(s, zap.NewNop())...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("serve: %v", err)
	}
	t.Cleanup(func() { _ = app.Stop(context.Background()) })
	return "http://" + addr
}

// call makes one API request and decodes the JSON answer.
func call(t *testing.T, base, method, path, token, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if strings.Contains(string(raw), token) || strings.Contains(res.Header.Get("WWW-Authenticate"), token) {
		t.Errorf("%s %s: the response contains the token", method, path)
	}
	return res, m
}

// want makes one API request and fails unless it answers status (and,
// when not "", the problem reason); it returns the answer's data.
func want(t *testing.T, base, method, path, token, body string, status int, reason string) map[string]any {
	t.Helper()
	res, answer := call(t, base, method, path, token, body)
	return wantAnswer(t, res, answer, status, reason)
}

func wantAnswer(t *testing.T, res *http.Response, body map[string]any, status int, reason string) map[string]any {
	t.Helper()
	if res.StatusCode != status || reason != "" && body["reason"] != reason {
		t.Fatalf("%s %s: got %d %v, want %d %s", res.Request.Method, res.Request.URL.Path, res.StatusCode, body, status, reason)
	}
	d, _ := body["data"].(map[string]any)
	return d
}

// TestE2EJWTFromARealProvider: one oidc-provider instance as the
// configured issuer (RS256, string aud, flat org_id claim), its JWKS found by
// OIDC discovery. Its JWT access tokens create and read organizations; a
// token bound to one organization cannot reach another; an opaque token is
// refused as malformed when introspection is off.
func TestE2EJWTFromARealProvider(t *testing.T) {
	idp := startOIDCProvider(t, map[string]string{"IDP_ALG": "RS256", "IDP_AUD_SHAPE": "string", "IDP_ORG_SHAPE": "flat"})
	base := startServe(t, map[string]string{"ORGSTACK_OIDC_ISSUER": idp.issuer, "ORGSTACK_AUDIENCE": e2eAudience})

	app := idp.token(t, "app")
	me := want(t, base, "GET", "/api/v1/me", app, "", 200, "")
	if me["issuer"] != idp.issuer || me["subject"] != "app" || me["email"] != "app@clients.orgstack.test" {
		t.Errorf("/me: %v", me)
	}
	want(t, base, "POST", "/api/v1/organizations", app, `{"slug":"acme","name":"Acme"}`, 201, "")
	globex := want(t, base, "POST", "/api/v1/organizations", app, `{"slug":"globex","name":"Globex"}`, 201, "")

	// app-bound's token carries org_id=acme: another organization is 403.
	bound := idp.token(t, "app-bound")
	_, body := call(t, base, "GET", "/api/v1/organizations/"+globex["id"].(string), bound, "")
	if body["code"] != "organization_mismatch" {
		t.Errorf("bound token on another organization: %v, want organization_mismatch", body)
	}
	// Introspection is off: an opaque token goes to the JWT verifier.
	want(t, base, "GET", "/api/v1/me", idp.token(t, "app-opaque"), "", 401, "malformed")
	// A token whose signature was tampered with.
	want(t, base, "GET", "/api/v1/me", app[:len(app)-4]+"AAAA", "", 401, "bad_signature")
}

// countingProxy forwards to target and counts introspection calls.
func countingProxy(t *testing.T, target string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // the provider is stopped on purpose
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token/introspection") {
			n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestE2EOpaqueTokensByIntrospection: the same provider issues JWTs (app)
// and opaque tokens (app-opaque); OrgStack verifies JWTs locally and asks
// the provider's introspection endpoint (as client "orgstack", secret from
// a file) only about opaque tokens, once per token (cache); a revoked or
// unknown token is 401 inactive; with the provider gone an opaque token is
// 503 introspection_unavailable while JWTs keep working from cached keys.
func TestE2EOpaqueTokensByIntrospection(t *testing.T) {
	idp := startOIDCProvider(t, map[string]string{"IDP_ALG": "RS256", "IDP_ORG_SHAPE": "flat"})
	proxy, introspections := countingProxy(t, idp.issuer)
	secret := filepath.Join(t.TempDir(), "introspection-secret")
	if err := os.WriteFile(secret, []byte("orgstack-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, map[string]string{
		"ORGSTACK_OIDC_ISSUER": idp.issuer, "ORGSTACK_AUDIENCE": e2eAudience,
		"ORGSTACK_INTROSPECTION_URL":                proxy.URL + "/token/introspection",
		"ORGSTACK_INTROSPECTION_CLIENT_ID":          "orgstack",
		"ORGSTACK_INTROSPECTION_CLIENT_SECRET_FILE": secret,
		// oidc-provider's introspection answers for client_credentials
		// tokens carry no sub (its JWTs use the client ID as sub).
		"ORGSTACK_INTROSPECTION_SUBJECT_CLAIM": "client_id",
	})

	// A JWT of the same issuer never reaches the introspection endpoint.
	jwtApp := idp.token(t, "app")
	want(t, base, "POST", "/api/v1/organizations", jwtApp, `{"slug":"acme","name":"Acme"}`, 201, "")
	globex := want(t, base, "POST", "/api/v1/organizations", jwtApp, `{"slug":"globex","name":"Globex"}`, 201, "")
	if n := introspections.Load(); n != 0 {
		t.Fatalf("%d introspection calls for JWTs, want 0", n)
	}

	opaque := idp.token(t, "app-opaque")
	if strings.Count(opaque, ".") == 2 {
		t.Fatalf("app-opaque got a JWT-shaped token")
	}
	for range 5 {
		me := want(t, base, "GET", "/api/v1/me", opaque, "", 200, "")
		if me["issuer"] != idp.issuer || me["subject"] != "app-opaque" || me["email"] != "app-opaque@clients.orgstack.test" {
			t.Fatalf("/me with an opaque token: %v", me)
		}
	}
	if n := introspections.Load(); n != 1 {
		t.Fatalf("%d introspection calls for 5 requests with one token, want 1 (cached)", n)
	}
	// The opaque token carries org_id=acme: bound like a JWT.
	_, body := call(t, base, "GET", "/api/v1/organizations/"+globex["id"].(string), opaque, "")
	if body["code"] != "organization_mismatch" {
		t.Errorf("bound opaque token on another organization: %v, want organization_mismatch", body)
	}

	want(t, base, "GET", "/api/v1/me", "no-such-token-at-this-provider", "", 401, "inactive")
	revoked := idp.token(t, "app-opaque")
	idp.revoke(t, "app-opaque", revoked)
	want(t, base, "GET", "/api/v1/me", revoked, "", 401, "inactive")

	fresh := idp.token(t, "app-opaque")
	idp.stop()
	res, body := call(t, base, "GET", "/api/v1/me", fresh, "")
	wantAnswer(t, res, body, 503, "introspection_unavailable")
	if res.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	want(t, base, "GET", "/api/v1/me", jwtApp, "", 200, "")
	want(t, base, "GET", "/api/v1/me", opaque, "", 200, "") // cached answer
}

// TestE2EIntrospectionNestedClaims: the introspection adapter on its own
// against an ES256 provider whose tokens carry a namespaced, nested
// organization claim; a client that is not the resource server learns
// nothing (active: false, so inactive); a wrong secret is 503-class.
func TestE2EIntrospectionNestedClaims(t *testing.T) {
	idp := startOIDCProvider(t, map[string]string{"IDP_ALG": "ES256", "IDP_AUD_SHAPE": "array", "IDP_ORG_SHAPE": "nested", "IDP_ORG": "globex"})
	cfg := introspection.Config{
		Endpoint: idp.issuer + "/token/introspection", Issuer: idp.issuer, Audiences: []string{e2eAudience},
		ClientID: "orgstack", ClientSecret: "orgstack-secret",
		SubjectClaim: []string{"client_id"}, OrgClaim: []string{"https://orgstack.test/claims", "org"},
	}
	v, err := introspection.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := v.Verify(ctx, idp.token(t, "app-opaque"))
	if err != nil {
		t.Fatal(err)
	}
	want := ports.Principal{Issuer: idp.issuer, Subject: "app-opaque", Email: "app-opaque@clients.orgstack.test", OrgClaim: "globex"}
	if p.Issuer != want.Issuer || p.Subject != want.Subject || p.Email != want.Email || p.OrgClaim != want.OrgClaim {
		t.Errorf("got %+v, want %+v", p, want)
	}

	other := cfg
	other.ClientID, other.ClientSecret = "app", "app-secret" // not allowed to introspect app-opaque's tokens
	vo, _ := introspection.New(other)
	_, err = vo.Verify(ctx, idp.token(t, "app-opaque"))
	if te := tokenError(err); te == nil || te.Reason != ports.ReasonInactive {
		t.Errorf("introspected by another client: %v, want inactive", err)
	}
	wrong := cfg
	wrong.ClientSecret = "wrong"
	vw, _ := introspection.New(wrong)
	_, err = vw.Verify(ctx, idp.token(t, "app-opaque"))
	if te := tokenError(err); te == nil || te.Reason != ports.ReasonIntrospectionUnavailable || !ports.IsUnavailable(err) {
		t.Errorf("wrong client secret: %v, want introspection_unavailable", err)
	}
	wrongAud := cfg
	wrongAud.Audiences = []string{"https://another-api.test"}
	va, _ := introspection.New(wrongAud)
	_, err = va.Verify(ctx, idp.token(t, "app-opaque"))
	if te := tokenError(err); te == nil || te.Reason != ports.ReasonWrongAudience {
		t.Errorf("another audience: %v, want wrong_audience", err)
	}
}

func tokenError(err error) *ports.TokenError {
	te, _ := err.(*ports.TokenError)
	return te
}

// TestE2ETwoIssuers: two provider instances at once as two operator
// issuers with different token shapes (RS256 + string aud; ES256 + array
// aud + namespaced nested organization claim). The JWT path's multi-issuer
// configuration (ORGSTACK_CONFIG, claim paths) is built on the stage4-idcfg
// branch; this test runs once that is merged.
func TestE2ETwoIssuers(t *testing.T) {
	rs := startOIDCProvider(t, map[string]string{"IDP_ALG": "RS256", "IDP_AUD_SHAPE": "string", "IDP_ORG_SHAPE": "flat"})
	es := startOIDCProvider(t, map[string]string{"IDP_ALG": "ES256", "IDP_AUD_SHAPE": "array", "IDP_ORG_SHAPE": "nested"})
	// The two token shapes, as a client application receives them.
	tests := []struct {
		idp     *oidcProvider
		alg     string
		aud     any
		orgPath []string
	}{
		{rs, "RS256", e2eAudience, []string{"org_id"}},
		{es, "ES256", []any{e2eAudience, "https://other.orgstack.test"}, []string{"https://orgstack.test/claims", "org"}},
	}
	for _, tt := range tests {
		header, claims := decodeJWT(t, tt.idp.token(t, "app-bound"))
		if header["alg"] != tt.alg || header["typ"] != "at+jwt" {
			t.Errorf("%s: header %v", tt.idp.issuer, header)
		}
		if b1, _ := json.Marshal(claims["aud"]); string(b1) != mustJSON(tt.aud) {
			t.Errorf("%s: aud %s, want %s", tt.idp.issuer, b1, mustJSON(tt.aud))
		}
		var org any = claims
		for _, k := range tt.orgPath {
			org = org.(map[string]any)[k]
		}
		if org != "acme" {
			t.Errorf("%s: organization claim at %v is %v, want acme", tt.idp.issuer, tt.orgPath, org)
		}
	}

	// Both at once, from an issuers file: each token is verified only with
	// its own issuer's keys and mapped by its own issuer's claim paths.
	file := filepath.Join(t.TempDir(), "orgstack.yaml")
	config := fmt.Sprintf(`issuers:
  - issuer: %s
    audiences: [%s]
    algorithms: [RS256]
    claims:
      organization: [org_id]
  - issuer: %s
    audiences: [%s]
    algorithms: [ES256]
    required_type: at+jwt
    claims:
      organization: ["https://orgstack.test/claims", org]
`, rs.issuer, e2eAudience, es.issuer, e2eAudience)
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	base := startServe(t, map[string]string{"ORGSTACK_CONFIG": file})

	rsApp, esApp := rs.token(t, "app"), es.token(t, "app")
	rsMe := want(t, base, "GET", "/api/v1/me", rsApp, "", 200, "")
	esMe := want(t, base, "GET", "/api/v1/me", esApp, "", 200, "")
	if rsMe["issuer"] != rs.issuer || esMe["issuer"] != es.issuer {
		t.Errorf("/me issuers: %v and %v", rsMe["issuer"], esMe["issuer"])
	}
	// Same subject, two issuers: two users.
	if rsMe["subject"] != esMe["subject"] || rsMe["id"] == esMe["id"] {
		t.Errorf("users: %v and %v, want one subject and two users", rsMe, esMe)
	}
	acme := want(t, base, "POST", "/api/v1/organizations", rsApp, `{"slug":"acme","name":"Acme"}`, 201, "")
	globex := want(t, base, "POST", "/api/v1/organizations", rsApp, `{"slug":"globex","name":"Globex"}`, 201, "")
	// The ES256 issuer's user of the same subject is not a member of acme.
	want(t, base, "GET", "/api/v1/organizations/"+acme["id"].(string), esApp, "", 404, "")
	// Its bound token (nested, namespaced claim) is bound to acme: globex is 403.
	_, body := call(t, base, "GET", "/api/v1/organizations/"+globex["id"].(string), es.token(t, "app-bound"), "")
	if body["code"] != "organization_mismatch" {
		t.Errorf("nested organization claim on another organization: %v, want organization_mismatch", body)
	}
	// The RS256 issuer's bound token uses its own (flat) claim.
	_, body = call(t, base, "GET", "/api/v1/organizations/"+globex["id"].(string), rs.token(t, "app-bound"), "")
	if body["code"] != "organization_mismatch" {
		t.Errorf("flat organization claim on another organization: %v, want organization_mismatch", body)
	}
}

// decodeJWT returns a JWT's header and claims, unverified.
func decodeJWT(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d segments", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("segment %d does not decode", i)
		}
	}
	return header, claims
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestE2EOrganizationProvider: a second oidc-provider instance registered
// as an organization's own provider THROUGH THE API (OIDC discovery; plain
// http on loopback, allowed by ORGSTACK_OUTBOUND_ALLOW), its
// client_credentials JWT carrying groups: the dry run accepts it with the
// mapped role; once propagated, its first use makes it a member with that
// role; it is bound to that organization; after DELETE it is refused
// (wrong_issuer) within seconds.
func TestE2EOrganizationProvider(t *testing.T) {
	op := startOIDCProvider(t, map[string]string{"IDP_ALG": "ES256", "IDP_AUD_SHAPE": "array"})
	tenant := startOIDCProvider(t, map[string]string{"IDP_ALG": "RS256", "IDP_GROUPS": "orgstack-admins,staff"})
	hostPort := strings.TrimPrefix(tenant.issuer, "http://")
	base := startServe(t, map[string]string{"ORGSTACK_OIDC_ISSUER": op.issuer, "ORGSTACK_AUDIENCE": e2eAudience,
		"ORGSTACK_OUTBOUND_ALLOW": hostPort})

	owner := op.token(t, "app")
	acme := want(t, base, "POST", "/api/v1/organizations", owner, `{"slug":"acme","name":"Acme"}`, 201, "")
	globex := want(t, base, "POST", "/api/v1/organizations", owner, `{"slug":"globex","name":"Globex"}`, 201, "")
	acmePath := "/api/v1/organizations/" + acme["id"].(string)
	put := `{"issuer":"` + tenant.issuer + `","audiences":["` + e2eAudience + `"],"algorithms":["RS256"],` +
		`"jit":{"enabled":true,"role_claim":["groups"],"role_mapping":{"orgstack-admins":["admin"]},"default_role":"member"}}`
	want(t, base, "PUT", acmePath+"/identity-provider", owner, put, 201, "")
	stored := time.Now()

	tok := tenant.token(t, "app")
	// The dry run, before and without any membership: accepted, mapped role.
	res, dry := call(t, base, "POST", acmePath+"/identity-provider/test", owner, mustJSON(map[string]string{"token": tok}))
	if res.StatusCode != 200 || dry["accepted"] != true || mustJSON(dry["roles"]) != `["admin"]` {
		t.Fatalf("dry run: %d %v", res.StatusCode, dry)
	}
	res, dry = call(t, base, "POST", acmePath+"/identity-provider/test", owner, mustJSON(map[string]string{"token": owner}))
	if res.StatusCode != 200 || dry["reason"] != "issuer_mismatch" || strings.Contains(mustJSON(dry), op.issuer) {
		t.Errorf("dry run of the operator's token: %d %v", res.StatusCode, dry)
	}

	waitFor(t, 10*time.Second, func() bool {
		res, _ := call(t, base, "GET", "/api/v1/me", tok, "")
		return res.StatusCode == 200
	})
	t.Logf("provider registered through the API honoured after %v", time.Since(stored).Round(10*time.Millisecond))
	want(t, base, "GET", "/api/v1/members", tok, "", 200, "") // token form: acme; JIT member now
	_, page := call(t, base, "GET", acmePath+"/members", owner, "")
	found := false
	for _, m := range page["data"].([]any) {
		mm := m.(map[string]any)
		if mustJSON(mm["roles"]) == `["admin"]` && strings.Contains(mustJSON(mm), tenant.issuer) {
			found = true
		}
	}
	if !found {
		t.Errorf("no member of the provider with the mapped role: %v", page)
	}
	_, body := call(t, base, "GET", "/api/v1/organizations/"+globex["id"].(string), tok, "")
	if body["code"] != "organization_mismatch" {
		t.Errorf("provider token on another organization: %v", body)
	}

	want(t, base, "DELETE", acmePath+"/identity-provider", owner, "", 204, "")
	deleted := time.Now()
	waitFor(t, 10*time.Second, func() bool {
		res, _ := call(t, base, "GET", "/api/v1/me", tok, "")
		return res.StatusCode == 401
	})
	t.Logf("DELETE honoured after %v", time.Since(deleted).Round(10*time.Millisecond))
	want(t, base, "GET", "/api/v1/me", tok, "", 401, "wrong_issuer")
}
