package httpapi

import (
	"net/http"
	"testing"
)

func TestPermissions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("owner")
	orgID := e.createOrg(t, owner, "acme")

	for form, base := range forms(orgID, "/permissions") {
		t.Run(form, func(t *testing.T) {
			tok := owner
			key := "invoices:approve"
			if form == "token form" {
				tok, key = e.token("owner", withOrg(orgID)), "invoices:pay"
			}
			res, body := e.do(t, http.MethodGet, base+"?type=system&size=100", tok, nil)
			wantStatus(t, res, body, http.StatusOK)
			system := listData(t, body)
			if len(system) != 15 {
				t.Errorf("%d system permissions, want 15", len(system))
			}
			if p := system[0].(obj); p["type"] != "system" || p["id"] != nil || p["created_at"] != nil {
				t.Errorf("system permission %v", p)
			}

			res, body = e.do(t, http.MethodPost, base, tok, obj{"key": key, "description": "Approve invoices"})
			wantStatus(t, res, body, http.StatusCreated)
			p := data(t, body)
			if res.Header.Get("Location") != base+"/"+key || p["type"] != "custom" || p["id"] == nil || p["created_at"] == nil {
				t.Errorf("created %s (Location %q)", body, res.Header.Get("Location"))
			}
			res, body = e.do(t, http.MethodPost, base, tok, obj{"key": key})
			wantProblem(t, res, body, http.StatusConflict, "permission_exists")

			res, body = e.do(t, http.MethodPatch, base+"/"+key, tok, obj{"description": "Changed"})
			wantStatus(t, res, body, http.StatusOK)
			if data(t, body)["description"] != "Changed" {
				t.Errorf("patched %s", body)
			}
			res, body = e.do(t, http.MethodPatch, base+"/"+key, tok, obj{})
			p = wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")
			if got := problemFields(p); len(got) != 1 || got[0] != "/description" {
				t.Errorf("errors name %v, want [/description]", got)
			}
			res, body = e.do(t, http.MethodPatch, base+"/members:read", tok, obj{"description": "x"})
			wantProblem(t, res, body, http.StatusConflict, "system_permission")
			res, body = e.do(t, http.MethodPost, base, tok, obj{"key": "members:steal"})
			wantProblem(t, res, body, http.StatusBadRequest, "validation_failed")
			res, body = e.do(t, http.MethodPatch, base+"/"+key, tok, obj{"type": "system"})
			wantProblem(t, res, body, http.StatusBadRequest, "malformed_json")

			res, body = e.do(t, http.MethodGet, base+"/"+key, tok, nil)
			wantStatus(t, res, body, http.StatusOK)
			res, body = e.do(t, http.MethodDelete, base+"/"+key, tok, nil)
			wantStatus(t, res, body, http.StatusNoContent)
			res, body = e.do(t, http.MethodGet, base+"/"+key, tok, nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
		})
	}

	t.Run("in use and read-only members", func(t *testing.T) {
		base := "/api/v1/organizations/" + orgID
		res, body := e.do(t, http.MethodPost, base+"/permissions", owner, obj{"key": "docs:read"})
		wantStatus(t, res, body, http.StatusCreated)
		res, body = e.do(t, http.MethodPost, base+"/roles", owner, obj{"key": "reader", "name": "Reader", "permissions": []string{"docs:read"}})
		wantStatus(t, res, body, http.StatusCreated)
		res, body = e.do(t, http.MethodDelete, base+"/permissions/docs:read", owner, nil)
		wantProblem(t, res, body, http.StatusConflict, "permission_in_use")

		e.addMember(t, owner, orgID, "viewer", "member")
		viewer := e.token("viewer")
		res, body = e.do(t, http.MethodPatch, base+"/permissions/docs:read", viewer, obj{"description": "mine"})
		wantProblem(t, res, body, http.StatusForbidden, "forbidden")
	})
}
