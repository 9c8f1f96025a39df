package httpapi

import (
	"net/http"
	"testing"
)

func providerBody(issuer string, audiences ...string) obj {
	return obj{
		"issuer": issuer, "audiences": audiences, "algorithms": []string{"RS256", "ES256"},
		"leeway_seconds": 30, "required_typ": "at+jwt", "max_token_age_seconds": 3600,
		"required_claims": []obj{{"claim": []string{"tid"}, "value": "tenant-1"}},
		"claims":          obj{"email": []string{"https://example.com/email"}, "name": []string{"profile", "name"}},
		"jit": obj{"enabled": true, "role_claim": []string{"realm_access", "roles"},
			"role_mapping": obj{"admins": []string{"admin"}}, "default_role": "member"},
	}
}

// TestIdentityProviderLifecycle: PUT creates (201) then replaces (200) with
// an ETag and honours If-Match; GET returns the configuration without any
// status; DELETE leaves the members in place; both path forms.
func TestIdentityProviderLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("idp-owner")
	orgID := e.createOrg(t, owner, "idp-life")
	memberID := e.addMember(t, owner, orgID, "idp-someone", "member")
	path := "/api/v1/organizations/" + orgID + "/identity-provider"

	res, body := e.do(t, http.MethodGet, path, owner, nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
	res, body = e.do(t, http.MethodPut, path, owner, providerBody("https://login.acme.test/realms/a", "orgstack"), "If-Match", `"1"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = e.do(t, http.MethodPut, path, owner, providerBody("https://login.acme.test/realms/a", "orgstack"))
	wantStatus(t, res, body, http.StatusCreated)
	if res.Header.Get("ETag") != `"1"` {
		t.Errorf("ETag %q", res.Header.Get("ETag"))
	}
	d := data(t, body)
	if d["issuer"] != "https://login.acme.test/realms/a" || d["org_id"] != orgID || d["version"] != float64(1) {
		t.Errorf("created: %s", body)
	}
	if _, ok := d["status"]; ok {
		t.Errorf("a status object appears before the verifier reports one: %s", body)
	}
	// The token form, replace with the right version.
	bound := e.token("idp-owner", withOrg(orgID))
	res, body = e.do(t, http.MethodPut, "/api/v1/identity-provider", bound, providerBody("https://login.acme.test/realms/a", "orgstack", "api"), "If-Match", `"1"`)
	wantStatus(t, res, body, http.StatusOK)
	if res.Header.Get("ETag") != `"2"` {
		t.Errorf("ETag after replace %q", res.Header.Get("ETag"))
	}
	res, body = e.do(t, http.MethodPut, path, owner, providerBody("https://login.acme.test/realms/a", "orgstack"), "If-Match", `"1"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = e.do(t, http.MethodGet, "/api/v1/identity-provider", bound, nil)
	wantStatus(t, res, body, http.StatusOK)
	d = data(t, body)
	if aud, _ := d["audiences"].([]any); len(aud) != 2 || res.Header.Get("ETag") != `"2"` {
		t.Errorf("get after replace: %s", body)
	}
	if claims, _ := d["claims"].(obj); claims == nil || len(claims["name"].([]any)) != 2 {
		t.Errorf("nested claim path lost: %s", body)
	}
	res, body = e.do(t, http.MethodDelete, path, owner, nil, "If-Match", `"1"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")
	res, body = e.do(t, http.MethodDelete, path, owner, nil, "If-Match", `"2"`)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = e.do(t, http.MethodGet, path, owner, nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+orgID+"/members/"+memberID, owner, nil)
	wantStatus(t, res, body, http.StatusOK)
}

// TestIdentityProviderRefusals: the escalation and capture rules over HTTP.
func TestIdentityProviderRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("idpr-owner")
	orgID := e.createOrg(t, owner, "idp-rules")
	e.addMember(t, owner, orgID, "idpr-admin", "admin")
	path := "/api/v1/organizations/" + orgID + "/identity-provider"

	// An admin cannot register a provider (it withholds identity_provider:write).
	res, body := e.do(t, http.MethodPut, path, e.token("idpr-admin"), providerBody("https://login.acme.test/x", "orgstack"))
	wantProblem(t, res, body, http.StatusForbidden, "forbidden")
	// The operator's issuer is never an organization's.
	res, body = e.do(t, http.MethodPut, path, owner, providerBody(testIssuer, "orgstack"))
	wantProblem(t, res, body, http.StatusConflict, "identity_provider_conflict")
	// Owner is never mapped.
	b := providerBody("https://login.acme.test/x", "orgstack")
	b["jit"] = obj{"enabled": true, "role_claim": []string{"groups"}, "role_mapping": obj{"root": []string{"owner"}}}
	res, body = e.do(t, http.MethodPut, path, owner, b)
	wantFields(t, wantProblem(t, res, body, http.StatusBadRequest, "validation_failed"), "/jit/role_mapping/root/0")
	// Mapped roles must exist.
	b["jit"] = obj{"enabled": true, "role_claim": []string{"groups"}, "role_mapping": obj{"x": []string{"ghost"}}}
	res, body = e.do(t, http.MethodPut, path, owner, b)
	wantProblem(t, res, body, http.StatusConflict, "unknown_reference")
	// What an organization's provider cannot have is an unknown member.
	for _, field := range []string{"organization_claim", "platform_admin_claim", "introspection"} {
		b := providerBody("https://login.acme.test/x", "orgstack")
		b[field] = "x"
		res, body = e.do(t, http.MethodPut, path, owner, b)
		wantProblem(t, res, body, http.StatusBadRequest, "malformed_json")
	}
	// http URLs and symmetric algorithms are refused.
	b = providerBody("http://login.acme.test/x", "orgstack")
	b["algorithms"] = []string{"HS256"}
	res, body = e.do(t, http.MethodPut, path, owner, b)
	wantFields(t, wantProblem(t, res, body, http.StatusBadRequest, "validation_failed"), "/issuer", "/algorithms/0")

	// (issuer, audience) is unique across organizations.
	res, body = e.do(t, http.MethodPut, path, owner, providerBody("https://login.acme.test/shared", "orgstack"))
	wantStatus(t, res, body, http.StatusCreated)
	other := e.token("idpr-other")
	otherID := e.createOrg(t, other, "idp-other")
	otherPath := "/api/v1/organizations/" + otherID + "/identity-provider"
	res, body = e.do(t, http.MethodPut, otherPath, other, providerBody("https://login.acme.test/shared", "orgstack"))
	wantProblem(t, res, body, http.StatusConflict, "identity_provider_conflict")

	// The other organization may not name the first one's issuer in members
	// or checks.
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+otherID+"/members", other,
		obj{"subject": "someone", "issuer": "https://login.acme.test/shared", "roles": []string{"member"}})
	wantFields(t, wantProblem(t, res, body, http.StatusBadRequest, "validation_failed"), "/issuer")
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+otherID+"/check", other,
		obj{"subject": "someone", "issuer": "https://login.acme.test/shared", "permission": "members:read"})
	wantFields(t, wantProblem(t, res, body, http.StatusBadRequest, "validation_failed"), "/issuer")
	// The owning organization may.
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations/"+orgID+"/members", owner,
		obj{"subject": "someone", "issuer": "https://login.acme.test/shared", "roles": []string{"member"}})
	wantStatus(t, res, body, http.StatusCreated)
}

func wantFields(t *testing.T, p obj, want ...string) {
	t.Helper()
	got := problemFields(p)
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("fields %v, want %v", got, want)
		}
	}
}
