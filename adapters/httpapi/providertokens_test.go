package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstack/orgstack/adapters/jwks"
)

const tenantIssuer = "https://idp.tenant-a.test/realms/a"

// providerEnv is newEnv with organization A's own identity provider: stored
// through the API (JIT on, groups mapped) and served by the verifier as the
// poller would, its key set on a local server.
type providerEnv struct {
	*env
	owner, orgA, orgB string
}

func newProviderEnv(t *testing.T) *providerEnv {
	t.Helper()
	e := newEnv(t)
	owner := e.token("pt-owner")
	pe := &providerEnv{env: e, owner: owner, orgA: e.createOrg(t, owner, "pt-a"), orgB: e.createOrg(t, owner, "pt-b")}
	res, body := e.do(t, http.MethodPost, "/api/v1/organizations/"+pe.orgA+"/roles", owner,
		obj{"key": "auditor", "name": "Auditor", "permissions": []string{"members:read"}})
	wantStatus(t, res, body, http.StatusCreated)
	registerProvider(t, e, owner, pe.orgA, "member")
	return pe
}

// registerProvider stores orgID's own identity provider (tenantIssuer)
// through the API, JIT on with groups "admins" mapped to admin and
// defaultRole, and serves it in the verifier as the poller would (its key
// set, the test key, on a local server).
func registerProvider(t *testing.T, e *env, ownerTok, orgID, defaultRole string) {
	t.Helper()
	res, body := e.do(t, http.MethodPut, "/api/v1/organizations/"+orgID+"/identity-provider", ownerTok, obj{
		"issuer": tenantIssuer, "audiences": []string{"tenant-aud"}, "algorithms": []string{"RS256"},
		"jit": obj{"enabled": true, "role_claim": []string{"groups"},
			"role_mapping": obj{"admins": []string{"admin"}}, "default_role": defaultRole},
	})
	if res.StatusCode != http.StatusOK {
		wantStatus(t, res, body, http.StatusCreated)
	}
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwksJSON(e.key))
	}))
	t.Cleanup(keys.Close)
	prov, err := e.Store.IdentityProviders().Get(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	cfg := jwks.TenantConfig(orgID, prov.Spec())
	cfg.JWKSURL = keys.URL // the stored provider uses discovery; the test serves its keys
	if err := e.Verifier.SetTenantIssuers([]jwks.TenantIssuer{{OrgID: orgID, Config: cfg}}); err != nil {
		t.Fatal(err)
	}
}

// tenantToken is a token of tenantIssuer for sub with extra claims.
func (e *env) tenantToken(sub string, extra jwt.MapClaims) string {
	now := time.Now()
	c := jwt.MapClaims{"iss": tenantIssuer, "aud": "tenant-aud", "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return e.sign(c, testKID, e.key)
}

// providerToken is a token of organization A's provider for sub, carrying
// groups, an organization claim naming B and the platform-administrator
// claim (both of which must be ignored).
func (pe *providerEnv) providerToken(sub string, groups ...string) string {
	return pe.tenantToken(sub, jwt.MapClaims{"groups": groups, "org_id": pe.orgB, testAdminClaim: testAdminValue})
}

// roles returns sub's membership roles in A and its status ("" when none).
func (pe *providerEnv) roles(t *testing.T, sub string) ([]string, string) {
	t.Helper()
	ctx := context.Background()
	u, err := pe.Store.Users().GetByIdentity(ctx, tenantIssuer, sub)
	if err != nil {
		return nil, ""
	}
	m, err := pe.Store.Memberships().Get(ctx, pe.orgA, u.ID())
	if err != nil {
		return nil, ""
	}
	var out []string
	for _, r := range m.Roles() {
		out = append(out, string(r))
	}
	return out, m.Status().String()
}

// TestProviderTokenJITMembership: a token of an organization's own provider
// makes its user a member on first use with the mapped roles, keeps the
// mapped roles in step, keeps API-assigned roles and owner, never
// reactivates a suspended member, and brings a removed member back.
func TestProviderTokenJITMembership(t *testing.T) {
	t.Parallel()
	pe := newProviderEnv(t)
	members := "/api/v1/organizations/" + pe.orgA + "/members"

	// First use, in the token form: member with the mapped role.
	res, body := pe.do(t, http.MethodGet, "/api/v1/members", pe.providerToken("alice", "admins", "other"), nil)
	wantStatus(t, res, body, http.StatusOK)
	if r, st := pe.roles(t, "alice"); !slices.Equal(r, []string{"admin"}) || st != "active" {
		t.Fatalf("after first use: %v %s", r, st)
	}
	uid := pe.userIDOf(t, "alice")
	// Another token without the group: the mapped role goes, the default comes.
	res, body = pe.do(t, http.MethodGet, "/api/v1/members", pe.providerToken("alice"), nil)
	wantStatus(t, res, body, http.StatusOK)
	if r, _ := pe.roles(t, "alice"); !slices.Equal(r, []string{"member"}) {
		t.Fatalf("after sync without the group: %v", r)
	}
	// Roles assigned through the API (a custom role, owner) are kept.
	res, body = pe.do(t, http.MethodPatch, members+"/"+uid, pe.owner, obj{"roles": []string{"member", "auditor", "owner"}})
	wantStatus(t, res, body, http.StatusOK)
	res, body = pe.do(t, http.MethodGet, "/api/v1/organizations/"+pe.orgA, pe.providerToken("alice", "admins"), nil)
	wantStatus(t, res, body, http.StatusOK)
	if r, _ := pe.roles(t, "alice"); !slices.Equal(r, []string{"admin", "auditor", "owner"}) {
		t.Fatalf("API-assigned roles and owner after sync: %v", r)
	}
	res, body = pe.do(t, http.MethodGet, "/api/v1/members", pe.providerToken("alice"), nil)
	wantStatus(t, res, body, http.StatusOK)
	if r, _ := pe.roles(t, "alice"); !slices.Equal(r, []string{"auditor", "member", "owner"}) {
		t.Fatalf("owner is never removed by the mapping: %v", r)
	}
	// A suspended member is never reactivated.
	res, body = pe.do(t, http.MethodPatch, members+"/"+uid, pe.owner, obj{"roles": []string{"member"}, "status": "suspended"})
	wantStatus(t, res, body, http.StatusOK)
	res, body = pe.do(t, http.MethodGet, "/api/v1/members", pe.providerToken("alice", "admins"), nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
	if r, st := pe.roles(t, "alice"); !slices.Equal(r, []string{"member"}) || st != "suspended" {
		t.Fatalf("suspended member after a token: %v %s", r, st)
	}
	// A member removed through the API comes back at the next sign-in.
	res, body = pe.do(t, http.MethodDelete, members+"/"+uid, pe.owner, nil)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = pe.do(t, http.MethodGet, "/api/v1/me", pe.providerToken("alice", "admins"), nil)
	wantStatus(t, res, body, http.StatusOK)
	if r, st := pe.roles(t, "alice"); !slices.Equal(r, []string{"admin"}) || st != "active" {
		t.Fatalf("removed member after sign-in: %v %s", r, st)
	}
}

func (pe *providerEnv) userIDOf(t *testing.T, sub string) string {
	t.Helper()
	u, err := pe.Store.Users().GetByIdentity(context.Background(), tenantIssuer, sub)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID()
}

// TestProviderTokenBoundAndNeverAdmin: a provider token acts on its
// organization whatever its organization claim says, answers
// organization_mismatch elsewhere, and is never a platform administrator
// even with the administrator claim.
func TestProviderTokenBoundAndNeverAdmin(t *testing.T) {
	t.Parallel()
	pe := newProviderEnv(t)
	tok := pe.providerToken("bob")
	res, body := pe.do(t, http.MethodGet, "/api/v1/organizations/"+pe.orgB, tok, nil)
	wantProblem(t, res, body, http.StatusForbidden, "organization_mismatch")
	res, body = pe.do(t, http.MethodGet, "/api/v1/organizations/pt-b/members", tok, nil)
	wantProblem(t, res, body, http.StatusForbidden, "organization_mismatch")
	res, body = pe.do(t, http.MethodPost, "/api/v1/organizations", tok, obj{"slug": "pt-new", "name": "New"})
	wantProblem(t, res, body, http.StatusForbidden, "organization_mismatch")
	res, body = pe.do(t, http.MethodPost, "/api/v1/admin/token-check", tok, obj{"token": "x.y.z"})
	wantProblem(t, res, body, http.StatusForbidden, "platform_admin_required")
	res, body = pe.do(t, http.MethodGet, "/api/v1/organizations", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	if items := listData(t, body); len(items) != 1 || items[0].(map[string]any)["id"] != pe.orgA {
		t.Errorf("a provider token lists its organization only: %s", body)
	}
	res, body = pe.do(t, http.MethodGet, "/api/v1/organizations/pt-a", tok, nil)
	wantStatus(t, res, body, http.StatusOK)
	// The provider's GET shows the key-set state of this instance.
	res, body = pe.do(t, http.MethodGet, "/api/v1/organizations/"+pe.orgA+"/identity-provider", pe.owner, nil)
	wantStatus(t, res, body, http.StatusOK)
	st, _ := data(t, body)["status"].(map[string]any)
	if st["active"] != true || st["keys_loaded"] != true || st["last_refresh"] == nil || st["last_error"] != nil {
		t.Errorf("status after a token: %s", body)
	}
}
