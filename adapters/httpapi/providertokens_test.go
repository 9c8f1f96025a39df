package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/orgstack/orgstack/adapters/jwks"
)

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

// registerProvider stores orgID's own identity provider (e.tenantIss, its
// key set at /jwks) through the API, JIT on with groups "admins" mapped to
// admin and defaultRole, and serves it in the verifier as the poller would.
func registerProvider(t *testing.T, e *env, ownerTok, orgID, defaultRole string) {
	t.Helper()
	res, body := e.do(t, http.MethodPut, "/api/v1/organizations/"+orgID+"/identity-provider", ownerTok, obj{
		"issuer": e.tenantIss, "jwks_url": e.tenantIss + "/jwks", "audiences": []string{"tenant-aud"}, "algorithms": []string{"RS256"},
		"jit": obj{"enabled": true, "role_claim": []string{"groups"},
			"role_mapping": obj{"admins": []string{"admin"}}, "default_role": defaultRole},
	})
	if res.StatusCode != http.StatusOK {
		wantStatus(t, res, body, http.StatusCreated)
	}
	prov, err := e.Store.IdentityProviders().Get(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Verifier.SetTenantIssuers([]jwks.TenantIssuer{{OrgID: orgID, Config: jwks.TenantConfig(orgID, prov.Spec())}}); err != nil {
		t.Fatal(err)
	}
}

// tenantToken is a token of e.tenantIss for sub with extra claims.
func (e *env) tenantToken(sub string, extra jwt.MapClaims) string {
	now := time.Now()
	c := jwt.MapClaims{"iss": e.tenantIss, "aud": "tenant-aud", "sub": sub, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
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
	u, err := pe.Store.Users().GetByIdentity(ctx, pe.tenantIss, sub)
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
	u, err := pe.Store.Users().GetByIdentity(context.Background(), pe.tenantIss, sub)
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

// TestProviderDryRun: the organization's dry run against its stored
// provider and against a candidate: the roles JIT would give without
// writing anything; issuer_mismatch alone for any other issuer; a candidate
// validated as a PUT; 404 without a provider; the token never echoed.
func TestProviderDryRun(t *testing.T) {
	t.Parallel()
	pe := newProviderEnv(t)
	path := "/api/v1/organizations/" + pe.orgA + "/identity-provider/test"
	tok := pe.providerToken("carol", "admins")
	res, body := pe.do(t, http.MethodPost, path, pe.owner, obj{"token": tok})
	wantStatus(t, res, body, http.StatusOK)
	got := decodeJSONBody[obj](t, body)
	pr, _ := got["principal"].(map[string]any)
	org, _ := got["organization"].(map[string]any)
	if got["accepted"] != true || pr["subject"] != "carol" || pr["platform_admin"] != false || org["id"] != pe.orgA ||
		!slices.Equal(toStrings(got["roles"]), []string{"admin"}) {
		t.Errorf("dry run of a provider token: %s", body)
	}
	if _, err := pe.Store.Users().GetByIdentity(context.Background(), pe.tenantIss, "carol"); err == nil {
		t.Error("the dry run created a user")
	}
	// The token form, with tokens of other issuers: the operator's, and one
	// nobody knows. Only issuer_mismatch, nothing about the issuer.
	bound := pe.token("pt-owner", withOrg(pe.orgA))
	for _, other := range []string{pe.token("someone"), pe.sign(jwt.MapClaims{"iss": "https://nobody.example", "sub": "x", "aud": "tenant-aud", "exp": time.Now().Add(time.Hour).Unix()}, testKID, pe.key)} {
		res, body = pe.do(t, http.MethodPost, "/api/v1/identity-provider/test", bound, obj{"token": other})
		wantStatus(t, res, body, http.StatusOK)
		got = decodeJSONBody[obj](t, body)
		if got["accepted"] != false || got["reason"] != "issuer_mismatch" || got["principal"] != nil ||
			strings.Contains(string(body), testIssuer) || strings.Contains(string(body), "nobody") {
			t.Errorf("dry run of another issuer's token: %s", body)
		}
	}
	// A candidate: its mapping decides the roles.
	candidate := obj{"issuer": pe.tenantIss, "jwks_url": pe.tenantIss + "/jwks", "audiences": []string{"tenant-aud"}, "algorithms": []string{"RS256"},
		"jit": obj{"enabled": true, "default_role": "admin"}}
	res, body = pe.do(t, http.MethodPost, path, pe.owner, obj{"token": pe.providerToken("carol"), "provider": candidate})
	wantStatus(t, res, body, http.StatusOK)
	if got = decodeJSONBody[obj](t, body); got["accepted"] != true || !slices.Equal(toStrings(got["roles"]), []string{"admin"}) {
		t.Errorf("dry run with a candidate: %s", body)
	}
	// A candidate is validated like a PUT.
	candidate["jit"] = obj{"enabled": true, "default_role": "owner"}
	candidate["issuer"] = "http://idp.tenant-a.test"
	delete(candidate, "jwks_url")
	res, body = pe.do(t, http.MethodPost, path, pe.owner, obj{"token": tok, "provider": candidate})
	wantFields(t, wantProblem(t, res, body, http.StatusBadRequest, "validation_failed"), "/provider/issuer", "/provider/jit/default_role")
	// No stored provider, no candidate: 404.
	res, body = pe.do(t, http.MethodPost, "/api/v1/organizations/"+pe.orgB+"/identity-provider/test", pe.owner, obj{"token": tok})
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
}
