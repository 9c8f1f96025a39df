package httpapi

import (
	"net/http"
	"slices"
	"testing"
)

func TestRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("owner")
	orgID := e.createOrg(t, owner, "acme")

	for form, base := range forms(orgID, "/roles") {
		t.Run(form, func(t *testing.T) {
			tok := owner
			key := "approver"
			if form == "token form" {
				tok, key = e.token("owner", withOrg(orgID)), "auditor"
			}
			res, body := e.do(t, http.MethodGet, base, tok, nil)
			wantStatus(t, res, body, http.StatusOK)
			builtins := map[string]obj{}
			for _, it := range listData(t, body) {
				if r := it.(obj); r["builtin"] == true {
					builtins[r["key"].(string)] = r
				}
			}
			if len(builtins) != 3 {
				t.Fatalf("built-in roles %v, want owner, admin, member", builtins)
			}
			if r := builtins["member"]; r["id"] != nil || r["created_at"] != nil || r["updated_at"] != nil {
				t.Errorf("built-in role with id or times: %v", r)
			}

			res, body = e.do(t, http.MethodPost, base, tok, obj{"key": key, "name": "Approver", "permissions": []string{"members:read"}})
			wantStatus(t, res, body, http.StatusCreated)
			r := data(t, body)
			if res.Header.Get("Location") != base+"/"+key || r["builtin"] != false || r["id"] == nil || r["description"] != "" {
				t.Errorf("created role %s (Location %q)", body, res.Header.Get("Location"))
			}

			res, body = e.do(t, http.MethodPatch, base+"/"+key, tok, obj{"description": "Approves", "permissions": []string{"roles:read", "members:*"}})
			wantStatus(t, res, body, http.StatusOK)
			r = data(t, body)
			if r["description"] != "Approves" || !slices.Equal(toStrings(r["permissions"]), []string{"roles:read", "members:*"}) {
				t.Errorf("patched role %s", body)
			}

			res, body = e.do(t, http.MethodGet, base+"/"+key, tok, nil)
			wantStatus(t, res, body, http.StatusOK)

			res, body = e.do(t, http.MethodPatch, base+"/admin", tok, obj{"name": "Boss"})
			wantProblem(t, res, body, http.StatusConflict, "builtin_role")
			res, body = e.do(t, http.MethodDelete, base+"/owner", tok, nil)
			wantProblem(t, res, body, http.StatusConflict, "builtin_role")
			res, body = e.do(t, http.MethodPost, base, tok, obj{"key": "bad", "name": "Bad", "permissions": []string{"invoices:approve"}})
			p := wantProblem(t, res, body, http.StatusConflict, "unknown_reference")
			if got := problemFields(p); len(got) != 1 || got[0] != "/permissions/0" {
				t.Errorf("errors name %v, want [/permissions/0]", got)
			}
			res, body = e.do(t, http.MethodPost, base, tok, obj{"key": "x2", "name": "X", "builtin": true})
			wantProblem(t, res, body, http.StatusBadRequest, "malformed_json")

			res, body = e.do(t, http.MethodDelete, base+"/"+key, tok, nil)
			wantStatus(t, res, body, http.StatusNoContent)
			res, body = e.do(t, http.MethodGet, base+"/"+key, tok, nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
		})
	}

	t.Run("role in use", func(t *testing.T) {
		base := "/api/v1/organizations/" + orgID
		res, body := e.do(t, http.MethodPost, base+"/roles", owner, obj{"key": "held", "name": "Held"})
		wantStatus(t, res, body, http.StatusCreated)
		e.addMember(t, owner, orgID, "holder", "held")
		res, body = e.do(t, http.MethodDelete, base+"/roles/held", owner, nil)
		wantProblem(t, res, body, http.StatusConflict, "role_in_use")
	})
}
