package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

func TestOrganizationLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice", withEmail("alice@example.com"))

	res, body := e.do(t, http.MethodPost, "/api/v1/organizations", alice,
		obj{"slug": "acme", "name": "Acme", "metadata": obj{"color": "red", "tier": "gold"}})
	wantStatus(t, res, body, http.StatusCreated)
	org := data(t, body)
	id := org["id"].(string)
	if got, want := res.Header.Get("Location"), "/api/v1/organizations/"+id; got != want {
		t.Errorf("Location %q, want %q", got, want)
	}
	if got := res.Header.Get("ETag"); got != `"1"` {
		t.Errorf("ETag %q, want \"1\"", got)
	}
	for k, want := range map[string]any{"slug": "acme", "name": "Acme", "status": "active", "version": float64(1)} {
		if org[k] != want {
			t.Errorf("%s = %v, want %v", k, org[k], want)
		}
	}
	for _, k := range []string{"created_at", "updated_at"} {
		if s, _ := org[k].(string); !strings.HasSuffix(s, "Z") {
			t.Errorf("%s = %v, want an RFC 3339 UTC time", k, org[k])
		}
	}

	// Get by ID and by slug.
	for _, ref := range []string{id, "acme"} {
		res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+ref, alice, nil)
		wantStatus(t, res, body, http.StatusOK)
		if data(t, body)["id"] != id {
			t.Errorf("GET %s: id %v, want %s", ref, data(t, body)["id"], id)
		}
	}

	// Merge patch: metadata keys merge, null removes.
	res, body = e.do(t, http.MethodPatch, "/api/v1/organizations/"+id, alice,
		`{"name":"Acme Inc","metadata":{"color":null,"size":"xl"}}`,
		"Content-Type", "application/merge-patch+json", "If-Match", `"1"`)
	wantStatus(t, res, body, http.StatusOK)
	org = data(t, body)
	md := org["metadata"].(obj)
	if org["name"] != "Acme Inc" || len(md) != 2 || md["tier"] != "gold" || md["size"] != "xl" {
		t.Errorf("after patch: %s", body)
	}
	if org["version"] != float64(2) || res.Header.Get("ETag") != `"2"` {
		t.Errorf("version %v, ETag %q; want 2", org["version"], res.Header.Get("ETag"))
	}

	// A stale If-Match is 412.
	res, body = e.do(t, http.MethodPatch, "/api/v1/organizations/"+id, alice, obj{"name": "X"}, "If-Match", `"1"`)
	wantProblem(t, res, body, http.StatusPreconditionFailed, "version_mismatch")

	// Listed for its owner.
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations", alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	if items := listData(t, body); len(items) != 1 {
		t.Errorf("list: %d items, want 1", len(items))
	}

	// Another user cannot see it: 404 like a missing one.
	bob := e.token("bob")
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+id, bob, nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations", bob, nil)
	wantStatus(t, res, body, http.StatusOK)
	if items := listData(t, body); len(items) != 0 {
		t.Errorf("bob sees %d organizations, want 0", len(items))
	}

	res, body = e.do(t, http.MethodDelete, "/api/v1/organizations/"+id, alice, nil)
	wantStatus(t, res, body, http.StatusNoContent)
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations/"+id, alice, nil)
	wantProblem(t, res, body, http.StatusNotFound, "not_found")
}

func TestOrganizationErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.token("alice")
	id := e.createOrg(t, alice, "acme")

	tests := []struct {
		name       string
		method     string
		path       string
		body       any
		headers    []string
		wantStatus int
		wantCode   string
		wantFields []string
	}{
		{"invalid slug and name", "POST", "/api/v1/organizations", obj{"slug": "A", "name": ""}, nil,
			400, "validation_failed", []string{"/slug", "/name"}},
		{"metadata value too long", "POST", "/api/v1/organizations",
			obj{"slug": "meta", "name": "M", "metadata": obj{"k": strings.Repeat("v", 501)}}, nil,
			400, "validation_failed", []string{"/metadata/k"}},
		{"slug taken", "POST", "/api/v1/organizations", obj{"slug": "acme", "name": "Again"}, nil,
			409, "slug_taken", nil},
		{"status needs platform admin", "PATCH", "/api/v1/organizations/" + id, obj{"status": "suspended"}, nil,
			403, "platform_admin_required", nil},
		{"null name", "PATCH", "/api/v1/organizations/" + id, `{"name":null}`, nil,
			400, "malformed_json", []string{"/name"}},
		{"malformed If-Match", "PATCH", "/api/v1/organizations/" + id, obj{"name": "N"}, []string{"If-Match", "W/\"1\""},
			412, "version_mismatch", nil},
		{"delete with stale If-Match", "DELETE", "/api/v1/organizations/" + id, nil, []string{"If-Match", `"7"`},
			412, "version_mismatch", nil},
		{"unknown organization", "GET", "/api/v1/organizations/0190a5c4-0000-7000-8000-000000000000", nil, nil,
			404, "not_found", nil},
		{"org_id in body", "POST", "/api/v1/organizations", obj{"slug": "x-org", "name": "X", "org_id": id}, nil,
			400, "malformed_json", []string{"/org_id"}},
		{"version in patch", "PATCH", "/api/v1/organizations/" + id, obj{"version": 9}, nil,
			400, "malformed_json", []string{"/version"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := e.do(t, tt.method, tt.path, alice, tt.body, tt.headers...)
			p := wantProblem(t, res, body, tt.wantStatus, tt.wantCode)
			if tt.wantFields != nil {
				got := problemFields(p)
				if strings.Join(got, ",") != strings.Join(tt.wantFields, ",") {
					t.Errorf("errors name %v, want %v", got, tt.wantFields)
				}
			}
		})
	}

	// Nothing above changed the organization.
	res, body := e.do(t, http.MethodGet, "/api/v1/organizations/"+id, alice, nil)
	wantStatus(t, res, body, http.StatusOK)
	if v := data(t, body)["version"]; v != float64(1) {
		t.Errorf("version %v after failed requests, want 1", v)
	}
}

func TestOrganizationPlatformAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.createOrg(t, e.token("alice"), "acme")
	root := e.token("root", withAdmin())

	res, body := e.do(t, http.MethodPatch, "/api/v1/organizations/"+id, root, obj{"status": "suspended"})
	wantStatus(t, res, body, http.StatusOK)
	if data(t, body)["status"] != "suspended" {
		t.Errorf("status not changed: %s", body)
	}
	res, body = e.do(t, http.MethodGet, "/api/v1/organizations?status=suspended", root, nil)
	wantStatus(t, res, body, http.StatusOK)
	if n := len(listData(t, body)); n != 1 {
		t.Errorf("platform admin lists %d suspended organizations, want 1", n)
	}
}

func TestOrganizationCreationRestricted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withRestrictedCreation())
	res, body := e.do(t, http.MethodPost, "/api/v1/organizations", e.token("alice"), obj{"slug": "acme", "name": "Acme"})
	wantProblem(t, res, body, http.StatusForbidden, "platform_admin_required")
	res, body = e.do(t, http.MethodPost, "/api/v1/organizations", e.token("root", withAdmin()), obj{"slug": "acme", "name": "Acme"})
	wantStatus(t, res, body, http.StatusCreated)
}
