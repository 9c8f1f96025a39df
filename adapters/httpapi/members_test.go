package httpapi

import (
	"net/http"
	"slices"
	"testing"
)

// forms returns both forms of a tenant route: the token form (with a token
// bound to the organization) and the explicit form.
func forms(orgID, suffix string) map[string]string {
	return map[string]string{
		"token form":    "/api/v1" + suffix,
		"explicit form": "/api/v1/organizations/" + orgID + suffix,
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.token("owner", withEmail("owner@example.com"))
	orgID := e.createOrg(t, owner, "acme")
	ownerID := e.userID(t, owner)

	for form, base := range forms(orgID, "/members") {
		t.Run(form, func(t *testing.T) {
			tok := owner
			if form == "token form" {
				tok = e.token("owner", withOrg(orgID))
			}
			sub := "member-" + string(rune('a'+len(form)%26))

			// Add by subject (pre-provisioning the user).
			res, body := e.do(t, http.MethodPost, base, tok, obj{"subject": sub, "email": sub + "@example.com", "roles": []string{"member"}})
			wantStatus(t, res, body, http.StatusCreated)
			m := data(t, body)
			uid := m["user_id"].(string)
			if got := res.Header.Get("Location"); got != base+"/"+uid {
				t.Errorf("Location %q, want %q", got, base+"/"+uid)
			}
			want := obj{"subject": sub, "issuer": testIssuer, "email": sub + "@example.com", "name": nil,
				"status": "active", "organization_id": orgID}
			for k, v := range want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			for _, k := range []string{"roles", "joined_at", "updated_at"} {
				if _, ok := m[k]; !ok {
					t.Errorf("member has no %s: %s", k, body)
				}
			}

			// Adding again is 409.
			res, body = e.do(t, http.MethodPost, base, tok, obj{"user_id": uid, "roles": []string{"member"}})
			wantProblem(t, res, body, http.StatusConflict, "already_member")

			res, body = e.do(t, http.MethodGet, base+"/"+uid, tok, nil)
			wantStatus(t, res, body, http.StatusOK)

			res, body = e.do(t, http.MethodPatch, base+"/"+uid, tok, obj{"roles": []string{"admin"}, "status": "suspended"})
			wantStatus(t, res, body, http.StatusOK)
			m = data(t, body)
			if m["status"] != "suspended" || !slices.Equal(toStrings(m["roles"]), []string{"admin"}) {
				t.Errorf("after patch: %s", body)
			}

			res, body = e.do(t, http.MethodGet, base+"?status=suspended", tok, nil)
			wantStatus(t, res, body, http.StatusOK)
			if n := len(listData(t, body)); n != 1 {
				t.Errorf("%d suspended members, want 1", n)
			}

			res, body = e.do(t, http.MethodDelete, base+"/"+uid, tok, nil)
			wantStatus(t, res, body, http.StatusNoContent)
			res, body = e.do(t, http.MethodGet, base+"/"+uid, tok, nil)
			wantProblem(t, res, body, http.StatusNotFound, "not_found")
		})
	}

	t.Run("errors", func(t *testing.T) {
		base := "/api/v1/organizations/" + orgID + "/members"
		tests := []struct {
			name       string
			method     string
			path       string
			token      string
			body       any
			wantStatus int
			wantCode   string
		}{
			{"malformed user id", "GET", base + "/not-a-uuid", owner, nil, 404, "not_found"},
			{"unknown user id", "GET", base + "/0190a5c4-0000-7000-8000-000000000000", owner, nil, 404, "not_found"},
			{"unknown user_id in body", "POST", base, owner, obj{"user_id": "0190a5c4-0000-7000-8000-000000000000", "roles": []string{"member"}}, 409, "unknown_reference"},
			{"last owner demoted", "PATCH", base + "/" + ownerID, owner, obj{"roles": []string{"admin"}}, 409, "last_owner"},
			{"last owner removed", "DELETE", base + "/" + ownerID, owner, nil, 409, "last_owner"},
			{"token form without claim", "GET", "/api/v1/members", owner, nil, 400, "organization_context_required"},
			{"organization_id in body", "POST", base, owner, obj{"subject": "x", "roles": []string{"member"}, "organization_id": orgID}, 400, "malformed_json"},
			{"joined_at in patch", "PATCH", base + "/" + ownerID, owner, obj{"joined_at": "2020-01-01T00:00:00Z"}, 400, "malformed_json"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				res, body := e.do(t, tt.method, tt.path, tt.token, tt.body)
				wantProblem(t, res, body, tt.wantStatus, tt.wantCode)
			})
		}
	})
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}
