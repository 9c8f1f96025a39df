package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// isolationRoute is one route of organization B, relative to a tenant
// prefix. Placeholders are filled with B's own IDs and keys.
type isolationRoute struct {
	method string
	path   string
	body   string
}

// Every tenant route, with B's resources in the path and bodies that would
// change B if they were let through.
var isolationRoutes = []isolationRoute{
	{"GET", "/members", ""},
	{"POST", "/members", `{"subject":"intruder","roles":["owner"]}`},
	{"GET", "/members/{target}", ""},
	{"PATCH", "/members/{target}", `{"status":"suspended"}`},
	{"DELETE", "/members/{target}", ""},
	{"PATCH", "/members/{owner}", `{"roles":["member"]}`},
	{"DELETE", "/members/{owner}", ""},
	{"GET", "/users", ""},
	{"GET", "/users/{target}", ""},
	{"GET", "/roles", ""},
	{"POST", "/roles", `{"key":"intruder","name":"Intruder","permissions":["*"]}`},
	{"GET", "/roles/{bRole}", ""},
	{"PATCH", "/roles/{bRole}", `{"name":"Pwned","permissions":["*"]}`},
	{"DELETE", "/roles/{bRole}", ""},
	{"GET", "/permissions", ""},
	{"POST", "/permissions", `{"key":"intruder:act"}`},
	{"GET", "/permissions/{bPerm}", ""},
	{"PATCH", "/permissions/{bPerm}", `{"description":"pwned"}`},
	{"DELETE", "/permissions/{bPerm}", ""},
	{"POST", "/check", `{"user_id":"{target}","permission":"{bPerm}"}`},
	{"GET", "/identity-provider", ""},
	{"PUT", "/identity-provider", `{"issuer":"https://evil.example.test","audiences":["orgstack"],"algorithms":["RS256"],"jit":{"enabled":true,"role_claim":["groups"],"role_mapping":{"x":["admin"]}}}`},
	{"DELETE", "/identity-provider", ""},
	{"GET", "/webhooks", ""},
	{"POST", "/webhooks", `{"url":"https://evil.example.test/in","event_types":["*"]}`},
	{"GET", "/webhooks/{bWebhook}", ""},
	{"PATCH", "/webhooks/{bWebhook}", `{"url":"https://evil.example.test/in"}`},
	{"DELETE", "/webhooks/{bWebhook}", ""},
	{"POST", "/webhooks/{bWebhook}/rotate-secret", ""},
	{"GET", "/webhooks/{bWebhook}/deliveries", ""},
	{"POST", "/webhooks/{bWebhook}/deliveries/{bDelivery}/replay", ""},
	{"POST", "/webhooks/{bWebhook}/replay", `{"since":"2020-01-01T00:00:00Z"}`},
}

// isolationOrg builds the two organizations of the isolation suite. B has,
// besides the fixture's people, roles and permissions, a role and a
// permission A does not have.
func isolationOrgs(t *testing.T) (*env, *secOrg, *secOrg, func(string) string) {
	t.Helper()
	e := newEnv(t)
	f := newSecFixtures(e, "iso")
	a := f.org(t, "a")
	b := f.org(t, "b")
	bOwner := e.token(b.OwnerSub)
	res, body := e.do(t, http.MethodPost, b.path("/permissions"), bOwner, obj{"key": "ledger:close", "description": "B only"})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPost, b.path("/roles"), bOwner, obj{"key": "closer", "name": "Closer", "permissions": []string{"ledger:close"}})
	wantStatus(t, res, body, http.StatusCreated)
	res, body = e.do(t, http.MethodPatch, b.path("/members/"+b.TargetID), bOwner, obj{"roles": []string{"member", b.Role, "closer"}})
	wantStatus(t, res, body, http.StatusOK)
	fill := strings.NewReplacer("{target}", b.TargetID, "{owner}", b.OwnerID, "{bRole}", "closer", "{bPerm}", "ledger:close",
		"{bWebhook}", b.Webhook, "{bDelivery}", b.Delivery).Replace
	return e, a, b, fill
}

// TestIsolationExplicitForm tries every route of B, naming B by ID and by
// slug, with A's tokens: unbound (404, as if B did not exist) and bound to A
// by ID or slug (403 organization_mismatch). B is unchanged afterwards.
func TestIsolationExplicitForm(t *testing.T) {
	t.Parallel()
	e, a, b, fill := isolationOrgs(t)
	before := b.snapshot(t, e)
	notFound := func(sub string) string { return e.token(sub) }
	callers := []struct {
		name   string
		tok    string
		status int
		code   string
	}{
		{"A owner unbound", notFound(a.OwnerSub), 404, "not_found"},
		{"A admin unbound", notFound(a.AdminSub), 404, "not_found"},
		{"A owner bound to A by ID", e.token(a.OwnerSub, withOrg(a.ID)), 403, "organization_mismatch"},
		{"A owner bound to A by slug", e.token(a.OwnerSub, withOrg(a.Slug)), 403, "organization_mismatch"},
		{"A admin bound to A", e.token(a.AdminSub, withOrg(a.ID)), 403, "organization_mismatch"},
		{"platform admin bound to A", e.token(subRoot, withAdmin(), withOrg(a.ID)), 403, "organization_mismatch"},
	}
	routes := append([]isolationRoute{
		{"GET", "", ""},
		{"PATCH", "", `{"name":"Pwned","slug":"pwned"}`},
		{"DELETE", "", ""},
	}, isolationRoutes...)
	for _, c := range callers {
		for _, ref := range []string{b.ID, b.Slug} {
			for _, r := range routes {
				path := "/api/v1/organizations/" + ref + fill(r.path)
				t.Run(c.name+" "+r.method+" "+path, func(t *testing.T) {
					var body any
					if r.body != "" {
						body = fill(r.body)
					}
					res, resBody := e.do(t, r.method, path, c.tok, body)
					wantProblem(t, res, resBody, c.status, c.code)
				})
			}
		}
	}
	wantUnchanged(t, before, b.snapshot(t, e))
}

// TestIsolationForeignResources names B's members, roles and permissions
// under A: in the token form with tokens bound to A, and in the explicit
// form with A's ID. Every one is 404, exactly like a resource that does not
// exist; checks about B's member in A are allowed: false. B is unchanged.
func TestIsolationForeignResources(t *testing.T) {
	t.Parallel()
	e, a, b, fill := isolationOrgs(t)
	before := b.snapshot(t, e)
	aBefore := a.snapshot(t, e)
	prefixes := []struct {
		name, prefix, tok string
	}{
		{"token form, owner bound to A", "/api/v1", e.token(a.OwnerSub, withOrg(a.ID))},
		{"token form, admin bound to A by slug", "/api/v1", e.token(a.AdminSub, withOrg(a.Slug))},
		{"explicit form under A", "/api/v1/organizations/" + a.ID, e.token(a.OwnerSub)},
	}
	for _, p := range prefixes {
		for _, r := range isolationRoutes {
			if !strings.Contains(r.path, "{") {
				continue // collection routes act on A itself
			}
			path := p.prefix + fill(r.path)
			t.Run(p.name+" "+r.method+" "+path, func(t *testing.T) {
				var body any
				if r.body != "" {
					body = fill(r.body)
				}
				res, resBody := e.do(t, r.method, path, p.tok, body)
				// The same answer as for a resource that never existed.
				missing := strings.NewReplacer(b.TargetID, "01900000-0000-7000-8000-000000000000",
					b.OwnerID, "01900000-0000-7000-8000-000000000001",
					"closer", "nosuchrole", "ledger:close", "nosuch:perm").Replace(path)
				mres, mbody := e.do(t, r.method, missing, p.tok, body)
				p1 := wantProblem(t, res, resBody, http.StatusNotFound, "not_found")
				p2 := wantProblem(t, mres, mbody, http.StatusNotFound, "not_found")
				if p1["detail"] != p2["detail"] || p1["title"] != p2["title"] {
					t.Errorf("a foreign resource answers differently from a missing one:\n%s\n%s", resBody, mbody)
				}
			})
		}
		t.Run(p.name+" check of B's member", func(t *testing.T) {
			for _, perm := range []string{"ledger:close", b.Perm, "members:read"} {
				res, body := e.do(t, http.MethodPost, p.prefix+"/check", p.tok, obj{"user_id": b.TargetID, "permission": perm})
				wantStatus(t, res, body, http.StatusOK)
				if d := data(t, body); d["allowed"] != false {
					t.Errorf("B's member is allowed %s in A: %s", perm, body)
				}
			}
		})
	}
	wantUnchanged(t, before, b.snapshot(t, e))
	wantUnchanged(t, aBefore, a.snapshot(t, e))
}

// TestIsolationNoTenantOverride checks that headers, query parameters and
// body fields never change the tenant: a token bound to A stays in A.
func TestIsolationNoTenantOverride(t *testing.T) {
	t.Parallel()
	e, a, b, _ := isolationOrgs(t)
	before := b.snapshot(t, e)
	tok := e.token(a.OwnerSub, withOrg(a.ID))
	// Headers are ignored: the listing is A's.
	for _, h := range []string{"X-Org-ID", "X-Organization-ID", "Org-ID"} {
		res, body := e.do(t, http.MethodGet, "/api/v1/members?size=100", tok, nil, h, b.ID)
		wantStatus(t, res, body, http.StatusOK)
		for _, m := range listData(t, body) {
			if org := m.(obj)["organization_id"]; org != a.ID {
				t.Errorf("%s: member of %v listed in A's context", h, org)
			}
		}
	}
	// Query parameters naming an organization are refused.
	for _, q := range []string{"org_id", "organization_id", "orgId"} {
		res, body := e.do(t, http.MethodGet, "/api/v1/members?"+q+"="+b.ID, tok, nil)
		p := wantProblem(t, res, body, http.StatusBadRequest, "invalid_parameter")
		if f := problemFields(p); len(f) != 1 || f[0] != q {
			t.Errorf("errors name %v, want [%s]", f, q)
		}
	}
	// A body naming B is refused and creates nothing anywhere.
	res, body := e.do(t, http.MethodPost, "/api/v1/roles", tok,
		obj{"key": "sneaky", "name": "Sneaky", "organization_id": b.ID})
	wantStatus(t, res, body, http.StatusBadRequest)
	// An unbound token on the token form has no tenant at all.
	res, body = e.do(t, http.MethodGet, "/api/v1/members", e.token(a.OwnerSub), nil)
	p := wantProblem(t, res, body, http.StatusBadRequest, "organization_context_required")
	if d, _ := p["detail"].(string); !strings.Contains(d, "/organizations/{orgId}/") {
		t.Errorf("detail %q does not say which route form to use", d)
	}
	wantUnchanged(t, before, b.snapshot(t, e))
}

// TestIsolationProviderTokens: organization A's own identity provider
// (just-in-time membership, every user an admin of A) issues a token whose
// organization claim names B, with B's owner's subject and the platform
// administrator claim. On every route of B, by ID and by slug, it answers
// 403 organization_mismatch; in the token form it acts on A, where B's
// resources are 404. B is unchanged.
func TestIsolationProviderTokens(t *testing.T) {
	t.Parallel()
	e, a, b, fill := isolationOrgs(t)
	registerProvider(t, e, e.token(a.OwnerSub), a.ID, "admin")
	before := b.snapshot(t, e)
	tok := e.tenantToken(b.OwnerSub, jwt.MapClaims{"org_id": b.ID, "groups": []string{"admins"}, testAdminClaim: testAdminValue})
	res, body := e.do(t, http.MethodGet, "/api/v1/members", tok, nil)
	wantStatus(t, res, body, http.StatusOK) // a member of A now
	routes := append([]isolationRoute{
		{"GET", "", ""},
		{"PATCH", "", `{"name":"Pwned","slug":"pwned"}`},
		{"DELETE", "", ""},
	}, isolationRoutes...)
	for _, ref := range []string{b.ID, b.Slug} {
		for _, r := range routes {
			path := "/api/v1/organizations/" + ref + fill(r.path)
			t.Run("explicit "+r.method+" "+path, func(t *testing.T) {
				var body any
				if r.body != "" {
					body = fill(r.body)
				}
				res, resBody := e.do(t, r.method, path, tok, body)
				wantProblem(t, res, resBody, http.StatusForbidden, "organization_mismatch")
			})
		}
	}
	for _, r := range isolationRoutes {
		if !strings.Contains(r.path, "{") {
			continue // collection routes act on A itself
		}
		path := "/api/v1" + fill(r.path)
		t.Run("token form "+r.method+" "+path, func(t *testing.T) {
			var body any
			if r.body != "" {
				body = fill(r.body)
			}
			res, resBody := e.do(t, r.method, path, tok, body)
			wantProblem(t, res, resBody, http.StatusNotFound, "not_found")
		})
	}
	wantUnchanged(t, before, b.snapshot(t, e))
}
